//! Issue #7: kiosks sync to a real hub on loopback (typed emails travel with their
//! records), the organiser imports the ticketing export, and the hub hands the merged
//! awards to Open Badge Factory or Canvas Credentials (the local contract servers) exactly
//! once — across lost answers, crashes, refusals and random faults — then erases the emails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use badge_kiosk::domain::award::{email_hash, AwardContent, Recipient, RecordKind};
use badge_kiosk::domain::registrations::parse_registrations;
use badge_kiosk::eventdir::EventDir;
use badge_kiosk::hub::issue::{self, award_issues, issue_from_hub, IssueState, SharedHubStore};
use badge_kiosk::hub::store::HubStore;
use badge_kiosk::kiosk::{Delivery, KioskCore};
use badge_kiosk::platform::{
    BadgrAuth, BadgrClient, BadgrCredentials, BadgrSettings, IssueSettings, ObfClient, ObfCredentials, ObfSettings,
    Platform, PlatformClient, PlatformError, Secret,
};
use badge_kiosk::store::{Durability, Store};
use badge_kiosk::sync::client::{sync_once, SyncSettings};
use badge_kiosk::sync::protocol::{RecordStatus, UploadRequest};

use crate::helpers::{runtime, start_hub, visitor_code, FixedClock, LoopbackHub, TestKiosk, NOW_MS};
use crate::platform::{fast, transport};
use crate::platform_contract::{ContractServer, Endpoint, Fault, RandomFaults, ServerConfig};

pub(crate) const OBF_BADGES: [&str; 2] = ["VISIT2026", "PATHWAY2026"];
const BADGR_BADGES: [&str; 2] = ["K829IK8RS6ercwkpeFOn-Q", "iOMWsaF1QbmMCofM54JlUg"];

/// The demo event with platform ids on both badge classes.
pub(crate) fn event_with_platform_ids(dir: &Path) -> EventDir {
    let demo = EventDir::demo(dir).unwrap();
    let path = demo.dir.join("event.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "id = \"attended\"\n",
            &format!(
                "id = \"attended\"\nplatform = {{ obf = \"{}\", badgr = \"{}\" }}\n",
                OBF_BADGES[0], BADGR_BADGES[0]
            ),
        )
        .replace(
            "id = \"food-pathway\"\n",
            &format!(
                "id = \"food-pathway\"\nplatform = {{ obf = \"{}\", badgr = \"{}\" }}\n",
                OBF_BADGES[1], BADGR_BADGES[1]
            ),
        );
    std::fs::write(&path, text).unwrap();
    let event = EventDir::load(&demo.dir).unwrap();
    assert_eq!(event.definition.badges[0].platform["obf"], OBF_BADGES[0]);
    event
}

struct Kiosk {
    core: KioskCore,
    queue: PathBuf,
}

/// A temporary directory holding the demo event with platform ids and its hub's database,
/// the hub serving on loopback (at `hub`) until `loopback` is dropped.
struct HubOfTheDay {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    event: EventDir,
    db: PathBuf,
    hub: String,
    loopback: LoopbackHub,
}

fn hub_of_the_day() -> HubOfTheDay {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = event_with_platform_ids(dir.path());
    let db = dir.path().join("hub.sqlite");
    let loopback = start_hub(&runtime, &db, &event, || NOW_MS);
    HubOfTheDay {
        hub: loopback.url(),
        runtime,
        dir,
        event,
        db,
        loopback,
    }
}

fn kiosk(dir: &Path, event: &EventDir, name: &str) -> Kiosk {
    let data = dir.join(name);
    let core = KioskCore::open(event.clone(), &data, Some(name), Box::new(FixedClock)).unwrap();
    Kiosk {
        core,
        queue: data.join("queue.sqlite"),
    }
}

fn sync_kiosk(runtime: &tokio::runtime::Runtime, kiosk: &Kiosk, hub: &str) {
    let store = Arc::new(Mutex::new(Store::open(&kiosk.queue).unwrap()));
    let certificate = hex::encode(kiosk.core.certificate().to_bytes().unwrap());
    let mut settings = SyncSettings::new(hub, &kiosk.core.definition().event.id, &certificate)
        .trusting(kiosk.core.definition().public_keys());
    settings.batch_records = 500;
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let _ = runtime.block_on(sync_once(&store, &settings, &http, |_, _| {}));
        if store.lock().unwrap().pending(usize::MAX).unwrap().is_empty() {
            return;
        }
    }
    panic!("kiosk {} did not finish syncing", kiosk.core.kiosk_id());
}

fn client_for(platform: Platform, server: &ContractServer, obf: ObfSettings, timeout: Duration) -> PlatformClient {
    match platform {
        Platform::Obf => PlatformClient::Obf(ObfClient::new(
            &ObfCredentials {
                client_id: server.client_id().into(),
                client_secret: Secret::new(server.client_secret()),
                base_url: server.url(),
            },
            obf,
            transport(timeout),
        )),
        Platform::Badgr => PlatformClient::Badgr(BadgrClient::new(
            &BadgrCredentials {
                auth: BadgrAuth::Password {
                    username: server.client_id().into(),
                    password: Secret::new(server.client_secret()),
                },
                base_url: server.url(),
            },
            BadgrSettings::default(),
            transport(timeout),
        )),
    }
}

async fn server_for(platform: Platform) -> ContractServer {
    match platform {
        Platform::Obf => ContractServer::obf(&OBF_BADGES, ServerConfig::obf()).await,
        Platform::Badgr => ContractServer::badgr(&BADGR_BADGES, ServerConfig::badgr()).await,
    }
}

fn badge_of(platform: Platform, index: usize) -> &'static str {
    match platform {
        Platform::Obf => OBF_BADGES[index],
        Platform::Badgr => BADGR_BADGES[index],
    }
}

fn shared_hub(db: &Path, event: &EventDir) -> SharedHubStore {
    Arc::new(Mutex::new(HubStore::open(db, event.definition.clone()).unwrap()))
}

/// The day's awards at three kiosks, as in the brief: typed emails (one visitor at two
/// kiosks), registrations in and out of the ticketing export, a claim link, a refused
/// address, and a pathway the hub merges from steps at three kiosks.
struct Day {
    /// (badge index, email) the platform must end up holding, once each.
    expected: Vec<(usize, String)>,
    refused: String,
    registrations_csv: String,
}

fn record_the_day(runtime: &tokio::runtime::Runtime, dir: &Path, event: &EventDir, hub: &str, typed: usize) -> Day {
    let mut kiosks: Vec<Kiosk> = (0..3).map(|i| kiosk(dir, event, &format!("k{i}"))).collect();
    let mut expected = Vec::new();
    for i in 0..typed {
        let code = visitor_code(event, None);
        let email = format!("Visitor.{i}@Lycee.Example.org");
        let at = i % 3;
        let visitor = kiosks[at].core.identify(&code).unwrap();
        kiosks[at]
            .core
            .claim(&visitor, None, Delivery::Email(email.clone()))
            .unwrap();
        if i % 4 == 0 {
            // The same visitor at the next kiosk: one award on the hub.
            let next = (at + 1) % 3;
            let visitor = kiosks[next].core.identify(&code).unwrap();
            kiosks[next]
                .core
                .claim(&visitor, None, Delivery::Email(email.clone()))
                .unwrap();
        }
        expected.push((0, email.to_lowercase()));
    }
    // Registrations: R1 and R2 are in the export, R3 is not (needs an email).
    let mut r1_code = String::new();
    for (k, reference) in ["R1", "R2", "R3"].iter().enumerate() {
        let code = visitor_code(event, Some(reference));
        let visitor = kiosks[k].core.identify(&code).unwrap();
        kiosks[k].core.claim(&visitor, None, Delivery::Registration).unwrap();
        if k == 0 {
            r1_code = code;
        }
    }
    expected.push((0, "ana.lopez@example.org".into()));
    expected.push((0, "bob@example.org".into()));
    // A claim link: needs an email as far as the platform is concerned.
    let code = visitor_code(event, None);
    let visitor = kiosks[0].core.identify(&code).unwrap();
    kiosks[0].core.claim(&visitor, None, Delivery::Phone).unwrap();
    // A refused address (the contract servers refuse bounce.invalid).
    let refused = "nobody@bounce.invalid".to_string();
    let code = visitor_code(event, None);
    let visitor = kiosks[1].core.identify(&code).unwrap();
    kiosks[1]
        .core
        .claim(&visitor, None, Delivery::Email(refused.clone()))
        .unwrap();
    // The food pathway, completed across three kiosks by R1: no kiosk saw enough steps,
    // the hub merges them and resolves R1's email from the export.
    for (k, stand) in [
        (0, "boulangerie"),
        (0, "patisserie"),
        (1, "boucherie"),
        (2, "orientation"),
    ] {
        let visitor = kiosks[k].core.identify(&r1_code).unwrap();
        kiosks[k].core.record_step(&visitor, stand).unwrap();
    }
    expected.push((1, "ana.lopez@example.org".into()));
    for kiosk in &kiosks {
        sync_kiosk(runtime, kiosk, hub);
    }
    // The hub acknowledged every typed email: the kiosks forgot them, the hashes stay.
    for kiosk in &kiosks {
        let store = Store::open(&kiosk.queue).unwrap();
        let records = store.records(0, usize::MAX).unwrap();
        assert!(
            records.iter().all(|r| r.email.is_none()),
            "{} kept an email",
            kiosk.core.kiosk_id()
        );
        assert!(records
            .iter()
            .any(|r| matches!(r.record.content.recipient, Recipient::EmailHash(_))));
    }
    Day {
        expected,
        refused,
        registrations_csv: "Numéro d'inscription;Prénom;Nom;Adresse e-mail\nR1;Ana;Lopez;Ana.Lopez@example.org\nR2;Bob;;bob@example.org\nR9;;;not-an-email\n".into(),
    }
}

fn import_csv(db: &SharedHubStore, csv: &str) -> issue::ImportedRegistrations {
    let parsed = parse_registrations(csv).unwrap();
    assert_eq!(parsed.errors.len(), 1, "{:?}", parsed.errors);
    assert_eq!(parsed.errors[0].line, 4);
    issue::import_registrations(&mut db.lock().unwrap(), &parsed.registrations, NOW_MS).unwrap()
}

#[test]
fn kiosks_sync_to_the_hub_and_every_award_is_issued_once_to_obf_and_badgr() {
    for platform in [Platform::Obf, Platform::Badgr] {
        let HubOfTheDay {
            runtime,
            dir,
            event,
            db,
            hub,
            loopback: _hub_serving,
        } = hub_of_the_day();
        let day = record_the_day(&runtime, dir.path(), &event, &hub, 40);
        let store = shared_hub(&db, &event);
        let imported = import_csv(&store, &day.registrations_csv);
        assert_eq!((imported.added, imported.unchanged), (2, 0));
        assert_eq!(import_csv(&store, &day.registrations_csv).unchanged, 2, "idempotent");

        let server = runtime.block_on(server_for(platform));
        let mut client = client_for(platform, &server, ObfSettings::default(), Duration::from_secs(5));
        let started = Instant::now();
        let report = runtime
            .block_on(issue_from_hub(&store, &mut client, &fast(), None))
            .unwrap();
        let elapsed = started.elapsed();
        let label = format!("{platform:?}");
        assert!(report.stopped.is_none(), "{label}: {:?}", report.stopped);
        // 40 typed + R1 + R2 + R1's pathway; the refused one kept with its reason.
        assert_eq!(report.summary.confirmed, day.expected.len(), "{label}");
        assert_eq!(report.counts.confirmed, day.expected.len(), "{label}");
        assert_eq!(report.failed.len(), 1, "{label}: {:?}", report.failed);
        assert!(!report.failed[0].1.is_empty());
        // R3 (not in the export) and the claim link.
        assert_eq!(report.needs_email.len(), 2, "{label}: {:?}", report.needs_email);
        assert!(server.duplicates().is_empty(), "{label}: {:?}", server.duplicates());
        assert_eq!(server.total_issued(), day.expected.len(), "{label}");
        for (badge, email) in &day.expected {
            assert_eq!(
                server.issued_count(badge_of(platform, *badge), email),
                1,
                "{label} {email}"
            );
        }
        assert_eq!(server.issued_count(badge_of(platform, 0), &day.refused), 0);
        println!(
            "{label}: {} awards issued in {} calls, 1 refused, 2 need an email, 0 duplicates, {elapsed:.2?}",
            report.summary.confirmed, report.summary.calls
        );

        // A later award for a visitor who already has the badge (another code, same
        // email) arrives: running again sends nothing at all.
        let mut late = kiosk(dir.path(), &event, "late");
        let visitor = late.core.identify(&visitor_code(&event, None)).unwrap();
        late.core
            .claim(&visitor, None, Delivery::Email(day.expected[0].1.clone()))
            .unwrap();
        sync_kiosk(&runtime, &late, &hub);
        let issue_requests = server.requests(Endpoint::Issue);
        let again = runtime
            .block_on(issue_from_hub(&store, &mut client, &fast(), None))
            .unwrap();
        assert_eq!((again.summary.calls, again.summary.confirmed), (0, 0), "{label}");
        assert_eq!(again.already_held, 1, "{label}");
        assert_eq!(server.total_issued(), day.expected.len(), "{label}");
        assert_eq!(server.requests(Endpoint::Issue), issue_requests);
        let issues = award_issues(store.lock().unwrap().connection(), platform).unwrap();
        let refused = issues
            .iter()
            .find(|i| i.email.as_deref() == Some(day.refused.as_str()))
            .unwrap();
        assert!(matches!(&refused.state, IssueState::Failed(reason) if !reason.is_empty()));
    }
}

/// The hub must refuse, per record, an email that does not match the hash the kiosk signed.
#[test]
fn a_typed_email_that_does_not_match_the_signed_hash_is_refused_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let event = event_with_platform_ids(dir.path());
    let mut kiosk = kiosk(dir.path(), &event, "k0");
    let mut emails = BTreeMap::new();
    for (i, email) in ["right@example.org", "also.right@example.org"].iter().enumerate() {
        let code = visitor_code(&event, None);
        let visitor = kiosk.core.identify(&code).unwrap();
        kiosk
            .core
            .claim(&visitor, None, Delivery::Email((*email).into()))
            .unwrap();
        emails.insert(i as u64 + 1, (*email).to_string());
    }
    emails.insert(2, "someone.else@example.org".into());
    let records = kiosk.core.store().records(0, usize::MAX).unwrap();
    let request = UploadRequest {
        event_id: event.definition.event.id.clone(),
        certificate: hex::encode(kiosk.core.certificate().to_bytes().unwrap()),
        records: records
            .iter()
            .map(|r| hex::encode(r.record.to_bytes().unwrap()))
            .collect(),
        emails,
        ..UploadRequest::default()
    };
    let mut hub = HubStore::open(&dir.path().join("hub.sqlite"), event.definition.clone()).unwrap();
    let answer = hub.ingest(&request, NOW_MS).unwrap();
    assert_eq!(answer.answers[0].status, RecordStatus::Accepted);
    assert!(answer.answers[0].email_received);
    assert_eq!(answer.answers[1].status, RecordStatus::Rejected);
    assert!(!answer.answers[1].email_received);
    let reason = answer.answers[1].reason.as_deref().unwrap();
    assert!(reason.contains("does not match"), "{reason}");
    let stored: Vec<String> = hub
        .connection()
        .prepare("SELECT email FROM record_emails")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored, vec!["right@example.org".to_string()]);
    // Without emails (an older kiosk) the upload works as before.
    let mut plain = request.clone();
    plain.emails.clear();
    let answer = hub.ingest(&plain, NOW_MS).unwrap();
    assert_eq!(answer.answers[1].status, RecordStatus::Accepted);
}

/// The hub stops between "sending" and "confirmed" (the answer is lost, then the process
/// ends): the next run finds the call by its log entry and sends nothing again.
#[test]
fn a_crash_between_sending_and_confirmed_is_settled_by_the_log_entry() {
    for platform in [Platform::Obf, Platform::Badgr] {
        let HubOfTheDay {
            runtime,
            dir,
            event,
            db,
            hub,
            loopback: _hub_serving,
        } = hub_of_the_day();
        let mut k = kiosk(dir.path(), &event, "k0");
        for i in 0..8 {
            let code = visitor_code(&event, None);
            let visitor = k.core.identify(&code).unwrap();
            k.core
                .claim(&visitor, None, Delivery::Email(format!("cut{i}@example.org")))
                .unwrap();
        }
        sync_kiosk(&runtime, &k, &hub);
        let server = runtime.block_on(server_for(platform));
        server.script(Endpoint::Issue, [Fault::LoseAnswer]);
        let label = format!("{platform:?}");
        {
            let store = shared_hub(&db, &event);
            let mut client = client_for(platform, &server, ObfSettings::default(), Duration::from_secs(2));
            let give_up = IssueSettings {
                max_attempts: 1,
                ..fast()
            };
            let report = runtime
                .block_on(issue_from_hub(&store, &mut client, &give_up, None))
                .unwrap();
            assert!(
                matches!(&report.stopped, Some(PlatformError::Transient(_))),
                "{label}: {:?}",
                report.stopped
            );
            assert_eq!(report.counts.sending, 8, "{label}: left 'sending' in the database");
            assert_eq!(server.total_issued(), 8, "{label}: the platform recorded the call");
        }
        // A new process: the database reopened, a fresh client.
        let store = shared_hub(&db, &event);
        let mut client = client_for(platform, &server, ObfSettings::default(), Duration::from_secs(2));
        let report = runtime
            .block_on(issue_from_hub(&store, &mut client, &fast(), None))
            .unwrap();
        assert!(report.stopped.is_none(), "{label}");
        assert_eq!(report.summary.found_after_lost_answer, 8, "{label}");
        assert_eq!(report.summary.calls, 0, "{label}: nothing sent again");
        assert_eq!(report.counts.confirmed, 8, "{label}");
        assert_eq!(server.requests(Endpoint::Issue), 1, "{label}");
        assert!(server.duplicates().is_empty(), "{label}");
        assert_eq!(server.total_issued(), 8, "{label}");
    }
}

/// The binary in a temporary directory, on the demo event with platform ids.
fn cli_with_platform_ids() -> (TestKiosk, EventDir) {
    let cli = TestKiosk::demo();
    let event = event_with_platform_ids(&cli.dir.path().join("organiser"));
    let cli = TestKiosk {
        dir: cli.dir,
        event: Some(event.dir.clone()),
    };
    (cli, event)
}

/// The CLI end to end through the binary: registrations import, dry run, issue, recipients,
/// status and purge; then no clear email is left in the hub's database or its WAL.
#[test]
fn cli_imports_issues_lists_and_purges_with_no_clear_email_left() {
    let runtime = runtime();
    let (cli, event) = cli_with_platform_ids();
    let dir = cli.dir.path().to_path_buf();
    let hub_dir = dir.join("hub");
    std::fs::create_dir_all(&hub_dir).unwrap();
    let db = hub_dir.join("hub.sqlite");
    let loopback = start_hub(&runtime, &db, &event, || NOW_MS);
    let hub = loopback.url();
    let day = record_the_day(&runtime, &dir, &event, &hub, 12);
    let _ = loopback.stop.send(());
    let server = runtime.block_on(server_for(Platform::Obf));
    let hub_arg = hub_dir.to_str().unwrap();

    let csv = dir.join("registrations.csv");
    std::fs::write(&csv, &day.registrations_csv).unwrap();
    let out = cli.ok(&[
        "hub",
        "registrations",
        "import",
        csv.to_str().unwrap(),
        "--data",
        hub_arg,
    ]);
    assert!(out.contains("2 new, 0 updated, 0 unchanged"), "{out}");
    assert!(out.contains(":4: \"not-an-email\""), "{out}");
    let out = cli.ok(&[
        "hub",
        "registrations",
        "import",
        csv.to_str().unwrap(),
        "--data",
        hub_arg,
    ]);
    assert!(out.contains("0 new, 0 updated, 2 unchanged"), "{out}");

    let out = cli.ok(&["hub", "issue", "--data", hub_arg, "--platform", "obf", "--dry-run"]);
    assert!(out.contains("Nothing was sent"), "{out}");
    assert_eq!(server.total_issued(), 0);

    let credentials = dir.join("platform.toml");
    std::fs::write(
        &credentials,
        format!(
            "[obf]\nclient_id = \"{}\"\nclient_secret = \"{}\"\nurl = \"{}\"\n",
            server.client_id(),
            server.client_secret(),
            server.url()
        ),
    )
    .unwrap();
    let mut options = std::fs::metadata(&credentials).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut options, 0o600);
    std::fs::set_permissions(&credentials, options).unwrap();
    let started = Instant::now();
    let output = cli.run(&[
        "hub",
        "issue",
        "--data",
        hub_arg,
        "--platform",
        "obf",
        "--credentials",
        credentials.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    println!("CLI hub issue to OBF in {:.2?}:\n{stdout}", started.elapsed());
    assert!(
        stdout.contains(&format!("{} awards issued now", day.expected.len())),
        "{stdout}"
    );
    assert!(stdout.contains("2 awards need an email"), "{stdout}");
    assert!(stdout.contains("refused"), "{stdout}");
    assert!(!stdout.contains(server.client_secret()) && !stderr.contains(server.client_secret()));
    assert_eq!(server.total_issued(), day.expected.len());
    assert!(server.duplicates().is_empty());

    let out = cli.ok(&["hub", "recipients", "--data", hub_arg, "--platform", "obf"]);
    assert!(out.contains("needs an email"), "{out}");
    assert!(
        out.contains(&format!("{} issued, 1 refused, 0 queued", day.expected.len())),
        "{out}"
    );
    let out = cli.ok(&["hub", "status", "--data", hub_arg]);
    assert!(out.contains("Open Badge Factory:"), "{out}");

    // Before the purge the emails are in the files; after it, none is, not even in the WAL.
    let secret_fragments = ["@lycee.example.org", "ana.lopez@example.org", "bob@example.org"];
    let files_contain_email = || {
        let mut bytes = std::fs::read(&db).unwrap();
        if let Ok(wal) = std::fs::read(hub_dir.join("hub.sqlite-wal")) {
            bytes.extend(wal);
        }
        secret_fragments
            .iter()
            .any(|fragment| bytes.windows(fragment.len()).any(|w| w == fragment.as_bytes()))
    };
    assert!(files_contain_email(), "emails are on the hub before the purge");
    let out = cli.ok(&["hub", "purge", "--data", hub_arg]);
    assert!(
        out.contains("erased 0 typed emails"),
        "default retention keeps fresh ones: {out}"
    );
    let out = cli.ok(&["hub", "purge", "--data", hub_arg, "--retention-days", "0"]);
    assert!(out.contains("registration emails"), "{out}");
    assert!(
        !files_contain_email(),
        "a confirmed recipient's clear email survived the purge in hub.sqlite or its WAL"
    );
    // The refused recipient's email is kept so the organiser can correct it.
    let bytes = std::fs::read(&db).unwrap();
    assert!(bytes.windows(14).any(|w| w == b"bounce.invalid"));
}

/// 10,000 awards from a kiosk, synced to the hub and issued to OBF under random faults
/// (lost answers, stalls, 5xx after recording, rate limits, token expiry): each recipient
/// exactly once.
#[test]
fn ten_thousand_hub_awards_to_obf_under_random_faults_have_no_duplicate() {
    let HubOfTheDay {
        runtime,
        dir,
        event,
        db,
        hub,
        loopback: _hub_serving,
    } = hub_of_the_day();
    // A kiosk certified by the event key; its 10,000 records appended without an fsync
    // each (the test is about issuing, not the queue's durability).
    let started = Instant::now();
    let k = kiosk(dir.path(), &event, "bulk");
    let identity = badge_kiosk::kiosk::open_identity(&dir.path().join("bulk"), Some("bulk")).unwrap();
    drop(identity.store);
    let event_id = event.definition.event.id.clone();
    {
        let mut store = Store::open_with(&k.queue, Durability::Normal).unwrap();
        for i in 0..10_000u32 {
            let email = format!("bulk.{i}@lycee.example.org");
            let mut code_id = [0u8; 10];
            code_id[..4].copy_from_slice(&i.to_be_bytes());
            store
                .append_with_code(
                    &identity.device_key,
                    "bulk",
                    AwardContent {
                        event_id: event_id.clone(),
                        badge_id: "attended".into(),
                        code_id: code_id.to_vec(),
                        kind: RecordKind::AttendanceAward,
                        stand: String::new(),
                        recipient: Recipient::EmailHash(email_hash(&event_id, &email)),
                        created_at_ms: NOW_MS + i64::from(i),
                    },
                    Some(&email),
                    Some(crate::helpers::signed_code_bytes(&event, code_id, None)),
                )
                .unwrap();
        }
    }
    sync_kiosk(&runtime, &k, &hub);
    let recorded = started.elapsed();

    let server = runtime.block_on(ContractServer::obf(&OBF_BADGES, ServerConfig::obf().flaky()));
    server.random_faults(7, RandomFaults::venue_mix());
    let obf = ObfSettings {
        max_recipients: 100,
        ..ObfSettings::default()
    };
    let store = shared_hub(&db, &event);
    let mut client = client_for(Platform::Obf, &server, obf, Duration::from_millis(400));
    let started = Instant::now();
    let mut passes = 0;
    let mut stopped = 0;
    let mut calls = 0;
    let mut found = 0;
    loop {
        passes += 1;
        let report = runtime
            .block_on(issue_from_hub(&store, &mut client, &fast(), None))
            .unwrap();
        calls += report.summary.calls;
        found += report.summary.found_after_lost_answer;
        if report.stopped.is_some() {
            stopped += 1;
        }
        if report.counts.queued + report.counts.sending == 0 {
            assert_eq!(report.counts.confirmed, 10_000);
            assert!(
                report.failed.is_empty(),
                "{:?}",
                &report.failed[..3.min(report.failed.len())]
            );
            break;
        }
        assert!(passes < 20, "still queued after {passes} passes");
    }
    let elapsed = started.elapsed();
    println!(
        "hub → OBF, 10,000 awards under random faults: recorded and synced in {recorded:.2?}; {passes} pass(es) \
         ({stopped} stopped early), {calls} calls, {found} found after a lost answer, server saw issue={} \
         look-up={} faults={:?}; {} duplicates; issued in {elapsed:.2?}",
        server.requests(Endpoint::Issue),
        server.requests(Endpoint::LookUp),
        server.faults(),
        server.duplicates().len()
    );
    assert_eq!(server.duplicates(), vec![]);
    assert_eq!(server.total_issued(), 10_000);
    assert_eq!(server.distinct_recipients(), 10_000);
}

/// No network at all: a kiosk's USB export carries the typed emails it still holds, and
/// `hub import` takes the file twice without doubling anything; the emailed awards are
/// then ready to issue, as after a sync.
#[test]
fn usb_export_carries_typed_emails_and_imports_once() {
    let (cli, event) = cli_with_platform_ids();
    let dir = cli.dir.path().to_path_buf();
    for delivery in [
        ["--email", "ana@example.org"],
        ["--email", "bo@example.org"],
        ["--phone", ""],
    ] {
        let code = visitor_code(&event, None);
        let args: Vec<&str> = ["claim", code.as_str()]
            .into_iter()
            .chain(delivery.into_iter().filter(|arg| !arg.is_empty()))
            .collect();
        cli.ok(&args);
    }
    let usb = dir.join("usb");
    let out = cli.ok(&["export", "--to", usb.to_str().unwrap()]);
    assert!(out.contains("wrote 3 records"), "{out}");
    assert!(out.contains("2 typed email addresses in clear"), "{out}");
    let file = std::fs::read_dir(&usb).unwrap().next().unwrap().unwrap().path();
    let hub_dir = dir.join("hub");
    let import = [
        "hub",
        "import",
        file.to_str().unwrap(),
        "--data",
        hub_dir.to_str().unwrap(),
    ];
    let first = cli.ok(&import);
    assert!(
        first.contains("3 accepted, 0 duplicates, 0 rejected, 2 typed emails received"),
        "{first}"
    );
    let status = ["hub", "status", "--data", hub_dir.to_str().unwrap()];
    let before = cli.ok(&status);
    // A record the hub already holds from the same kiosk is acknowledged again, not counted.
    let again = cli.ok(&import);
    assert!(
        again.contains("this file was imported before: nothing changed"),
        "{again}"
    );
    assert_eq!(cli.ok(&status), before);
    let plan = cli.ok(&[
        "hub",
        "issue",
        "--data",
        hub_dir.to_str().unwrap(),
        "--platform",
        "obf",
        "--dry-run",
    ]);
    assert!(
        plan.contains(&format!("would send 2 recipients of {}", OBF_BADGES[0])),
        "{plan}"
    );
    assert!(plan.contains("1 needs an email"), "{plan}");
}

/// Issue #16: with the platform's address refusing connections, `hub issue` says at once
/// what failed, when it tries again and that nothing is lost; with `--max-wait` it gives up
/// with exit code 75 and every award is still queued (none confirmed, none refused).
#[test]
fn hub_issue_says_what_fails_and_gives_up_at_max_wait_keeping_every_award() {
    let runtime = runtime();
    let (cli, event) = cli_with_platform_ids();
    let dir = cli.dir.path().to_path_buf();
    let hub_dir = dir.join("hub");
    std::fs::create_dir_all(&hub_dir).unwrap();
    let db = hub_dir.join("hub.sqlite");
    let loopback = start_hub(&runtime, &db, &event, || NOW_MS);
    record_the_day(&runtime, &dir, &event, &loopback.url(), 3);
    let _ = loopback.stop.send(());
    let queued_before = {
        let store = HubStore::open(&db, event.definition.clone()).unwrap();
        let issues = award_issues(store.connection(), Platform::Obf).unwrap();
        issue::counts(&issues)
    };
    assert!(queued_before.queued >= 3, "{queued_before:?}");

    // A port nobody listens on: the listener is closed before the command starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let credentials = dir.join("platform.toml");
    std::fs::write(
        &credentials,
        format!("[obf]\nclient_id = \"CLIENT\"\nclient_secret = \"s3cret\"\nurl = \"http://127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let mut options = std::fs::metadata(&credentials).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut options, 0o600);
    std::fs::set_permissions(&credentials, options).unwrap();

    let mut child = cli
        .command()
        .args([
            "hub",
            "issue",
            "--data",
            hub_dir.to_str().unwrap(),
            "--platform",
            "obf",
            "--credentials",
            credentials.to_str().unwrap(),
            "--max-wait",
            "3s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Only a run that is truly stuck hits this: the command gives up after 3 s.
    let patience = Instant::now() + Duration::from_secs(300);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > patience {
            let _ = child.kill();
            panic!("`hub issue --max-wait 3s` was still running after 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("hub issue --max-wait 3s, platform refusing connections:\n{stderr}{stdout}");
    assert_eq!(output.status.code(), Some(75), "{stdout}\n{stderr}");
    let address = format!("cannot reach http://127.0.0.1:{port}: connection refused");
    assert!(stderr.contains(&address), "the failure is named: {stderr}");
    assert!(stderr.contains("next attempt in"), "the retry is announced: {stderr}");
    assert!(stderr.contains("nothing is lost"), "{stderr}");
    assert!(stderr.contains("gave up after 3s (--max-wait)"), "{stderr}");
    assert!(!stderr.contains("s3cret") && !stdout.contains("s3cret"));
    assert!(stdout.contains("still queued"), "{stdout}");

    let store = HubStore::open(&db, event.definition.clone()).unwrap();
    let after = issue::counts(&award_issues(store.connection(), Platform::Obf).unwrap());
    assert_eq!(after.confirmed, 0, "{after:?}");
    assert_eq!(
        after.failed, queued_before.failed,
        "nothing refused for an unreachable platform"
    );
    assert_eq!(
        after.queued + after.sending,
        queued_before.queued,
        "every award is still queued: {after:?}"
    );
    assert_eq!(after.needs_email, queued_before.needs_email);

    // `--help` documents the exit codes.
    let help = cli.ok(&["hub", "issue", "--help"]);
    assert!(help.contains("75") && help.contains("--max-wait"), "{help}");
}
