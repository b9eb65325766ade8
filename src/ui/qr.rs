//! The phone-claim link as a QR code, rendered into pixels off the UI thread.

use qrcode::{Color, QrCode};
use slint::{Rgb8Pixel, SharedPixelBuffer};

/// Pixels per module: sharp at any size the screen scales it to.
const SCALE: usize = 8;
/// The standard quiet zone, in modules.
const QUIET: usize = 4;

pub fn render(text: &str) -> Option<SharedPixelBuffer<Rgb8Pixel>> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let side_u32 = u32::try_from(side).ok()?;
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(side_u32, side_u32);
    let pixels = buffer.make_mut_slice();
    for (index, pixel) in pixels.iter_mut().enumerate() {
        let (x, y) = (index % side / SCALE, index / side / SCALE);
        let dark = x >= QUIET
            && y >= QUIET
            && x - QUIET < modules
            && y - QUIET < modules
            && colors.get((y - QUIET) * modules + (x - QUIET)) == Some(&Color::Dark);
        let value = if dark { 0 } else { 255 };
        *pixel = Rgb8Pixel::new(value, value, value);
    }
    Some(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

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
