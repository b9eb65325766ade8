//! Scanning: camera frames and scanner keystrokes into code texts.
//!
//! `source` gives frames (camera, image file, folder replay) with latest-frame-wins
//! hand-off; `decode` is a pure function over a grey image; `wedge` recognises USB
//! keyboard-wedge scanners. `fixtures` draws synthetic frames for tests and benchmarks;
//! `bench` (the `bench` feature) measures the decoders.

#[cfg(feature = "kiosk")]
pub mod camera;
pub mod decode;
#[cfg(any(test, feature = "bench"))]
pub mod fixtures;
pub mod source;
pub mod wedge;

use image::GrayImage;

/// Every QR text found in an image, with the kiosk's default per-frame budget.
pub fn decode_texts(image: &GrayImage) -> Vec<String> {
    decode::decode_frame(image, &decode::DecodeBudget::default())
        .codes
        .into_iter()
        .map(|code| code.text)
        .collect()
}

/// Every code in an image file (a printed sheet may hold fifteen): decode one, paint it
/// out, decode again. Files get an unlimited budget and their full resolution.
pub fn decode_all_in_file(image: &GrayImage) -> Vec<String> {
    let budget = decode::DecodeBudget {
        max_side: 4096,
        ..decode::DecodeBudget::exhaustive()
    };
    let mut working = image.clone();
    let mut texts = Vec::new();
    for _ in 0..64 {
        let outcome = decode::decode_frame(&working, &budget);
        if outcome.codes.is_empty() {
            break;
        }
        for code in outcome.codes {
            let xs = code.corners.iter().map(|corner| corner.x);
            let ys = code.corners.iter().map(|corner| corner.y);
            let (min_x, max_x) = xs.fold((f32::MAX, f32::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
            let (min_y, max_y) = ys.fold((f32::MAX, f32::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
            let margin = ((max_x - min_x).max(max_y - min_y) * 0.1).max(4.0);
            let (width, height) = (working.width() as f32, working.height() as f32);
            let clamp_x = |v: f32| v.clamp(0.0, width) as u32;
            let clamp_y = |v: f32| v.clamp(0.0, height) as u32;
            for y in clamp_y(min_y - margin)..clamp_y(max_y + margin) {
                for x in clamp_x(min_x - margin)..clamp_x(max_x + margin) {
                    working.put_pixel(x, y, image::Luma([255]));
                }
            }
            if !texts.contains(&code.text) {
                texts.push(code.text);
            }
        }
    }
    texts
}
