//! Issue 17, "the path to the phone": a venue hub relays its kiosks' records to the
//! organiser's public hub (the one at the event's claim address), over the kiosks' upload
//! protocol, exactly once, trusting only answers signed with the event key. Real hubs on
//! loopback HTTPS (each with its own pinned certificate), real kiosks' records.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::hub::relay::{relay_once, HttpTransport, RelayError, RelaySettings, RelaySummary, RelayTransport};
use badge_kiosk::hub::server::SharedHub;
use badge_kiosk::kiosk::{Delivery, KioskCore};
use badge_kiosk::store::Store;
use badge_kiosk::sync::client::sync_once;
use badge_kiosk::sync::protocol::{UploadRequest, UploadResponse};

use crate::helpers::{
    fixed_now_ms as now_ms, kiosk_sync_settings, runtime, start_hub_tls, visitor_code, FixedClock, LoopbackHub,
    TestKiosk,
};

/// A venue hub that heard from three kiosks: a food pathway completed across them (no
/// kiosk alone completes it, the hub does), a phone claim, an email claim, and a visitor
/// who claimed the same badge at two kiosks.
struct Venue {
    hub: LoopbackHub,
    /// The claim link's token (base32) of the phone claim.
    phone_token: String,
}

fn venue(runtime: &tokio::runtime::Runtime, dir: &std::path::Path, event: &EventDir) -> Venue {
    std::fs::create_dir_all(dir.join("venue")).unwrap();
    let hub = start_hub_tls(runtime, &dir.join("venue").join("hub.sqlite"), event, now_ms);
    let pathway_visitor = visitor_code(event, None);
    let twice = visitor_code(event, Some("R2"));
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(badge_kiosk::sync::pinning::pinned_client_config(
            hub.tls_pin.expect("a TLS hub"),
        ))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for (index, stands) in [vec!["boulangerie", "orientation"], vec!["patisserie"], vec!["cuisine"]]
        .into_iter()
        .enumerate()
    {
        let data = dir.join(format!("kiosk-{index}"));
        let mut core = KioskCore::open(
            event.clone(),
            &data,
            Some(&format!("hall-{index}")),
            Box::new(FixedClock),
        )
        .unwrap();
        let visitor = core.identify(&pathway_visitor).unwrap();
        for stand in stands {
            core.record_step(&visitor, stand).unwrap();
        }
        match index {
            0 => {
                let phone = core.identify(&visitor_code(event, None)).unwrap();
                core.claim(&phone, None, Delivery::Phone).unwrap();
            }
            1 => {
                let emailed = core.identify(&visitor_code(event, None)).unwrap();
                core.claim(&emailed, None, Delivery::Email("ana@example.org".into()))
                    .unwrap();
            }
            _ => {}
        }
        if index > 0 {
            let visitor = core.identify(&twice).unwrap();
            core.claim(&visitor, None, Delivery::Registration).unwrap();
        }
        let store = Arc::new(Mutex::new(Store::open(&data.join("queue.sqlite")).unwrap()));
        let settings = kiosk_sync_settings(&hub.url(), &core).pinned(hub.tls_pin);
        let summary = runtime
            .block_on(sync_once(&store, &settings, &client, |_, _| {}))
            .expect("the kiosk syncs to the venue hub");
        assert_eq!(summary.remaining, 0, "{summary:?}");
    }
    let phone_token: String = hub
        .state
        .store
        .lock()
        .unwrap()
        .connection()
        .query_row(
            "SELECT claim_token FROM awards WHERE claim_token IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .expect("the phone claim's award");
    let token = hex::decode(phone_token.trim_start_matches("claim-token:")).unwrap();
    Venue {
        hub,
        phone_token: badge_kiosk::domain::base32::encode(&token),
    }
}

fn relay_settings(public: &LoopbackHub) -> RelaySettings {
    RelaySettings::new(&public.url()).pinned(public.tls_pin)
}

fn relay(
    runtime: &tokio::runtime::Runtime,
    venue: &SharedHub,
    settings: &RelaySettings,
    transport: &impl RelayTransport,
) -> Result<RelaySummary, RelayError> {
    runtime.block_on(relay_once(venue, settings, transport, |_, _| {}))
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

/// Each record once: (records, distinct records, awards, pathway awards the hub merged).
fn figures(hub: &LoopbackHub) -> (i64, i64, i64, i64) {
    (
        count(hub, "SELECT COUNT(*) FROM records"),
        count(hub, "SELECT COUNT(DISTINCT record_hash) FROM records"),
        count(hub, "SELECT COUNT(*) FROM awards"),
        count(
            hub,
            "SELECT COUNT(*) FROM awards WHERE kind = 'pathway' AND source_kiosk IS NULL",
        ),
    )
}

fn get(runtime: &tokio::runtime::Runtime, hub: &LoopbackHub, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(badge_kiosk::sync::pinning::pinned_client_config(
            hub.tls_pin.expect("a TLS hub"),
        ))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = client
            .get(format!("{}{path}", hub.url()))
            .header("accept-language", "en")
            .send()
            .await
            .expect("the public hub answers");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    })
}

#[test]
fn a_venue_hub_relays_to_the_public_hub_whose_claim_page_serves_the_badge() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let venue = venue(&runtime, dir.path(), &event);
    let public = start_hub_tls(&runtime, &dir.path().join("public.sqlite"), &event, now_ms);
    let (records, _, awards, pathways) = figures(&venue.hub);
    assert_eq!(pathways, 1, "the venue hub completed the pathway across its kiosks");

    // Before the relay, the public hub knows nothing of the claim.
    let claim = format!("/claim/{}", venue.phone_token);
    assert_eq!(get(&runtime, &public, &claim).0, 404);

    let settings = relay_settings(&public);
    let transport = HttpTransport::new(&settings).unwrap();
    let summary = relay(&runtime, &venue.hub.state, &settings, &transport).expect("the relay passes");
    assert_eq!(
        (summary.sent, summary.relayed, summary.refused, summary.remaining),
        (records as usize, records as usize, 0, 0),
        "{summary:?}"
    );
    assert_eq!(
        summary.duplicates, 1,
        "the visitor who claimed at two kiosks: {summary:?}"
    );
    // The public hub holds exactly the kiosks' records; the pathway award was not sent
    // (it is no record) but computed again from the relayed steps.
    assert_eq!(figures(&public), (records, records, awards, 1));
    // The clear email went with its record, so the public hub can issue by email too.
    assert_eq!(
        count(
            &public,
            "SELECT COUNT(*) FROM record_emails WHERE email = 'ana@example.org'"
        ),
        1
    );

    let (status, page) = get(&runtime, &public, &claim);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("I attended the National Skills Finals 2026"), "{page}");
    let (status, credential) = get(&runtime, &public, &format!("{claim}/credential.json"));
    assert_eq!(status, 200, "{credential}");
    let credential: serde_json::Value = serde_json::from_str(&credential).expect("the credential is JSON");
    assert!(
        credential["type"].to_string().contains("OpenBadgeCredential"),
        "{credential}"
    );

    // The organiser sees where the relay stands, in `hub status`…
    let counts = venue.hub.state.store.lock().unwrap().relay_counts().unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (
            counts[0].target.as_str(),
            counts[0].relayed,
            counts[0].refused,
            counts[0].waiting
        ),
        (public.url().as_str(), records as u64, 0, 0)
    );
    // … and on the console's kiosks page.
    let (status, page) = crate::helpers::console_page(&runtime, &venue.hub, "/console/kiosks");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!(
            "{}: {records} records relayed, 0 refused for good, 0 waiting",
            public.url()
        )) || page.contains(&format!("{} : {records} enregistrements relayés", public.url())),
        "{page}"
    );
}

/// Forwards each upload to the real public hub, then loses the answer of the first
/// `lose` ones: the public hub stored the batch, the venue hub never heard so.
struct LosingTransport {
    inner: HttpTransport,
    lose: usize,
    calls: Mutex<usize>,
}

impl RelayTransport for LosingTransport {
    async fn upload(&self, request: &UploadRequest) -> Result<UploadResponse, RelayError> {
        let answer = self.inner.upload(request).await;
        let call = {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        if call <= self.lose {
            answer?;
            return Err(RelayError::Transient("the connection dropped before the answer".into()));
        }
        answer
    }
}

#[test]
fn a_lost_answer_or_a_second_pass_never_duplicates_a_record() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let venue = venue(&runtime, dir.path(), &event);
    let public = start_hub_tls(&runtime, &dir.path().join("public.sqlite"), &event, now_ms);
    let (records, _, awards, _) = figures(&venue.hub);
    let mut settings = relay_settings(&public);
    // One record per upload, so a lost answer falls in the middle of a pass.
    settings.batch_records = 1;

    let losing = LosingTransport {
        inner: HttpTransport::new(&settings).unwrap(),
        lose: 1,
        calls: Mutex::new(0),
    };
    let error = relay(&runtime, &venue.hub.state, &settings, &losing).expect_err("the answer was lost");
    assert!(matches!(error, RelayError::Transient(_)), "{error}");
    // The public hub stored the first upload; the venue hub marked nothing.
    assert_eq!(figures(&public).0, 1);
    assert!(venue.hub.state.store.lock().unwrap().relay_counts().unwrap().is_empty());

    // Again: the stored record is answered "accepted" once more, not stored twice.
    let summary = relay(&runtime, &venue.hub.state, &settings, &losing).expect("the relay passes");
    assert_eq!(
        (summary.relayed, summary.remaining),
        (records as usize, 0),
        "{summary:?}"
    );
    assert_eq!(figures(&public), (records, records, awards, 1));

    // A second pass sends nothing new and changes nothing.
    let transport = HttpTransport::new(&settings).unwrap();
    let again = relay(&runtime, &venue.hub.state, &settings, &transport).expect("the relay passes");
    assert_eq!(again, RelaySummary::default());
    assert_eq!(figures(&public), (records, records, awards, 1));

    // A new record at the venue goes alone, at the next pass.
    let data = dir.path().join("kiosk-late");
    let mut core = KioskCore::open(event.clone(), &data, Some("hall-late"), Box::new(FixedClock)).unwrap();
    let visitor = core.identify(&visitor_code(&event, None)).unwrap();
    core.claim(&visitor, None, Delivery::Phone).unwrap();
    let store = Arc::new(Mutex::new(Store::open(&data.join("queue.sqlite")).unwrap()));
    let kiosk_settings = kiosk_sync_settings(&venue.hub.url(), &core).pinned(venue.hub.tls_pin);
    runtime
        .block_on(sync_once(
            &store,
            &kiosk_settings,
            &reqwest::Client::builder()
                .use_preconfigured_tls(badge_kiosk::sync::pinning::pinned_client_config(
                    venue.hub.tls_pin.unwrap(),
                ))
                .build()
                .unwrap(),
            |_, _| {},
        ))
        .unwrap();
    let late = relay(&runtime, &venue.hub.state, &settings, &transport).expect("the relay passes");
    assert_eq!((late.sent, late.relayed), (1, 1), "{late:?}");
    assert_eq!(figures(&public).0, records + 1);
}

#[test]
fn unsigned_or_mis_signed_answers_mark_nothing() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let venue = venue(&runtime, dir.path(), &event);
    // Impostors at the public hub's place: a hub without the event key (it answers
    // unsigned), and one that signs with a key of its own.
    let mut keyless = event.clone();
    keyless.event_key = None;
    let mut other_key = event.clone();
    other_key.event_key = Some(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    for (name, impostor_event) in [("unsigned", keyless), ("mis-signed", other_key)] {
        let impostor = start_hub_tls(
            &runtime,
            &dir.path().join(format!("{name}.sqlite")),
            &impostor_event,
            now_ms,
        );
        let settings = relay_settings(&impostor);
        let transport = HttpTransport::new(&settings).unwrap();
        let error = relay(&runtime, &venue.hub.state, &settings, &transport).expect_err(name);
        assert!(
            matches!(&error, RelayError::Transient(text) if text.contains("nothing was marked")),
            "{name}: {error}"
        );
        let counts = venue.hub.state.store.lock().unwrap().relay_counts().unwrap();
        assert!(counts.is_empty(), "{name}: {counts:?}");
    }
    // A certificate other than the pinned one: refused before anything is sent.
    let public = start_hub_tls(&runtime, &dir.path().join("public.sqlite"), &event, now_ms);
    let settings = RelaySettings::new(&public.url()).pinned(Some([1; 32]));
    let transport = HttpTransport::new(&settings).unwrap();
    let error = relay(&runtime, &venue.hub.state, &settings, &transport).expect_err("wrong pin");
    assert!(matches!(error, RelayError::Transient(_)), "{error}");
    assert_eq!(figures(&public).0, 0);
    // Plain HTTP only with the explicit flag.
    assert!(matches!(
        HttpTransport::new(&RelaySettings::new("http://127.0.0.1:9")),
        Err(RelayError::Blocked(_))
    ));
}

/// `badge-kiosk hub relay` on the venue hub's data: the figures, then "nothing new".
#[test]
fn hub_relay_reports_its_figures_and_a_second_run_sends_nothing() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let venue = venue(&runtime, dir.path(), &event);
    let public = start_hub_tls(&runtime, &dir.path().join("public.sqlite"), &event, now_ms);
    let (records, _, awards, _) = figures(&venue.hub);
    let cli = TestKiosk {
        dir: tempfile::tempdir().unwrap(),
        event: Some(event.dir.clone()),
    };
    let venue_data = dir.path().join("venue");
    let pin = hex::encode(public.tls_pin.unwrap());
    let args = [
        "hub",
        "relay",
        "--data",
        venue_data.to_str().unwrap(),
        "--to",
        &public.url(),
        "--relay-pin",
        &pin,
    ];
    let first = cli.ok(&args);
    assert!(
        first.contains(&format!(
            "relayed {records} (1 the public hub already held from another kiosk), refused 0, waiting 0"
        )),
        "{first}"
    );
    let second = cli.ok(&args);
    assert!(second.contains("nothing new to relay"), "{second}");
    assert_eq!(figures(&public), (records, records, awards, 1));
    let status = cli.ok(&["hub", "status", "--data", venue_data.to_str().unwrap()]);
    assert!(
        status.contains(&format!(
            "relayed to {}: {records} relayed, 0 refused, 0 waiting",
            public.url()
        )),
        "{status}"
    );
    // Plain HTTP is refused without the explicit flag, before anything is read or sent.
    let output = cli.run(&[
        "hub",
        "relay",
        "--data",
        venue_data.to_str().unwrap(),
        "--to",
        &format!("http://{}", public.address),
    ]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--insecure-http"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `hub serve --relay-to`: records a kiosk syncs to the venue hub reach the public hub
/// shortly after, by the relay the upload triggers (its periodic pass is set to an hour,
/// so only the trigger can deliver within the test's patience).
#[test]
fn hub_serve_relays_new_records_shortly_after_they_arrive() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let public = start_hub_tls(&runtime, &dir.path().join("public.sqlite"), &event, now_ms);
    let pin = hex::encode(public.tls_pin.unwrap());
    let public_url = public.url();
    let venue = crate::enrol::Hub::start(
        &event.dir,
        &dir.path().join("venue-process"),
        &[
            "--insecure-http",
            "--relay-to",
            &public_url,
            "--relay-pin",
            &pin,
            "--relay-interval",
            "1h",
        ],
    );
    let data = dir.path().join("kiosk");
    let mut core = KioskCore::open(event.clone(), &data, Some("hall-a"), Box::new(FixedClock)).unwrap();
    for _ in 0..3 {
        let visitor = core.identify(&visitor_code(&event, None)).unwrap();
        core.claim(&visitor, None, Delivery::Phone).unwrap();
    }
    let store = Arc::new(Mutex::new(Store::open(&data.join("queue.sqlite")).unwrap()));
    let settings = kiosk_sync_settings(&venue.url, &core);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let summary = runtime
        .block_on(sync_once(&store, &settings, &client, |_, _| {}))
        .expect("the kiosk syncs to the venue hub");
    assert_eq!(summary.synced, 3, "{summary:?}");
    crate::ui_e2e::wait_for(
        "the records at the public hub",
        Duration::from_secs(120),
        || figures(&public).0 == 3,
        || {
            let logs: String = std::fs::read_dir(dir.path().join("venue-process"))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|entry| entry.file_name().to_string_lossy().ends_with(".log"))
                .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
                .collect();
            format!(
                "the public hub holds {:?}; the venue hub said:\n{logs}",
                figures(&public)
            )
        },
    );
    assert_eq!(figures(&public), (3, 3, 3, 0));
}
