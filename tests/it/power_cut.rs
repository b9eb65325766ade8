//! Power cuts. The kiosk process is killed with SIGKILL at a random point while claiming
//! or syncing, and then, as a real power cut would, the disk is rolled back to what the
//! process had made durable: `tests/power/powerloss.c`, preloaded into the kiosk,
//! journals every write and fsync to the data directory, and `lose_unsynced_writes`
//! rebuilds each file keeping only what an fsync confirmed: every write after the last
//! fsync of its file is lost (this model does not tear single writes, nor lose renames or
//! directory entries). SIGKILL alone would not do: the kernel's page cache survives a
//! killed process.
//!
//! The cut point is an operation count, not a moment: the preloaded library kills the
//! process just before its N-th disk operation, N drawn at random below the count a whole
//! run takes. So every cut lands inside the work on any machine, fast or loaded.
//!
//! With the product's `synchronous=FULL`, whatever the kiosk printed as saved must survive,
//! the hash chain must verify and `PRAGMA integrity_check` must pass after every cut; after
//! cuts during sync, the hub holds each record once. The same harness run with
//! `synchronous=NORMAL` must find lost awards, which shows that it can see a loss.
//!
//! CI runs 40 claim cycles and 15 sync cycles; `BADGE_KIOSK_POWER_CYCLES=1000` runs 1,000 of each.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::store::Store;

use crate::helpers::{start_hub, visitor_code, TestKiosk};

const EVENT: &str = "finales-metiers-2026";

fn cycles(default: usize) -> usize {
    std::env::var("BADGE_KIOSK_POWER_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The journalling library, compiled once per test run with the system's C compiler.
fn powerloss_library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/power/powerloss.c");
        let library = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("libpowerloss-{}.so", std::process::id()));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(&library)
            .arg(&source)
            .arg("-ldl")
            .status()
            .expect("cc is missing: install the Debian package gcc");
        assert!(status.success(), "could not compile {}", source.display());
        library
    })
}

struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A kiosk whose disk can lose power.
struct PowerCutKiosk {
    kiosk: TestKiosk,
    data_dir: PathBuf,
    snapshot: PathBuf,
    journal: PathBuf,
    event: EventDir,
    unsafe_normal: bool,
}

impl PowerCutKiosk {
    fn new(unsafe_normal: bool) -> Self {
        let kiosk = TestKiosk::demo();
        // One run that completes, so the device key and certificate exist before the cuts.
        kiosk.ok(&["queue", "status"]);
        let data_dir = kiosk.data_dir().canonicalize().unwrap();
        let snapshot = kiosk.dir.path().join("durable");
        let journal = kiosk.dir.path().join("journal");
        let event = EventDir::demo(&kiosk.dir.path().join("keys")).unwrap();
        Self {
            kiosk,
            data_dir,
            snapshot,
            journal,
            event,
            unsafe_normal,
        }
    }

    fn visitor_codes(&self, count: usize) -> Vec<String> {
        (0..count).map(|_| visitor_code(&self.event, None)).collect()
    }

    /// The kiosk command, journalled. Also takes the durable snapshot the cut rolls back to.
    fn command(&self, args: &[&str]) -> Command {
        copy_tree(&self.data_dir, &self.snapshot);
        let _ = std::fs::remove_file(&self.journal);
        let mut command = self.kiosk.command();
        command
            .args(args)
            .env("LD_PRELOAD", powerloss_library())
            .env("POWERLOSS_DIR", &self.data_dir)
            .env("POWERLOSS_LOG", &self.journal);
        if self.unsafe_normal {
            command.env("BADGE_KIOSK_UNSAFE_DURABILITY", "normal");
        }
        command
    }

    /// Cuts the power: what was not fsynced is gone. Returns how many disk operations the
    /// command made before the cut.
    fn cut(&self) -> u64 {
        lose_unsynced_writes(&self.snapshot, &self.data_dir, &self.journal)
    }

    fn store(&self) -> Store {
        Store::open(&self.data_dir.join(EVENT).join("queue.sqlite")).unwrap()
    }

    fn device_key(&self) -> ed25519_dalek::VerifyingKey {
        let text = std::fs::read_to_string(self.data_dir.join(EVENT).join("device.key")).unwrap();
        let bytes: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
        ed25519_dalek::SigningKey::from_bytes(&bytes).verifying_key()
    }
}

/// How long a stuck kiosk is given before the harness gives up on it. Only a hang reaches it.
const STUCK: Duration = Duration::from_secs(180);

/// Claims per cycle: one scanner burst.
const STREAM: usize = 25;

/// Outcome of claim cycles.
#[derive(Default, Debug)]
struct ClaimCuts {
    cycles: usize,
    /// The power went before the burst's last claim was saved.
    cut_mid_stream: usize,
    /// The power went after the whole burst was saved (the harness's own kill).
    cut_after_stream: usize,
    reported_saved: usize,
    lost: usize,
}

/// Power cuts while a burst of claims is processed. The first cycle runs the whole burst
/// and learns how many disk operations it takes; every later cycle cuts the power just
/// before a random one of them (`POWERLOSS_CUT_AT`), so the cut lands mid-burst by
/// construction, whatever the machine's speed.
fn claim_cycles(kiosk: &PowerCutKiosk, cycles: usize, seed: u64) -> ClaimCuts {
    let mut random = Xorshift(seed);
    let mut outcome = ClaimCuts {
        cycles,
        ..ClaimCuts::default()
    };
    let mut operations_per_burst: Option<u64> = None;
    for _ in 0..cycles {
        let cut_at = operations_per_burst.map(|operations| 1 + random.next() % operations.max(1));
        let codes = kiosk.visitor_codes(STREAM).join("\n") + "\n";
        let mut command = kiosk.command(&["claim", "-", "--phone"]);
        if let Some(cut_at) = cut_at {
            command.env("POWERLOSS_CUT_AT", cut_at.to_string());
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Standard input stays open, as a scanner's would: the kiosk is alive when the
        // power goes, never in the middle of a clean exit.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(codes.as_bytes()).unwrap();
        let stdout = child.stdout.take().unwrap();
        let (saved_tx, saved_rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let sequence = line
                    .split("(record #")
                    .nth(1)
                    .and_then(|rest| rest.split(')').next())
                    .and_then(|n| n.parse::<u64>().ok());
                if let Some(sequence) = sequence {
                    let _ = saved_tx.send(sequence);
                }
            }
        });
        // Until the kiosk cuts its own power (its output ends) or saves the whole burst.
        let started = std::time::Instant::now();
        let mut saved = Vec::new();
        let mut killed_by_harness = false;
        loop {
            match saved_rx.recv_timeout(Duration::from_millis(200)) {
                Ok(sequence) => {
                    saved.push(sequence);
                    if saved.len() == STREAM {
                        let _ = child.kill();
                        killed_by_harness = true;
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    assert!(
                        started.elapsed() < STUCK,
                        "the kiosk saved {} claims, then hung",
                        saved.len()
                    );
                }
            }
        }
        let status = child.wait().unwrap();
        drop(stdin);
        reader.join().unwrap();
        saved.extend(saved_rx.try_iter());
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "the kiosk must die only by the power cut, not {status}"
        );
        if killed_by_harness {
            outcome.cut_after_stream += 1;
        } else {
            outcome.cut_mid_stream += 1;
        }
        let operations = kiosk.cut();
        if cut_at.is_none() {
            operations_per_burst = Some(operations);
        }

        let store = kiosk.store();
        assert_eq!(store.integrity_check().unwrap(), "ok");
        let audit = store.audit(&kiosk.device_key()).unwrap();
        assert!(audit.faults.is_empty(), "{:?}", audit.faults);
        outcome.reported_saved += saved.len();
        outcome.lost += saved
            .iter()
            .filter(|sequence| store.record(**sequence).unwrap().is_none())
            .count();
    }
    outcome
}

#[test]
fn power_cuts_during_claims_lose_nothing_reported_saved() {
    let kiosk = PowerCutKiosk::new(false);
    let outcome = claim_cycles(&kiosk, cycles(40), 0x5eed);
    eprintln!(
        "power cuts during claims (synchronous=FULL): {} cycles, {} cut mid-burst, {} after the burst, {} awards reported saved, {} lost",
        outcome.cycles, outcome.cut_mid_stream, outcome.cut_after_stream, outcome.reported_saved, outcome.lost
    );
    assert!(
        outcome.cut_mid_stream > 0,
        "the harness must actually interrupt claims: {outcome:?}"
    );
    assert!(outcome.reported_saved > 0);
    assert_eq!(outcome.lost, 0, "awards reported saved were lost: {outcome:?}");
}

#[test]
fn with_synchronous_normal_the_harness_finds_the_loss() {
    let kiosk = PowerCutKiosk::new(true);
    let outcome = claim_cycles(&kiosk, 10, 0xbad);
    eprintln!(
        "power cuts during claims (synchronous=NORMAL): {} cycles, {} awards reported saved, {} lost",
        outcome.cycles, outcome.reported_saved, outcome.lost
    );
    assert!(
        outcome.lost > 0,
        "NORMAL does not fsync each commit, so a power cut must lose awards the screen called saved: {outcome:?}"
    );
}

/// Power cuts while syncing. As for claims, the first sync runs whole and tells how many
/// disk operations a sync takes; later syncs lose power just before a random one of them:
/// while reading the queue, after the hub answered but before the kiosk recorded the
/// answer, or while it stores the new event bundle.
#[test]
fn power_cuts_during_sync_deliver_each_record_once() {
    let kiosk = PowerCutKiosk::new(false);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let hub_db = kiosk.kiosk.dir.path().join("hub.sqlite");
    let hub = start_hub(&runtime, &hub_db, &kiosk.event, || 1_795_000_000_000);
    let hub_url = hub.url();
    let hub_records = || {
        let hub = badge_kiosk::hub::store::HubStore::open(&hub_db, kiosk.event.definition.clone()).unwrap();
        let records: i64 = hub
            .connection()
            .query_row("SELECT COUNT(*) FROM records", [], |row| row.get(0))
            .unwrap();
        records as u64
    };

    let mut random = Xorshift(0x51c);
    let mut cuts = 0;
    let mut answers_lost = 0;
    let mut operations_per_sync: Option<(u64, u64)> = None;
    let cycles = cycles(15);
    for _ in 0..cycles {
        // New awards (this run completes), then a sync that may lose power.
        let codes = kiosk.visitor_codes(40).join("\n") + "\n";
        let mut claim = kiosk
            .kiosk
            .command()
            .args(["claim", "-", "--phone"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        claim.stdin.take().unwrap().write_all(codes.as_bytes()).unwrap();
        assert!(claim.wait().unwrap().success());

        // A sync's operations grow with the records it sends: scale the last whole sync's
        // count to today's backlog, so the cut falls anywhere in this sync, the bundle
        // update after the upload included.
        let backlog = kiosk.store().counts().unwrap().queued.max(1);
        let cut_at = operations_per_sync
            .map(|(operations, sent)| 1 + random.next() % (operations * backlog / sent.max(1)).max(1));
        let mut command = kiosk.command(&["sync", "--hub", &hub_url]);
        if let Some(cut_at) = cut_at {
            command.env("POWERLOSS_CUT_AT", cut_at.to_string());
        }
        let mut sync = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = sync.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < STUCK, "the sync hung");
            std::thread::sleep(Duration::from_millis(20));
        };
        let cut = std::os::unix::process::ExitStatusExt::signal(&status) == Some(9);
        assert!(cut || status.success(), "the sync failed on its own: {status}");
        let operations = kiosk.cut();
        if cut {
            cuts += 1;
        } else {
            // A whole sync: its operation count bounds the next cut.
            operations_per_sync = Some((operations, backlog));
        }
        let store = kiosk.store();
        assert_eq!(store.integrity_check().unwrap(), "ok");
        assert!(store.audit(&kiosk.device_key()).unwrap().faults.is_empty());
        if hub_records() > store.counts().unwrap().synced {
            answers_lost += 1;
        }
    }
    let synced_between_cuts = kiosk.store().counts().unwrap().synced;
    // The network and the power stay on: everything left goes.
    let finished = kiosk.kiosk.run(&["sync", "--hub", &hub_url]);
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let counts = kiosk.store().counts().unwrap();
    assert_eq!((counts.queued, counts.failed), (0, 0));
    let expected = (cycles * 40) as u64;
    assert_eq!(counts.synced, expected);

    let hub = badge_kiosk::hub::store::HubStore::open(&hub_db, kiosk.event.definition.clone()).unwrap();
    let (records, distinct): (i64, i64) = hub
        .connection()
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT kiosk_id || ':' || sequence) FROM records",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    eprintln!(
        "power cuts during sync: {cycles} cycles, {cuts} cut mid-sync ({answers_lost} after the hub stored a batch the kiosk had not yet marked), {synced_between_cuts} records marked synced between cuts; hub holds {records} records ({distinct} distinct) and {} awards of {expected}",
        hub.award_count().unwrap()
    );
    assert!(cuts > 0, "the harness must actually interrupt syncs");
    assert_eq!(records as u64, expected, "every record once on the hub");
    assert_eq!(distinct as u64, expected);
    assert_eq!(hub.award_count().unwrap(), expected);
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Rebuilds every journalled file under `data_dir` as the disk holds it after a power cut:
/// the state of `snapshot` plus the writes, truncations and unlinks that an fsync of the
/// same file confirmed afterwards. SQLite's shared-memory index is never durable.
/// Returns the number of journalled operations under `data_dir`.
fn lose_unsynced_writes(snapshot: &Path, data_dir: &Path, journal: &Path) -> u64 {
    struct FileState {
        volatile: Option<Vec<u8>>,
        durable: Option<Vec<u8>>,
    }
    let bytes = std::fs::read(journal).unwrap_or_default();
    let mut files: HashMap<PathBuf, FileState> = HashMap::new();
    let mut operations = 0;
    let mut at = 0;
    while at + 3 <= bytes.len() {
        let op = bytes[at];
        let path_len = u16::from_le_bytes([bytes[at + 1], bytes[at + 2]]) as usize;
        let header_end = at + 3 + path_len + 12;
        if header_end > bytes.len() {
            break;
        }
        let path = PathBuf::from(String::from_utf8_lossy(&bytes[at + 3..at + 3 + path_len]).into_owned());
        let offset = i64::from_le_bytes(bytes[at + 3 + path_len..at + 11 + path_len].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[at + 11 + path_len..header_end].try_into().unwrap()) as usize;
        if header_end + len > bytes.len() {
            break;
        }
        let data = &bytes[header_end..header_end + len];
        at = header_end + len;

        let Ok(relative) = path.strip_prefix(data_dir) else {
            continue;
        };
        operations += 1;
        if relative.as_os_str().is_empty() || snapshot.join(relative).is_dir() || data_dir.join(relative).is_dir() {
            continue;
        }
        let state = files.entry(relative.to_owned()).or_insert_with(|| {
            let before = std::fs::read(snapshot.join(relative)).ok();
            FileState {
                volatile: before.clone(),
                durable: before,
            }
        });
        match op {
            b'W' => {
                let content = state.volatile.get_or_insert_with(Vec::new);
                let offset = usize::try_from(offset).unwrap();
                if content.len() < offset + len {
                    content.resize(offset + len, 0);
                }
                content[offset..offset + len].copy_from_slice(data);
            }
            b'T' => state
                .volatile
                .get_or_insert_with(Vec::new)
                .resize(usize::try_from(offset).unwrap(), 0),
            b'S' => state.durable = state.volatile.clone(),
            b'U' => {
                state.volatile = None;
                state.durable = None;
            }
            other => panic!("unknown journal record {other}"),
        }
    }
    for (relative, state) in files {
        let path = data_dir.join(relative);
        match state.durable {
            Some(content) => std::fs::write(&path, content).unwrap(),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    remove_shared_memory(data_dir);
    operations
}

fn remove_shared_memory(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            remove_shared_memory(&path);
        } else if path.to_string_lossy().ends_with("-shm") {
            std::fs::remove_file(path).unwrap();
        }
    }
}
