//! The phone-claim link as a QR code, rendered into pixels on the kiosk's worker thread
//! so the UI thread only wraps them in an image.

use image::RgbImage;

use crate::printing::qr_image;

/// Pixels per module: sharp at any size the screen scales it to.
const SCALE: u32 = 8;

/// Black modules on white, quiet zone included; `None` if the text does not fit a QR code.
pub fn render(text: &str) -> Option<RgbImage> {
    let grey = qr_image(text, SCALE).ok()?;
    Some(image::DynamicImage::ImageLuma8(grey).into_rgb8())
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;
    use crate::printing::QR_QUIET_ZONE as QUIET;

    #[test]
    fn renders_a_square_code_with_a_white_quiet_zone() {
        let image = render("https://badges.example.org/claim/ABCDEFGHIJKLMNOP").expect("a short URL fits a QR code");
        assert_eq!(image.width(), image.height());
        assert_eq!(image.get_pixel(0, 0), &Rgb([255, 255, 255]));
        // The top-left finder pattern starts right after the quiet zone.
        let corner = u32::try_from(QUIET).expect("small") * SCALE;
        assert_eq!(image.get_pixel(corner, corner), &Rgb([0, 0, 0]));
    }
}
