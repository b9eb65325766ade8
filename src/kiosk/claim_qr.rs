//! The phone-claim link as a QR code, rendered into pixels on the kiosk's worker thread
//! so the UI thread only wraps them in an image.

use image::{Rgb, RgbImage};
use qrcode::{Color, QrCode};

/// Pixels per module: sharp at any size the screen scales it to.
const SCALE: usize = 8;
/// The standard quiet zone, in modules.
const QUIET: usize = 4;

/// Black modules on white, quiet zone included; `None` if the text does not fit a QR code.
pub fn render(text: &str) -> Option<RgbImage> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = u32::try_from((modules + 2 * QUIET) * SCALE).ok()?;
    Some(RgbImage::from_fn(side, side, |x, y| {
        let (x, y) = (x as usize / SCALE, y as usize / SCALE);
        let dark = x >= QUIET
            && y >= QUIET
            && x - QUIET < modules
            && y - QUIET < modules
            && colors.get((y - QUIET) * modules + (x - QUIET)) == Some(&Color::Dark);
        let value = if dark { 0 } else { 255 };
        Rgb([value, value, value])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_square_code_with_a_white_quiet_zone() {
        let image = render("https://badges.example.org/claim/ABCDEFGHIJKLMNOP").expect("a short URL fits a QR code");
        assert_eq!(image.width(), image.height());
        assert_eq!(image.get_pixel(0, 0), &Rgb([255, 255, 255]));
        // The top-left finder pattern starts right after the quiet zone.
        let corner = u32::try_from(QUIET * SCALE).expect("small");
        assert_eq!(image.get_pixel(corner, corner), &Rgb([0, 0, 0]));
    }
}
