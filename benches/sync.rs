//! `cargo bench --bench sync`: one kiosk's queue synced to a hub on 127.0.0.1, as
//! `badge-kiosk bench sync --awards N` does, beside `floor`: one core verifying the same
//! signatures one by one (what the sync is measured against); and 20 kiosks × 1,500 records
//! syncing at once. Filling the queues (signing, hash-chaining) is set-up and not timed;
//! each sample syncs freshly filled queues.

// A benchmark stops on a broken set-up, as a test does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use badge_kiosk::bench::sync::{one_core_floor, FilledFleet, FilledKiosk};

fn main() {
    divan::main();
}

#[divan::bench(args = [1_000, 10_000], sample_count = 3, sample_size = 1)]
fn loopback(bencher: divan::Bencher, awards: usize) {
    bencher
        .with_inputs(|| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let filled = FilledKiosk::fill(awards, dir.path()).expect("the queue fills");
            (dir, filled)
        })
        .bench_local_values(|(dir, filled)| {
            let synced = filled.sync_to_loopback_hub().expect("the sync completes");
            assert_eq!(synced.hub_awards, awards as u64);
            // Returned, so that divan removes the directory after the timing.
            dir
        });
}

/// The same signatures as `loopback` with as many awards, verified one by one on one core.
#[divan::bench(args = [1_000, 10_000], sample_count = 3, sample_size = 1)]
fn floor(bencher: divan::Bencher, awards: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let jobs = FilledKiosk::fill(awards, dir.path())
        .expect("the queue fills")
        .signature_jobs()
        .expect("the queue reads");
    bencher.bench_local(|| one_core_floor(&jobs).expect("genuine signatures"));
}

/// 20 kiosks × 1,500 records, all syncing to one hub at once (target: under a second, none
/// failed).
#[divan::bench(sample_count = 2, sample_size = 1)]
fn fleet_20_kiosks_1500_records(bencher: divan::Bencher) {
    bencher
        .with_inputs(|| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let fleet = FilledFleet::fill(20, 1_500, dir.path()).expect("the queues fill");
            (dir, fleet)
        })
        .bench_local_values(|(dir, fleet)| {
            let (_, synced, failed, hub_awards) = fleet.sync_at_once().expect("the syncs complete");
            assert_eq!((synced, failed, hub_awards), (30_000, 0, 30_000));
            dir
        });
}
