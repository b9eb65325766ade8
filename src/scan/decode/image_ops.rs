//! Image operations on grey images. All return new images of the stated size and never index
//! outside them.

use image::GrayImage;

/// Sensor noise σ in grey levels, from the median difference of horizontally adjacent pixels
/// on every fourth row (edges are too rare to move the median).
pub(super) fn noise_sigma(image: &GrayImage) -> f32 {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut counts = [0u32; 256];
    let mut total = 0u32;
    for row in image.as_raw().chunks_exact(w.max(1)).take(h).step_by(4) {
        for pair in row.windows(2) {
            counts[usize::from(pair[0].abs_diff(pair[1]))] += 1;
            total += 1;
        }
    }
    let mut seen = 0u32;
    let median = counts
        .iter()
        .position(|&c| {
            seen += c;
            seen * 2 >= total
        })
        .unwrap_or(0) as f32;
    // median |a − b| of two N(0, σ²) samples is 0.954 σ; +0.5 for the integer rounding.
    (median + 0.5) / 0.954
}

/// The darkest point between the two main peaks of the histogram (zxing's global estimate).
pub(super) fn histogram_valley(image: &GrayImage) -> u8 {
    let counts = histogram(image);
    let buckets: Vec<u32> = counts.chunks(8).map(|c| c.iter().sum()).collect();
    let Some((first, _)) = buckets.iter().enumerate().max_by_key(|(_, c)| **c) else {
        return 127;
    };
    let second = buckets
        .iter()
        .enumerate()
        .map(|(i, &c)| (i, u64::from(c) * (i.abs_diff(first) as u64).pow(2)))
        .max_by_key(|(_, score)| *score)
        .map(|(i, _)| i)
        .unwrap_or(first);
    let (lo, hi) = (first.min(second), first.max(second));
    if hi - lo <= 1 {
        return 127;
    }
    let valley = (lo + 1..hi)
        .map(|i| {
            let from_top = (hi - i) as i64;
            let score = from_top
                * from_top
                * (i - lo) as i64
                * (u32::MAX as i64 / 4 - i64::from(buckets.get(i).copied().unwrap_or(0)));
            (i, score)
        })
        .max_by_key(|(_, score)| *score)
        .map(|(i, _)| i)
        .unwrap_or((lo + hi) / 2);
    (valley * 8).min(255) as u8
}

/// Resize (triangle filter, sizes rounded half up) so that the longer side is `max_side`.
pub fn resize_to_fit(image: &GrayImage, max_side: u32) -> GrayImage {
    let (width, height) = image.dimensions();
    let long_side = width.max(height).max(1);
    let scale = f64::from(max_side.max(1)) / f64::from(long_side);
    let new_w = ((f64::from(width) * scale + 0.5) as u32).max(1);
    let new_h = ((f64::from(height) * scale + 0.5) as u32).max(1);
    // The triangle filter's cost grows with the reduction; an integer box average first
    // (4K → 1920 → 1280) keeps big camera frames cheap at the same quality.
    let factor = long_side / max_side.max(1);
    let filter = image::imageops::FilterType::Triangle;
    if factor >= 2 {
        image::imageops::resize(&box_downscale(image, factor), new_w, new_h, filter)
    } else {
        image::imageops::resize(image, new_w, new_h, filter)
    }
}

pub(super) fn box_downscale(image: &GrayImage, factor: u32) -> GrayImage {
    let factor = factor.max(1) as usize;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (new_w, new_h) = ((w / factor).max(1), (h / factor).max(1));
    if w < factor || h < factor {
        return image.clone();
    }
    let area = (factor * factor) as u32;
    let mut sums = vec![0u32; new_w];
    let mut out = Vec::with_capacity(new_w * new_h);
    for band in image.as_raw().chunks_exact(w * factor).take(new_h) {
        sums.iter_mut().for_each(|s| *s = 0);
        for row in band.chunks_exact(w) {
            for (sum, cell) in sums.iter_mut().zip(row.chunks_exact(factor)) {
                *sum += cell.iter().map(|&p| u32::from(p)).sum::<u32>();
            }
        }
        out.extend(sums.iter().map(|&s| ((s + area / 2) / area) as u8));
    }
    GrayImage::from_raw(new_w as u32, new_h as u32, out).unwrap_or_else(|| image.clone())
}

/// Integer upscale with bilinear interpolation between pixel centres (edge pixels repeated):
/// a few additions per output pixel, so that its cost stays in proportion to the pixels the
/// attempt is charged for (a general resampling filter costs ten times more here).
pub(super) fn upscale(image: &GrayImage, factor: u32) -> GrayImage {
    let factor = factor.clamp(1, 8) as usize;
    let (w, h) = (image.width() as usize, image.height() as usize);
    if factor == 1 || w == 0 || h == 0 {
        return image.clone();
    }
    let (new_w, new_h) = (w * factor, h * factor);
    let source = image.as_raw();
    // Output pixel i maps to source position (i + 0.5) / factor − 0.5, in 1/(2·factor) steps.
    let steps = 2 * factor;
    let taps = |i: usize, n: usize| -> (usize, usize, u32) {
        let position = (2 * i + 1).saturating_sub(factor);
        let (left, frac) = (position / steps, (position % steps) as u32);
        let left = left.min(n - 1);
        let right = (left + 1).min(n - 1);
        let frac = if (2 * i + 1) < factor { 0 } else { frac };
        (left, right, frac)
    };
    let columns: Vec<(usize, usize, u32)> = (0..new_w).map(|x| taps(x, w)).collect();
    let steps = steps as u32;
    let mut out = Vec::with_capacity(new_w * new_h);
    let mut upper = vec![0u32; new_w];
    let mut lower = vec![0u32; new_w];
    let widen = |row: &[u8], into: &mut [u32]| {
        for (slot, &(l, r, f)) in into.iter_mut().zip(&columns) {
            let (a, b) = (
                u32::from(row.get(l).copied().unwrap_or(0)),
                u32::from(row.get(r).copied().unwrap_or(0)),
            );
            *slot = a * (steps - f) + b * f;
        }
    };
    for y in 0..new_h {
        let (top, bottom, f) = taps(y, h);
        widen(source.get(top * w..(top + 1) * w).unwrap_or(&[]), &mut upper);
        widen(source.get(bottom * w..(bottom + 1) * w).unwrap_or(&[]), &mut lower);
        let scale = steps * steps;
        out.extend(
            upper
                .iter()
                .zip(&lower)
                .map(|(&a, &b)| ((a * (steps - f) + b * f + scale / 2) / scale) as u8),
        );
    }
    GrayImage::from_raw(new_w as u32, new_h as u32, out).unwrap_or_else(|| image.clone())
}

pub(super) fn invert(image: &GrayImage) -> GrayImage {
    let mut out = image.clone();
    out.iter_mut().for_each(|p| *p = 255 - *p);
    out
}

pub(super) fn histogram(image: &GrayImage) -> [u32; 256] {
    let mut counts = [0u32; 256];
    for &p in image.as_raw() {
        counts[usize::from(p)] += 1;
    }
    counts
}

pub(super) fn stretch_levels(image: &GrayImage) -> GrayImage {
    let counts = histogram(image);
    let total: u32 = counts.iter().sum();
    let cut = total / 100;
    let mut low = 0usize;
    let mut seen = 0u32;
    while low < 255 && seen + counts[low] <= cut {
        seen += counts[low];
        low += 1;
    }
    let mut high = 255usize;
    seen = 0;
    while high > 0 && seen + counts[high] <= cut {
        seen += counts[high];
        high -= 1;
    }
    if high <= low + 1 {
        return image.clone();
    }
    let range = (high - low) as u32;
    let mut lut = [0u8; 256];
    for (value, slot) in lut.iter_mut().enumerate() {
        let v = value.clamp(low, high) - low;
        *slot = ((v as u32 * 255 + range / 2) / range) as u8;
    }
    let mut out = image.clone();
    out.iter_mut().for_each(|p| *p = lut[usize::from(*p)]);
    out
}

/// Calls `visit(y, sums)` for each row, where `sums[x]` is the sum over the (2r+1)² window
/// around (x, y) clipped at the borders. Running sums along rows, then down columns, keeping
/// only 2r+1 rows of row sums (a whole-frame buffer costs more in page faults than in adds).
pub(super) fn for_each_window_row(image: &GrayImage, radius: usize, mut visit: impl FnMut(usize, &[u32])) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    let ring_rows = 2 * radius + 1;
    let mut ring = vec![0u32; ring_rows * w];
    let mut column = vec![0u32; w];
    let row_sums = |y: usize, out: &mut [u32]| {
        let Some(src) = image.as_raw().get(y * w..(y + 1) * w) else {
            return;
        };
        let mut sum: u32 = src.iter().take(radius).map(|&p| u32::from(p)).sum();
        for (x, slot) in out.iter_mut().enumerate() {
            if let Some(&entering) = src.get(x + radius) {
                sum += u32::from(entering);
            }
            if x > radius {
                sum -= src.get(x - radius - 1).map_or(0, |&p| u32::from(p));
            }
            *slot = sum;
        }
    };
    for y in 0..radius.min(h) {
        if let Some(slot) = ring.get_mut((y % ring_rows) * w..(y % ring_rows + 1) * w) {
            row_sums(y, slot);
            column.iter_mut().zip(slot.iter()).for_each(|(c, &v)| *c += v);
        }
    }
    for y in 0..h {
        if y > radius {
            let leaving = (y - radius - 1) % ring_rows;
            if let Some(slot) = ring.get(leaving * w..(leaving + 1) * w) {
                column.iter_mut().zip(slot).for_each(|(c, &v)| *c -= v);
            }
        }
        let entering = y + radius;
        if entering < h {
            let index = entering % ring_rows;
            if let Some(slot) = ring.get_mut(index * w..(index + 1) * w) {
                row_sums(entering, slot);
                column.iter_mut().zip(slot.iter()).for_each(|(c, &v)| *c += v);
            }
        }
        visit(y, &column);
    }
}

/// Pixels in the clipped window of each row or column index.
pub(super) fn window_spans(n: usize, radius: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((i + radius + 1).min(n) - i.saturating_sub(radius)) as u32)
        .collect()
}

/// Calls `dark(x, y)` for each pixel darker than its neighbourhood mean by a margin: 3 % of
/// the mean, or 1.5 σ of the sensor noise if that is more, so flat paper stays white.
pub(super) fn for_each_dark_pixel(image: &GrayImage, radius: u32, mut dark: impl FnMut(u32, u32)) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let radius = radius.max(1) as usize;
    let (widths, heights) = (window_spans(w, radius), window_spans(h, radius));
    let noise_margin = (1.5 * noise_sigma(image)) as u32;
    for_each_window_row(image, radius, |y, sums| {
        let height = heights.get(y).copied().unwrap_or(1);
        let pixels = image.as_raw().get(y * w..(y + 1) * w).unwrap_or(&[]);
        for (x, ((&p, &sum), &width)) in pixels.iter().zip(sums).zip(&widths).enumerate() {
            // p + margin < sum / count, without dividing.
            let count = width * height;
            let margin_times_count = (sum * 3 / 100).max(noise_margin * count);
            if u32::from(p) * count + margin_times_count < sum {
                dark(x as u32, y as u32);
            }
        }
    });
}

pub(super) fn box_blur3(image: &GrayImage) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (widths, heights) = (window_spans(w, 1), window_spans(h, 1));
    let mut pixels = Vec::with_capacity(w * h);
    for_each_window_row(image, 1, |y, sums| {
        let height = heights.get(y).copied().unwrap_or(1);
        pixels.extend(
            sums.iter()
                .zip(&widths)
                .map(|(&sum, &width)| (sum / (width * height)) as u8),
        );
    });
    GrayImage::from_raw(image.width(), image.height(), pixels).unwrap_or_else(|| image.clone())
}

pub(super) fn pad(image: &GrayImage, margin: u32) -> GrayImage {
    // Row copies into a white canvas: a per-pixel generic copy costs ten times the decode.
    let (w, h) = (image.width() as usize, image.height() as usize);
    let m = margin as usize;
    let new_w = w + 2 * m;
    let mut out = vec![255u8; new_w * (h + 2 * m)];
    for (y, row) in image.as_raw().chunks_exact(w.max(1)).take(h).enumerate() {
        let start = (y + m) * new_w + m;
        if let Some(slot) = out.get_mut(start..start + w) {
            slot.copy_from_slice(row);
        }
    }
    GrayImage::from_raw(new_w as u32, (h + 2 * m) as u32, out).unwrap_or_else(|| image.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_downscale_averages_blocks() {
        let image = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x < 2 { 0 } else { 200 }]));
        let half = box_downscale(&image, 2);
        assert_eq!(half.dimensions(), (2, 1));
        assert_eq!(half.as_raw(), &vec![0, 200]);
    }

    #[test]
    fn padding_adds_a_white_margin() {
        let image = GrayImage::from_raw(2, 1, vec![10, 20]).expect("image");
        let padded = pad(&image, 1);
        assert_eq!(padded.dimensions(), (4, 3));
        assert_eq!(
            padded.as_raw(),
            &vec![255, 255, 255, 255, 255, 10, 20, 255, 255, 255, 255, 255]
        );
    }

    #[test]
    fn upscaling_interpolates_between_pixel_centres() {
        let image = GrayImage::from_raw(2, 1, vec![0, 200]).expect("image");
        let up = upscale(&image, 2);
        assert_eq!(up.dimensions(), (4, 2));
        // Centres at 0.5 and 2.5 of the 4 output pixels keep the edges; between them, a blend.
        assert_eq!(up.as_raw(), &vec![0, 50, 150, 200, 0, 50, 150, 200]);
        let flat = GrayImage::from_pixel(5, 3, image::Luma([77]));
        assert!(upscale(&flat, 3).pixels().all(|p| p.0[0] == 77));
        assert_eq!(upscale(&flat, 3).dimensions(), (15, 9));
    }

    #[test]
    fn window_sums_match_a_direct_count() {
        let image = GrayImage::from_fn(9, 7, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
        let mut rows = Vec::new();
        for_each_window_row(&image, 2, |_, sums| rows.push(sums.to_vec()));
        for (y, row) in rows.iter().enumerate() {
            for (x, &sum) in row.iter().enumerate() {
                let mut direct = 0u32;
                for yy in y.saturating_sub(2)..(y + 3).min(7) {
                    for xx in x.saturating_sub(2)..(x + 3).min(9) {
                        direct += u32::from(image.get_pixel(xx as u32, yy as u32).0[0]);
                    }
                }
                assert_eq!(sum, direct, "({x}, {y})");
            }
        }
    }
}
