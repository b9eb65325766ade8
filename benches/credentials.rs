//! `cargo bench --bench credentials`: building, canonicalising and signing one Open Badges 3.0
//! credential, the work behind `badge-kiosk bench credentials` (same credential, key and date
//! as `tests/dcc/sign-bench.mjs`).

// A benchmark stops on a broken set-up, as a test does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use badge_kiosk::bench::credentials::{sample_created, sample_input, BENCH_KEY_SEED};
use badge_kiosk::credential::sign;
use ed25519_dalek::SigningKey;

fn main() {
    divan::main();
}

#[divan::bench]
fn sign_one(bencher: divan::Bencher) {
    let key = SigningKey::from_bytes(&BENCH_KEY_SEED);
    let input = sample_input();
    let created = sample_created();
    bencher.bench_local(|| sign(divan::black_box(&input), &key, created));
}
