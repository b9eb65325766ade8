//! Issue 20, items 3, 5 and 6: what the kiosk promises about the phone link and what the
//! console shows of the kiosks is what happens. A link made at any kiosk opens the one
//! award; "ready now" only while the claim address is reached; the fleet figures are the
//! kiosk's own after every pass, records or not. Real kiosks (the binary, or `KioskCore`
//! with the real sync), real hubs on loopback.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::hub::relay::{relay_once, HttpTransport, RelaySettings};
use badge_kiosk::kiosk::{Delivery, KioskCore};
use badge_kiosk::store::Store;
use badge_kiosk::sync::client::{sync_once, ClaimAddress};
use badge_kiosk::sync::schedule::{claim_readiness, ClaimReadiness, SyncHealth, SyncPolicy};

use crate::helpers::{
    kiosk_sync_settings, runtime, start_hub, start_hub_tls, visitor_code, FixedClock, LoopbackHub, TestKiosk, NOW_MS,
};

/// A kiosk of `event` run through the binary, with its own data directory and kiosk id.
fn kiosk(event: &EventDir, id: &str) -> (TestKiosk, impl Fn(&[&str]) -> String) {
    let kiosk = TestKiosk {
        dir: tempfile::tempdir().unwrap(),
        event: Some(event.dir.clone()),
    };
    let data = kiosk.data_dir();
    let home = kiosk.dir.path().to_owned();
    let event_dir = event.dir.clone();
    let id = id.to_owned();
    let run = move |args: &[&str]| {
        let output = std::process::Command::new(crate::helpers::binary())
            .env_remove("BADGE_KIOSK_CONFIG")
            .env("HOME", &home)
            .env("BADGE_KIOSK_KIOSK_ID", &id)
            .arg("--data-dir")
            .arg(&data)
            .arg("--event")
            .arg(&event_dir)
            .args(args)
            .output()
            .expect("run badge-kiosk");
        assert!(
            output.status.success(),
            "badge-kiosk {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    (kiosk, run)
}

fn get(runtime: &tokio::runtime::Runtime, url: &str) -> (u16, String) {
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let response = client
            .get(url)
            .header("accept-language", "en")
            .send()
            .await
            .expect("the hub answers");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    })
}

fn count(hub: &LoopbackHub, sql: &str) -> i64 {
    hub.state
        .store
        .lock()
        .unwrap()
        .connection()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

/// Issue 20 item 3: V1 chose email at kiosk A; at kiosk B the same visitor takes the same
/// badge on a phone. B's record is a duplicate on the hub, and its link opens the award as
/// soon as B has synced: the claim page, the credential, the email form.
#[test]
fn a_phone_link_made_at_another_kiosk_opens_the_one_award() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let hub = start_hub(&runtime, &dir.path().join("hub.sqlite"), &event, || NOW_MS);
    let v1 = visitor_code(&event, None);
    let (_a, kiosk_a) = kiosk(&event, "hall-a");
    let (_b, kiosk_b) = kiosk(&event, "hall-b");

    let saved = kiosk_a(&["claim", &v1, "--email", "v1@example.org"]);
    assert!(saved.starts_with("saved:"), "{saved}");
    let at_b = kiosk_b(&["claim", &v1, "--phone"]);
    let link = at_b
        .split("claim link: ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("kiosk B gives a claim link: {at_b}"));
    let path = format!("/claim/{}", link.rsplit("/claim/").next().unwrap());

    // Kiosk A syncs first: the award is A's (an email); B's link is not there yet.
    kiosk_a(&["sync", "--hub", &hub.url()]);
    let (status, page) = get(&runtime, &format!("{}{path}", hub.url()));
    assert_eq!(status, 404);
    // "On its way", with the time expected: a kiosk was just in touch.
    assert!(page.contains("Your badge is on its way"), "{page}");
    assert!(page.contains("in touch with this site 0 min ago"), "{page}");
    // B's record reaches the hub: kept as a duplicate, and its link opens the award.
    let synced = kiosk_b(&["sync", "--hub", &hub.url()]);
    assert!(synced.contains("synced 1"), "{synced}");
    assert_eq!(count(&hub, "SELECT COUNT(*) FROM awards"), 1);
    assert_eq!(
        count(&hub, "SELECT COUNT(*) FROM records WHERE outcome = 'duplicate'"),
        1,
        "B's record stays a duplicate"
    );
    let (status, page) = get(&runtime, &format!("{}{path}", hub.url()));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("I attended the National Skills Finals 2026"), "{page}");
    let (status, credential) = get(&runtime, &format!("{}{path}/credential.json", hub.url()));
    assert_eq!(status, 200, "{credential}");
    let credential: serde_json::Value = serde_json::from_str(&credential).unwrap();
    assert!(
        credential["type"].to_string().contains("OpenBadgeCredential"),
        "{credential}"
    );
    // The token never appears in the credential (only its salted hash does).
    assert!(!credential.to_string().contains(link.rsplit("/claim/").next().unwrap()));
    // Taking it through B's link counts as the award taken.
    assert_eq!(
        count(&hub, "SELECT COUNT(*) FROM awards WHERE claimed_ms IS NOT NULL"),
        1
    );
    // Still one award after a second pass of both kiosks.
    kiosk_a(&["sync", "--hub", &hub.url()]);
    kiosk_b(&["sync", "--hub", &hub.url()]);
    assert_eq!(count(&hub, "SELECT COUNT(*) FROM awards"), 1);
    assert_eq!(get(&runtime, &format!("{}{path}", hub.url())).0, 200);
}

/// Issue 20 item 6: the queue a kiosk reports is the one after the pass, and a pass with
/// nothing to send still tells the hub the kiosk is there ("last seen" moves).
#[test]
fn the_fleet_figures_are_current_after_every_pass_even_an_empty_one() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW_MS));
    let hub_clock = Arc::clone(&clock);
    let hub = start_hub(&runtime, &dir.path().join("hub.sqlite"), &event, move || {
        hub_clock.load(Ordering::SeqCst)
    });
    let (_a, kiosk_a) = kiosk(&event, "hall-a");
    for _ in 0..3 {
        kiosk_a(&["claim", &visitor_code(&event, None), "--phone"]);
    }
    kiosk_a(&["sync", "--hub", &hub.url()]);
    let seen = |hub: &LoopbackHub| {
        let fleet = hub.state.store.lock().unwrap().kiosk_fleet().unwrap();
        let kiosk = fleet.into_iter().find(|kiosk| kiosk.kiosk_id == "hall-a").unwrap();
        (kiosk.last_seen_ms, kiosk.queue_waiting, kiosk.records)
    };
    assert_eq!(seen(&hub), (NOW_MS, Some(0), 3), "the queue after the pass, not before");

    // An hour later, a pass with nothing to send.
    clock.store(NOW_MS + 3_600_000, Ordering::SeqCst);
    let synced = kiosk_a(&["sync", "--hub", &hub.url()]);
    assert!(synced.contains("sent 0"), "{synced}");
    assert_eq!(seen(&hub), (NOW_MS + 3_600_000, Some(0), 3));
    // The console's kiosks page says so: seen just now, nothing waiting.
    let (status, page) = crate::helpers::console_page(&runtime, &hub, "/console/kiosks");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("hall-a"), "{page}");
    assert!(
        page.contains("1 active, 0 quiet for more than 30 min") || page.contains("1 active, 0 silencieuse"),
        "an idle healthy kiosk is active, not quiet: {page}"
    );
}

/// The demo event whose phone links point at `claim_url` (a public hub).
fn event_claimed_at(dir: &std::path::Path, event: &EventDir, claim_url: &str) -> EventDir {
    let copy = dir.join("venue-event");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in walk(&event.dir) {
        let relative = entry.strip_prefix(&event.dir).unwrap();
        let target = copy.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    let toml = std::fs::read_to_string(copy.join("event.toml")).unwrap();
    assert!(
        toml.contains("https://claim.example.org"),
        "the demo's claim address moved"
    );
    std::fs::write(
        copy.join("event.toml"),
        toml.replace("https://claim.example.org", claim_url),
    )
    .unwrap();
    EventDir::load(&copy).unwrap()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Issue 20 item 5: with a venue hub relaying to the public hub (the claim address), the
/// kiosk says "ready now" only while the venue hub's relay reaches the public hub; with the
/// public hub stopped it says the link works after a later sync.
#[test]
fn ready_now_only_while_the_public_hub_is_reached() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let demo = EventDir::demo(dir.path()).unwrap();
    let public = start_hub_tls(&runtime, &dir.path().join("public.sqlite"), &demo, || NOW_MS);
    let event = event_claimed_at(dir.path(), &demo, &public.url());
    let venue = start_hub_tls(&runtime, &dir.path().join("venue.sqlite"), &event, || NOW_MS);

    let data = dir.path().join("kiosk");
    let mut core = KioskCore::open(event.clone(), &data, Some("hall-a"), Box::new(FixedClock)).unwrap();
    let visitor = core.identify(&visitor_code(&event, None)).unwrap();
    core.claim(&visitor, None, Delivery::Phone).unwrap();
    let mut settings = kiosk_sync_settings(&venue.url(), &core).pinned(venue.tls_pin);
    settings.claim_base = core.claim_base().unwrap();
    assert_eq!(settings.claim_base.as_deref(), Some(public.url().as_str()));
    let store = Arc::new(Mutex::new(Store::open(&data.join("queue.sqlite")).unwrap()));
    let http = settings.http_client().unwrap();
    let pass = || {
        runtime
            .block_on(sync_once(&store, &settings, &http, |_, _| {}))
            .expect("the kiosk reaches the venue hub")
    };
    let policy = SyncPolicy::default();
    let readiness = |address: ClaimAddress| {
        let health = SyncHealth {
            last_success_ms: Some(NOW_MS),
            last_failed: false,
            claim_reached: address == ClaimAddress::Reached,
        };
        claim_readiness(&health, &policy, NOW_MS)
    };

    // The venue hub never reached the public hub yet: no promise of "now".
    let first = pass();
    assert_eq!(first.synced, 1, "{first:?}");
    assert_eq!(first.claim_address, ClaimAddress::NotReached);
    assert_eq!(readiness(first.claim_address), ClaimReadiness::AfterSync { minutes: 5 });

    // The relay reaches the public hub: ready now, and the link works there.
    let relay = RelaySettings::new(&public.url()).pinned(public.tls_pin);
    let transport = HttpTransport::new(&relay).unwrap();
    runtime
        .block_on(relay_once(&venue.state, &relay, &transport, |_, _| {}))
        .expect("the relay reaches the public hub");
    let reached = pass();
    assert_eq!(reached.claim_address, ClaimAddress::Reached, "{reached:?}");
    assert_eq!(readiness(reached.claim_address), ClaimReadiness::Seconds);
    // An idle relay (nothing new) still proves the public hub is there.
    runtime
        .block_on(relay_once(&venue.state, &relay, &transport, |_, _| {}))
        .expect("an empty relay pass reaches the public hub");
    assert_eq!(pass().claim_address, ClaimAddress::Reached);

    // The public hub stops: once the relay fails, the kiosk no longer says "ready now".
    let LoopbackHub { stop, .. } = public;
    let _ = stop.send(());
    let deadline = Instant::now() + Duration::from_secs(60);
    while runtime
        .block_on(relay_once(&venue.state, &relay, &transport, |_, _| {}))
        .is_ok()
    {
        assert!(Instant::now() < deadline, "the stopped public hub still answers");
        std::thread::sleep(Duration::from_millis(100));
    }
    let unreachable = pass();
    assert_eq!(unreachable.claim_address, ClaimAddress::NotReached);
    assert_eq!(
        readiness(unreachable.claim_address),
        ClaimReadiness::AfterSync { minutes: 5 }
    );
}
