//! Issue 21, findings 9, 13 and 14, tried against the real binary and hubs on loopback:
//! a heartbeat that is not the kiosk's (a certificate alone, as in every USB export, a
//! replay, a forged signature) changes nothing on the console; the kiosk's sync and the
//! relay never follow a redirect (a 307 to `http://` would re-send typed emails in clear);
//! claim tokens and live enrolment codes are written 0600.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::hub::relay::{relay_once, HttpTransport, RelaySettings};
use badge_kiosk::hub::store::KioskStatus;
use badge_kiosk::kiosk::{Delivery, KioskCore};
use badge_kiosk::store::Store;
use badge_kiosk::sync::client::{sync_once, upload_request};
use badge_kiosk::sync::protocol::UploadRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    binary, kiosk_sync_settings, runtime, start_hub, start_hub_tls, visitor_code, FixedClock, LoopbackHub, TestKiosk,
    NOW_MS,
};

fn pinned_client(hub: &LoopbackHub) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(badge_kiosk::sync::pinning::pinned_client_config(
            hub.tls_pin.expect("a TLS hub"),
        ))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn post(runtime: &tokio::runtime::Runtime, hub: &LoopbackHub, request: &UploadRequest) -> u16 {
    runtime.block_on(async {
        pinned_client(hub)
            .post(format!("{}/api/v1/records", hub.url()))
            .json(request)
            .send()
            .await
            .expect("the hub answers")
            .status()
            .as_u16()
    })
}

fn fleet_entry(hub: &LoopbackHub, kiosk_id: &str) -> KioskStatus {
    hub.state
        .store
        .lock()
        .unwrap()
        .kiosk_fleet()
        .unwrap()
        .into_iter()
        .find(|kiosk| kiosk.kiosk_id == kiosk_id)
        .expect("the kiosk is in the fleet")
}

/// Finding 13: an empty upload carrying only a kiosk's certificate rewrote its last seen,
/// queue, version, stand and clock offset. Now only a heartbeat signed by the kiosk's
/// device key, with a counter larger than the last, counts; a replay of it does not.
#[test]
fn finding_13_only_the_kiosks_own_fresh_heartbeat_changes_its_fleet_figures() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW_MS));
    let hub_clock = Arc::clone(&clock);
    let hub = start_hub_tls(&runtime, &dir.path().join("hub.sqlite"), &event, move || {
        hub_clock.load(Ordering::SeqCst)
    });
    let data = dir.path().join("kiosk");
    let mut core = KioskCore::open(event.clone(), &data, Some("hall-a"), Box::new(FixedClock)).unwrap();
    let visitor = core.identify(&visitor_code(&event, None)).unwrap();
    core.claim(&visitor, None, Delivery::Email("ada@example.org".into()))
        .unwrap();
    let store = Arc::new(Mutex::new(Store::open(&data.join("queue.sqlite")).unwrap()));
    let mut settings = kiosk_sync_settings(&hub.url(), &core).pinned(hub.tls_pin);
    settings.stand = Some("cuisine".into());
    let summary = runtime
        .block_on(sync_once(&store, &settings, &pinned_client(&hub), |_, _| {}))
        .expect("the genuine kiosk syncs");
    assert_eq!(summary.synced, 1);
    let genuine = fleet_entry(&hub, "hall-a");
    assert_eq!(genuine.last_seen_ms, NOW_MS);
    assert_eq!(genuine.queue_waiting, Some(0));
    assert_eq!(genuine.stand.as_deref(), Some("cuisine"));

    // An hour later, someone holding a USB export (the certificate and the records).
    clock.store(NOW_MS + 3_600_000, Ordering::SeqCst);
    let certificate = settings.certificate_hex.clone();
    let claims = |request: &mut UploadRequest| {
        request.software_version = Some("6.6.6-evil".into());
        request.queue_waiting = Some(999);
        request.kiosk_clock_ms = Some(NOW_MS + 86_400_000 * 365);
        request.stand = Some("nowhere".into());
        request.nonce = Some(hex::encode([5u8; 32]));
    };
    let mut certificate_only = UploadRequest {
        event_id: event.definition.event.id.clone(),
        certificate: certificate.clone(),
        ..UploadRequest::default()
    };
    claims(&mut certificate_only);
    assert_eq!(post(&runtime, &hub, &certificate_only), 200);
    assert_eq!(
        fleet_entry(&hub, "hall-a"),
        genuine,
        "a certificate alone changes nothing"
    );

    // The export itself, replayed: records the hub already holds, nothing new.
    let records = store.lock().unwrap().records(0, usize::MAX).unwrap();
    let mut export = upload_request(&event.definition.event.id, &certificate, &records);
    claims(&mut export);
    assert_eq!(post(&runtime, &hub, &export), 200);
    assert_eq!(
        fleet_entry(&hub, "hall-a"),
        genuine,
        "a replayed export changes nothing"
    );

    // A heartbeat signed with another key.
    let mut forged = certificate_only.clone();
    assert!(forged.sign_heartbeat("hall-a", u64::MAX / 2, &ed25519_dalek::SigningKey::from_bytes(&[7; 32])));
    assert_eq!(post(&runtime, &hub, &forged), 200);
    assert_eq!(
        fleet_entry(&hub, "hall-a"),
        genuine,
        "a forged heartbeat changes nothing"
    );

    // The kiosk's own heartbeat counts once…
    let next = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap() + 60_000;
    let mut heartbeat = UploadRequest {
        event_id: event.definition.event.id.clone(),
        certificate,
        nonce: Some(hex::encode([6u8; 32])),
        software_version: Some("1.2.3".into()),
        queue_waiting: Some(2),
        kiosk_clock_ms: Some(NOW_MS + 3_600_000),
        stand: Some("patisserie".into()),
        ..UploadRequest::default()
    };
    assert!(heartbeat.sign_heartbeat("hall-a", next, core.device_key()));
    assert_eq!(post(&runtime, &hub, &heartbeat), 200);
    let fresh = fleet_entry(&hub, "hall-a");
    assert_eq!(
        (
            fresh.last_seen_ms,
            fresh.queue_waiting,
            fresh.stand.as_deref(),
            fresh.software_version.as_deref()
        ),
        (NOW_MS + 3_600_000, Some(2), Some("patisserie"), Some("1.2.3"))
    );
    // … and captured and replayed later, changes nothing.
    clock.store(NOW_MS + 7_200_000, Ordering::SeqCst);
    assert_eq!(post(&runtime, &hub, &heartbeat), 200);
    assert_eq!(
        fleet_entry(&hub, "hall-a"),
        fresh,
        "a replayed heartbeat changes nothing"
    );
    // Edited figures under the kiosk's signature: refused as well.
    let mut edited = heartbeat.clone();
    edited.heartbeat_counter = Some(next + 1);
    edited.queue_waiting = Some(0);
    assert_eq!(post(&runtime, &hub, &edited), 200);
    assert_eq!(
        fleet_entry(&hub, "hall-a"),
        fresh,
        "an edited heartbeat changes nothing"
    );
}

/// A server that answers every request with a 307 to `target`, and one that counts the
/// bytes it receives: what a hostile machine on the venue network would set up.
struct Redirection {
    /// The redirecting server's address (`http://127.0.0.1:PORT`).
    url: String,
    /// Bytes that reached the plain-HTTP sink the redirection points at.
    received: Arc<AtomicUsize>,
}

fn redirection(runtime: &tokio::runtime::Runtime) -> Redirection {
    let sink = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let sink_address = sink.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&received);
    runtime.spawn(async move {
        while let Ok((mut stream, _)) = sink.accept().await {
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                    counted.fetch_add(read, Ordering::SeqCst);
                }
            });
        }
    });
    let redirector = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", redirector.local_addr().unwrap());
    runtime.spawn(async move {
        while let Ok((mut stream, _)) = redirector.accept().await {
            tokio::spawn(async move {
                // Read the whole request (head and body), then answer.
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = text[..head_end]
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|value| value.trim().parse().ok())
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + length {
                        break;
                    }
                }
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{sink_address}/api/v1/records\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Redirection { url, received }
}

/// Finding 9: the kiosk's sync (the binary) and the relay followed a 307 to `http://` and
/// sent the body there again, typed emails included. Now neither follows any redirect:
/// the pass fails, records and emails stay where they are, the sink gets nothing.
#[test]
fn finding_9_sync_and_relay_follow_no_redirect() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let trap = redirection(&runtime);

    // The kiosk, through the real binary.
    let kiosk = TestKiosk {
        dir: tempfile::tempdir().unwrap(),
        event: Some(event.dir.clone()),
    };
    let email = "ada.secret@example.org";
    kiosk.ok(&["claim", &visitor_code(&event, None), "--email", email]);
    let output = kiosk.run(&["sync", "--hub", &trap.url]);
    assert!(!output.status.success(), "a redirect is not an answer");
    assert_eq!(
        trap.received.load(Ordering::SeqCst),
        0,
        "nothing reached the redirect's target"
    );
    let status = kiosk.ok(&["queue", "status"]);
    assert!(status.contains("queued 1, synced 0"), "{status}");

    // The relay of a venue hub holding a typed email.
    let venue = start_hub(&runtime, &dir.path().join("venue.sqlite"), &event, || NOW_MS);
    let data = dir.path().join("kiosk-lib");
    let mut core = KioskCore::open(event.clone(), &data, Some("hall-a"), Box::new(FixedClock)).unwrap();
    let visitor = core.identify(&visitor_code(&event, None)).unwrap();
    core.claim(&visitor, None, Delivery::Email(email.into())).unwrap();
    let store = Arc::new(Mutex::new(Store::open(&data.join("queue.sqlite")).unwrap()));
    let settings = kiosk_sync_settings(&venue.url(), &core);
    runtime
        .block_on(sync_once(
            &store,
            &settings,
            &settings.http_client().unwrap(),
            |_, _| {},
        ))
        .expect("the kiosk syncs to the venue hub");
    let relay = RelaySettings::new(&trap.url).plain_http_allowed(true);
    let transport = HttpTransport::new(&relay).unwrap();
    let failure = runtime
        .block_on(relay_once(&venue.state, &relay, &transport, |_, _| {}))
        .expect_err("a redirect is not the public hub's answer");
    assert!(failure.to_string().contains("307"), "{failure}");
    assert_eq!(
        trap.received.load(Ordering::SeqCst),
        0,
        "nothing reached the redirect's target"
    );
    assert!(
        venue.state.store.lock().unwrap().relay_counts().unwrap().is_empty(),
        "nothing was marked as relayed"
    );
}

/// Runs the binary under umask 022 (files 0644 unless the program asks otherwise).
fn under_umask(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(binary())
        .args(args)
        .env_remove("BADGE_KIOSK_CONFIG")
        .output()
        .unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Finding 14: `queue export --out` (claim tokens) and `hub enrol-token --qr` (a live
/// enrolment code) were written 0644. Now 0600, also over an existing file.
#[test]
fn finding_14_claim_tokens_and_enrolment_codes_are_written_0600() {
    let runtime_dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(runtime_dir.path()).unwrap();
    let kiosk = TestKiosk {
        dir: tempfile::tempdir().unwrap(),
        event: Some(event.dir.clone()),
    };
    kiosk.ok(&["claim", &visitor_code(&event, None), "--phone"]);
    let data = kiosk.data_dir();
    let export = runtime_dir.path().join("queue.jsonl");
    let existing = runtime_dir.path().join("existing.csv");
    std::fs::write(&existing, "old").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for (out, format) in [(&export, "jsonl"), (&existing, "csv")] {
        let output = under_umask(&[
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--event".as_ref(),
            event.dir.as_os_str(),
            "queue".as_ref(),
            "export".as_ref(),
            "--format".as_ref(),
            format.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(std::fs::read_to_string(out).unwrap().contains("claim-token:"));
        assert_eq!(mode(out), 0o600, "{}", out.display());
    }

    let qr = runtime_dir.path().join("enrol.png");
    let hub_data = runtime_dir.path().join("hub");
    std::fs::create_dir_all(&hub_data).unwrap();
    let output = under_umask(&[
        "--event".as_ref(),
        event.dir.as_os_str(),
        "hub".as_ref(),
        "enrol-token".as_ref(),
        "--data".as_ref(),
        hub_data.as_os_str(),
        "--hub-url".as_ref(),
        "http://127.0.0.1:8787".as_ref(),
        "--qr".as_ref(),
        qr.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(std::fs::read(&qr).unwrap().starts_with(b"\x89PNG"));
    assert_eq!(mode(&qr), 0o600);
}
