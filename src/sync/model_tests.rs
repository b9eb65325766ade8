//! A model of an unreliable network between kiosks and the hub: requests dropped,
//! answers lost after the hub committed, deliveries duplicated and reordered, kiosks
//! crashing (losing everything not yet on disk). Whatever happens, once the network
//! behaves the hub holds exactly the union of the kiosks' records, each once.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::client::{apply_response, prepare_uploads, SyncSettings};
use crate::domain::clock::Clock;
use crate::domain::code::{AttendanceCode, CodeClaims, CodeId, Role};
use crate::eventdir::EventDir;
use crate::hub::store::HubStore;
use crate::kiosk::{Delivery, KioskCore};
use crate::store::Store;

#[derive(Debug, Clone, Copy)]
enum Network {
    Deliver,
    DropRequest,
    LoseAnswer,
    Duplicate,
    /// The next batch is delivered before this one.
    Reorder,
    /// The kiosk crashes before applying the answer, then restarts from disk.
    CrashAfterSend,
}

fn network() -> impl Strategy<Value = Network> {
    prop_oneof![
        3 => Just(Network::Deliver),
        1 => Just(Network::DropRequest),
        1 => Just(Network::LoseAnswer),
        1 => Just(Network::Duplicate),
        1 => Just(Network::Reorder),
        1 => Just(Network::CrashAfterSend),
    ]
}

struct Fixed;
impl Clock for Fixed {
    fn now_ms(&self) -> i64 {
        1_795_000_000_000
    }
}

fn code(event: &EventDir, id: u8) -> String {
    let mut bytes = [0u8; 10];
    bytes[0] = id;
    AttendanceCode::sign(
        &event.definition.event.id,
        event.event_key.as_ref().unwrap(),
        CodeClaims {
            code_id: CodeId(bytes),
            role: Role::Visitor,
            holder: Some("R".into()),
            valid_from: 0,
            valid_until: u32::MAX,
        },
    )
    .unwrap()
    .to_text()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn hub_holds_exactly_the_union(
        claims in proptest::collection::vec((0usize..3, 0u8..40), 1..60),
        faults in proptest::collection::vec(network(), 1..40),
        batch_records in 1usize..7,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let event = EventDir::demo(dir.path()).unwrap();
        let mut kiosks: Vec<KioskCore> = (0..3)
            .map(|i| KioskCore::open(event.clone(), &dir.path().join(format!("k{i}")), Some(&format!("k{i}")), Box::new(Fixed)).unwrap())
            .collect();
        let mut expected_records = 0u64;
        let mut visitors = BTreeSet::new();
        for (kiosk, visitor) in &claims {
            let identified = kiosks[*kiosk].identify(&code(&event, *visitor)).unwrap();
            if let crate::kiosk::ClaimOutcome::Saved { .. } = kiosks[*kiosk].claim(&identified, None, Delivery::Registration).unwrap() {
                expected_records += 1;
            }
            visitors.insert(*visitor);
        }
        let mut hub = HubStore::open_in_memory(event.definition.clone()).unwrap();
        let settings: Vec<SyncSettings> = kiosks
            .iter()
            .map(|k| {
                let mut s = SyncSettings::new("http://model", &event.definition.event.id, &hex::encode(k.certificate().to_bytes().unwrap()));
                s.batch_records = batch_records;
                s
            })
            .collect();
        let open = |i: usize| Store::open(&dir.path().join(format!("k{i}")).join("queue.sqlite")).unwrap();
        let mut stores: Vec<Store> = (0..3).map(open).collect();
        let mut now = 1_795_000_000_000i64;
        // Faulty rounds.
        let mut fault = faults.iter().cycle();
        for _ in 0..faults.len() {
            for i in 0..3 {
                let mut uploads = prepare_uploads(&stores[i], &settings[i]).unwrap();
                let mut index = 0;
                while index < uploads.len() {
                    now += 1;
                    match fault.next().copied().unwrap_or(Network::Deliver) {
                        Network::Deliver => {
                            let response = hub.ingest(&uploads[index].1, now).unwrap();
                            apply_response(&mut stores[i], &uploads[index].0, &response).unwrap();
                        }
                        Network::DropRequest => {}
                        Network::LoseAnswer => {
                            hub.ingest(&uploads[index].1, now).unwrap();
                        }
                        Network::Duplicate => {
                            hub.ingest(&uploads[index].1, now).unwrap();
                            let response = hub.ingest(&uploads[index].1, now).unwrap();
                            apply_response(&mut stores[i], &uploads[index].0, &response).unwrap();
                        }
                        Network::Reorder if index + 1 < uploads.len() => {
                            uploads.swap(index, index + 1);
                            let response = hub.ingest(&uploads[index].1, now).unwrap();
                            apply_response(&mut stores[i], &uploads[index].0, &response).unwrap();
                        }
                        Network::Reorder => {}
                        Network::CrashAfterSend => {
                            hub.ingest(&uploads[index].1, now).unwrap();
                            stores[i] = open(i);
                        }
                    }
                    index += 1;
                }
            }
        }
        // The network heals: everything still queued goes through.
        for i in 0..3 {
            for (batch, request) in prepare_uploads(&stores[i], &settings[i]).unwrap() {
                let response = hub.ingest(&request, now).unwrap();
                apply_response(&mut stores[i], &batch, &response).unwrap();
            }
            prop_assert!(stores[i].pending(usize::MAX).unwrap().is_empty());
            prop_assert_eq!(stores[i].counts().unwrap().failed, 0);
        }
        let records: i64 = hub.connection().query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0)).unwrap();
        prop_assert_eq!(records as u64, expected_records);
        prop_assert_eq!(hub.award_count().unwrap() as usize, visitors.len());
    }
}
