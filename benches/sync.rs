//! `cargo bench --bench sync`: one kiosk's queue synced to a hub on 127.0.0.1, as
//! `badge-kiosk bench sync --awards N` does. Filling the queue (signing, hash-chaining) is
//! set-up and not timed; each sample syncs a freshly filled queue.

// A benchmark stops on a broken set-up, as a test does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use badge_kiosk::sync::bench::FilledKiosk;

fn main() {
    divan::main();
}

#[divan::bench(args = [100, 1_000], sample_count = 5, sample_size = 1)]
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
