//! The rqrr adapter (quirc's algorithm): its own row-wise moving-average threshold and a
//! region-based finder search that copes with blur but not with strong perspective.

use image::GrayImage;

use super::{AttemptResult, CornerPoint, DecodedCode};

pub(super) fn rqrr_read(image: &GrayImage) -> AttemptResult {
    let mut prepared = rqrr::PreparedImage::prepare(image.clone());
    let grids = prepared.detect_grids();
    let finder_sets = grids.len();
    let finder_patterns = finder_sets * 3;
    let mut codes: Vec<DecodedCode> = Vec::new();
    for grid in grids {
        let mut payload = Vec::new();
        if grid.decode_to(&mut payload).is_err() {
            continue;
        }
        let text = text_from_payload(&payload);
        if codes.iter().any(|c| c.text == text) {
            continue;
        }
        let corner = |p: rqrr::Point| CornerPoint {
            x: p.x as f32,
            y: p.y as f32,
        };
        let [a, b, c, d] = grid.bounds;
        codes.push(DecodedCode {
            text,
            corners: [corner(a), corner(b), corner(c), corner(d)],
        });
    }
    AttemptResult {
        codes,
        finder_patterns,
        finder_sets,
        sets_sampled: finder_sets,
        ..AttemptResult::nothing()
    }
}

/// rqrr returns raw payload bytes: UTF-8 for modern encoders, Shift_JIS for Kanji mode and
/// many Japanese encoders, otherwise ISO-8859-1 (the QR default without an ECI).
fn text_from_payload(payload: &[u8]) -> String {
    if let Ok(text) = std::str::from_utf8(payload) {
        return text.to_string();
    }
    if let Ok(text) = rxing::common::CharacterSet::Shift_JIS.decode(payload) {
        return text;
    }
    payload.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rqrr_payloads_become_text() {
        assert_eq!(text_from_payload(b"BKABC"), "BKABC");
        assert_eq!(text_from_payload("Grüße".as_bytes()), "Grüße");
        // Kanji mode and many Japanese encoders give Shift_JIS: 0x82A0 is あ.
        assert_eq!(text_from_payload(&[0x82, 0xA0]), "あ");
        // Neither UTF-8 nor Shift_JIS: ISO-8859-1, the QR default.
        assert_eq!(text_from_payload(&[0x41, 0xFF, 0x80]), "A\u{ff}\u{80}");
    }
}
