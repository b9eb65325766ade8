//! Scanning: turning camera frames and scanner keystrokes into code texts.

use image::GrayImage;

/// Every QR text found in an image.
pub fn decode_texts(image: &GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare(image.clone());
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}
