//! Issue #21, findings 8 and 10, reproduced against a hub on loopback: the console's
//! exports carried `claim-token:<hex>` (which opens the visitor's claim page and its email
//! form), and the claim-email limit was per link only (three links aimed at one victim's
//! address gave 9 messages).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::kiosk::{ClaimOutcome, Delivery, KioskCore};
use badge_kiosk::store::Store;
use badge_kiosk::sync::client::sync_once;

use crate::helpers::{console_page, kiosk_sync_settings, runtime, start_hub, visitor_code, FixedClock, LoopbackHub};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// `count` visitors take their badge on a phone at one kiosk, synced to `hub`: their
/// claim tokens (base32, as in the links).
fn phone_claims(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
    event: &EventDir,
    hub: &LoopbackHub,
    count: usize,
) -> Vec<String> {
    let kiosk_dir = dir.join("kiosk");
    let mut core = KioskCore::open(event.clone(), &kiosk_dir, Some("hall-a"), Box::new(FixedClock)).unwrap();
    let tokens = (0..count)
        .map(|_| {
            let visitor = core.identify(&visitor_code(event, None)).unwrap();
            let ClaimOutcome::Saved {
                claim_url: Some(url), ..
            } = core.claim(&visitor, None, Delivery::Phone).unwrap()
            else {
                panic!("the phone claim gave no claim link");
            };
            url.rsplit('/').next().unwrap().to_owned()
        })
        .collect();
    let store = Arc::new(Mutex::new(Store::open(&kiosk_dir.join("queue.sqlite")).unwrap()));
    let settings = kiosk_sync_settings(&hub.url(), &core);
    let client = settings.http_client().unwrap();
    let summary = runtime
        .block_on(sync_once(&store, &settings, &client, |_, _| {}))
        .unwrap();
    assert_eq!(summary.synced, count, "{summary:?}");
    tokens
}

/// Finding 8: nothing in `awards.csv`, `awards.jsonl` or the "needs an email" list opens a
/// visitor's claim page: no `claim-token:`, no token in hex or base32.
#[test]
fn finding_8_console_exports_carry_no_claim_token() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let hub = start_hub(&runtime, &dir.path().join("hub.sqlite"), &event, now_ms);
    let tokens = phone_claims(&runtime, dir.path(), &event, &hub, 2);
    for path in [
        "/console/export/awards.csv",
        "/console/export/awards.jsonl",
        "/console/platform/needs-email.csv",
    ] {
        let (status, body) = console_page(&runtime, &hub, path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!body.contains("claim-token"), "{path}: {body}");
        for token in &tokens {
            let hex_token = hex::encode(badge_kiosk::domain::base32::decode(token).unwrap());
            assert!(
                !body.contains(token.as_str()) && !body.to_lowercase().contains(&hex_token),
                "{path} gives the claim link away: {body}"
            );
        }
        assert_eq!(
            body.matches("claim-link").count(),
            2,
            "{path} lists both awards and says how they were taken: {body}"
        );
    }
    // The code column is the short id printed on the ticket.
    let (_, csv) = console_page(&runtime, &hub, "/console/export/awards.csv");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|name| *name == "code").expect("a code column");
    let first = csv.lines().nth(1).unwrap().split(',').nth(column).unwrap().to_owned();
    assert!(
        first.len() == 9 && first.as_bytes()[4] == b'-',
        "a short id like 7KQ2-M9PD, not hex: {first}"
    );
}

/// Finding 10: three claim links asked three times each for one victim's address give at
/// most three messages in the hour; the other requests are refused with 429, and another
/// address still gets its message.
#[test]
fn finding_10_the_claim_email_limit_holds_per_recipient_address() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let db = dir.path().join("hub.sqlite");
    let hub = start_hub(&runtime, &db, &event, now_ms);
    let tokens = phone_claims(&runtime, dir.path(), &event, &hub, 4);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let post = |token: &str, email: &str| -> u16 {
        runtime.block_on(async {
            client
                .post(format!("{}/claim/{token}/email", hub.url()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "email={}&lang=en",
                    email.replace('@', "%40").replace(' ', "%20")
                ))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let mut statuses = Vec::new();
    for token in &tokens[..3] {
        for spelling in ["victim@example.org", "Victim@Example.org", " victim@example.org"] {
            statuses.push(post(token, spelling));
        }
    }
    // Without a mail server the form answers 202 "request saved"; either way it is queued.
    let accepted = |status: &u16| *status == 200 || *status == 202;
    assert_eq!(
        statuses.iter().filter(|status| accepted(status)).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 429).count(),
        6,
        "{statuses:?}"
    );
    assert!(accepted(&post(&tokens[3], "someone.else@example.org")));
    let connection = rusqlite::Connection::open(&db).unwrap();
    let to_victim: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM claim_emails WHERE email_sha256 = ?1",
            [badge_kiosk::hub::outbox::address_sha256(&event.definition.event.id, "victim@example.org").as_slice()],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(to_victim, 3, "at most three messages to one address in the hour");
}
