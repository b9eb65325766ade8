//! Synthetic kiosk frames and the stress set: deterministic 1280×720 scenes that the decoder's
//! unit tests and the `bench` feature's decode benchmark both use. Not in the product build.

use std::path::Path;

use image::{GrayImage, Luma};

/// The payload pasted into synthetic frames: shaped like a kiosk attendance code.
pub const SYNTHETIC_CODE_TEXT: &str = "BKMFRGGZDFMZTWQ2LKNNWG23TPOJ2XK5TXPB4XUYJRGIZTINJWG44DSOI";

/// Deterministic pseudo-random numbers (SplitMix64): frames must be the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % (hi - lo) as u64) as i64
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A 1280×720 grey frame like a kiosk camera sees: lighting gradient, blocks of text-like
/// glyphs, posters and frames, round shapes, slight blur and sensor noise; with `code`, a QR
/// code of that text printed on a rotated white card in view.
pub fn synthetic_frame(seed: u64, code: Option<&str>) -> GrayImage {
    const W: u32 = 1280;
    const H: u32 = 720;
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED);
    let (gx, gy) = (rng.unit() - 0.5, rng.unit() - 0.5);
    let base = 110.0 + 60.0 * rng.unit();
    let mut frame = GrayImage::from_fn(W, H, |x, y| {
        let fx = x as f32 / W as f32 - 0.5;
        let fy = y as f32 / H as f32 - 0.5;
        let vignette = 1.0 - 0.6 * (fx * fx + fy * fy);
        let v = (base + 80.0 * (gx * fx + gy * fy)) * vignette;
        Luma([v.clamp(0.0, 255.0) as u8])
    });
    // Posters, door frames, screens.
    for _ in 0..rng.range(4, 9) {
        let (x0, y0) = (rng.range(-100, W as i64), rng.range(-100, H as i64));
        let (w, h) = (rng.range(60, 420), rng.range(60, 360));
        let shade = rng.range(20, 240) as u8;
        if rng.range(0, 2) == 0 {
            fill_rect(&mut frame, x0, y0, w, h, shade);
        } else {
            let t = rng.range(3, 14);
            fill_rect(&mut frame, x0, y0, w, t, shade);
            fill_rect(&mut frame, x0, y0 + h - t, w, t, shade);
            fill_rect(&mut frame, x0, y0, t, h, shade);
            fill_rect(&mut frame, x0 + w - t, y0, t, h, shade);
        }
    }
    // Round things: faces, lamps, badges.
    for _ in 0..rng.range(3, 7) {
        let (cx, cy, r) = (rng.range(0, W as i64), rng.range(0, H as i64), rng.range(10, 90));
        let shade = rng.range(20, 240) as u8;
        fill_disc(&mut frame, cx, cy, r, shade);
    }
    // Blocks of text: glyphs made of strokes, the kind of detail that fools finder searches.
    for _ in 0..rng.range(5, 10) {
        let (bx, by) = (rng.range(0, W as i64 - 200), rng.range(0, H as i64 - 100));
        let size = rng.range(8, 22);
        let ink = rng.range(10, 70) as u8;
        for line in 0..rng.range(2, 7) {
            let mut x = bx;
            let y = by + line * size * 3 / 2;
            for _ in 0..rng.range(8, 30) {
                let glyph_w = size * rng.range(4, 9) / 10;
                let stroke = (size / 6).max(1);
                for _ in 0..rng.range(1, 4) {
                    match rng.range(0, 3) {
                        0 => fill_rect(&mut frame, x + rng.range(0, glyph_w), y, stroke, size, ink),
                        1 => fill_rect(&mut frame, x, y + rng.range(0, size), glyph_w, stroke, ink),
                        _ => fill_rect(&mut frame, x, y, glyph_w, stroke, ink),
                    }
                }
                x += glyph_w + stroke * 2 + if rng.range(0, 6) == 0 { size } else { 0 };
            }
        }
    }
    if let Some(text) = code {
        let module = 3.0 + 3.0 * rng.unit();
        let angle = (rng.unit() - 0.5) * 0.6;
        let (cx, cy) = (320.0 + 640.0 * rng.unit(), 200.0 + 320.0 * rng.unit());
        paste_code(&mut frame, text, cx, cy, module, angle);
    }
    let mut frame = blur3(&frame);
    for p in frame.iter_mut() {
        let noise = (rng.unit() + rng.unit() + rng.unit() - 1.5) * 12.0;
        *p = (f32::from(*p) + noise).clamp(0.0, 255.0) as u8;
    }
    frame
}

fn fill_rect(frame: &mut GrayImage, x0: i64, y0: i64, w: i64, h: i64, shade: u8) {
    let (fw, fh) = (i64::from(frame.width()), i64::from(frame.height()));
    for y in y0.max(0)..(y0 + h).min(fh) {
        for x in x0.max(0)..(x0 + w).min(fw) {
            frame.put_pixel(x as u32, y as u32, Luma([shade]));
        }
    }
}

fn fill_disc(frame: &mut GrayImage, cx: i64, cy: i64, r: i64, shade: u8) {
    let (fw, fh) = (i64::from(frame.width()), i64::from(frame.height()));
    for y in (cy - r).max(0)..(cy + r).min(fh) {
        for x in (cx - r).max(0)..(cx + r).min(fw) {
            if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                frame.put_pixel(x as u32, y as u32, Luma([shade]));
            }
        }
    }
}

/// Draws `text` as a QR code (with its 4-module quiet zone) centred on (cx, cy), rotated by
/// `angle` radians, `module` pixels per module, with 4× supersampled edges.
pub fn paste_code(frame: &mut GrayImage, text: &str, cx: f32, cy: f32, module: f32, angle: f32) {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return;
    };
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 4.0;
    let half = (width as f32 / 2.0 + quiet) * module;
    let (sin, cos) = angle.sin_cos();
    let reach = (half * std::f32::consts::SQRT_2).ceil() as i64 + 2;
    let (fw, fh) = (i64::from(frame.width()), i64::from(frame.height()));
    let module_at = |u: f32, v: f32| -> Option<bool> {
        // (u, v) in code modules from the quiet zone's corner.
        let (mx, my) = (u - quiet, v - quiet);
        if mx < 0.0 || my < 0.0 || mx >= width as f32 || my >= width as f32 {
            return Some(false);
        }
        colors
            .get(my as usize * width + mx as usize)
            .map(|c| *c == qrcode::Color::Dark)
    };
    for y in (cy as i64 - reach).max(0)..(cy as i64 + reach).min(fh) {
        for x in (cx as i64 - reach).max(0)..(cx as i64 + reach).min(fw) {
            let mut dark = 0u32;
            let mut inside = 0u32;
            for sy in 0..4 {
                for sx in 0..4 {
                    let px = x as f32 + (sx as f32 + 0.5) / 4.0 - cx;
                    let py = y as f32 + (sy as f32 + 0.5) / 4.0 - cy;
                    // Rotate back into the card's frame.
                    let u = (px * cos + py * sin + half) / module;
                    let v = (-px * sin + py * cos + half) / module;
                    let span = width as f32 + 2.0 * quiet;
                    if u < 0.0 || v < 0.0 || u >= span || v >= span {
                        continue;
                    }
                    inside += 1;
                    if module_at(u, v) == Some(true) {
                        dark += 1;
                    }
                }
            }
            if inside > 0 {
                let old = f32::from(frame.get_pixel(x as u32, y as u32).0[0]);
                let card = 225.0 - 195.0 * dark as f32 / inside as f32;
                let cover = inside as f32 / 16.0;
                let v = old * (1.0 - cover) + card * cover;
                frame.put_pixel(x as u32, y as u32, Luma([v.clamp(0.0, 255.0) as u8]));
            }
        }
    }
}

fn blur3(image: &GrayImage) -> GrayImage {
    let (w, h) = image.dimensions();
    GrayImage::from_fn(w, h, |x, y| {
        let mut sum = 0u32;
        let mut n = 0u32;
        for yy in y.saturating_sub(1)..(y + 2).min(h) {
            for xx in x.saturating_sub(1)..(x + 2).min(w) {
                sum += u32::from(image.get_pixel(xx, yy).0[0]);
                n += 1;
            }
        }
        Luma([(sum / n.max(1)) as u8])
    })
}

// ---------------------------------------------------------------------------------------------
// Synthetic stress cases: the ways kiosk photos go wrong, each at a range of severities, in a
// 1280×720 scene. They measure robustness in general rather than on one photo collection.

/// Kinds of trouble a stress image shows.
pub const STRESS_KINDS: [&str; 13] = [
    "blur",
    "motion",
    "small",
    "dense",
    "perspective",
    "curved",
    "rotated",
    "glare",
    "shadow",
    "low-contrast",
    "noise",
    "inverted",
    "screen",
];

/// A stress image of `kind` (one of [`STRESS_KINDS`]) and the text of its code.
pub fn stress_image(kind: &str, seed: u64) -> (GrayImage, String) {
    let mut rng =
        SplitMix(seed.wrapping_mul(0x9E37_79B9) ^ kind.bytes().fold(7u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)));
    let mut frame = synthetic_frame(seed ^ 0xABCD, None);
    // Attendance-code-shaped payloads of varying length; dense codes carry a long URL.
    let text = if kind == "dense" {
        let mut t = String::from("https://badges.example.org/claim?code=BK");
        for _ in 0..rng.range(120, 260) {
            t.push(char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[rng.range(0, 32) as usize],
            ));
        }
        t
    } else {
        let mut t = String::from("BK");
        for _ in 0..rng.range(24, 60) {
            t.push(char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[rng.range(0, 32) as usize],
            ));
        }
        t
    };
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return (frame, text);
    };
    let modules = code.width() as f32;
    let colors = code.to_colors();
    let u = |r: &mut SplitMix, lo: f32, hi: f32| lo + (hi - lo) * r.unit();
    let module_px = match kind {
        "small" => u(&mut rng, 1.4, 2.4),
        "dense" => u(&mut rng, 2.2, 3.5),
        "blur" | "motion" => u(&mut rng, 4.0, 8.0),
        _ => u(&mut rng, 3.0, 7.0),
    };
    let side = (modules + 8.0) * module_px;
    let (cx, cy) = (u(&mut rng, 0.3, 0.7) * 1280.0, u(&mut rng, 0.3, 0.7) * 720.0);
    let angle = if kind == "rotated" {
        u(&mut rng, 0.0, std::f32::consts::TAU)
    } else {
        u(&mut rng, -0.3, 0.3)
    };
    // Corners of the card (quiet zone included), clockwise from top-left, before distortion.
    let (sin, cos) = angle.sin_cos();
    let corner = |du: f32, dv: f32| {
        let (x, y) = (du * side / 2.0, dv * side / 2.0);
        (cx + x * cos - y * sin, cy + x * sin + y * cos)
    };
    let mut quad = [
        corner(-1.0, -1.0),
        corner(1.0, -1.0),
        corner(1.0, 1.0),
        corner(-1.0, 1.0),
    ];
    if kind == "perspective" {
        // Tilt: shrink one edge, as a card seen at 40–65° from the side.
        let shrink = u(&mut rng, 0.35, 0.6);
        let edge = rng.range(0, 4) as usize;
        let (a, b) = (edge, (edge + 1) % 4);
        let (pa, pb) = (quad[a], quad[b]);
        let mid = ((pa.0 + pb.0) / 2.0, (pa.1 + pb.1) / 2.0);
        quad[a] = (mid.0 + (pa.0 - mid.0) * shrink, mid.1 + (pa.1 - mid.1) * shrink);
        quad[b] = (mid.0 + (pb.0 - mid.0) * shrink, mid.1 + (pb.1 - mid.1) * shrink);
    }
    let Some(to_card) = quad_to_unit_square(&quad) else {
        return (frame, text);
    };
    let bend = if kind == "curved" { u(&mut rng, 0.5, 1.1) } else { 0.0 };
    let (ink, paper) = match kind {
        "low-contrast" => (u(&mut rng, 95.0, 125.0), u(&mut rng, 150.0, 175.0)),
        "inverted" => (230.0, 25.0),
        _ => (30.0, 225.0),
    };
    let quiet = 4.0 / (modules + 8.0);
    let module_at = |s: f32, t: f32| -> bool {
        // (s, t) in [0, 1]² over the card; the code sits inside the quiet zone.
        let (mx, my) = (
            (s - quiet) / (1.0 - 2.0 * quiet) * modules,
            (t - quiet) / (1.0 - 2.0 * quiet) * modules,
        );
        if mx < 0.0 || my < 0.0 || mx >= modules || my >= modules {
            return false;
        }
        colors.get(my as usize * code.width() + mx as usize) == Some(&qrcode::Color::Dark)
    };
    let (min_x, max_x) = quad
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (min_y, max_y) = quad
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let glare = (kind == "glare").then(|| {
        (
            u(&mut rng, min_x, max_x),
            u(&mut rng, min_y, max_y),
            u(&mut rng, 0.2, 0.45) * side,
        )
    });
    let shadow_angle = u(&mut rng, 0.0, std::f32::consts::TAU);
    let shadow_depth = u(&mut rng, 0.35, 0.6);
    for y in (min_y.floor().max(0.0) as u32)..(max_y.ceil().min(720.0) as u32) {
        for x in (min_x.floor().max(0.0) as u32)..(max_x.ceil().min(1280.0) as u32) {
            let (mut covered, mut dark) = (0u32, 0u32);
            for sy in 0..3 {
                for sx in 0..3 {
                    let px = x as f32 + (sx as f32 + 0.5) / 3.0;
                    let py = y as f32 + (sy as f32 + 0.5) / 3.0;
                    let Some((mut s, t)) = to_card(px, py) else {
                        continue;
                    };
                    if !(0.0..1.0).contains(&s) || !(0.0..1.0).contains(&t) {
                        continue;
                    }
                    if bend > 0.0 {
                        // A card wrapped round a cylinder: equal steps on screen cover more
                        // of the card towards its edges.
                        let half_arc = bend;
                        let x_screen = (s - 0.5) * 2.0 * half_arc.sin();
                        s = 0.5 + x_screen.clamp(-1.0, 1.0).asin() / (2.0 * half_arc);
                    }
                    covered += 1;
                    dark += u32::from(module_at(s, t));
                }
            }
            if covered == 0 {
                continue;
            }
            let fraction = dark as f32 / covered as f32;
            let mut v = paper + (ink - paper) * fraction;
            if kind == "shadow" {
                let d = (x as f32 - cx) * shadow_angle.cos() + (y as f32 - cy) * shadow_angle.sin();
                if d > 0.0 {
                    v *= 1.0 - shadow_depth;
                }
            }
            if let Some((gx, gy, r)) = glare {
                let d2 = ((x as f32 - gx).powi(2) + (y as f32 - gy).powi(2)) / (r * r);
                v += 255.0 * (1.0 - d2).max(0.0).powf(0.6) * 1.2;
            }
            let old = f32::from(frame.get_pixel(x, y).0[0]);
            let cover = covered as f32 / 9.0;
            frame.put_pixel(x, y, Luma([(old * (1.0 - cover) + v * cover).clamp(0.0, 255.0) as u8]));
        }
    }
    match kind {
        "blur" => {
            let passes = rng.range(2, 5);
            let radius = (module_px * u(&mut rng, 0.25, 0.45)).round().max(1.0) as u32;
            for _ in 0..passes {
                frame = box_blur(&frame, radius, radius);
            }
        }
        "motion" => {
            let length = (module_px * u(&mut rng, 1.0, 2.2)).round().max(2.0) as u32;
            frame = box_blur(&frame, length / 2, 0);
        }
        "noise" => {
            let amplitude = u(&mut rng, 30.0, 55.0);
            for p in frame.iter_mut() {
                let n = (rng.unit() + rng.unit() + rng.unit() - 1.5) * amplitude;
                *p = (f32::from(*p) + n).clamp(0.0, 255.0) as u8;
            }
        }
        "screen" => {
            // A phone screen photographed: sub-pixel grid beating with the camera's sampling.
            let period = u(&mut rng, 2.3, 3.7);
            let depth = u(&mut rng, 0.2, 0.4);
            for (x, y, p) in frame.enumerate_pixels_mut() {
                if (x as f32) < min_x || (x as f32) > max_x || (y as f32) < min_y || (y as f32) > max_y {
                    continue;
                }
                let grid = ((x as f32 / period).sin() * (y as f32 / period).sin()).abs();
                p.0[0] = (f32::from(p.0[0]) * (1.0 - depth * grid)) as u8;
            }
        }
        _ => {}
    }
    (frame, text)
}

/// Maps image points into the unit square of the quadrilateral `quad` (clockwise from the
/// top-left corner); `None` when the quad is degenerate.
fn quad_to_unit_square(quad: &[(f32, f32); 4]) -> Option<impl Fn(f32, f32) -> Option<(f32, f32)>> {
    // Square → quad (Heckbert), then invert the 3×3 matrix.
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = quad.map(|(x, y)| (f64::from(x), f64::from(y)));
    let (dx1, dx2, dx3) = (x1 - x2, x3 - x2, x0 - x1 + x2 - x3);
    let (dy1, dy2, dy3) = (y1 - y2, y3 - y2, y0 - y1 + y2 - y3);
    let den = dx1 * dy2 - dx2 * dy1;
    if den.abs() < 1e-9 {
        return None;
    }
    let g = (dx3 * dy2 - dx2 * dy3) / den;
    let h = (dx1 * dy3 - dx3 * dy1) / den;
    let m = [
        [x1 - x0 + g * x1, x3 - x0 + h * x3, x0],
        [y1 - y0 + g * y1, y3 - y0 + h * y3, y0],
        [g, h, 1.0],
    ];
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-12 {
        return None;
    }
    let inv = [
        [
            (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det,
            (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det,
            (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det,
        ],
        [
            (m[1][2] * m[2][0] - m[1][0] * m[2][2]) / det,
            (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det,
            (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det,
        ],
        [
            (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det,
            (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det,
            (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det,
        ],
    ];
    Some(move |x: f32, y: f32| {
        let (x, y) = (f64::from(x), f64::from(y));
        let w = inv[2][0] * x + inv[2][1] * y + inv[2][2];
        if w.abs() < 1e-12 {
            return None;
        }
        let s = (inv[0][0] * x + inv[0][1] * y + inv[0][2]) / w;
        let t = (inv[1][0] * x + inv[1][1] * y + inv[1][2]) / w;
        Some((s as f32, t as f32))
    })
}

/// Box blur with separate horizontal and vertical radii.
fn box_blur(image: &GrayImage, rx: u32, ry: u32) -> GrayImage {
    let (w, h) = image.dimensions();
    let horizontal = GrayImage::from_fn(w, h, |x, y| {
        let (x0, x1) = (x.saturating_sub(rx), (x + rx + 1).min(w));
        let sum: u32 = (x0..x1).map(|xx| u32::from(image.get_pixel(xx, y).0[0])).sum();
        Luma([(sum / (x1 - x0).max(1)) as u8])
    });
    if ry == 0 {
        return horizontal;
    }
    GrayImage::from_fn(w, h, |x, y| {
        let (y0, y1) = (y.saturating_sub(ry), (y + ry + 1).min(h));
        let sum: u32 = (y0..y1).map(|yy| u32::from(horizontal.get_pixel(x, yy).0[0])).sum();
        Luma([(sum / (y1 - y0).max(1)) as u8])
    })
}

/// Writes `per_kind` stress images of every kind into `dir` as `KIND-NN.png` + `KIND-NN.txt`.
pub fn write_stress_set(dir: &Path, per_kind: u64) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut written = 0;
    for kind in STRESS_KINDS {
        for seed in 0..per_kind {
            let (image, text) = stress_image(kind, seed);
            let stem = dir.join(format!("{kind}-{seed:02}"));
            image
                .save(stem.with_extension("png"))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            std::fs::write(stem.with_extension("txt"), text)?;
            written += 1;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_frames_are_deterministic_and_differ_by_seed() {
        assert_eq!(synthetic_frame(7, None), synthetic_frame(7, None));
        assert_ne!(synthetic_frame(7, None), synthetic_frame(8, None));
        assert_eq!(synthetic_frame(7, None).dimensions(), (1280, 720));
        assert_ne!(synthetic_frame(7, None), synthetic_frame(7, Some(SYNTHETIC_CODE_TEXT)));
    }

    #[test]
    fn stress_images_carry_their_code() {
        for kind in STRESS_KINDS {
            let (image, text) = stress_image(kind, 0);
            assert_eq!(image.dimensions(), (1280, 720), "{kind}");
            assert!(text.starts_with("BK") || text.starts_with("https://"), "{kind}");
        }
        let (a, _) = stress_image("glare", 3);
        let (b, _) = stress_image("glare", 3);
        assert_eq!(a, b, "deterministic");
    }
}
