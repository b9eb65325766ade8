//! Issue #14: the attacks a laptop on the venue Wi-Fi tried against the hub protocol,
//! replayed over loopback against the real hub and kiosk code (and the binary where the
//! attack goes through it). Each test shows the attack now fails AND that nothing was lost:
//! the kiosk's record stays queued with its email, genuine codes still pass, the real
//! kiosk's visitors are not refused.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badge_kiosk::domain::award::{AwardContent, AwardRecord, Recipient, RecordKind, GENESIS_HASH};
use badge_kiosk::domain::clock::Clock;
use badge_kiosk::domain::keys::KioskCertificate;
use badge_kiosk::eventdir::EventDir;
use badge_kiosk::kiosk::{Delivery, KioskCore};
use badge_kiosk::store::Store;
use badge_kiosk::sync::client::{sync_once, SyncError, SyncSettings};
use badge_kiosk::sync::protocol::{EnrolRequest, UploadRequest, UploadResponse};
use ed25519_dalek::SigningKey;

use crate::helpers::{
    binary, kiosk_sync_settings, runtime, signed_code_bytes, start_hub_tls, visitor_code, LoopbackHub,
};

const NOW_MS: i64 = 1_795_000_000_000;
const WAIT: Duration = Duration::from_secs(60);

struct FixedClock(i64);
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// The hub's clock, which a test may move.
fn movable_clock() -> (Arc<AtomicI64>, impl Fn() -> i64 + Send + Sync + 'static) {
    let now = Arc::new(AtomicI64::new(NOW_MS));
    let reader = Arc::clone(&now);
    (now, move || reader.load(Ordering::SeqCst))
}

/// A client that trusts only `hub`'s certificate, as an enrolled kiosk does.
fn pinned_client(hub: &LoopbackHub) -> reqwest::Client {
    let pin = hub.tls_pin.expect("a TLS hub");
    reqwest::Client::builder()
        .use_preconfigured_tls(badge_kiosk::sync::pinning::pinned_client_config(pin))
        .timeout(WAIT)
        .build()
        .unwrap()
}

/// A kiosk enrolled at `hub` as `kiosk_id` through the real enrolment (signed code,
/// pinned TLS), opened on the event it received.
struct Enrolled {
    core: KioskCore,
    store: Arc<Mutex<Store>>,
    settings: SyncSettings,
}

fn enrol_kiosk(runtime: &tokio::runtime::Runtime, hub: &LoopbackHub, data: &Path, kiosk_id: &str) -> Enrolled {
    let code = hub.enrolment_code(1, 30);
    let enrolled = runtime
        .block_on(badge_kiosk::sync::enrol::enrol(None, &code, data, Some(kiosk_id)))
        .expect("the genuine kiosk enrols");
    let event = EventDir::load(&enrolled.event_dir).unwrap();
    let core = KioskCore::open(
        event,
        &data.join(&enrolled.event_id),
        Some(kiosk_id),
        Box::new(FixedClock(NOW_MS)),
    )
    .unwrap();
    let store = Arc::new(Mutex::new(
        Store::open(&badge_kiosk::datadir::queue_path(data, &enrolled.event_id)).unwrap(),
    ));
    let settings = kiosk_sync_settings(&hub.url(), &core).pinned(hub.tls_pin);
    Enrolled { core, store, settings }
}

fn claim_by_email(kiosk: &mut KioskCore, event: &EventDir, email: &str) {
    let visitor = kiosk.identify(&visitor_code(event, None)).unwrap();
    kiosk.claim(&visitor, None, Delivery::Email(email.into())).unwrap();
}

fn pending_emails(store: &Arc<Mutex<Store>>) -> Vec<Option<String>> {
    store
        .lock()
        .unwrap()
        .pending(usize::MAX)
        .unwrap()
        .into_iter()
        .map(|stored| stored.email)
        .collect()
}

async fn post_json<T: serde::Serialize>(
    client: &reqwest::Client,
    url: String,
    body: &T,
) -> (reqwest::StatusCode, String) {
    let response = client.post(url).json(body).send().await.expect("the hub answers");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

/// Finding 1: an expired one-use token replayed with a new device key under the real
/// kiosk's id; a fresh token used to take over that id; a kiosk id with terminal escapes.
#[test]
fn finding_1_enrolment_replay_and_kiosk_id_takeover_are_refused() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();
    let (clock, read) = movable_clock();
    let hub = start_hub_tls(&runtime, &dir.path().join("hub.sqlite"), &event, read);
    let token_for_one = hub.enrolment_code(1, 1);
    let kiosk_dir = dir.path().join("hall-a");
    runtime
        .block_on(badge_kiosk::sync::enrol::enrol(
            None,
            &token_for_one,
            &kiosk_dir,
            Some("hall-a"),
        ))
        .expect("the genuine kiosk enrols");
    clock.fetch_add(2 * 60_000, Ordering::SeqCst);

    let client = pinned_client(&hub);
    let attacker = SigningKey::generate(&mut rand::rngs::OsRng);
    let as_attacker = |token: &str, kiosk_id: &str| EnrolRequest {
        token: token.to_owned(),
        kiosk_id: kiosk_id.to_owned(),
        device_key: hex::encode(attacker.verifying_key().as_bytes()),
    };
    let enrol_url = format!("{}/api/v1/enrol", hub.url());
    // The replay after expiry, with another device key: refused, no certificate.
    let (status, body) = runtime.block_on(post_json(
        &client,
        enrol_url.clone(),
        &as_attacker(&token_for_one.token, "hall-a"),
    ));
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer.get("certificate").is_none() && answer.get("bundle").is_none(),
        "{body}"
    );
    // A fresh, valid token cannot take over hall-a either.
    let fresh = hub.enrolment_code(5, 30);
    let (status, body) = runtime.block_on(post_json(
        &client,
        enrol_url.clone(),
        &as_attacker(&fresh.token, "hall-a"),
    ));
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("already enrolled"), "{body}");
    // Kiosk ids are [a-z0-9-]{1,32}.
    let (status, body) = runtime.block_on(post_json(
        &client,
        enrol_url.clone(),
        &as_attacker(&fresh.token, "hall\u{1b}[2J"),
    ));
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");

    // Nothing lost: the real kiosk's repeat (its answer was lost) still works after expiry,
    // and its visitors' badges reach the hub as hall-a.
    let identity = badge_kiosk::kiosk::open_identity(&kiosk_dir.join(&event.definition.event.id), None).unwrap();
    let repeat = EnrolRequest {
        token: token_for_one.token.clone(),
        kiosk_id: "hall-a".into(),
        device_key: hex::encode(identity.device_key.verifying_key().as_bytes()),
    };
    drop(identity);
    let (status, body) = runtime.block_on(post_json(&client, enrol_url, &repeat));
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let mut kiosk = {
        let event_dir = badge_kiosk::sync::enrol::enrolled_event_dir(&kiosk_dir);
        let core = KioskCore::open(
            EventDir::load(&event_dir).unwrap(),
            &kiosk_dir.join(&event.definition.event.id),
            None,
            Box::new(FixedClock(NOW_MS)),
        )
        .unwrap();
        let store = Arc::new(Mutex::new(
            Store::open(&badge_kiosk::datadir::queue_path(
                &kiosk_dir,
                &event.definition.event.id,
            ))
            .unwrap(),
        ));
        let settings = kiosk_sync_settings(&hub.url(), &core).pinned(hub.tls_pin);
        Enrolled { core, store, settings }
    };
    claim_by_email(&mut kiosk.core, &event, "ada@example.org");
    let summary = runtime
        .block_on(sync_once(
            &kiosk.store,
            &kiosk.settings,
            &pinned_client(&hub),
            |_, _| {},
        ))
        .unwrap();
    assert_eq!(summary.synced, 1, "{summary:?}");
    let awards = hub.state.store.lock().unwrap().awards().unwrap();
    assert_eq!(awards.len(), 1);
    assert_eq!(awards[0].4.as_deref(), Some("hall-a"));
}

/// Finding 2: a device key with a certificate (a stolen or rogue kiosk) signs awards for
/// codes the organiser never printed; an older certificate takes over a kiosk id; a
/// stolen kiosk is revoked.
#[test]
fn finding_2_awards_need_a_code_the_organiser_signed_and_kiosks_can_be_revoked() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();
    let (_, read) = movable_clock();
    let hub_data = dir.path().join("hub");
    std::fs::create_dir_all(&hub_data).unwrap();
    let hub = start_hub_tls(&runtime, &hub_data.join("hub.sqlite"), &event, read);
    let mut genuine = enrol_kiosk(&runtime, &hub, &dir.path().join("hall-a"), "hall-a");
    let client = pinned_client(&hub);
    let upload_url = format!("{}/api/v1/records", hub.url());
    let event_id = event.definition.event.id.clone();

    // The rogue: a device key and a certificate for it (as a stolen kiosk has).
    let rogue_key = SigningKey::generate(&mut rand::rngs::OsRng);
    let event_key = event.event_key.clone().unwrap();
    let rogue_certificate =
        KioskCertificate::issue(&event_key, &event_id, "rogue", rogue_key.verifying_key(), NOW_MS / 1000).unwrap();
    let claim_token = [7u8; 16];
    let content = |code_id: Vec<u8>, recipient: Recipient| AwardContent {
        event_id: event_id.clone(),
        badge_id: "attended".into(),
        code_id,
        kind: RecordKind::AttendanceAward,
        stand: String::new(),
        recipient,
        created_at_ms: NOW_MS,
    };
    let forged_code = {
        // Signed by a key that is not the event's.
        use badge_kiosk::domain::code::{AttendanceCode, CodeClaims, CodeId, Role};
        let text = AttendanceCode::sign(
            &event_id,
            &SigningKey::generate(&mut rand::rngs::OsRng),
            CodeClaims {
                code_id: CodeId([0xde; 10]),
                role: Role::Visitor,
                holder: None,
                valid_from: 0,
                valid_until: u32::MAX,
            },
        )
        .unwrap()
        .to_text();
        badge_kiosk::domain::base32::decode(text.strip_prefix("BK").unwrap()).unwrap()
    };
    let staff_code = {
        use badge_kiosk::domain::code::{AttendanceCode, CodeClaims, CodeId, Role};
        let text = AttendanceCode::sign(
            &event_id,
            &event_key,
            CodeClaims {
                code_id: CodeId([5; 10]),
                role: Role::Staff {
                    stand: "cuisine".into(),
                },
                holder: None,
                valid_from: 0,
                valid_until: u32::MAX,
            },
        )
        .unwrap()
        .to_text();
        badge_kiosk::domain::base32::decode(text.strip_prefix("BK").unwrap()).unwrap()
    };
    let attempts = vec![
        // v1: no code at all, the claim token a rogue would mint.
        (
            content(
                hex::decode("deadbeefdeadbeef0001").unwrap(),
                Recipient::ClaimToken(claim_token),
            ),
            None,
        ),
        // v2 with a code signed by another key.
        (content(vec![0xde; 10], Recipient::None), Some(forged_code)),
        // v2 with a genuine code but another registration than the code carries.
        (
            content(vec![9; 10], Recipient::Registration("REG-VICTIM".into())),
            Some(signed_code_bytes(&event, [9; 10], Some("REG-0001"))),
        ),
        // v2 with a staff card.
        (content(vec![5; 10], Recipient::None), Some(staff_code)),
    ];
    let mut previous = GENESIS_HASH;
    let mut records = Vec::new();
    for (index, (content, code)) in attempts.into_iter().enumerate() {
        let record =
            AwardRecord::sign_with_code(&rogue_key, "rogue", index as u64 + 1, previous, content, code).unwrap();
        previous = record.hash().unwrap();
        records.push(hex::encode(record.to_bytes().unwrap()));
    }
    let request = UploadRequest {
        event_id: event_id.clone(),
        certificate: hex::encode(rogue_certificate.to_bytes().unwrap()),
        records,
        ..UploadRequest::default()
    };
    let (status, body) = runtime.block_on(post_json(&client, upload_url.clone(), &request));
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let answer: UploadResponse = serde_json::from_str(&body).unwrap();
    let statuses: Vec<_> = answer.answers.iter().map(|a| (a.status, a.reason.clone())).collect();
    assert_eq!(
        statuses[0].0,
        badge_kiosk::sync::protocol::RecordStatus::Accepted,
        "kept as evidence"
    );
    assert!(
        statuses[0].1.as_deref().unwrap_or("").contains("not awarded"),
        "{statuses:?}"
    );
    for (status, reason) in &statuses[1..] {
        assert_eq!(
            *status,
            badge_kiosk::sync::protocol::RecordStatus::Rejected,
            "{reason:?}"
        );
    }
    assert_eq!(
        hub.state.store.lock().unwrap().award_count().unwrap(),
        0,
        "no award minted"
    );
    let token = badge_kiosk::domain::base32::encode(&claim_token);
    let credential = runtime.block_on(async {
        client
            .get(format!("{}/claim/{token}/credential.json", hub.url()))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(
        credential,
        reqwest::StatusCode::NOT_FOUND,
        "no credential for a code never issued"
    );

    // An older certificate for hall-a with another device key cannot take the id over.
    let stale = KioskCertificate::issue(&event_key, &event_id, "hall-a", rogue_key.verifying_key(), 1_000).unwrap();
    let takeover = UploadRequest {
        event_id: event_id.clone(),
        certificate: hex::encode(stale.to_bytes().unwrap()),
        records: Vec::new(),
        ..UploadRequest::default()
    };
    let (status, body) = runtime.block_on(post_json(&client, upload_url.clone(), &takeover));
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "{body}");

    // Genuine codes still pass, and the real kiosk's visitors are not refused as forks.
    claim_by_email(&mut genuine.core, &event, "ada@example.org");
    claim_by_email(&mut genuine.core, &event, "bob@example.org");
    let summary = runtime
        .block_on(sync_once(&genuine.store, &genuine.settings, &client, |_, _| {}))
        .unwrap();
    assert_eq!((summary.synced, summary.failed), (2, 0), "{summary:?}");
    assert_eq!(hub.state.store.lock().unwrap().award_count().unwrap(), 2);

    // The organiser revokes the stolen kiosk with the real command.
    let revoke = std::process::Command::new(binary())
        .env_remove("BADGE_KIOSK_CONFIG")
        .arg("--event")
        .arg(&event.dir)
        .args([
            "hub",
            "kiosk",
            "revoke",
            "hall-a",
            "--reason",
            "stolen from stand 4",
            "--data",
        ])
        .arg(&hub_data)
        .output()
        .unwrap();
    assert!(revoke.status.success(), "{}", String::from_utf8_lossy(&revoke.stderr));
    claim_by_email(&mut genuine.core, &event, "cleo@example.org");
    let refused = runtime.block_on(sync_once(&genuine.store, &genuine.settings, &client, |_, _| {}));
    match refused {
        Err(SyncError::Blocked(reason)) => assert!(reason.contains("stolen from stand 4"), "{reason}"),
        other => panic!("a revoked kiosk's upload must be refused: {other:?}"),
    }
    // What it sent before stays on the hub, visible in the fleet; the new record stays queued.
    let fleet = hub.state.store.lock().unwrap().kiosk_fleet().unwrap();
    let hall_a = fleet.iter().find(|kiosk| kiosk.kiosk_id == "hall-a").unwrap();
    assert_eq!(hall_a.records, 2);
    assert_eq!(
        hall_a.revoked.as_ref().map(|r| r.reason.as_str()),
        Some("stolen from stand 4")
    );
    assert_eq!(hub.state.store.lock().unwrap().award_count().unwrap(), 2);
    assert_eq!(
        pending_emails(&genuine.store),
        vec![Some("cleo@example.org".to_owned())]
    );
    let listed = std::process::Command::new(binary())
        .env_remove("BADGE_KIOSK_CONFIG")
        .arg("--event")
        .arg(&event.dir)
        .args(["hub", "kiosk", "list", "--data"])
        .arg(&hub_data)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("hall-a") && listed.contains("REVOKED"), "{listed}");
}

/// Finding 3: `hub serve` spoke plain HTTP; a hostile server at the hub's address read a
/// visitor's email.
#[test]
fn finding_3_hub_serves_https_and_kiosks_talk_only_to_the_pinned_hub() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();

    // The real binary serves HTTPS out of the box, with its key kept private.
    let data = dir.path().join("served");
    std::fs::create_dir_all(&data).unwrap();
    let log_path = data.join("hub.log");
    let mut child = std::process::Command::new(binary())
        .env_remove("BADGE_KIOSK_CONFIG")
        .arg("--event")
        .arg(&event.dir)
        .args(["hub", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stderr(std::fs::File::create(&log_path).unwrap())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let banner = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("enrol kiosks from this computer") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "the hub did not start: {text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let url = banner
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    assert!(url.starts_with("https://"), "{banner}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("tls").join("hub-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let plain = runtime.block_on(async {
        reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .unwrap()
            .get(format!("{}/api/v1/health", url.replace("https://", "http://")))
            .send()
            .await
    });
    assert!(
        plain.map(|response| !response.status().is_success()).unwrap_or(true),
        "plain HTTP is not served"
    );
    let _ = child.kill();
    let _ = child.wait();

    // A kiosk enrolled with the real hub, then a hostile server at the hub's address.
    let hub = start_hub_tls(&runtime, &dir.path().join("hub.sqlite"), &event, || NOW_MS);
    let mut kiosk = enrol_kiosk(&runtime, &hub, &dir.path().join("hall-a"), "hall-a");
    let hostile_event = EventDir::demo(&dir.path().join("hostile")).unwrap();
    let hostile = start_hub_tls(&runtime, &dir.path().join("hostile.sqlite"), &hostile_event, || NOW_MS);
    claim_by_email(&mut kiosk.core, &event, "ada@example.org");
    let mut misdirected = kiosk.settings.clone();
    misdirected.hub_url = hostile.url();
    let http = misdirected.http_client().unwrap();
    let failure = runtime
        .block_on(sync_once(&kiosk.store, &misdirected, &http, |_, _| {}))
        .unwrap_err();
    assert!(
        failure.to_string().contains("not the one its enrolment code named"),
        "{failure}"
    );
    let hostile_records = hostile.state.store.lock().unwrap().counts().unwrap().records_by_kiosk;
    assert!(hostile_records.is_empty(), "the hostile server received nothing");
    assert!(
        hostile
            .state
            .store
            .lock()
            .unwrap()
            .connection()
            .query_row("SELECT COUNT(*) FROM record_emails", [], |row| row.get::<_, i64>(0))
            .unwrap()
            == 0
    );
    // Nothing lost: the record waits with its email, and reaches the real hub.
    assert_eq!(pending_emails(&kiosk.store), vec![Some("ada@example.org".to_owned())]);
    let http = kiosk.settings.http_client().unwrap();
    let summary = runtime
        .block_on(sync_once(&kiosk.store, &kiosk.settings, &http, |_, _| {}))
        .unwrap();
    assert_eq!(summary.synced, 1);
}

/// Finding 4: a forged upload answer ("accepted", email received, hub time 2040) made the
/// kiosk forget the email and refuse every genuine code as expired.
#[test]
fn finding_4_forged_answers_change_nothing_and_the_clock_moves_only_by_signed_bounded_steps() {
    use axum::routing::post;
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();
    let (clock, read) = movable_clock();
    let hub = start_hub_tls(&runtime, &dir.path().join("hub.sqlite"), &event, read);
    let mut kiosk = enrol_kiosk(&runtime, &hub, &dir.path().join("hall-a"), "hall-a");
    claim_by_email(&mut kiosk.core, &event, "ada@example.org");
    let floor_before = kiosk.store.lock().unwrap().trusted_time_floor().unwrap();

    // Forged answers: unsigned, and signed by a key that is not the event's.
    let year_2040 = 2_208_988_800_000i64;
    let unsigned = serde_json::json!({
        "answers": [{"sequence": 1, "status": "accepted", "email_received": true}],
        "hub_time_ms": year_2040,
    });
    let mut wrongly_signed: UploadResponse = serde_json::from_value(unsigned.clone()).unwrap();
    wrongly_signed
        .sign(
            &event.definition.event.id,
            "hall-a",
            &[0; 32],
            &SigningKey::generate(&mut rand::rngs::OsRng),
        )
        .unwrap();
    for forged in [unsigned, serde_json::to_value(&wrongly_signed).unwrap()] {
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let answer = forged.clone();
        let router = axum::Router::new().route(
            "/api/v1/records",
            post(move || {
                let answer = answer.clone();
                async move { axum::Json(answer) }
            }),
        );
        let server = runtime.spawn(async move { axum::serve(listener, router).await });
        let mut settings = kiosk.settings.clone();
        settings.hub_url = format!("http://{address}");
        settings.tls_pin = None;
        let failure = runtime
            .block_on(sync_once(
                &kiosk.store,
                &settings,
                &settings.http_client().unwrap(),
                |_, _| {},
            ))
            .unwrap_err();
        assert!(
            failure.to_string().contains("nothing was marked as synced"),
            "{failure}"
        );
        server.abort();
        // Nothing changed: still queued, email kept, clock floor where it was.
        assert_eq!(pending_emails(&kiosk.store), vec![Some("ada@example.org".to_owned())]);
        assert_eq!(kiosk.store.lock().unwrap().trusted_time_floor().unwrap(), floor_before);
    }
    // Genuine codes still pass.
    claim_by_email(&mut kiosk.core, &event, "bob@example.org");

    // The genuine hub's clock is 15 years ahead: its signed time moves the kiosk at most a day.
    clock.store(year_2040, Ordering::SeqCst);
    let http = kiosk.settings.http_client().unwrap();
    let summary = runtime
        .block_on(sync_once(&kiosk.store, &kiosk.settings, &http, |_, _| {}))
        .unwrap();
    assert_eq!(summary.synced, 2, "{summary:?}");
    assert!(pending_emails(&kiosk.store).is_empty());
    let floor = kiosk.store.lock().unwrap().trusted_time_floor().unwrap();
    let system_now = chrono::Utc::now().timestamp_millis();
    assert!(
        floor <= floor_before.max(system_now) + badge_kiosk::store::MAX_CLOCK_STEP_MS + 60_000,
        "the floor jumped to {floor}"
    );
    assert!(floor < year_2040);
    // The organiser resets it (the same as the organiser panel's button).
    let after_reset = kiosk.store.lock().unwrap().reset_trusted_time().unwrap();
    assert!(after_reset < floor, "{after_reset} < {floor}");
}

/// Finding 5: half-sent requests held the hub's sockets; the bundle was open to anyone.
#[test]
fn finding_5_slow_clients_cannot_hold_the_hub_and_the_bundle_is_for_enrolled_kiosks() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();
    let store =
        badge_kiosk::hub::store::HubStore::open(&dir.path().join("hub.sqlite"), event.definition.clone()).unwrap();
    let state = Arc::new(
        badge_kiosk::hub::server::HubState::new(store, &event, "http://127.0.0.1", Box::new(|| NOW_MS)).unwrap(),
    );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap();
    let limits = badge_kiosk::hub::listen::Limits {
        max_connections: 8,
        handshake_timeout: Duration::from_secs(1),
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        ..badge_kiosk::hub::listen::Limits::default()
    };
    let router = badge_kiosk::hub::server::router(Arc::clone(&state));
    runtime.spawn(badge_kiosk::hub::listen::serve(
        listener,
        router,
        None,
        limits,
        std::future::pending(),
    ));
    // 40 clients send half a request each and wait: five times the connection cap.
    let slow: Vec<tokio::net::TcpStream> = runtime.block_on(async {
        let mut streams = Vec::new();
        for _ in 0..40 {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            let _ = stream.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n").await;
            streams.push(stream);
        }
        streams
    });
    // The hub still answers a real client, and closes every half-sent request.
    let health = runtime.block_on(async {
        reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .unwrap()
            .get(format!("http://{address}/api/v1/health"))
            .send()
            .await
    });
    assert!(health.unwrap().status().is_success());
    runtime.block_on(async {
        for mut stream in slow {
            let mut buffer = [0u8; 512];
            let closed = tokio::time::timeout(WAIT, async {
                loop {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
            })
            .await;
            assert!(closed.is_ok(), "a half-sent request was left open");
        }
    });
    // The bundle (event.toml, revocations) is not for anyone who asks.
    let anonymous = runtime.block_on(async {
        reqwest::get(format!("http://{address}/api/v1/bundle"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(anonymous, reqwest::StatusCode::UNAUTHORIZED);
}

/// Finding 6 (low): replayed older bundles, unsigned enrolment codes, terminal escapes in
/// kiosk ids, world-readable queues and keys, SMTP logins in clear.
#[test]
fn finding_6_low_findings() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();
    let (clock, read) = movable_clock();
    let hub_data = dir.path().join("hub");
    std::fs::create_dir_all(&hub_data).unwrap();
    let hub = start_hub_tls(&runtime, &hub_data.join("hub.sqlite"), &event, read);

    // An enrolment code whose hub address was swapped: refused before any request, and
    // the genuine code (its token unspent) still enrols.
    let code = hub.enrolment_code(1, 30);
    let mut swapped = code.clone();
    swapped.hub_url = "https://10.66.66.66:8787".into();
    let refused = runtime.block_on(badge_kiosk::sync::enrol::enrol(
        None,
        &swapped,
        &dir.path().join("k1"),
        Some("hall-a"),
    ));
    assert!(refused.unwrap_err().to_string().contains("signature"));
    let mut unsigned = code.clone();
    unsigned.signed = None;
    let refused = runtime.block_on(badge_kiosk::sync::enrol::enrol(
        None,
        &unsigned,
        &dir.path().join("k1"),
        Some("hall-a"),
    ));
    assert!(refused.unwrap_err().to_string().contains("not signed"));
    runtime
        .block_on(badge_kiosk::sync::enrol::enrol(
            None,
            &code,
            &dir.path().join("k1"),
            Some("hall-a"),
        ))
        .expect("the genuine code still enrols");

    // An older signed bundle cannot be replayed onto the kiosk.
    let fetch = |token: &str| {
        let client = pinned_client(&hub);
        let token = token.to_owned();
        let url = format!("{}/api/v1/bundle", hub.url());
        runtime.block_on(async move {
            let body = client
                .get(url)
                .header(badge_kiosk::sync::protocol::ENROL_TOKEN_HEADER, token)
                .header(badge_kiosk::sync::protocol::BUNDLE_VERSION_HEADER, "2")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            serde_json::from_str::<badge_kiosk::sync::protocol::EventBundle>(&body).unwrap()
        })
    };
    let live = hub.enrolment_code(5, 600);
    let older = fetch(&live.token)
        .bundle
        .verify(&event.definition.public_keys(), None)
        .unwrap();
    clock.fetch_add(60_000, Ordering::SeqCst);
    hub.state
        .store
        .lock()
        .unwrap()
        .revoke_code(&[3; 10], "lost", NOW_MS)
        .unwrap();
    let newer = fetch(&live.token)
        .bundle
        .verify(&event.definition.public_keys(), None)
        .unwrap();
    let queue = Store::open(&dir.path().join("queue.sqlite")).unwrap();
    badge_kiosk::sync::enrol::apply_to_store(&queue, &newer).unwrap();
    let replay = badge_kiosk::sync::enrol::apply_to_store(&queue, &older);
    assert!(matches!(
        replay,
        Err(badge_kiosk::sync::enrol::EnrolError::OlderBundle { .. })
    ));
    assert!(
        queue.is_revoked(&[3; 10]).unwrap(),
        "the newer bundle's revocation stays"
    );

    // Terminal escapes in a kiosk id (a stand-alone kiosk certifies itself) are shown escaped.
    let evil = "evil\u{1b}[2J\u{1b}]0;pwned\u{7}";
    let device = SigningKey::generate(&mut rand::rngs::OsRng);
    let certificate = KioskCertificate::issue(
        event.event_key.as_ref().unwrap(),
        &event.definition.event.id,
        evil,
        device.verifying_key(),
        NOW_MS / 1000,
    )
    .unwrap();
    let record = AwardRecord::sign_with_code(
        &device,
        evil,
        1,
        GENESIS_HASH,
        AwardContent {
            event_id: event.definition.event.id.clone(),
            badge_id: "attended".into(),
            code_id: vec![4; 10],
            kind: RecordKind::AttendanceAward,
            stand: String::new(),
            recipient: Recipient::None,
            created_at_ms: NOW_MS,
        },
        Some(signed_code_bytes(&event, [4; 10], None)),
    )
    .unwrap();
    hub.state
        .store
        .lock()
        .unwrap()
        .ingest(
            &UploadRequest {
                event_id: event.definition.event.id.clone(),
                certificate: hex::encode(certificate.to_bytes().unwrap()),
                records: vec![hex::encode(record.to_bytes().unwrap())],
                ..UploadRequest::default()
            },
            NOW_MS,
        )
        .unwrap();
    for command in [&["hub", "status"][..], &["hub", "kiosk", "list"][..]] {
        let output = std::process::Command::new(binary())
            .env_remove("BADGE_KIOSK_CONFIG")
            .arg("--event")
            .arg(&event.dir)
            .args(command)
            .arg("--data")
            .arg(&hub_data)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(text.contains("evil"), "{command:?}: {text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{command:?}: {text:?}"
        );
    }

    // Queues, hub databases and exports are private; a readable event key is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &PathBuf| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("queue.sqlite")), 0o600);
        assert_eq!(mode(&hub_data.join("hub.sqlite")), 0o600);
        let key = event.dir.join("event.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = EventDir::load(&event.dir).unwrap_err().to_string();
        assert!(refused.contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        EventDir::load(&event.dir).unwrap();
    }

    // smtp:// without TLS would send the SMTP login in clear: refused with what to do.
    let smtp = std::process::Command::new(binary())
        .env_remove("BADGE_KIOSK_CONFIG")
        .arg("--event")
        .arg(&event.dir)
        .args([
            "hub",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--smtp-url",
            "smtp://user:secret@127.0.0.1:2525",
            "--mail-from",
            "badges@example.org",
            "--data",
        ])
        .arg(&hub_data)
        .output()
        .unwrap();
    assert!(!smtp.status.success());
    let message = String::from_utf8_lossy(&smtp.stderr);
    assert!(
        message.contains("tls=required") && !message.contains("secret"),
        "{message}"
    );

    // A real event refuses the demo PINs; the demo keeps them.
    assert!(badge_kiosk::domain::pin::demo_pin_in_use("1234", "2468").is_some());
    assert_eq!(badge_kiosk::domain::pin::check("1234", "1234"), (true, true));
}
