//! The README's decoding figure, guarded: the kiosk's pipeline on the real photographs in
//! `../shared/data/qr` (zxing-cpp's QR samples; `NAME.png|jpg|webp` beside its expected text
//! in `NAME.txt`), downscaled to 1280 px as the kiosk camera delivers them, with the kiosk's
//! per-frame work budget. The budget here is counted in work units, not milliseconds
//! ([`DecodeBudget::deterministic`]), so the result is the same on every machine and under
//! any load; `badge-kiosk bench decode` measures the time.

use std::path::PathBuf;

use badge_kiosk::bench::decode::{labelled_images, load_for_bench, text_matches};
use badge_kiosk::scan::decode::{decode_dynamic, DecodeBudget, FRAME_WORK};

/// Photos the pipeline read when this test was written (128 of 137 before its work was
/// bounded). Raise it when the pipeline reads more; never lower it to make a change pass.
const READ_AT_LEAST: usize = 128;

/// Where the photos are: `BADGE_KIOSK_QR_PHOTOS`, else `../shared/data/qr` beside the crate.
fn photos() -> PathBuf {
    std::env::var_os("BADGE_KIOSK_QR_PHOTOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/qr"))
}

#[test]
fn kiosk_pipeline_reads_the_shared_photos_within_its_work_budget() {
    let root = photos();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| {
            panic!(
                "cannot list {}: {error}; put the QR photo set there or point BADGE_KIOSK_QR_PHOTOS at it",
                root.display()
            )
        })
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    let budget = DecodeBudget::deterministic();
    let (mut images, mut read, mut panics) = (0usize, 0usize, 0u32);
    let mut misreads = Vec::new();
    let mut unread = Vec::new();
    let mut dearest = (0u64, String::new());
    for folder in &folders {
        let (labelled, _unlabelled) = labelled_images(folder).expect("folder listed");
        for photo in labelled {
            let name = photo.image.display().to_string();
            let image = load_for_bench(&photo.image, budget.max_side)
                .unwrap_or_else(|error| panic!("{name} does not load: {error}"));
            let outcome = decode_dynamic(&image, &budget);
            images += 1;
            panics += outcome.panics_caught;
            if outcome.work > dearest.0 {
                dearest = (outcome.work, name.clone());
            }
            if outcome
                .codes
                .iter()
                .any(|code| text_matches(&photo.expected, &code.text))
            {
                read += 1;
            } else if let Some(code) = outcome.codes.first() {
                misreads.push(format!("{name}: read {:?}", code.text));
            } else {
                unread.push(name);
            }
        }
    }
    eprintln!(
        "{read} of {images} photos read, {} misread, {panics} decoder panics caught; dearest {} work units ({})",
        misreads.len(),
        dearest.0,
        dearest.1
    );
    assert!(images >= 130, "only {images} labelled photos under {}", root.display());
    assert!(misreads.is_empty(), "misreads: {misreads:#?}");
    assert!(
        read >= READ_AT_LEAST,
        "{read} of {images} read, fewer than {READ_AT_LEAST}; unread: {unread:#?}"
    );
    // Every photo stays within the frame's work budget.
    assert!(
        dearest.0 <= FRAME_WORK,
        "{} spent {} work units, over the frame's {FRAME_WORK}",
        dearest.1,
        dearest.0
    );
}
