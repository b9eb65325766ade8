use super::*;
use crate::domain::award::{Recipient, RecordKind};

fn device() -> SigningKey {
    SigningKey::from_bytes(&[5u8; 32])
}

fn award(code: u8) -> AwardContent {
    AwardContent {
        event_id: "evt".into(),
        badge_id: "attended".into(),
        code_id: vec![code; 10],
        kind: RecordKind::AttendanceAward,
        stand: String::new(),
        recipient: Recipient::Registration(format!("REG-{code}")),
        created_at_ms: 1_790_000_000_000 + i64::from(code),
    }
}

fn step(code: u8, stand: &str) -> AwardContent {
    AwardContent {
        badge_id: "food-pathway".into(),
        kind: RecordKind::PathwayStep,
        stand: stand.into(),
        recipient: Recipient::None,
        ..award(code)
    }
}

#[test]
fn same_badge_twice_is_already_recorded() {
    let mut store = Store::open_in_memory().unwrap();
    let first = store.append(&device(), "k1", award(1), None).unwrap();
    assert!(matches!(first, AppendOutcome::Appended(ref r) if r.sequence == 1));
    let again = store.append(&device(), "k1", award(1), None).unwrap();
    assert!(matches!(again, AppendOutcome::AlreadyRecorded { sequence: 1, .. }));
    // Steps are unique per stand, and do not collide with awards.
    assert!(matches!(
        store.append(&device(), "k1", step(1, "a"), None).unwrap(),
        AppendOutcome::Appended(_)
    ));
    assert!(matches!(
        store.append(&device(), "k1", step(1, "b"), None).unwrap(),
        AppendOutcome::Appended(_)
    ));
    assert!(matches!(
        store.append(&device(), "k1", step(1, "a"), None).unwrap(),
        AppendOutcome::AlreadyRecorded { .. }
    ));
    assert_eq!(
        store.steps_for("evt", "food-pathway", &[1; 10]).unwrap(),
        vec!["a", "b"]
    );
    assert!(store.audit(&device().verifying_key()).unwrap().faults.is_empty());
}

#[test]
fn audit_names_edited_deleted_and_replaced_rows() {
    let mut store = Store::open_in_memory().unwrap();
    for code in 1..=5 {
        store.append(&device(), "k1", award(code), None).unwrap();
    }
    let key = device().verifying_key();
    assert!(store.audit(&key).unwrap().faults.is_empty());

    store
        .connection()
        .execute("UPDATE records SET badge_id = 'other' WHERE sequence = 2", [])
        .unwrap();
    let faults = store.audit(&key).unwrap().faults;
    assert!(
        faults.iter().any(|f| f.contains("record #2") && f.contains("edited")),
        "{faults:?}"
    );
    store
        .connection()
        .execute("UPDATE records SET badge_id = 'attended' WHERE sequence = 2", [])
        .unwrap();

    store
        .connection()
        .execute("DELETE FROM records WHERE sequence = 3", [])
        .unwrap();
    let faults = store.audit(&key).unwrap().faults;
    assert_eq!(faults, vec!["record #3 was deleted".to_string()]);

    store
        .connection()
        .execute("DELETE FROM records WHERE sequence = 5", [])
        .unwrap();
    let faults = store.audit(&key).unwrap().faults;
    assert!(
        faults.contains(&"record #5 (the newest) was deleted".to_string()),
        "{faults:?}"
    );
}

#[test]
fn audit_detects_a_flipped_signature_byte() {
    let mut store = Store::open_in_memory().unwrap();
    store.append(&device(), "k1", award(1), None).unwrap();
    store.append(&device(), "k1", award(2), None).unwrap();
    store
        .connection()
        .execute("UPDATE records SET signed_bytes = substr(signed_bytes, 1, length(signed_bytes) - 1) || x'00' WHERE sequence = 1", [])
        .unwrap();
    let faults = store.audit(&device().verifying_key()).unwrap().faults;
    assert!(faults.iter().any(|f| f.contains("#1")), "{faults:?}");
}

#[test]
fn sync_states_and_counts() {
    let mut store = Store::open_in_memory().unwrap();
    for code in 1..=4 {
        store.append(&device(), "k1", award(code), Some("a@b.fr")).unwrap();
    }
    store.append(&device(), "k1", step(9, "a"), None).unwrap();
    store.mark_synced(&[1, 2], 100).unwrap();
    store.mark_failed(3, "unknown badge on the platform").unwrap();
    let counts = store.counts().unwrap();
    assert_eq!((counts.queued, counts.synced, counts.failed), (2, 2, 1));
    assert_eq!(counts.awards_by_badge, vec![("attended".to_string(), 4)]);
    assert_eq!(counts.steps_by_stand, vec![("a".to_string(), 1)]);
    assert_eq!(counts.failures, vec![(3, "unknown badge on the platform".to_string())]);
    assert_eq!(
        store
            .pending(10)
            .unwrap()
            .iter()
            .map(|r| r.record.sequence)
            .collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert_eq!(store.purge_emails(100).unwrap(), 2);
    assert_eq!(store.record(1).unwrap().unwrap().email, None);
    assert_eq!(store.record(4).unwrap().unwrap().email.as_deref(), Some("a@b.fr"));
    assert_eq!(store.retry_failed().unwrap(), 1);
}

#[test]
fn trusted_time_never_goes_back() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.raise_trusted_time(1_000).unwrap(), 1_000);
    assert_eq!(store.raise_trusted_time(500).unwrap(), 1_000);
    assert_eq!(store.trusted_time_floor().unwrap(), 1_000);
}

const DAY: i64 = 24 * 60 * 60 * 1000;

/// #21 item 1: a hub whose clock is years ahead moves nothing; one a few days ahead moves
/// the floor a day per answer at most; a fixed hub brings the floor back at once.
#[test]
fn regression_21_1_a_wrong_hub_clock_cannot_poison_the_floor() {
    let store = Store::open_in_memory().unwrap();
    let now = 1_790_000_000_000;
    store
        .set_hub_time_window(Some(HubTimeWindow {
            from_ms: now - 30 * DAY,
            until_ms: now + 12 * DAY,
        }))
        .unwrap();
    let fifteen_years = 15 * 365 * DAY;
    for _ in 0..30 {
        assert_eq!(store.take_hub_time(now + fifteen_years, now).unwrap(), 0);
    }
    assert_eq!(store.take_hub_time(now + 10 * DAY, now).unwrap(), now + 10 * DAY);
    assert_eq!(store.take_hub_time(now + 12 * DAY, now).unwrap(), now + 11 * DAY);
    // The organiser fixed the hub's clock: its next answer is believed at once.
    assert_eq!(store.take_hub_time(now + 1_000, now).unwrap(), now + 1_000);
    // Without the event's dates no hub time is believed.
    store.set_hub_time_window(None).unwrap();
    assert_eq!(store.take_hub_time(now + 2_000, now).unwrap(), now + 1_000);
}

/// #21 item 15: a record signed while the kiosk's own clock was ahead no longer holds the
/// floor once the organiser resets the clock; records signed afterwards count again.
#[test]
fn regression_21_15_clock_reset_forgets_a_future_record() {
    let mut store = Store::open_in_memory().unwrap();
    let mut ahead = award(1);
    ahead.created_at_ms += 5 * 365 * DAY;
    store.append(&device(), "k1", ahead.clone(), None).unwrap();
    assert_eq!(store.trusted_time_floor().unwrap(), ahead.created_at_ms);
    assert!(!store.clock_was_reset().unwrap());
    assert_eq!(store.reset_trusted_time().unwrap(), 0);
    assert!(store.clock_was_reset().unwrap());
    store.append(&device(), "k1", award(2), None).unwrap();
    assert_eq!(store.trusted_time_floor().unwrap(), award(2).created_at_ms);
}

#[test]
fn reopening_a_file_keeps_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    {
        let mut store = Store::open(&path).unwrap();
        store.append(&device(), "k1", award(1), None).unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let AppendOutcome::Appended(record) = store.append(&device(), "k1", award(2), None).unwrap() else {
        panic!("expected a new record");
    };
    assert_eq!(record.sequence, 2);
    assert!(store.audit(&device().verifying_key()).unwrap().faults.is_empty());
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_file_that_is_not_sqlite_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    assert!(matches!(Store::open(&path), Err(StoreError::Corrupt(_))));
}

#[test]
fn no_clear_email_remains_in_the_files_after_purge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    let mut store = Store::open(&path).unwrap();
    for code in 1..=50 {
        store
            .append(
                &device(),
                "k1",
                award(code),
                Some(&format!("visitor{code}.secret@example.fr")),
            )
            .unwrap();
    }
    let contains_email = || {
        let mut bytes = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(dir.path().join("queue.sqlite-wal")) {
            bytes.extend(wal);
        }
        bytes
            .windows(b".secret@example.fr".len())
            .any(|w| w == b".secret@example.fr")
    };
    assert!(contains_email(), "the emails are stored before the purge");
    store.mark_synced(&(1..=50).collect::<Vec<u64>>(), 1_000).unwrap();
    assert_eq!(store.purge_emails(1_000).unwrap(), 50);
    assert!(
        !contains_email(),
        "a clear email survived the purge in the database or its WAL"
    );
}

/// Issue #7: the kiosk forgets a clear email once the hub acknowledged holding it, and
/// only for records the hub took (a queued record keeps its email for the next upload).
#[test]
fn acknowledged_emails_are_forgotten_and_the_others_kept() {
    let mut store = Store::open_in_memory().unwrap();
    for code in 1..=3 {
        store
            .append(&device(), "k1", award(code), Some(&format!("v{code}@example.fr")))
            .unwrap();
    }
    store.mark_synced(&[1, 2], 1_000).unwrap();
    assert_eq!(store.forget_emails(&[1, 3]).unwrap(), 1);
    assert_eq!(store.record(1).unwrap().unwrap().email, None);
    assert_eq!(
        store.record(2).unwrap().unwrap().email.as_deref(),
        Some("v2@example.fr")
    );
    assert_eq!(
        store.record(3).unwrap().unwrap().email.as_deref(),
        Some("v3@example.fr")
    );
    assert_eq!(store.forget_emails(&[]).unwrap(), 0);
}
