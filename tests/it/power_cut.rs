//! Power cuts, as a process sees them: the kiosk is killed with SIGKILL at random moments
//! while claiming. Whatever it printed as "saved" must be in the queue afterwards, the
//! chain must verify and SQLite's integrity check must pass. CI runs 40 cycles;
//! `BADGE_KIOSK_POWER_CYCLES=1000 cargo test --test it power_cut` runs the full harness.
//!
//! SIGKILL loses what the process had not handed to the kernel; it cannot show what
//! `synchronous=NORMAL` risks (the kernel's page cache survives a killed process), which
//! needs the machine itself to lose power: see the README's Reliability section.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use badge_kiosk::store::Store;

use crate::helpers::TestKiosk;

#[test]
fn sigkill_during_claims_loses_nothing_reported_saved() {
    let cycles: usize = std::env::var("BADGE_KIOSK_POWER_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let kiosk = TestKiosk::demo();
    let print_dir = kiosk.dir.path().join("print");
    kiosk.ok(&["codes", "--demo", "--out", print_dir.to_str().unwrap()]);
    // Fresh visitor codes for every cycle, made with the demo key.
    let event = badge_kiosk::eventdir::EventDir::demo(&kiosk.dir.path().join("keys")).unwrap();
    let key = event.event_key.clone().unwrap();
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut reported_saved = 0usize;
    let mut killed_mid_run = 0usize;
    for _ in 0..cycles {
        let codes: String = (0..25)
            .map(|_| {
                let claims = badge_kiosk::domain::code::CodeClaims {
                    code_id: badge_kiosk::domain::code::CodeId::random(),
                    role: badge_kiosk::domain::code::Role::Visitor,
                    holder: None,
                    valid_from: 0,
                    valid_until: u32::MAX,
                };
                format!(
                    "{}\n",
                    badge_kiosk::domain::code::AttendanceCode::sign(&event.definition.event.id, &key, claims)
                        .unwrap()
                        .to_text()
                )
            })
            .collect();
        let mut child = kiosk
            .command()
            .args(["claim", "-", "--phone"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(codes.as_bytes()).unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| {
                    line.split("(record #")
                        .nth(1)
                        .and_then(|rest| rest.split(')').next())
                        .and_then(|n| n.parse::<u64>().ok())
                })
                .collect::<Vec<u64>>()
        });
        std::thread::sleep(Duration::from_millis(next() % 120));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let saved = reader.join().unwrap();
        reported_saved += saved.len();
        let store = Store::open(&kiosk.queue_path("finales-metiers-2026")).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok");
        for sequence in &saved {
            assert!(
                store.record(*sequence).unwrap().is_some(),
                "record #{sequence} was reported saved but is gone"
            );
        }
        let audit = store.audit(&store_device_key(&kiosk)).unwrap();
        assert!(audit.faults.is_empty(), "{:?}", audit.faults);
    }
    eprintln!("power-cut harness: {cycles} cycles, {killed_mid_run} killed mid-run, {reported_saved} awards reported saved, 0 lost");
    assert!(killed_mid_run > 0, "the harness must actually interrupt claims");
}

fn store_device_key(kiosk: &TestKiosk) -> ed25519_dalek::VerifyingKey {
    let text = std::fs::read_to_string(kiosk.data_dir().join("finales-metiers-2026").join("device.key")).unwrap();
    let bytes: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
    ed25519_dalek::SigningKey::from_bytes(&bytes).verifying_key()
}
