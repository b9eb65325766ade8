//! The event's badge and issuer images as PNG, for phones, social networks and wallets:
//! an SVG badge is rendered (resvg, with the system's DejaVu fonts for its text), a PNG is
//! kept as it is, any other raster format is converted. Rendered once per image, then
//! served from memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use thiserror::Error;

/// The longer side of a rendered SVG badge, in pixels: sharp on a phone, a few tens of KB.
pub const RENDER_SIZE: u32 = 512;

/// Fonts an SVG badge's text may use; Debian's fonts-dejavu-core (a dependency of the
/// package) installs them.
const FONT_FILES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("the badge image is not a PNG, SVG, JPEG, WebP, GIF or BMP file: export it again in one of these")]
    Unreadable,
    #[error("the SVG badge image cannot be drawn ({0}): open it in an editor and save it again as plain SVG")]
    BadSvg(String),
}

/// PNG renderings of the event's images, by their path in the event directory.
#[derive(Debug, Default)]
pub struct ImageCache {
    rendered: Mutex<BTreeMap<String, Arc<Vec<u8>>>>,
}

impl ImageCache {
    /// The PNG for the event file `path` whose bytes are `source`.
    pub fn png(&self, path: &str, source: &[u8]) -> Result<Arc<Vec<u8>>, ImageError> {
        if let Some(done) = self.rendered.lock().ok().and_then(|cache| cache.get(path).cloned()) {
            return Ok(done);
        }
        let png = Arc::new(to_png(source)?);
        if let Ok(mut cache) = self.rendered.lock() {
            cache.insert(path.to_owned(), Arc::clone(&png));
        }
        Ok(png)
    }
}

/// `source` (PNG, SVG or another raster format) as PNG bytes.
pub fn to_png(source: &[u8]) -> Result<Vec<u8>, ImageError> {
    if source.starts_with(b"\x89PNG") {
        return Ok(source.to_vec());
    }
    if looks_like_svg(source) {
        return render_svg(source);
    }
    let image = image::load_from_memory(source).map_err(|_| ImageError::Unreadable)?;
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|_| ImageError::Unreadable)?;
    Ok(png)
}

/// A `data:` URI of PNG bytes, for a credential that must show its image offline.
pub fn data_uri(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

fn looks_like_svg(source: &[u8]) -> bool {
    let head = &source[..source.len().min(1024)];
    String::from_utf8_lossy(head).contains("<svg")
}

fn render_svg(source: &[u8]) -> Result<Vec<u8>, ImageError> {
    use resvg::{tiny_skia, usvg};
    let mut options = usvg::Options::default();
    let fonts = Arc::make_mut(&mut options.fontdb);
    for file in FONT_FILES {
        if let Ok(bytes) = std::fs::read(file) {
            fonts.load_font_data(bytes);
        }
    }
    fonts.set_sans_serif_family("DejaVu Sans");
    let tree = usvg::Tree::from_data(source, &options).map_err(|failure| ImageError::BadSvg(failure.to_string()))?;
    let size = tree.size();
    let scale = RENDER_SIZE as f32 / size.width().max(size.height()).max(1.0);
    let width = ((size.width() * scale).round() as u32).clamp(1, RENDER_SIZE);
    let height = ((size.height() * scale).round() as u32).clamp(1, RENDER_SIZE);
    let mut pixmap = tiny_skia::Pixmap::new(width, height).ok_or(ImageError::Unreadable)?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|failure| ImageError::BadSvg(failure.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BADGE: &[u8] = include_bytes!("../../../assets/demo-event/badges/attended.svg");

    #[test]
    fn an_svg_badge_becomes_a_png_of_the_render_size() {
        let png = to_png(BADGE).unwrap();
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (RENDER_SIZE, RENDER_SIZE));
        // Drawn, not blank: the badge's blue disc is at the centre.
        let centre = decoded.to_rgba8().get_pixel(RENDER_SIZE / 2, RENDER_SIZE / 3).0;
        assert_eq!(centre[3], 255, "{centre:?}");
        // A PNG stays as it is.
        assert_eq!(to_png(&png).unwrap(), png);
    }

    #[test]
    fn broken_images_are_refused_with_what_to_do() {
        assert_eq!(to_png(b"not an image"), Err(ImageError::Unreadable));
        assert!(matches!(to_png(b"<svg><g"), Err(ImageError::BadSvg(_))));
    }

    #[test]
    fn the_cache_renders_once() {
        let cache = ImageCache::default();
        let first = cache.png("badges/attended.svg", BADGE).unwrap();
        let again = cache.png("badges/attended.svg", b"ignored").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(data_uri(&first).starts_with("data:image/png;base64,iVBOR"));
    }
}
