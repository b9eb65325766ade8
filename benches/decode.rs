//! `cargo bench --bench decode`: the kiosk's decoding pipeline on synthetic 1280×720 frames,
//! the same function and frames as `badge-kiosk bench decode --frames N` (which also reads
//! folders of labelled photos and reports read rates).

// A benchmark stops on a broken set-up, as a test does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use badge_kiosk::scan::decode::{decode_frame, DecodeBudget};
use badge_kiosk::scan::fixtures::{stress_image, synthetic_frame, STRESS_KINDS, SYNTHETIC_CODE_TEXT};

fn main() {
    divan::main();
}

/// A frame with nothing to read: the cost the kiosk pays on every idle frame.
#[divan::bench]
fn frame_without_code(bencher: divan::Bencher) {
    let frame = synthetic_frame(1, None);
    let budget = DecodeBudget::default();
    bencher.bench_local(|| decode_frame(divan::black_box(&frame), &budget));
}

/// A frame with an attendance code in view.
#[divan::bench]
fn frame_with_code(bencher: divan::Bencher) {
    let frame = synthetic_frame(1, Some(SYNTHETIC_CODE_TEXT));
    let budget = DecodeBudget::default();
    bencher.bench_local(|| decode_frame(divan::black_box(&frame), &budget));
}

/// One image of each kind of the stress set (blur, glare, perspective…).
#[divan::bench(args = STRESS_KINDS)]
fn stress(bencher: divan::Bencher, kind: &str) {
    let (frame, _) = stress_image(kind, 0);
    let budget = DecodeBudget::default();
    bencher.bench_local(|| decode_frame(divan::black_box(&frame), &budget));
}
