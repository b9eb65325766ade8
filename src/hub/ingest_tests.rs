//! Issue #24's ingest tests (not timed): a bad signature in a batch refuses exactly its
//! record, a record sent again is not verified again, and the answers are the same with one
//! and with several worker threads. Issue #21's items 2, 6 and 11 at the store's level.

use ed25519_dalek::SigningKey;

use crate::domain::award::{AwardContent, AwardRecord, Recipient, RecordKind, GENESIS_HASH};
use crate::domain::code::{AttendanceCode, CodeClaims, CodeId, Role, CODE_PREFIX};
use crate::domain::keys::KioskCertificate;
use crate::eventdir::EventDir;
use crate::hub::store::{HubStore, OVER_QUOTA};
use crate::sync::protocol::{RecordStatus, UploadRequest, UploadResponse};

const NOW_MS: i64 = 1_795_000_000_000;

struct Fleet {
    _dir: tempfile::TempDir,
    event: EventDir,
}

impl Fleet {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let event = EventDir::demo(dir.path()).unwrap();
        Self { _dir: dir, event }
    }

    fn event_id(&self) -> String {
        self.event.definition.event.id.clone()
    }

    fn hub(&self, threads: usize) -> HubStore {
        HubStore::open_in_memory(self.event.definition.clone())
            .unwrap()
            .with_signature_threads(threads)
    }

    fn code(&self, number: u8) -> Vec<u8> {
        let text = AttendanceCode::sign(
            &self.event_id(),
            self.event.event_key.as_ref().unwrap(),
            CodeClaims {
                code_id: CodeId([number; 10]),
                role: Role::Visitor,
                holder: None,
                valid_from: 0,
                valid_until: u32::MAX,
            },
        )
        .unwrap()
        .to_text();
        crate::domain::base32::decode(text.strip_prefix(CODE_PREFIX).unwrap()).unwrap()
    }

    /// `count` chained v2 awards of kiosk `kiosk_id` for codes numbered from `first`.
    fn upload(&self, kiosk_id: &str, device: &SigningKey, first: u8, count: u8) -> (UploadRequest, Vec<AwardRecord>) {
        let certificate = KioskCertificate::issue(
            self.event.event_key.as_ref().unwrap(),
            &self.event_id(),
            kiosk_id,
            device.verifying_key(),
            NOW_MS / 1000,
        )
        .unwrap();
        let mut previous = GENESIS_HASH;
        let records: Vec<AwardRecord> = (0..count)
            .map(|index| {
                let number = first + index;
                let record = AwardRecord::sign_with_code(
                    device,
                    kiosk_id,
                    u64::from(index) + 1,
                    previous,
                    AwardContent {
                        event_id: self.event_id(),
                        badge_id: "attended".into(),
                        code_id: vec![number; 10],
                        kind: RecordKind::AttendanceAward,
                        stand: String::new(),
                        recipient: Recipient::None,
                        created_at_ms: NOW_MS,
                    },
                    Some(self.code(number)),
                )
                .unwrap();
                previous = record.hash().unwrap();
                record
            })
            .collect();
        (request(&self.event_id(), &certificate, &records), records)
    }
}

fn request(event_id: &str, certificate: &KioskCertificate, records: &[AwardRecord]) -> UploadRequest {
    UploadRequest {
        event_id: event_id.to_owned(),
        certificate: hex::encode(certificate.to_bytes().unwrap()),
        records: records
            .iter()
            .map(|record| hex::encode(record.to_bytes().unwrap()))
            .collect(),
        ..UploadRequest::default()
    }
}

fn statuses(response: &UploadResponse) -> Vec<(u64, RecordStatus)> {
    response
        .answers
        .iter()
        .map(|answer| (answer.sequence, answer.status))
        .collect()
}

#[test]
fn issue_24_one_bad_signature_in_a_batch_refuses_exactly_that_record() {
    let fleet = Fleet::new();
    let device = SigningKey::from_bytes(&[3; 32]);
    let (mut request, records) = fleet.upload("hall-a", &device, 1, 60);
    // Record #17: its device signature no longer matches its bytes.
    let mut bytes = records[16].to_bytes().unwrap();
    let last = bytes.len() - 70;
    bytes[last] ^= 1;
    request.records[16] = hex::encode(&bytes);
    // Record #40: a code whose event-key signature was altered (re-signed by the kiosk).
    let mut forged = records[39].clone();
    let mut code = forged.code.clone().unwrap();
    let signature_start = code.len() - 64;
    code[signature_start + 40] ^= 1;
    forged = AwardRecord::sign_with_code(
        &device,
        "hall-a",
        forged.sequence,
        forged.previous_hash,
        forged.content.clone(),
        Some(code),
    )
    .unwrap();
    request.records[39] = hex::encode(forged.to_bytes().unwrap());
    let mut hub = fleet.hub(2);
    let response = hub.ingest(&request, NOW_MS).unwrap();
    let refused: Vec<u64> = response
        .answers
        .iter()
        .filter(|answer| answer.status == RecordStatus::Rejected)
        .map(|answer| answer.sequence)
        .collect();
    assert_eq!(refused, vec![17, 40], "{:?}", response.answers);
    assert!(response.answers[16].reason.as_deref().unwrap().contains("signature"));
    assert!(response.answers[39]
        .reason
        .as_deref()
        .unwrap()
        .contains("not issued by the organiser"));
    assert_eq!(response.answers.len(), 60);
    assert_eq!(hub.award_count().unwrap(), 58);
}

#[test]
fn issue_24_a_record_sent_again_or_a_code_seen_again_is_not_verified_again() {
    let fleet = Fleet::new();
    let device = SigningKey::from_bytes(&[3; 32]);
    let (request, _) = fleet.upload("hall-a", &device, 1, 30);
    let mut hub = fleet.hub(2);
    let checker = hub.upload_checker();
    let first = hub.ingest(&request, NOW_MS).unwrap();
    // Each record's signature and each code's: 60.
    assert_eq!(checker.verifications(), 60);
    // The answer was lost: the kiosk sends the same batch again.
    let again = hub.ingest(&request, NOW_MS + 1).unwrap();
    assert_eq!(checker.verifications(), 60, "nothing verified again");
    assert_eq!(statuses(&first), statuses(&again));
    // Another kiosk saw the same ten codes: only its own records' signatures are checked.
    let other = SigningKey::from_bytes(&[4; 32]);
    let (request, _) = fleet.upload("hall-b", &other, 1, 10);
    let response = hub.ingest(&request, NOW_MS + 2).unwrap();
    assert_eq!(checker.verifications(), 70);
    assert!(response
        .answers
        .iter()
        .all(|answer| answer.status == RecordStatus::Duplicate));
}

#[test]
fn issue_24_ingest_is_the_same_with_one_and_with_several_threads() {
    let fleet = Fleet::new();
    let device = SigningKey::from_bytes(&[3; 32]);
    let (mut request, records) = fleet.upload("hall-a", &device, 1, 120);
    let mut bytes = records[5].to_bytes().unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    request.records[5] = hex::encode(&bytes);
    request.records[77] = "not hex".into();
    let second = SigningKey::from_bytes(&[4; 32]);
    let (other, _) = fleet.upload("hall-b", &second, 100, 50);
    let run = |threads: usize| {
        let mut hub = fleet.hub(threads);
        let one = hub.ingest(&request, NOW_MS).unwrap();
        let two = hub.ingest(&other, NOW_MS).unwrap();
        (
            one.answers,
            one.chain_warnings,
            two.answers,
            two.chain_warnings,
            hub.awards().unwrap(),
            hub.counts().unwrap(),
        )
    };
    let single = run(1);
    assert_eq!(single, run(2));
    assert_eq!(single, run(8));
    assert_eq!(single.4.len(), 120 - 2 + 50 - 21);
}

#[test]
fn issue_21_item_6_a_revoked_code_is_refused_at_upload_and_kept_with_its_reason() {
    let fleet = Fleet::new();
    let device = SigningKey::from_bytes(&[3; 32]);
    let (request, _) = fleet.upload("hall-a", &device, 1, 3);
    let mut hub = fleet.hub(2);
    assert!(hub.revoke_code(&[2; 10], "ticket reported stolen", NOW_MS).unwrap());
    let response = hub.ingest(&request, NOW_MS).unwrap();
    assert_eq!(response.answers[1].status, RecordStatus::Rejected);
    let reason = response.answers[1].reason.clone().unwrap();
    assert!(reason.contains("revoked"), "{reason}");
    assert!(reason.contains("ticket reported stolen"), "{reason}");
    assert_eq!(hub.award_count().unwrap(), 2);
    // Kept on the hub for the organiser, with the reason in the console's warnings.
    let outcome: String = hub
        .connection()
        .query_row("SELECT outcome FROM records WHERE sequence = 2", [], |row| row.get(0))
        .unwrap();
    assert_eq!(outcome, "revoked");
    assert!(hub
        .counts()
        .unwrap()
        .warnings
        .iter()
        .any(|(_, message)| message.contains("ticket reported stolen")));
    // Sent again, the same answer.
    let again = hub.ingest(&request, NOW_MS + 1).unwrap();
    assert_eq!(again.answers[1].status, RecordStatus::Rejected);
}

#[test]
fn issue_21_item_11_records_beyond_a_kiosks_quota_are_not_stored_and_stay_queued() {
    let fleet = Fleet::new();
    let device = SigningKey::from_bytes(&[3; 32]);
    let (request, _) = fleet.upload("hall-a", &device, 1, 25);
    let mut hub = fleet.hub(2);
    hub.set_record_quota(10);
    let response = hub.ingest(&request, NOW_MS).unwrap();
    // Ten stored and answered; the other fifteen not answered, so the kiosk keeps them.
    assert_eq!(response.answers.len(), 10);
    assert!(response
        .answers
        .iter()
        .all(|answer| answer.status == RecordStatus::Accepted));
    assert!(
        response.chain_warnings[0].contains("limit of 10 records"),
        "{:?}",
        response.chain_warnings
    );
    assert_eq!(hub.counts().unwrap().records_by_kiosk, vec![("hall-a".to_owned(), 10)]);
    assert!(!OVER_QUOTA.is_empty());
    // The organiser raises the limit: they arrive.
    hub.set_record_quota(100);
    let response = hub.ingest(&request, NOW_MS + 1).unwrap();
    assert_eq!(response.answers.len(), 25);
    assert_eq!(hub.award_count().unwrap(), 25);
}

#[test]
fn issue_21_item_2_a_ticket_is_proven_by_its_text_never_by_the_kiosks_hashes() {
    use crate::domain::allowlist::{ticket_code_id, ticket_hash, AllowedTicket};
    let fleet = Fleet::new();
    let event_id = fleet.event_id();
    let device = SigningKey::from_bytes(&[3; 32]);
    let certificate = KioskCertificate::issue(
        fleet.event.event_key.as_ref().unwrap(),
        &event_id,
        "hall-a",
        device.verifying_key(),
        NOW_MS / 1000,
    )
    .unwrap();
    let mut hub = fleet.hub(2);
    let tickets: Vec<AllowedTicket> = ["T-1", "T-2"]
        .iter()
        .map(|text| AllowedTicket {
            hash: ticket_hash(&event_id, text),
            registration: None,
        })
        .collect();
    hub.import_tickets(&tickets, NOW_MS).unwrap();
    let content = |code_id: Vec<u8>| AwardContent {
        event_id: event_id.clone(),
        badge_id: "attended".into(),
        code_id,
        kind: RecordKind::AttendanceAward,
        stand: String::new(),
        recipient: Recipient::None,
        created_at_ms: NOW_MS,
    };
    // The stolen kiosk's forgery: a v2 record with the hash's first bytes and no code.
    let forged = AwardRecord::sign_with_code(
        &device,
        "hall-a",
        1,
        GENESIS_HASH,
        content(ticket_code_id(&tickets[0].hash).to_vec()),
        Some(Vec::new()),
    )
    .unwrap();
    // A v3 record naming a ticket text that is not the code id's.
    let mismatched = AwardRecord::sign_with_ticket(
        &device,
        "hall-a",
        2,
        forged.hash().unwrap(),
        content(ticket_code_id(&tickets[1].hash).to_vec()),
        "T-3",
    )
    .unwrap();
    // The genuine scan of T-2: its text.
    let genuine = AwardRecord::sign_with_ticket(
        &device,
        "hall-a",
        3,
        mismatched.hash().unwrap(),
        content(ticket_code_id(&tickets[1].hash).to_vec()),
        "T-2",
    )
    .unwrap();
    let response = hub
        .ingest(
            &request(&event_id, &certificate, &[forged, mismatched, genuine]),
            NOW_MS,
        )
        .unwrap();
    assert_eq!(
        statuses(&response),
        vec![
            (1, RecordStatus::Accepted),
            (2, RecordStatus::Rejected),
            (3, RecordStatus::Accepted)
        ]
    );
    assert_eq!(
        response.answers[0].reason.as_deref(),
        Some(crate::hub::store::UNPROVEN_REASON)
    );
    let awards = hub.awards().unwrap();
    assert_eq!(awards.len(), 1);
    assert_eq!(awards[0].1, hex::encode(ticket_code_id(&tickets[1].hash)));
    // Importing the list again promotes nothing: the forgery stays for review.
    assert_eq!(hub.import_tickets(&tickets, NOW_MS + 1).unwrap().promoted, 0);
    assert_eq!(hub.award_count().unwrap(), 1);
}
