//! The bodies of the fuzz targets in `fuzz/fuzz_targets/` (one `pub fn` per target), kept
//! in the library so that `tests/it/fuzz_corpus.rs` replays every committed corpus file
//! through exactly the same code on the stable toolchain.
//!
//! Each body feeds untrusted bytes to the parser the kiosk or the hub runs on them, then
//! checks what must hold for any input (round trips, idempotency, limits). A panic is a
//! finding: input-handling code must refuse with an error, never crash. Inputs are checked
//! against the demo event (`assets/demo-event`), whose secret key is public, so seeds can
//! carry valid signatures and reach the code behind each signature check.

// A panic is how a fuzz body reports a finding (or a broken fixture) to the fuzzer.
#![allow(clippy::panic)]

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::domain::allowlist;
use crate::domain::award::{AwardContent, AwardRecord, Recipient, RecordKind, GENESIS_HASH};
use crate::domain::bundle::{self, BundleContent, SignedBundle};
use crate::domain::code::{AttendanceCode, CodeClaims, CodeId, CodeVerifier, Role};
use crate::domain::enrolment::EnrolmentCode;
use crate::domain::event::EventDefinition;
use crate::domain::keys::{fingerprint, signing_key_from_bytes, KioskCertificate};
use crate::hub::store::HubStore;
use crate::platform::http::{Reply, TokenAnswer};
use crate::platform::{badgr, obf};
use crate::sync::plan::{dispositions, Batch};
use crate::sync::protocol::{
    EnrolRequest, ErrorBody, EventBundle, RecordAnswer, RecordStatus, UploadRequest, UploadResponse,
};

/// The demo event's definition, as the hub and the kiosks load it.
pub const DEMO_EVENT_TOML: &str = include_str!("../assets/demo-event/event.toml");
const DEMO_EVENT_KEY_HEX: &[u8] = include_bytes!("../assets/demo-event/event.key");
/// A trusted time inside the demo event's codes' validity (2026-11-25).
pub const NOW_SECONDS: i64 = 1_795_600_000;
/// The hub answers more than 10,000 records per upload with 413 before ingesting.
const MAX_RECORDS_PER_UPLOAD: usize = 10_000;

pub struct Demo {
    pub definition: EventDefinition,
    pub event_key: SigningKey,
    pub public_keys: Vec<VerifyingKey>,
}

/// The demo event, parsed once per process.
pub fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let definition = EventDefinition::parse(DEMO_EVENT_TOML, Path::new("event.toml"))
            .unwrap_or_else(|error| panic!("the demo event must parse: {error}"));
        let event_key = std::str::from_utf8(DEMO_EVENT_KEY_HEX)
            .ok()
            .and_then(|text| hex::decode(text.trim()).ok())
            .and_then(|bytes| signing_key_from_bytes(&bytes))
            .unwrap_or_else(|| panic!("the demo event key must be 64 hex digits"));
        let public_keys = definition.public_keys();
        Demo {
            definition,
            event_key,
            public_keys,
        }
    })
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Target `attendance_code`: a scanned text through the kiosk's decode and verification.
pub fn attendance_code(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let demo = demo();
    if let Ok(code) = AttendanceCode::parse(text) {
        // What parses prints back to a text that parses to the same code.
        let printed = code.to_text();
        assert_eq!(AttendanceCode::parse(&printed).as_ref(), Ok(&code), "{printed}");
    }
    let verifier = CodeVerifier::new(&demo.definition.event.id, demo.public_keys.clone(), HashSet::new());
    if let Ok(verified) = verifier.verify(text, NOW_SECONDS) {
        assert!(i64::from(verified.claims.valid_from) <= NOW_SECONDS);
        assert!(NOW_SECONDS <= i64::from(verified.claims.valid_until));
        // A revoked code is refused, whatever else holds.
        let mut revoking = verifier.clone();
        revoking.revoke(verified.claims.code_id);
        assert!(revoking.verify(text, NOW_SECONDS).is_err());
    }
}

/// Target `allowlist_csv`: a ticketing system's export through the allow-list importer.
pub fn allowlist_csv(data: &[u8]) {
    let demo = demo();
    if let Ok(summary) = allowlist::import_csv(&demo.definition.event.id, data) {
        let mut hashes = HashSet::new();
        for ticket in &summary.tickets {
            assert!(hashes.insert(ticket.hash), "a ticket was imported twice");
            if let Some(registration) = &ticket.registration {
                assert!(!registration.contains('@') && !registration.is_empty() && registration.len() <= 32);
            }
        }
    }
}

/// Target `event_toml`: an organiser's `event.toml` through parsing and validation.
pub fn event_toml(data: &[u8]) {
    let Some(text) = text(data) else { return };
    match EventDefinition::parse(text, Path::new("event.toml")) {
        Ok(definition) => {
            // Validation accepted every listed key.
            assert_eq!(definition.public_keys().len(), definition.keys.len());
            assert!(definition
                .badges
                .iter()
                .all(|badge| definition.badge(&badge.id).is_some()));
        }
        Err(error) => {
            // Errors name a line of the file.
            if let crate::domain::event::EventError::Invalid { line, .. } = error {
                assert!(line >= 1 && line <= text.lines().count() + 1, "line {line}");
            }
        }
    }
}

/// Target `hub_upload_body`: a request body as the hub's upload and enrolment endpoints
/// read it, then the work the hub does with it, without HTTP.
pub fn hub_upload_body(data: &[u8]) {
    let demo = demo();
    if let Ok(request) = serde_json::from_slice::<UploadRequest>(data) {
        if request.records.len() <= MAX_RECORDS_PER_UPLOAD {
            with_empty_hub(|store| {
                let now_ms = NOW_SECONDS * 1000;
                if let Ok(first) = store.ingest(&request, now_ms) {
                    assert_eq!(first.answers.len(), request.records.len());
                    // Idempotent: the same batch again (its answer was lost) changes nothing.
                    let counts = store.counts().ok();
                    let again = match store.ingest(&request, now_ms + 1) {
                        Ok(again) => again,
                        Err(error) => panic!("a batch the hub took once must be taken again: {error}"),
                    };
                    assert_eq!(first.answers, again.answers);
                    assert_eq!(counts, store.counts().ok());
                }
            });
        }
    }
    if let Ok(request) = serde_json::from_slice::<EnrolRequest>(data) {
        // What the hub does once the token is accepted: certify the device key.
        let device_key = hex::decode(&request.device_key)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok());
        if let Some(device_key) = device_key {
            let event_id = &demo.definition.event.id;
            if let Ok(certificate) =
                KioskCertificate::issue(&demo.event_key, event_id, &request.kiosk_id, device_key, NOW_SECONDS)
            {
                if let Ok(bytes) = certificate.to_bytes() {
                    let read = KioskCertificate::from_bytes(&bytes);
                    assert_eq!(read.as_ref(), Ok(&certificate));
                    assert_eq!(certificate.verify(event_id, &demo.public_keys), Ok(()));
                }
            }
        }
    }
}

/// Runs `work` on the demo event's in-memory hub store, emptied first: every input starts
/// from the same state, without paying for a new database and its migrations each time.
fn with_empty_hub(work: impl FnOnce(&mut HubStore)) {
    thread_local! {
        static HUB: RefCell<Option<HubStore>> = const { RefCell::new(None) };
    }
    HUB.with(|cell| {
        let mut slot = cell.borrow_mut();
        let store = slot.get_or_insert_with(|| {
            HubStore::open_in_memory(demo().definition.clone())
                .unwrap_or_else(|error| panic!("an in-memory hub store must open: {error}"))
        });
        let tables: Vec<String> = store
            .connection()
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
            .unwrap_or_else(|error| panic!("the hub's tables must be listed: {error}"));
        for table in tables {
            store
                .connection()
                .execute(&format!("DELETE FROM \"{table}\""), [])
                .unwrap_or_else(|error| panic!("table {table} must empty: {error}"));
        }
        work(store);
    });
}

/// Target `hub_answers`: the hub's answers as a kiosk reads them — the upload answer and
/// the signed event bundle (from a sync or an enrolment).
pub fn hub_answers(data: &[u8]) {
    let demo = demo();
    if let Ok(response) = serde_json::from_slice::<UploadResponse>(data) {
        let batch = Batch {
            sequences: vec![1, 2, 3, 4],
        };
        let outcome = dispositions(&batch, &response.answers);
        assert_eq!(outcome.len(), batch.sequences.len());
    }
    let _ = serde_json::from_slice::<ErrorBody>(data);
    let Ok(answer) = serde_json::from_slice::<EventBundle>(data) else {
        return;
    };
    let event_id = demo.definition.event.id.as_str();
    let demo_fingerprint = demo.public_keys.first().map(fingerprint).unwrap_or_default();
    let at_sync = answer.bundle.verify(&demo.public_keys, Some(event_id));
    let at_enrolment = answer.bundle.verify_for_enrolment(&demo_fingerprint);
    assert_eq!(at_sync.is_ok(), at_enrolment.is_ok(), "{at_sync:?} / {at_enrolment:?}");
    // The same content signed with the demo key: what a genuine hub would send, so the
    // checks behind the signature (event definition, files, revocations) see mutations.
    let resigned = SignedBundle {
        signature: hex::encode(demo.event_key.sign(&bundle::message(&answer.bundle.content)).to_bytes()),
        content: answer.bundle.content.clone(),
    };
    if let Ok(verified) = resigned.verify(&demo.public_keys, Some(event_id)) {
        assert!(verified
            .files
            .iter()
            .all(|(path, _)| bundle::is_safe_relative_path(path)));
        assert_eq!(verified.revoked.len(), verified.content.revoked.len());
    }
    if let Some(certificate) = answer.certificate.as_deref().and_then(|text| hex::decode(text).ok()) {
        if let Ok(certificate) = KioskCertificate::from_bytes(&certificate) {
            let _ = certificate.verify(event_id, &demo.public_keys);
            if let Ok(bytes) = certificate.to_bytes() {
                assert_eq!(KioskCertificate::from_bytes(&bytes).as_ref(), Ok(&certificate));
            }
        }
    }
}

/// Target `platform_answers`: Open Badge Factory and Canvas Credentials (Badgr) answers
/// through the readers the issuing code uses on them.
pub fn platform_answers(data: &[u8]) {
    let reply = |status: u16| Reply {
        status,
        retry_after: None,
        body: data.to_vec(),
    };
    // Both platforms: the OAuth2 token answer and the text of an error message.
    let _ = TokenAnswer::parse(&reply(200), "platform");
    let _ = reply(500).body_excerpt();
    // Open Badge Factory: the issue answer, the event look-up, the recipient list, errors.
    if let Ok(result) = serde_json::from_slice::<obf::OperationResult>(data) {
        if let Some(id) = result.resource_id.as_ref() {
            let _ = obf::id_text(id);
        }
        let _ = result.success;
    }
    let _ = obf::error_reason(&reply(400));
    if let Ok(page) = serde_json::from_slice::<obf::Page<obf::EventListElement>>(data) {
        for event in &page.result {
            let _ = obf::log_entry_matches(event.log_entry.as_ref(), "0123456789abcdef");
            let _ = obf::id_text(&event.id);
        }
        let _ = page.total;
    }
    if let Ok(page) = serde_json::from_slice::<obf::Page<obf::EventRecipient>>(data) {
        let _ = page
            .result
            .iter()
            .filter(|r| !r.revoked && (r.received || r.in_passport))
            .count();
    }
    // Canvas Credentials: assertion lists (issue and look-up) and per-assertion refusals.
    if let Some(list) = badgr::assertions_of(data) {
        // As the look-up does: the first assertion not revoked.
        let _ = list.iter().find(|a| !badgr::revoked(a)).map(|a| a.entity_id.clone());
    }
    for recipients in 1..=3 {
        let _ = badgr::refusal_of(&reply(400), recipients);
    }
}

/// Target `enrolment_code`: a scanned text through the kiosk's enrolment-code parser.
pub fn enrolment_code(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let looks_like = EnrolmentCode::looks_like(text);
    if let Ok(code) = EnrolmentCode::parse(text) {
        assert!(looks_like, "parsed but not recognised: {text:?}");
        // The URL it prints parses back to the same code.
        let again = EnrolmentCode::parse(&code.to_url());
        assert_eq!(
            again.as_ref().map(|c| (&c.token, &c.key_fingerprint)),
            Ok((&code.token, &code.key_fingerprint))
        );
    }
}

/// A fuzz target's body: any bytes in, a panic only for a bug.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/*.rs` file and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("attendance_code", attendance_code),
    ("allowlist_csv", allowlist_csv),
    ("event_toml", event_toml),
    ("hub_upload_body", hub_upload_body),
    ("hub_answers", hub_answers),
    ("platform_answers", platform_answers),
    ("enrolment_code", enrolment_code),
];

/// Seed inputs made with the demo event key: what the kiosk, the hub and the platforms
/// really send, including valid signatures a mutation must get past. `scripts/fuzz`
/// writes them into `fuzz/corpus/TARGET/` before fuzzing; the replay test runs them too.
/// Returns (target, file name, bytes).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut add =
        |target: &'static str, name: &str, bytes: Vec<u8>| seeds.push((target, format!("seed-{name}"), bytes));
    let demo = demo();
    let event_id = demo.definition.event.id.as_str();
    let key_fingerprint = demo.public_keys.first().map(fingerprint).unwrap_or_default();

    // Attendance codes: each role, a holder, expired, not yet valid, another event or key.
    let claims = |role: Role, holder: Option<&str>, valid_from: u32, valid_until: u32| CodeClaims {
        code_id: CodeId([3, 1, 4, 1, 5, 9, 2, 6, 5, 3]),
        role,
        holder: holder.map(str::to_owned),
        valid_from,
        valid_until,
    };
    let window = (1_795_000_000, 1_796_500_000);
    let stand = demo.definition.stands.first().map(|s| s.id.clone()).unwrap_or_default();
    let other_key = SigningKey::from_bytes(&[7u8; 32]);
    let codes = [
        (
            "visitor",
            event_id,
            &demo.event_key,
            claims(Role::Visitor, None, window.0, window.1),
        ),
        (
            "visitor-holder",
            event_id,
            &demo.event_key,
            claims(Role::Visitor, Some("REG-0042"), window.0, window.1),
        ),
        (
            "staff",
            event_id,
            &demo.event_key,
            claims(Role::Staff { stand }, None, window.0, window.1),
        ),
        (
            "organiser",
            event_id,
            &demo.event_key,
            claims(Role::Organiser, None, window.0, window.1),
        ),
        (
            "expired",
            event_id,
            &demo.event_key,
            claims(Role::Visitor, None, 1_700_000_000, 1_700_000_001),
        ),
        (
            "not-yet",
            event_id,
            &demo.event_key,
            claims(Role::Visitor, None, 1_900_000_000, 1_900_000_001),
        ),
        (
            "other-event",
            "demo-event",
            &demo.event_key,
            claims(Role::Visitor, None, window.0, window.1),
        ),
        (
            "other-key",
            event_id,
            &other_key,
            claims(Role::Visitor, None, window.0, window.1),
        ),
    ];
    for (name, event, key, claims) in codes {
        if let Ok(code) = AttendanceCode::sign(event, key, claims) {
            if name == "visitor" {
                // As a keyboard-wedge scanner may type it: lower case, a trailing newline.
                add(
                    "attendance_code",
                    "wedge",
                    format!("{}\n", code.to_text().to_lowercase()).into_bytes(),
                );
            }
            add("attendance_code", name, code.to_text().into_bytes());
        }
    }

    // Enrolment codes.
    let enrolment = EnrolmentCode {
        hub_url: "http://192.168.1.10:8787".into(),
        token: "K3M9PQ2XABCD7EFG".into(),
        key_fingerprint: key_fingerprint.clone(),
        signed: None,
    };
    add("enrolment_code", "lan", enrolment.to_url().into_bytes());
    add(
        "enrolment_code",
        "prefixed",
        b"https://hub.example.org/salon/enrol/ABC?key=7KQ2M9PDX4TAB3CE&lang=fr".to_vec(),
    );
    add("enrolment_code", "no-key", b"http://h/enrol/ABC".to_vec());

    // event.toml.
    add("event_toml", "demo", DEMO_EVENT_TOML.as_bytes().to_vec());
    add(
        "event_toml",
        "minimal",
        b"[event]\nid = \"e\"\nname = { fr = \"F\", en = \"E\" }\nstarts = \"2026-01-01\"\nends = \"2026-01-02\"\n\n\
          [issuer]\nname = \"I\"\nurl = \"https://i.example\"\n\n[[badge]]\nid = \"a\"\nkind = \"attendance\"\n\
          name = { fr = \"a\", en = \"a\" }\ndescription = { fr = \"d\", en = \"d\" }\n\
          criteria = { fr = \"c\", en = \"c\" }\nimage = \"a.svg\"\n\n[sync]\nhub = \"http://h:8787\"\n"
            .to_vec(),
    );

    // Allow-lists.
    add(
        "allowlist_csv",
        "semicolon-bom",
        "\u{feff}Nom;Code-barre;Inscription\nDupont;123456789012;R-1\nMartin;;R-2\nDurand;123456789012;R-3\nPetit; 998877 ;marie@example.fr\n"
            .as_bytes()
            .to_vec(),
    );
    add(
        "allowlist_csv",
        "comma-quoted",
        b"barcode,registration,name\n\"0001\",A-1,\"Doe, Jane\"\n0002,,x\n\"00\"\"03\",A-3\n".to_vec(),
    );

    // The hub's request bodies: an upload from a certified kiosk, an enrolment.
    let device_key = SigningKey::from_bytes(&[9u8; 32]);
    let kiosk_id = "kiosk-fuzz";
    let certificate = KioskCertificate::issue(
        &demo.event_key,
        event_id,
        kiosk_id,
        device_key.verifying_key(),
        NOW_SECONDS,
    )
    .ok()
    .and_then(|certificate| certificate.to_bytes().ok())
    .map(hex::encode)
    .unwrap_or_default();
    let contents = [
        (
            "attended",
            RecordKind::AttendanceAward,
            "",
            Recipient::Registration("REG-0042".into()),
        ),
        (
            "attended",
            RecordKind::AttendanceAward,
            "",
            Recipient::ClaimToken([5; 16]),
        ),
        ("food-pathway", RecordKind::PathwayStep, "orientation", Recipient::None),
        (
            "food-pathway",
            RecordKind::PathwayAward,
            "",
            Recipient::EmailHash([6; 32]),
        ),
        ("no-such-badge", RecordKind::AttendanceAward, "", Recipient::None),
    ];
    let mut previous = GENESIS_HASH;
    let mut records = Vec::new();
    for (index, (badge, kind, stand, recipient)) in contents.into_iter().enumerate() {
        let content = AwardContent {
            event_id: event_id.to_owned(),
            badge_id: badge.into(),
            code_id: vec![index as u8; 10],
            kind,
            stand: stand.into(),
            recipient,
            created_at_ms: NOW_SECONDS * 1000 + index as i64,
        };
        if let Ok(record) = AwardRecord::sign(&device_key, kiosk_id, index as u64 + 1, previous, content) {
            if let (Ok(bytes), Ok(hash)) = (record.to_bytes(), record.hash()) {
                records.push(hex::encode(bytes));
                previous = hash;
            }
        }
    }
    let upload = |records: Vec<String>| {
        serde_json::to_vec(&UploadRequest {
            event_id: event_id.to_owned(),
            certificate: certificate.clone(),
            records,
            emails: Default::default(),
            ..Default::default()
        })
        .unwrap_or_default()
    };
    add("hub_upload_body", "upload", upload(records.clone()));
    add(
        "hub_upload_body",
        "upload-one",
        upload(records.iter().take(1).cloned().collect()),
    );
    add(
        "hub_upload_body",
        "upload-repeat",
        upload([records.clone(), records.clone()].concat()),
    );
    let enrol = EnrolRequest {
        token: "K3M9PQ2XABCD7EFG".into(),
        kiosk_id: kiosk_id.into(),
        device_key: hex::encode(device_key.verifying_key().as_bytes()),
    };
    add(
        "hub_upload_body",
        "enrol",
        serde_json::to_vec(&enrol).unwrap_or_default(),
    );

    // The hub's answers: an upload answer, an error, signed bundles.
    let response = UploadResponse {
        answers: vec![
            RecordAnswer {
                sequence: 1,
                status: RecordStatus::Accepted,
                reason: None,
                email_received: false,
            },
            RecordAnswer {
                sequence: 2,
                status: RecordStatus::Duplicate,
                reason: None,
                email_received: false,
            },
            RecordAnswer {
                sequence: 3,
                status: RecordStatus::Rejected,
                reason: Some("the record's signature does not match its content".into()),
                email_received: false,
            },
        ],
        hub_time_ms: NOW_SECONDS * 1000,
        chain_warnings: vec!["gap before sequence 3".into()],
        signature: None,
        claim_reach: None,
        email_delivery: None,
    };
    add(
        "hub_answers",
        "upload-answer",
        serde_json::to_vec(&response).unwrap_or_default(),
    );
    add(
        "hub_answers",
        "error",
        serde_json::to_vec(&ErrorBody {
            error: "kiosk k1 was revoked by the organiser".into(),
        })
        .unwrap_or_default(),
    );
    let content = BundleContent {
        event_id: event_id.to_owned(),
        event_toml: DEMO_EVENT_TOML.to_owned(),
        files: [
            (
                "badges/attended.svg".to_owned(),
                hex::encode(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            ),
            ("badges/issuer.svg".to_owned(), hex::encode(b"<svg/>")),
        ]
        .into_iter()
        .collect(),
        revoked: vec![hex::encode([3u8, 1, 4, 1, 5, 9, 2, 6, 5, 3])],
        signed_at_ms: NOW_SECONDS * 1000,
    };
    if let Ok(bundle) = SignedBundle::sign(&content, &demo.event_key) {
        let answer = |certificate: Option<String>| EventBundle {
            bundle: bundle.clone(),
            hub_time_ms: NOW_SECONDS * 1000 + 5,
            certificate,
        };
        add(
            "hub_answers",
            "bundle",
            serde_json::to_vec(&answer(None)).unwrap_or_default(),
        );
        add(
            "hub_answers",
            "enrolment",
            serde_json::to_vec(&answer(Some(certificate.clone()))).unwrap_or_default(),
        );
    }

    // Platform answers, as the documented APIs (and tests/it/platform_contract.rs) give them.
    let platform: [(&str, &str); 10] = [
        (
            "obf-issue",
            r#"{"success": true, "message": "", "resource_type": "event", "resource_id": "PQ7XCA2T", "count": 2}"#,
        ),
        (
            "obf-events",
            r#"{"result": [{"id": "PQ7XCA2T", "name": "", "client_alias_id": null, "badge_id": "B1", "expires_on": null, "issued_on": 1795600000, "recipient_count": 2, "api_consumer_id": "c", "earnable_application_id": null, "log_entry": "{\"badge_kiosk\":\"0123456789abcdef\"}", "ctime": 1, "mtime": 1}, {"id": 42, "log_entry": {"badge_kiosk": "0123456789abcdef"}}], "total": 2}"#,
        ),
        (
            "obf-recipients",
            r#"{"result": [{"event_id": "E", "badge_id": "B", "assertion_id": "a1", "email": "a@example.org", "received": true, "in_passport": false, "revoked": false}, {"received": false, "revoked": true}], "total": 2}"#,
        ),
        (
            "obf-error",
            r#"{"error": "invalid_request", "message": "limit must be between 1 and 1000", "path": "/v2/event/c"}"#,
        ),
        (
            "token",
            r#"{"access_token": "eyJ0eXAiOiJKV1Qi", "token_type": "Bearer", "expires_in": 86400, "refresh_token": "r-1"}"#,
        ),
        (
            "badgr-issue",
            r#"{"status": {"success": true, "description": "ok"}, "result": [{"entityType": "Assertion", "entityId": "AbC-1", "badgeclass": "B", "recipient": {"identity": "sha256$00", "hashed": true, "type": "email"}, "revoked": false, "acceptance": "Unaccepted"}, {"entityId": "AbC-2", "revoked": "True"}]}"#,
        ),
        ("badgr-bare", r#"[{"entityId": "x", "revoked": false}]"#),
        (
            "badgr-field-errors",
            r#"{"status": {"success": false, "description": "bad request"}, "fieldErrors": [{"recipient": {"identity": ["Enter a valid email address."]}}, {"non_field_errors": ["A previous award of this badge already exists for this recipient."]}, {}], "validationErrors": []}"#,
        ),
        (
            "badgr-duplicate",
            r#"{"non_field_errors": ["A previous award of this badge already exists for this recipient."]}"#,
        ),
        (
            "badgr-throttled",
            r#"{"detail": "Request was throttled. Expected available in 3 seconds."}"#,
        ),
    ];
    for (name, body) in platform {
        add("platform_answers", name, body.as_bytes().to_vec());
    }
    seeds
}
