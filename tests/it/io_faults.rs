//! I/O faults injected into the real kiosk process with libfiu (`fiu-run`, Debian package
//! fiu-utils): failing fsyncs, a full disk and random write and sync failures. One kiosk process
//! keeps running through each fault, fed codes one at a time as a barcode scanner would:
//! while the fault lasts it must say the badge was NOT saved; once `fiu-ctrl` clears the
//! fault the same process saves again, and the queue is intact (integrity check, hash
//! chain, no record lost or doubled).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::store::Store;

use crate::helpers::{require_tool, visitor_code, TestKiosk};

const EIO: i32 = 5;
const ENOSPC: i32 = 28;

/// A kiosk claiming codes from standard input under fiu-run, with remote control on.
struct FaultyKiosk {
    kiosk: TestKiosk,
    event: EventDir,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    control: PathBuf,
}

impl FaultyKiosk {
    fn start() -> Self {
        require_tool("fiu-run", "fiu-utils");
        let kiosk = TestKiosk::demo();
        let event = EventDir::demo(&kiosk.dir.path().join("keys")).unwrap();
        let control = kiosk.dir.path().join("fiu-ctrl");
        let mut command = Command::new("fiu-run");
        command.arg("-x").arg("-f").arg(&control);
        let kiosk_command = kiosk.command();
        command.arg(kiosk_command.get_program());
        command.args(kiosk_command.get_args());
        for (key, value) in kiosk_command.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let mut child = command
            .args(["claim", "-", "--phone"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            kiosk,
            event,
            child,
            stdin,
            stdout,
            control,
        }
    }

    fn new_code(&self) -> String {
        visitor_code(&self.event, None)
    }

    /// Scans one code and returns the kiosk's answer.
    fn scan(&mut self, code: &str) -> String {
        writeln!(self.stdin, "{code}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the kiosk stopped instead of answering");
        line.trim().to_owned()
    }

    fn fiu(&self, command: &str) {
        let status = Command::new("fiu-ctrl")
            .arg("-f")
            .arg(&self.control)
            .arg("-c")
            .arg(command)
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "fiu-ctrl -c {command:?} failed");
    }

    /// Ends the process and checks the queue: intact, chained, holding exactly `expected`.
    fn finish(mut self, expected: usize) {
        drop(self.stdin);
        let _ = self.child.wait();
        let store = Store::open(&self.kiosk.queue_path("finales-metiers-2026")).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok");
        let verify = self.kiosk.ok(&["queue", "verify"]);
        assert!(verify.contains(&format!("{expected} records")), "{verify}");
        let counts = store.counts().unwrap();
        assert_eq!(counts.queued as usize, expected);
    }
}

fn saved(answer: &str) -> bool {
    answer.starts_with("saved:")
}

#[test]
fn failing_fsync_says_not_saved_and_the_kiosk_recovers() {
    let mut kiosk = FaultyKiosk::start();
    let first = kiosk.new_code();
    assert!(saved(&kiosk.scan(&first)));

    kiosk.fiu(&format!("enable name=posix/io/sync/*,failinfo={EIO}"));
    let second = kiosk.new_code();
    for _ in 0..3 {
        let answer = kiosk.scan(&second);
        assert!(answer.starts_with("refused:"), "{answer}");
        assert!(
            answer.contains("the badge was not saved") && answer.contains("Ask staff"),
            "{answer}"
        );
    }

    kiosk.fiu("disable name=posix/io/sync/*");
    let answer = kiosk.scan(&second);
    assert!(
        saved(&answer),
        "after the fault clears the same visitor claims: {answer}"
    );
    assert!(kiosk.scan(&first).starts_with("already claimed"));
    kiosk.finish(2);
}

#[test]
fn a_full_disk_says_so_and_the_kiosk_recovers() {
    let mut kiosk = FaultyKiosk::start();
    assert!(saved(&kiosk.scan(&kiosk.new_code())));

    // SQLite writes with pwrite64 (libfiu's posix/io/rw/pwrite); plain write() would also
    // fail the kiosk's own answers on standard output.
    kiosk.fiu(&format!("enable name=posix/io/rw/pwrite,failinfo={ENOSPC}"));
    let visitor = kiosk.new_code();
    let answer = kiosk.scan(&visitor);
    assert!(answer.starts_with("refused: the disk is full"), "{answer}");
    assert!(answer.contains("not saved"), "{answer}");

    kiosk.fiu("disable name=posix/io/rw/pwrite");
    assert!(saved(&kiosk.scan(&visitor)));
    kiosk.finish(2);
}

#[test]
fn random_write_and_sync_failures_lose_nothing_reported_saved() {
    let mut kiosk = FaultyKiosk::start();
    assert!(saved(&kiosk.scan(&kiosk.new_code())));
    let mut reported_saved = 1;
    let mut refused = Vec::new();
    let points = ["posix/io/rw/pwrite", "posix/io/sync/fsync", "posix/io/sync/fdatasync"];
    for point in points {
        kiosk.fiu(&format!("enable_random name={point},probability=0.02,failinfo={EIO}"));
    }
    for _ in 0..200 {
        let code = kiosk.new_code();
        let answer = kiosk.scan(&code);
        if saved(&answer) {
            reported_saved += 1;
        } else {
            assert!(
                answer.contains("not saved"),
                "every failure tells the visitor: {answer}"
            );
            refused.push(code);
        }
    }
    for point in points {
        kiosk.fiu(&format!("disable name={point}"));
    }
    eprintln!(
        "random I/O faults: {} of 200 claims refused as not saved, {} saved",
        refused.len(),
        reported_saved - 1
    );
    assert!(!refused.is_empty(), "the faults must actually fire");
    // Every refused visitor claims successfully once the storage is healthy again.
    // (A refusal after SQLite committed would answer "already claimed": nothing lost.)
    for code in &refused {
        let answer = kiosk.scan(code);
        assert!(saved(&answer) || answer.starts_with("already claimed"), "{answer}");
        reported_saved += 1;
    }
    kiosk.finish(reported_saved);
}
