//! The fuzz targets' short run in CI (issue #8): every committed input under fuzz/seeds,
//! fuzz/regressions and the minimised corpus (one archive, fuzz/corpus.tar.xz, so that a
//! re-minimisation replaces one file rather than churning ten thousand) goes through the
//! same library function its `cargo fuzz` target calls (`badge_kiosk::fuzzing`), on the
//! stable toolchain. Any panic fails the test and names the file.
//!
//! `BADGE_KIOSK_WRITE_FUZZ_SEEDS=1 cargo test --test it fuzz_corpus` rewrites fuzz/seeds
//! from `fuzzing::seeds()` (inputs signed with the demo event key).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use badge_kiosk::fuzzing::{seeds, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The directory holding `corpus/TARGET/…`, unpacked once per test run from the archive.
fn corpus_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-corpus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let archive = fuzz_dir().join("corpus.tar.xz");
        let status = std::process::Command::new("tar")
            .arg("-xJf")
            .arg(&archive)
            .arg("-C")
            .arg(&root)
            .status()
            .expect("tar is missing: install the Debian packages tar and xz-utils");
        assert!(status.success(), "could not unpack {}", archive.display());
        root
    })
}

/// Runs one input; the panic message if it panicked.
fn replay(target: fn(&[u8]), data: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| target(data))).err().map(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic".into())
    })
}

#[test]
fn fuzz_corpus_replays_without_a_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, target) in TARGETS {
        for kind in ["seeds", "corpus", "regressions"] {
            let base = if kind == "corpus" { corpus_root() } else { &fuzz_dir() };
            let dir = base.join(kind).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for file in files.into_iter().filter(|f| f.is_file()) {
                let data = std::fs::read(&file).unwrap();
                replayed += 1;
                if let Some(message) = replay(*target, &data) {
                    failures.push(format!("{}: {message}", file.display()));
                }
            }
        }
    }
    for (target, name, data) in seeds() {
        let body = TARGETS.iter().find(|(n, _)| *n == target).unwrap().1;
        replayed += 1;
        if let Some(message) = replay(body, &data) {
            failures.push(format!("seed {target}/{name}: {message}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("replayed {replayed} fuzz inputs");
}

#[test]
fn fuzz_corpus_covers_every_target() {
    for (name, _) in TARGETS {
        let target_file = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let source = std::fs::read_to_string(&target_file).unwrap();
        assert!(
            source.contains(&format!("badge_kiosk::fuzzing::{name}(")),
            "{}",
            target_file.display()
        );
        let corpus = corpus_root().join("corpus").join(name);
        assert!(
            std::fs::read_dir(&corpus).is_ok_and(|mut entries| entries.next().is_some()),
            "no corpus for {name} in fuzz/corpus.tar.xz: run scripts/fuzz"
        );
    }
}

#[test]
fn fuzz_seeds_are_committed() {
    let write = std::env::var_os("BADGE_KIOSK_WRITE_FUZZ_SEEDS").is_some();
    for (target, name, data) in seeds() {
        let path = fuzz_dir().join("seeds").join(target).join(&name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &data).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).ok().as_deref(),
            Some(data.as_slice()),
            "{} is missing or stale: BADGE_KIOSK_WRITE_FUZZ_SEEDS=1 cargo test --test it fuzz_corpus",
            path.display()
        );
    }
}
