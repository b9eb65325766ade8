//! The phone-claim link as a QR code, rendered into pixels off the UI thread.

use slint::{Rgb8Pixel, SharedPixelBuffer};

use crate::printing::qr_image;

/// Pixels per module: sharp at any size the screen scales it to.
const SCALE: usize = 8;

pub fn render(text: &str) -> Option<SharedPixelBuffer<Rgb8Pixel>> {
    let grey = qr_image(text, u32::try_from(SCALE).ok()?).ok()?;
    let rgb = image::DynamicImage::ImageLuma8(grey).into_rgb8();
    Some(SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(
        rgb.as_raw(),
        rgb.width(),
        rgb.height(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printing::QR_QUIET_ZONE as QUIET;

    #[test]
    fn renders_a_square_code_with_a_white_quiet_zone() {
        let buffer = render("https://badges.example.org/claim/ABCDEFGHIJKLMNOP").expect("a short URL fits a QR code");
        assert_eq!(buffer.width(), buffer.height());
        let pixels = buffer.as_slice();
        assert_eq!(pixels[0], Rgb8Pixel::new(255, 255, 255));
        // The top-left finder pattern starts right after the quiet zone.
        let corner = QUIET * SCALE * (buffer.width() as usize) + QUIET * SCALE;
        assert_eq!(pixels[corner], Rgb8Pixel::new(0, 0, 0));
    }
}
