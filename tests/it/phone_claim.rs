//! Issue 17, "the path to the phone": a visitor takes the badge on a phone at a running
//! kiosk (the real `run` UI in a window under Xvfb, driven like a person), and the hub's
//! claim page at the event's public claim address serves it within seconds, because the
//! kiosk syncs each new award a few seconds after the tap. The periodic sync is set to
//! one hour, so only the award-triggered sync can deliver it in time. The claim page and
//! the public badge page load nothing from outside and weigh under 150 KB.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use badge_kiosk::domain::award::Recipient;
use badge_kiosk::eventdir::EventDir;

use crate::helpers::{binary, runtime, visitor_code};
use crate::ui_e2e::{wait_for, xdotool, Processes};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The demo event, with the hub at `hub` as both the sync target and the public claim
/// address (a public hub the kiosk syncs to when online).
fn event_with_hub(dir: &Path, hub: &str) -> EventDir {
    let demo = EventDir::demo(dir).expect("the demo event");
    let toml = std::fs::read_to_string(demo.dir.join("event.toml")).expect("event.toml");
    let toml = toml
        .replace("https://claim.example.org", hub)
        .replace("# hub = \"https://hub.example.org:8443\"", &format!("hub = \"{hub}\""));
    assert!(
        toml.contains(&format!("hub = \"{hub}\"")),
        "the demo event's [sync] section moved"
    );
    std::fs::write(demo.dir.join("event.toml"), toml).expect("event.toml written");
    EventDir::load(&demo.dir).expect("the event with a hub")
}

fn get(runtime: &tokio::runtime::Runtime, url: &str) -> (u16, String) {
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client");
        match client.get(url).send().await {
            Ok(response) => (response.status().as_u16(), response.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    })
}

/// Every `src`/`href`/`action`/`content` URL a page loads or links to.
fn urls(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\"", "action=\"", "content=\""] {
        let mut rest = page;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find('"').unwrap_or(rest.len());
            found.push(rest[..end].replace("&#38;", "&").replace("&amp;", "&"));
            rest = &rest[end..];
        }
    }
    found
}

/// No outside resource: every `src` is relative to the hub; links leave only for
/// LinkedIn; absolute URLs elsewhere (Open Graph) name the hub's public address.
fn assert_self_contained(page: &str, public: &str) {
    assert!(
        !page.contains("@import") && !page.contains("url("),
        "no stylesheet from outside"
    );
    assert!(!page.contains("<script"), "no script at all");
    assert!(!page.contains("<link rel=\"stylesheet\""), "one inline stylesheet");
    for url in urls(page) {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("//")) {
            continue;
        }
        assert!(
            lower.starts_with("https://www.linkedin.com/profile/add?") || url.starts_with(public),
            "a URL outside the hub: {url}"
        );
    }
    let sources: Vec<String> = page
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect();
    assert!(
        sources.iter().all(|source| source.starts_with('/')),
        "images come from the hub: {sources:?}"
    );
}

#[test]
fn a_phone_claim_at_a_running_kiosk_is_on_the_public_claim_page_within_seconds() {
    if crate::helpers::skip_without(&[("Xvfb", "xvfb"), ("xdotool", "xdotool")]) {
        return;
    }
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    // The hub first (its address goes into the event), on the event the kiosk runs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    let public = format!("http://127.0.0.1:{port}");
    let event = event_with_hub(dir.path(), &public);
    let hub = start_hub_on(&runtime, &dir.path().join("hub.sqlite"), &event, port);
    assert_eq!(hub.url(), public);

    let code = visitor_code(&event, None);
    let data_dir = dir.path().join("kiosk");
    let kiosk = |args: &[&str]| {
        let mut command = Command::new(binary());
        command
            .env_remove("BADGE_KIOSK_CONFIG")
            .env("HOME", dir.path())
            // Only the award-triggered sync can deliver within the test's patience.
            .env("BADGE_KIOSK_SYNC_INTERVAL_SECS", "3600")
            // xdotool's keys, delayed by a busy machine, still count as one scan.
            .env("BADGE_KIOSK_WEDGE_MAX_GAP_MS", "5000")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--event")
            .arg(&event.dir)
            .args(args);
        command
    };

    let mut processes = Processes(Vec::new());
    let mut xvfb = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts");
    let ready = xvfb.stdout.take().expect("Xvfb's standard output");
    processes.0.push(xvfb);
    let mut number = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(ready), &mut number).expect("Xvfb's display number");
    let display = format!(":{}", number.trim());
    let log = dir.path().join("kiosk.log");
    processes.0.push(
        kiosk(&["run", "--camera", "none", "--size", "800x480"])
            .env("DISPLAY", &display)
            .env("SLINT_BACKEND", "winit-software")
            .env("BADGE_KIOSK_LANGUAGE", "en")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("kiosk log"))
            .spawn()
            .expect("the kiosk starts"),
    );
    let kiosk_said = || {
        format!(
            "the kiosk's log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    };
    let mut window = String::new();
    wait_for(
        "the kiosk window",
        Duration::from_secs(180),
        || {
            window = xdotool(&display, &["search", "--onlyvisible", "--name", "badge-kiosk"]);
            !window.is_empty()
        },
        kiosk_said,
    );
    let window = window.lines().next().unwrap_or_default().to_owned();
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&display, &["windowfocus", "--sync", &window]);
    xdotool(&display, &["type", "--delay", "5", &code]);
    xdotool(&display, &["key", "Return"]);

    // "Take it on my phone (QR code)": third choice of an anonymous visitor, right-hand
    // column of the 800×480 layout. Tap again every few seconds until the award is saved;
    // once it is, the kiosk shows the QR code and further taps land on nothing.
    let queue = badge_kiosk::datadir::queue_path(&data_dir, &event.definition.event.id);
    let mut token = None;
    let mut last_tap = Instant::now();
    let mut last_typed = Instant::now();
    wait_for(
        "the phone claim in the kiosk's queue",
        Duration::from_secs(120),
        || {
            if let Some(found) = claim_token(&queue) {
                token = Some(found);
                return true;
            }
            // Under load the first keystrokes can reach a window not yet drawn: scan again.
            if last_typed.elapsed() > Duration::from_secs(20) {
                xdotool(&display, &["windowfocus", "--sync", &window]);
                xdotool(&display, &["type", "--delay", "5", &code]);
                xdotool(&display, &["key", "Return"]);
                last_typed = Instant::now();
            }
            if last_tap.elapsed() > Duration::from_secs(3) {
                xdotool(
                    &display,
                    &["mousemove", "--window", &window, "632", "345", "click", "1"],
                );
                last_tap = Instant::now();
            }
            false
        },
        kiosk_said,
    );
    let (token, tapped_ms) = token.expect("a claim token");

    // The claim page at the public claim address, as a phone opens it from the QR code.
    let claim_url = format!("{public}/claim/{token}");
    let mut page = (0, String::new());
    wait_for(
        "the claim page on the hub",
        Duration::from_secs(60),
        || {
            page = get(&runtime, &format!("{claim_url}?lang=en"));
            page.0 == 200
        },
        kiosk_said,
    );
    let latency_ms = now_ms() - tapped_ms;
    println!("phone claim: on the hub's claim page {latency_ms} ms after the award was saved (periodic sync: 1 hour)");
    let (_, html) = page;
    assert!(html.contains("I attended the National Skills Finals 2026"), "{html}");
    assert!(html.contains("This badge is genuine."), "{html}");
    assert!(
        html.contains("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME"),
        "{html}"
    );
    assert!(html.contains(&format!("/claim/{token}/badge")), "{html}");
    assert_self_contained(&html, &public);
    println!("claim page: {} bytes without the badge image", html.len());
    assert!(html.len() < 150 * 1024, "{} bytes", html.len());

    // The public page: no claim token, Open Graph tags naming the hub's image.
    let public_path = html
        .split("href=\"/badge/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to the public page")
        .to_owned();
    let (status, shared) = get(&runtime, &format!("{public}/badge/{public_path}"));
    assert_eq!(status, 200, "{shared}");
    assert!(!shared.contains(&token), "the public page gives the claim link away");
    assert!(
        shared.contains(&format!(
            "<meta property=\"og:image\" content=\"{public}/images/badges/attended.png\">"
        )),
        "{shared}"
    );
    assert!(shared.contains("og:title") && shared.contains("og:url"), "{shared}");
    assert_self_contained(&shared, &public);
    assert!(shared.len() < 150 * 1024);

    // The image the pages show is a PNG on the hub, and the baked PNG carries a credential
    // that verifies, without the claim token in it.
    let image = runtime.block_on(async {
        reqwest::get(format!("{public}/images/badges/attended.png"))
            .await
            .expect("the image")
            .bytes()
            .await
            .expect("its bytes")
    });
    assert!(image.starts_with(b"\x89PNG"));
    let baked = runtime.block_on(async {
        reqwest::get(format!("{claim_url}/badge"))
            .await
            .expect("the baked badge")
            .bytes()
            .await
            .expect("its bytes")
    });
    let credential = badge_kiosk::credential::extract_png(&baked).expect("a PNG with a baked credential");
    badge_kiosk::credential::verify(&credential).expect("the credential verifies");
    let text = credential.to_string();
    assert!(!text.contains(&token), "the claim token is in the credential");
    let image_id = credential["credentialSubject"]["achievement"]["image"]["id"]
        .as_str()
        .unwrap_or_default();
    assert!(image_id.starts_with("data:image/png;base64,"), "{image_id:.60}");
    let _ = hub.stop.send(());
}

/// The claim token of the kiosk's phone claim, and when it was saved (ms).
fn claim_token(queue: &Path) -> Option<(String, i64)> {
    let store = badge_kiosk::store::Store::open(queue).ok()?;
    let record = store.record(1).ok()??;
    match record.record.content.recipient {
        Recipient::ClaimToken(token) => Some((
            badge_kiosk::domain::base32::encode(&token),
            record.record.content.created_at_ms,
        )),
        _ => None,
    }
}

/// `start_hub` on a chosen port (the event names the hub's address before it starts).
fn start_hub_on(
    runtime: &tokio::runtime::Runtime,
    db: &Path,
    event: &EventDir,
    port: u16,
) -> crate::helpers::LoopbackHub {
    use badge_kiosk::hub::server::{serve, HubState};
    let store = badge_kiosk::hub::store::HubStore::open(db, event.definition.clone()).expect("the hub's database");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .expect("the port chosen for the hub");
    let address = format!("127.0.0.1:{port}");
    let state = std::sync::Arc::new(
        HubState::new(store, event, &format!("http://{address}"), Box::new(now_ms)).expect("the hub starts"),
    );
    runtime.spawn(serve(listener, std::sync::Arc::clone(&state), async {
        let _ = stopped.await;
    }));
    crate::helpers::LoopbackHub {
        address,
        state,
        stop,
        tls_pin: None,
    }
}
