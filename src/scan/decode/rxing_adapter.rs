//! The rxing adapter: binarisations into rxing's `BitMatrix` and zxing-cpp's QR reader steps
//! (finder search, grouping, sampling, error correction) called one by one.
//!
//! This calls rxing's internals (`qrcode::cpp_port`, `common::cpp_essentials`), which are not
//! a stable API: rxing is pinned to an exact version in Cargo.toml and the tests below fail
//! loudly if an upgrade changes what they return.

use image::GrayImage;

use super::image_ops::{for_each_dark_pixel, histogram_valley, noise_sigma};
use std::time::{Duration, Instant};

use super::{AttemptResult, Binariser, CornerPoint, DecodedCode, Meter, PATTERN_WORK, SET_WORK};

pub(super) fn binarise(image: &GrayImage, binariser: Binariser) -> Option<rxing::common::BitMatrix> {
    use rxing::Binarizer;
    let (width, height) = image.dimensions();
    match binariser {
        Binariser::Hybrid => hybrid_matrix(image, flat_block_range(image)),
        Binariser::Global => {
            let source = rxing::Luma8Source::new_with_slice(image.as_raw(), width, height).ok()?;
            let binarizer = rxing::common::GlobalHistogramBinarizer::new(source);
            binarizer.get_black_matrix().ok().cloned()
        }
        Binariser::LocalMean(radius) => {
            let mut matrix = rxing::common::BitMatrix::new(width, height).ok()?;
            for_each_dark_pixel(image, u32::from(radius), |x, y| matrix.set(x, y));
            Some(matrix)
        }
    }
}

/// The largest min–max range an 8×8 block of plain background can show in this image.
///
/// zxing's fixed 24 grey levels suit clean scans; sensor noise in a dim 720p frame easily spans
/// more, and then every wall and sheet of paper binarises into speckle that looks like thousands
/// of tiny finder patterns (slow, and no help in finding the code). The noise is estimated from
/// the median difference of horizontally adjacent pixels on a sample of rows (robust to edges,
/// which are rare); the range of 64 Gaussian samples is about 4.8 σ.
pub(super) fn flat_block_range(image: &GrayImage) -> u8 {
    (5.5 * noise_sigma(image)).clamp(24.0, 64.0) as u8
}

/// zxing's hybrid binariser: each 8×8 block is thresholded at the mean of the 5×5 blocks
/// around it; blocks flatter than `min_range` count as background so that paper and walls do
/// not turn into speckle.
pub(super) fn hybrid_matrix(image: &GrayImage, min_range: u8) -> Option<rxing::common::BitMatrix> {
    const BLOCK: usize = 8;
    let (width, height) = image.dimensions();
    let (w, h) = (width as usize, height as usize);
    let mut matrix = rxing::common::BitMatrix::new(width, height).ok()?;
    let pixels = image.as_raw();
    if w < BLOCK * 5 || h < BLOCK * 5 {
        // Too few blocks for a neighbourhood: one threshold for the whole image.
        let threshold = histogram_valley(image);
        for (y, row) in pixels.chunks_exact(w).enumerate() {
            for (x, &p) in row.iter().enumerate() {
                if p <= threshold {
                    matrix.set(x as u32, y as u32);
                }
            }
        }
        return Some(matrix);
    }
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    // Blocks at the right and bottom edges overlap their neighbours instead of running off.
    let block_x = |bx: usize| (bx * BLOCK).min(w - BLOCK);
    let block_y = |by: usize| (by * BLOCK).min(h - BLOCK);
    let mut black = vec![0u32; bw * bh];
    for by in 0..bh {
        let y0 = block_y(by);
        for bx in 0..bw {
            let x0 = block_x(bx);
            let (mut sum, mut lo, mut hi) = (0u32, u8::MAX, u8::MIN);
            for y in y0..y0 + BLOCK {
                let start = y * w + x0;
                for &p in pixels.get(start..start + BLOCK).unwrap_or(&[]) {
                    sum += u32::from(p);
                    lo = lo.min(p);
                    hi = hi.max(p);
                }
            }
            let mut level = sum / (BLOCK * BLOCK) as u32;
            if hi - lo <= min_range {
                // A flat block is taken as background: its black point sits below its darkest
                // pixel, unless the neighbours already found a darker scene around it.
                level = u32::from(lo) / 2;
                if bx > 0 && by > 0 {
                    let up = black[(by - 1) * bw + bx];
                    let left = black[by * bw + bx - 1];
                    let diagonal = black[(by - 1) * bw + bx - 1];
                    let neighbours = (up + 2 * left + diagonal) / 4;
                    if u32::from(lo) < neighbours {
                        level = neighbours;
                    }
                }
            }
            black[by * bw + bx] = level;
        }
    }
    for by in 0..bh {
        let y0 = block_y(by);
        let cy = by.clamp(2, bh - 3);
        for bx in 0..bw {
            let x0 = block_x(bx);
            let cx = bx.clamp(2, bw - 3);
            let mut sum = 0u32;
            for ny in cy - 2..=cy + 2 {
                let row = &black[ny * bw + cx - 2..ny * bw + cx + 3];
                sum += row.iter().sum::<u32>();
            }
            let threshold = sum / 25;
            for y in y0..y0 + BLOCK {
                let start = y * w + x0;
                let row = pixels.get(start..start + BLOCK).unwrap_or(&[]);
                for (dx, &p) in row.iter().enumerate() {
                    if u32::from(p) <= threshold {
                        matrix.set((x0 + dx) as u32, y as u32);
                    }
                }
            }
        }
    }
    Some(matrix)
}

/// Runs zxing-cpp's QR reader steps (finder search, grouping, sampling, error correction) and
/// keeps every valid symbol, so the finder count is available as the early-out's evidence.
///
/// The finder search costs time in proportion to the pixels (charged before the attempt) and
/// the candidates it locates (charged here); sampling a triple is charged before each one, and
/// the attempt stops when the meter says no, so an image full of finder-like texture cannot
/// hold the frame.
pub(super) fn rxing_read(matrix: &rxing::common::BitMatrix, meter: &mut Meter) -> AttemptResult {
    use rxing::common::cpp_essentials::ConcentricPattern;
    use rxing::common::DetectorRXingResult;
    use rxing::qrcode::cpp_port::{decoder, detector};
    let find_started = Instant::now();
    let mut patterns = detector::FindFinderPatterns(matrix, true, 0);
    let finder_patterns = patterns.len();
    meter.charge(PATTERN_WORK.saturating_mul(finder_patterns as u64));
    let mut sets = detector::GenerateFinderPatternSets(&mut patterns);
    let finder_sets = sets.len();
    if finder_sets == 0 {
        // Strong perspective (a ticket tilted away, a phone held at a slant) makes the far
        // finder patterns much smaller and closer together than zxing's grouping allows; try
        // the few remaining triples under looser rules. Error correction still has to accept
        // whatever they sample, so looser grouping costs time, not correctness.
        sets = steep_finder_sets(&patterns);
    }
    let find_time = find_started.elapsed();
    let mut codes: Vec<DecodedCode> = Vec::new();
    let mut used: Vec<ConcentricPattern> = Vec::new();
    let mut sets_sampled = 0;
    let mut cut_short = false;
    for set in sets {
        if used.contains(&set.bl) || used.contains(&set.tl) || used.contains(&set.tr) {
            continue;
        }
        if !meter.try_charge(SET_WORK, sets_sampled == 0) {
            cut_short = true;
            break;
        }
        sets_sampled += 1;
        let Ok(detected) = detector::SampleQR(matrix, &set) else {
            continue;
        };
        let Ok(decoded) = decoder::Decode(detected.getBits()) else {
            continue;
        };
        if !decoded.isValid() {
            continue;
        }
        used.extend([set.bl, set.tl, set.tr]);
        let text = decoded.text();
        if codes.iter().any(|c| c.text == text) {
            continue;
        }
        let points = detected.getPoints();
        let corner = |i: usize| {
            points
                .get(i)
                .map(|p| CornerPoint { x: p.x, y: p.y })
                .unwrap_or(CornerPoint { x: 0.0, y: 0.0 })
        };
        codes.push(DecodedCode {
            text,
            corners: [corner(0), corner(1), corner(2), corner(3)],
        });
    }
    AttemptResult {
        codes,
        finder_patterns,
        finder_sets,
        sets_sampled,
        cut_short,
        prepare_time: Duration::ZERO,
        pixel_time: Some(find_time),
    }
}

/// Finder-pattern triples under rules loose enough for steep perspective: sizes within 3.5×,
/// arm lengths within 3.5×, corner angle 45°–135°. Only for a handful of patterns (the
/// triples grow with the cube of their number).
fn steep_finder_sets(
    patterns: &[rxing::common::cpp_essentials::ConcentricPattern],
) -> Vec<rxing::qrcode::cpp_port::detector::FinderPatternSet> {
    use rxing::qrcode::cpp_port::detector::FinderPatternSet;
    const MAX_PATTERNS: usize = 12;
    let patterns = &patterns[..patterns.len().min(MAX_PATTERNS)];
    let mut sets: Vec<(f32, FinderPatternSet)> = Vec::new();
    for (i, a) in patterns.iter().enumerate() {
        for (j, b) in patterns.iter().enumerate().skip(i + 1) {
            for c in patterns.iter().skip(j + 1) {
                let sizes = [a.size, b.size, c.size].map(|s| s.max(1) as f32);
                let (small, large) = sizes
                    .iter()
                    .fold((f32::MAX, 0f32), |(lo, hi), &s| (lo.min(s), hi.max(s)));
                if large > 3.5 * small {
                    continue;
                }
                // The corner opposite the longest side is the top-left pattern.
                let d = |p: &ConcentricPatternRef, q: &ConcentricPatternRef| {
                    ((p.p.x - q.p.x).powi(2) + (p.p.y - q.p.y).powi(2)).sqrt()
                };
                let (ab, bc, ca) = (d(a, b), d(b, c), d(c, a));
                let (tl, p, q, arm1, arm2, opposite) = if ca >= ab && ca >= bc {
                    (b, a, c, ab, bc, ca)
                } else if ab >= bc {
                    (c, a, b, ca, bc, ab)
                } else {
                    (a, b, c, ab, ca, bc)
                };
                if arm1 <= 0.0 || arm2 <= 0.0 || arm1.max(arm2) > 3.5 * arm1.min(arm2) {
                    continue;
                }
                let cos = (arm1 * arm1 + arm2 * arm2 - opposite * opposite) / (2.0 * arm1 * arm2);
                if !(-0.71..=0.71).contains(&cos) {
                    continue;
                }
                // Modules across: arm length over module size (finder pattern = 7 modules).
                let module = (sizes.iter().sum::<f32>() / 3.0) / 7.0;
                let modules = (arm1 + arm2) / 2.0 / module + 7.0;
                if !(17.0..=280.0).contains(&modules) {
                    continue;
                }
                let cross = (p.p.x - tl.p.x) * (q.p.y - tl.p.y) - (p.p.y - tl.p.y) * (q.p.x - tl.p.x);
                let (bl, tr) = if cross < 0.0 { (p, q) } else { (q, p) };
                let score = arm1 + arm2 + (arm1 - arm2).abs() + 100.0 * cos.abs();
                sets.push((
                    score,
                    FinderPatternSet {
                        bl: *bl,
                        tl: *tl,
                        tr: *tr,
                    },
                ));
            }
        }
    }
    sets.sort_by(|x, y| x.0.total_cmp(&y.0));
    sets.into_iter().map(|(_, set)| set).collect()
}

type ConcentricPatternRef = rxing::common::cpp_essentials::ConcentricPattern;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_binarisation_matches_rxing_at_zxing_settings() {
        use rxing::Binarizer;
        let mut frame = crate::scan::fixtures::synthetic_frame(4, None);
        crate::scan::fixtures::paste_code(
            &mut frame,
            "BKMFRGGZDFMZTWQ2LKNNWG23TPOJ2XK5TXPB4XUYJRGI",
            300.0,
            200.0,
            3.0,
            0.5,
        );
        let ours = hybrid_matrix(&frame, 24).expect("matrix");
        let source = rxing::Luma8Source::new_with_slice(frame.as_raw(), frame.width(), frame.height()).expect("source");
        let binarizer = rxing::common::HybridBinarizer::new(source);
        let theirs = binarizer.get_black_matrix().expect("matrix");
        assert!(ours == *theirs);
    }

    #[test]
    fn noisy_frames_get_a_wider_flat_block_range() {
        let clean = GrayImage::from_pixel(200, 100, image::Luma([128]));
        assert_eq!(flat_block_range(&clean), 24);
        let mut state = 1u32;
        let noisy = GrayImage::from_fn(200, 100, |_, _| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            image::Luma([(100 + (state >> 16) % 41) as u8])
        });
        assert!(flat_block_range(&noisy) > 40, "{}", flat_block_range(&noisy));
    }
}
