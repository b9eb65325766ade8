//! Sync against the real hub on loopback, with faults injected by a TCP proxy between
//! kiosk and hub: cut connections, 500s, slow answers, answers lost after the hub
//! committed, garbage, duplicated deliveries, and a hub restart.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::hub::store::HubStore;
use badge_kiosk::kiosk::{Delivery, KioskCore};
use badge_kiosk::store::Store;
use badge_kiosk::sync::client::{sync_once, SyncSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{fixed_now_ms as now_ms, runtime, start_hub, visitor_code, FixedClock};

#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    CutRequest,
    Error500,
    LoseAnswer,
    Slow,
    Garbage,
    Duplicate,
}

/// Reads one HTTP message (headers + Content-Length body). None if the peer closed.
async fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
            let length = headers
                .lines()
                .find_map(|line| {
                    line.strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Some(buffer);
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn forward(hub: &str, request: &[u8]) -> Option<Vec<u8>> {
    let mut upstream = TcpStream::connect(hub).await.ok()?;
    upstream.write_all(request).await.ok()?;
    read_message(&mut upstream).await
}

/// A proxy that applies `faults(n)` to the n-th request. One request per connection
/// (the test clients do not keep connections alive).
async fn fault_proxy(hub: Arc<Mutex<String>>, faults: impl Fn(u64) -> Fault + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let counter = Arc::new(AtomicU64::new(0));
    let faults = Arc::new(faults);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let hub = hub.lock().unwrap().clone();
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let fault = faults(n);
            tokio::spawn(async move {
                let Some(request) = read_message(&mut client).await else {
                    return;
                };
                match fault {
                    Fault::CutRequest => {
                        // Half the request reaches the hub, then both sides are cut.
                        if let Ok(mut upstream) = TcpStream::connect(&hub).await {
                            let _ = upstream.write_all(&request[..request.len() / 2]).await;
                        }
                    }
                    Fault::Error500 => {
                        let _ = client
                            .write_all(
                                b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            )
                            .await;
                    }
                    Fault::LoseAnswer => {
                        let _ = forward(&hub, &request).await;
                    }
                    Fault::Slow => {
                        let answer = forward(&hub, &request).await;
                        tokio::time::sleep(Duration::from_millis(1_500)).await;
                        if let Some(answer) = answer {
                            let _ = client.write_all(&answer).await;
                        }
                    }
                    Fault::Garbage => {
                        let _ = forward(&hub, &request).await;
                        let _ = client.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\n{\"answers").await;
                    }
                    Fault::Duplicate => {
                        let _ = forward(&hub, &request).await;
                        if let Some(answer) = forward(&hub, &request).await {
                            let _ = client.write_all(&answer).await;
                        }
                    }
                    Fault::None => {
                        if let Some(answer) = forward(&hub, &request).await {
                            let _ = client.write_all(&answer).await;
                        }
                    }
                }
            });
        }
    });
    address
}

fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(1_000))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Kiosks that each record awards; some visitors claim at two kiosks.
struct Fleet {
    kiosks: Vec<(KioskCore, Arc<Mutex<Store>>, SyncSettings)>,
    unique_visitors: usize,
}

fn fleet(dir: &Path, event: &EventDir, kiosks: usize, awards_per_kiosk: usize, hub: &str) -> Fleet {
    let mut cores: Vec<KioskCore> = (0..kiosks)
        .map(|i| {
            KioskCore::open(
                event.clone(),
                &dir.join(format!("kiosk-{i}")),
                Some(&format!("kiosk-{i}")),
                Box::new(FixedClock),
            )
            .unwrap()
        })
        .collect();
    let mut unique = 0;
    let mut shared_codes = Vec::new();
    for index in 0..awards_per_kiosk {
        for (k, core) in cores.iter_mut().enumerate() {
            // Every fifth award is a visitor already seen at the previous kiosk.
            let code = if index % 5 == 0 && k > 0 {
                shared_codes.last().cloned().unwrap()
            } else {
                unique += 1;
                let code = visitor_code(event, Some("R"));
                shared_codes.push(code.clone());
                code
            };
            let visitor = core.identify(&code).unwrap();
            core.claim(&visitor, None, Delivery::Registration).unwrap();
        }
    }
    let kiosks = cores
        .into_iter()
        .enumerate()
        .map(|(i, core)| {
            let store = Arc::new(Mutex::new(
                Store::open(&dir.join(format!("kiosk-{i}")).join("queue.sqlite")).unwrap(),
            ));
            let certificate = hex::encode(core.certificate().to_bytes().unwrap());
            let mut settings = SyncSettings::new(&format!("http://{hub}"), &event.definition.event.id, &certificate)
                .trusting(event.definition.public_keys());
            settings.batch_records = 100;
            (core, store, settings)
        })
        .collect();
    Fleet {
        kiosks,
        unique_visitors: unique,
    }
}

fn sync_until_done(runtime: &tokio::runtime::Runtime, fleet: &Fleet, max_rounds: usize) {
    let client = test_client();
    for _ in 0..max_rounds {
        let mut remaining = 0;
        for (_, store, settings) in &fleet.kiosks {
            let _ = runtime.block_on(sync_once(store, settings, &client, |_, _| {}));
            remaining += store.lock().unwrap().pending(usize::MAX).unwrap().len();
        }
        if remaining == 0 {
            return;
        }
    }
    panic!("records still queued after {max_rounds} rounds");
}

#[test]
fn five_kiosks_with_random_faults_give_exactly_the_union() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let hub = start_hub(&runtime, &dir.path().join("hub.sqlite"), &event, now_ms);
    let upstream = Arc::new(Mutex::new(hub.address.clone()));
    // A deterministic pseudo-random fault schedule: about 40 % of requests fail somehow.
    let proxy = runtime.block_on(fault_proxy(upstream, |n| {
        let roll = (n.wrapping_mul(2_654_435_761) >> 7) % 100;
        match roll {
            0..=7 => Fault::CutRequest,
            8..=15 => Fault::Error500,
            16..=25 => Fault::LoseAnswer,
            26..=29 => Fault::Slow,
            30..=34 => Fault::Garbage,
            35..=39 => Fault::Duplicate,
            _ => Fault::None,
        }
    }));
    let fleet = fleet(dir.path(), &event, 5, 1_000, &proxy);
    sync_until_done(&runtime, &fleet, 60);
    let hub = HubStore::open(&dir.path().join("hub.sqlite"), event.definition.clone()).unwrap();
    // Exactly the union: one award per distinct visitor, every record once.
    assert_eq!(hub.award_count().unwrap() as usize, fleet.unique_visitors);
    let records: i64 = hub
        .connection()
        .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(records, 5_000);
    let duplicates: i64 = hub
        .connection()
        .query_row("SELECT COUNT(*) FROM records WHERE outcome = 'duplicate'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(duplicates as usize, 5_000 - fleet.unique_visitors);
    for (core, store, _) in &fleet.kiosks {
        let counts = store.lock().unwrap().counts().unwrap();
        assert_eq!(
            (counts.synced, counts.failed, counts.queued),
            (1_000, 0, 0),
            "{}",
            core.kiosk_id()
        );
    }
}

#[test]
fn hub_restart_and_pathway_across_three_kiosks() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let db = dir.path().join("hub.sqlite");
    let hub = start_hub(&runtime, &db, &event, now_ms);
    let address = hub.address.clone();
    let code = visitor_code(&event, Some("R"));
    let mut kiosks: Vec<KioskCore> = (0..3)
        .map(|i| {
            KioskCore::open(
                event.clone(),
                &dir.path().join(format!("k{i}")),
                Some(&format!("k{i}")),
                Box::new(FixedClock),
            )
            .unwrap()
        })
        .collect();
    // Three trade stands at three kiosks, the counsellor at the first: no kiosk alone
    // completes the pathway, the hub does.
    for (kiosk, stands) in
        kiosks
            .iter_mut()
            .zip([vec!["boulangerie", "orientation"], vec!["patisserie"], vec!["cuisine"]])
    {
        let visitor = kiosk.identify(&code).unwrap();
        for stand in stands {
            let outcome = kiosk.record_step(&visitor, stand).unwrap();
            assert!(!outcome.pathways[0].awarded_now);
        }
    }
    let client = test_client();
    let sync = |kiosk: &KioskCore, address: &str| {
        let store = Arc::new(Mutex::new(
            Store::open(&dir.path().join(kiosk.kiosk_id()).join("queue.sqlite")).unwrap(),
        ));
        let settings = SyncSettings::new(
            &format!("http://{address}"),
            &event.definition.event.id,
            &hex::encode(kiosk.certificate().to_bytes().unwrap()),
        )
        .trusting(event.definition.public_keys());
        runtime.block_on(sync_once(&store, &settings, &client, |_, _| {}))
    };
    sync(&kiosks[0], &address).unwrap();
    // The hub restarts (its data stays); the next kiosks sync to the new process.
    hub.stop.send(()).unwrap();
    // Down once its port refuses connections (waiting for that state, not for a time).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&address).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the stopped hub still accepts connections"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        sync(&kiosks[1], &address).is_err(),
        "hub is down: transient error, records kept"
    );
    let hub = start_hub(&runtime, &db, &event, now_ms);
    let address = hub.address.clone();
    sync(&kiosks[1], &address).unwrap();
    sync(&kiosks[2], &address).unwrap();
    // Syncing again changes nothing.
    sync(&kiosks[0], &address).unwrap();
    // The hub committed before it answered: its database already holds everything.
    let hub = HubStore::open(&db, event.definition.clone()).unwrap();
    let awards = hub.awards().unwrap();
    assert_eq!(awards.len(), 1, "{awards:?}");
    assert_eq!(awards[0].0, "food-pathway");
    assert_eq!(awards[0].4, None, "awarded by the hub's merge");
}

#[test]
fn hub_refuses_unenrolled_kiosks_and_malformed_bodies() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let hub = start_hub(&runtime, &dir.path().join("hub.sqlite"), &event, now_ms);
    let address = hub.address.clone();
    let client = test_client();
    let url = format!("http://{address}/api/v1/records");
    let post = |body: Vec<u8>| {
        runtime.block_on(async {
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    assert_eq!(post(b"{not json".to_vec()).0, 400);
    // Too large: 413, or (when the hub answered and closed before the client finished
    // writing) a broken pipe; either way refused, and the hub goes on answering.
    let oversized = runtime.block_on(async {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(vec![b'x'; 5 * 1024 * 1024])
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    match oversized {
        Ok(status) => assert_eq!(status, 413),
        Err(failure) => assert!(failure.is_request(), "{failure:?}"),
    }
    let (status, body) = post(br#"{"event_id":"finales-metiers-2026","certificate":"00","records":[]}"#.to_vec());
    assert_eq!(status, 401, "{body}");
    let (status, _) = post(br#"{"event_id":"another-event","certificate":"00","records":[]}"#.to_vec());
    assert_eq!(status, 409);
    // A kiosk certified by a key that is not the event's.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let certificate = badge_kiosk::domain::keys::KioskCertificate::issue(
        &stranger,
        "finales-metiers-2026",
        "rogue",
        stranger.verifying_key(),
        0,
    )
    .unwrap();
    let body = serde_json::json!({"event_id": "finales-metiers-2026", "certificate": hex::encode(certificate.to_bytes().unwrap()), "records": []});
    assert_eq!(post(body.to_string().into_bytes()).0, 401);
}
