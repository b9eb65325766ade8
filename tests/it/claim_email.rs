//! Issue #6, "have it emailed": a kiosk's claim link, synced to a real hub on loopback,
//! whose claim page queues an email that the hub's mailer hands to a tiny SMTP server
//! written here (which can also answer 421/451 "try later" and 550 "no such user").

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::hub::mailer::{Mailer, MailerSettings};
use badge_kiosk::kiosk::{ClaimOutcome, Delivery, KioskCore};
use badge_kiosk::store::Store;
use badge_kiosk::sync::client::{sync_once, SyncSettings};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{console_page, runtime, start_hub, visitor_code, FixedClock, LoopbackHub};

// ---------------------------------------------------------------- the SMTP sink

/// How the sink answers one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Accept,
    /// "421 try later" instead of the greeting.
    Greeting421,
    /// "451 try later" to RCPT TO.
    Rcpt451,
    /// "451 try later" after the message's final dot.
    Data451,
    /// "550 no such user" to RCPT TO, echoing the address as real servers do.
    Rcpt550,
    /// "550 no such user" to RCPT TO for addresses containing this text; accepts the others.
    Refuse550(&'static str),
}

#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) recipients: Vec<String>,
    pub(crate) data: String,
}

pub(crate) struct Sink {
    pub(crate) address: String,
    messages: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
}

impl Sink {
    pub(crate) fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

pub(crate) async fn smtp_sink(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(script);
    let (kept, counter) = (Arc::clone(&messages), Arc::clone(&connections));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let reply = script(counter.fetch_add(1, Ordering::SeqCst));
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let _ = smtp_session(stream, reply, kept).await;
            });
        }
    });
    Sink {
        address,
        messages,
        connections,
    }
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    reply: Reply,
    kept: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    if reply == Reply::Greeting421 {
        writer.write_all(b"421 4.3.2 sink busy, try later\r\n").await?;
        return Ok(());
    }
    writer.write_all(b"220 sink ESMTP ready\r\n").await?;
    let mut recipients = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let answer: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250 sink\r\n".into()
        } else if upper.starts_with("MAIL FROM") {
            recipients.clear();
            "250 2.1.0 ok\r\n".into()
        } else if upper.starts_with("RCPT TO") {
            let recipient = command.get(8..).unwrap_or_default().trim().to_owned();
            match reply {
                Reply::Rcpt451 => "451 4.3.0 greylisted, try later\r\n".into(),
                Reply::Rcpt550 => format!("550 5.1.1 {recipient}: no such user here\r\n"),
                Reply::Refuse550(needle) if recipient.contains(needle) => {
                    format!("550 5.1.1 {recipient}: no such user here\r\n")
                }
                _ => {
                    recipients.push(recipient);
                    "250 2.1.5 ok\r\n".into()
                }
            }
        } else if upper == "DATA" {
            writer.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                // Undo dot-stuffing.
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            if reply == Reply::Data451 {
                "451 4.3.0 local problem, try later\r\n".into()
            } else {
                kept.lock().unwrap().push(Received {
                    recipients: recipients.clone(),
                    data,
                });
                "250 2.0.0 queued\r\n".into()
            }
        } else if upper == "QUIT" {
            writer.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 ok\r\n".into()
        } else {
            "502 5.5.2 not implemented\r\n".into()
        };
        writer.write_all(answer.as_bytes()).await?;
    }
}

// ---------------------------------------------------------------- hub and kiosk

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A hub on loopback (real clock), with its mailer handing mail to the SMTP server `smtp`.
fn start_hub_with_mailer(runtime: &tokio::runtime::Runtime, db: &Path, event: &EventDir, smtp: &str) -> LoopbackHub {
    let hub = start_hub(runtime, db, event, now_ms);
    let settings = MailerSettings {
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        idle: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
    };
    let mailer = Mailer::new(smtp, "Badges <badges@example.org>", settings.timeout).unwrap();
    let _guard = runtime.enter();
    badge_kiosk::hub::mailer::spawn(Arc::clone(&hub.state), mailer, settings);
    hub
}

/// A kiosk claim with "phone" delivery, synced to the hub: returns the claim token.
fn claimed_and_synced(runtime: &tokio::runtime::Runtime, dir: &Path, event: &EventDir, hub: &str) -> String {
    let kiosk_dir = dir.join("kiosk");
    let mut core = KioskCore::open(event.clone(), &kiosk_dir, Some("kiosk-mail"), Box::new(FixedClock)).unwrap();
    let visitor = core.identify(&visitor_code(event, None)).unwrap();
    let ClaimOutcome::Saved {
        claim_url: Some(url), ..
    } = core.claim(&visitor, None, Delivery::Phone).unwrap()
    else {
        panic!("the phone claim gave no claim link");
    };
    let token = url.rsplit('/').next().unwrap().to_owned();
    let store = Arc::new(Mutex::new(Store::open(&kiosk_dir.join("queue.sqlite")).unwrap()));
    let certificate = hex::encode(core.certificate().to_bytes().unwrap());
    let settings = SyncSettings::new(&format!("http://{hub}"), &event.definition.event.id, &certificate)
        .trusting(event.definition.public_keys());
    let summary = runtime
        .block_on(sync_once(&store, &settings, &client(), |_, _| {}))
        .unwrap();
    assert_eq!(summary.synced, 1, "{summary:?}");
    token
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Posts the claim page's form; returns (status, page).
fn post_email(runtime: &tokio::runtime::Runtime, hub: &str, token: &str, email: &str) -> (u16, String) {
    let encoded: String = email
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect();
    runtime.block_on(async {
        let response = client()
            .post(format!("http://{hub}/claim/{token}/email"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("email={encoded}&lang=en"))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

fn get(runtime: &tokio::runtime::Runtime, url: &str) -> (u16, String) {
    runtime.block_on(async {
        let response = client().get(url).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn outbox_column(db: &Path, sql: &str) -> i64 {
    let connection = rusqlite::Connection::open(db).unwrap();
    connection.query_row(sql, [], |row| row.get(0)).unwrap()
}

// ---------------------------------------------------------------- MIME, by hand

/// The decoded body of the first part whose Content-Type starts with `content_type`.
pub(crate) fn attachment(data: &str, content_type: &str) -> Option<Vec<u8>> {
    let lines: Vec<&str> = data.split("\r\n").collect();
    let header = lines.iter().position(|line| {
        line.to_ascii_lowercase()
            .starts_with(&format!("content-type: {content_type}"))
    })?;
    let blank = header + lines.get(header..)?.iter().position(|line| line.is_empty())?;
    let body: String = lines
        .get(blank + 1..)?
        .iter()
        .take_while(|line| !line.starts_with("--"))
        .copied()
        .collect();
    let part_start = lines.get(..header)?.iter().rposition(|line| line.starts_with("--"))?;
    let part_headers = lines.get(part_start..blank)?.join("\n").to_ascii_lowercase();
    assert!(
        part_headers.contains("base64"),
        "attachments travel in base64: {part_headers}"
    );
    Some(base64_decode(&body))
}

pub(crate) fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for sextet in text.bytes().filter_map(value) {
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

// ---------------------------------------------------------------- the tests

#[test]
fn emailed_badge_arrives_once_with_a_baked_credential_that_verifies() {
    let runtime = runtime();
    let sink = runtime.block_on(smtp_sink(|_| Reply::Accept));
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let db = dir.path().join("hub.sqlite");
    let loopback = start_hub_with_mailer(&runtime, &db, &event, &format!("smtp://{}", sink.address));
    let hub = loopback.address.clone();
    let token = claimed_and_synced(&runtime, dir.path(), &event, &hub);

    let (status, page) = get(&runtime, &format!("http://{hub}/claim/{token}"));
    assert_eq!(status, 200);
    assert!(page.contains(&format!("action=\"/claim/{token}/email\"")), "{page}");

    let (status, page) = post_email(&runtime, &hub, &token, "Visitor.One@Example.fr");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(">Sent</h1>") && page.contains("v…@example.fr"), "{page}");
    assert!(!page.contains("visitor.one"), "{page}");

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].recipients, vec!["<visitor.one@example.fr>".to_owned()]);
    let data = &messages[0].data;
    assert!(data.contains("multipart/mixed") && data.contains("text/html"), "{data}");
    // The badge as the event draws it (the demo event's images are SVG), baked.
    let credential = match attachment(data, "image/png") {
        Some(png) => badge_kiosk::credential::extract_png(&png).expect("a baked PNG credential"),
        None => {
            let svg = attachment(data, "image/svg+xml").expect("a baked badge attachment");
            badge_kiosk::credential::extract_svg(&String::from_utf8_lossy(&svg)).expect("a baked SVG credential")
        }
    };
    let event_key = event.event_key.as_ref().unwrap().verifying_key();
    badge_kiosk::credential::verify_with_key(&credential, &event_key).expect("the baked credential verifies");
    let json = attachment(data, "application/json").expect("a JSON attachment");
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json, credential);

    // Nothing is sent twice, and nothing of the clear address is left in the database
    // (waiting for the hub to record the delivery, however busy the machine).
    wait_for("the hub to record the delivery", || {
        outbox_column(&db, "SELECT COUNT(*) FROM claim_emails WHERE sent_ms IS NOT NULL") == 1
    });
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(
        outbox_column(&db, "SELECT COUNT(*) FROM claim_emails WHERE sent_ms IS NOT NULL"),
        1
    );
    assert_eq!(outbox_column(&db, "SELECT COUNT(email) FROM claim_emails"), 0);
    for file in ["hub.sqlite", "hub.sqlite-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(11).any(|w| w.eq_ignore_ascii_case(b"visitor.one")),
            "{file} still holds the address"
        );
    }
    let (_, dashboard) = console_page(&runtime, &loopback, "/console/registrations?lang=en");
    assert!(dashboard.contains("<strong>1</strong> sent"), "{dashboard}");
}

#[test]
fn transient_smtp_failures_are_retried_and_the_badge_is_delivered_once() {
    let runtime = runtime();
    let sink = runtime.block_on(smtp_sink(|n| match n {
        0 => Reply::Greeting421,
        1 => Reply::Rcpt451,
        2 => Reply::Data451,
        _ => Reply::Accept,
    }));
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let db = dir.path().join("hub.sqlite");
    let loopback = start_hub_with_mailer(&runtime, &db, &event, &format!("smtp://{}", sink.address));
    let hub = loopback.address.clone();
    let token = claimed_and_synced(&runtime, dir.path(), &event, &hub);

    let (status, page) = post_email(&runtime, &hub, &token, "retry.me@example.fr");
    assert!(status == 200 || status == 202, "{status}: {page}");
    wait_for("the delivery, recorded by the hub", || {
        outbox_column(
            &db,
            "SELECT COUNT(*) FROM claim_emails WHERE sent_ms IS NOT NULL AND email IS NULL",
        ) == 1
    });
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "delivered exactly once");
    assert_eq!(messages[0].recipients, vec!["<retry.me@example.fr>".to_owned()]);
    assert_eq!(sink.connections.load(Ordering::SeqCst), 4);
    assert_eq!(outbox_column(&db, "SELECT attempts FROM claim_emails"), 4);
    assert_eq!(
        outbox_column(
            &db,
            "SELECT COUNT(*) FROM claim_emails WHERE sent_ms IS NOT NULL AND email IS NULL"
        ),
        1
    );
}

#[test]
fn a_permanent_refusal_is_kept_with_its_reason_on_the_dashboard() {
    let runtime = runtime();
    let sink = runtime.block_on(smtp_sink(|_| Reply::Rcpt550));
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let db = dir.path().join("hub.sqlite");
    let loopback = start_hub_with_mailer(&runtime, &db, &event, &format!("smtp://{}", sink.address));
    let hub = loopback.address.clone();
    let token = claimed_and_synced(&runtime, dir.path(), &event, &hub);

    let (status, page) = post_email(&runtime, &hub, &token, "marie.curie@example.fr");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(">Not sent</h1>") && page.contains("check the address"),
        "{page}"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert!(sink.messages().is_empty());
    assert_eq!(
        sink.connections.load(Ordering::SeqCst),
        1,
        "a permanent refusal is not retried"
    );

    let (_, dashboard) = console_page(&runtime, &loopback, "/console/registrations?lang=en");
    assert!(dashboard.contains("<strong>1</strong> refused"), "{dashboard}");
    assert!(
        dashboard.contains("550") && dashboard.contains("no such user"),
        "{dashboard}"
    );
    assert!(dashboard.contains("m…@example.fr"), "{dashboard}");
    assert!(!dashboard.to_ascii_lowercase().contains("marie.curie"), "{dashboard}");
    assert_eq!(outbox_column(&db, "SELECT COUNT(email) FROM claim_emails"), 0);
}

#[test]
fn without_smtp_the_form_queues_and_refuses_bad_addresses_and_floods() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let db = dir.path().join("hub.sqlite");
    let loopback = start_hub(&runtime, &db, &event, now_ms);
    let hub = loopback.address.clone();
    let token = claimed_and_synced(&runtime, dir.path(), &event, &hub);

    for bad in ["not-an-address", "a@b", "two@@example.fr", "  ", "a b@example.fr"] {
        let (status, page) = post_email(&runtime, &hub, &token, bad);
        assert_eq!(status, 400, "{bad}: {page}");
        assert!(
            page.contains("Invalid address") && page.contains("check it"),
            "{bad}: {page}"
        );
    }
    for n in 0..3 {
        let (status, page) = post_email(&runtime, &hub, &token, &format!("v{n}@example.fr"));
        assert_eq!(status, 202, "{page}");
        assert!(
            page.contains("Request saved") && page.contains("when the hub is online"),
            "{page}"
        );
    }
    let (status, page) = post_email(&runtime, &hub, &token, "v4@example.fr");
    assert_eq!(status, 429, "{page}");
    assert!(
        page.contains("Too many requests") && page.contains("try again in 60 min"),
        "{page}"
    );
    let (_, dashboard) = console_page(&runtime, &loopback, "/console/registrations?lang=en");
    assert!(
        dashboard.contains("3 emails waiting: start the hub with --smtp-url"),
        "{dashboard}"
    );
    assert_eq!(outbox_column(&db, "SELECT COUNT(email) FROM claim_emails"), 3);

    // A link that leads nowhere (yet) is told so, and not queued.
    let unknown = badge_kiosk::domain::base32::encode(&[3u8; 16]);
    let (status, _) = post_email(&runtime, &hub, &unknown, "v5@example.fr");
    assert_eq!(status, 404);
}

#[test]
fn hub_serve_never_prints_the_smtp_credentials() {
    use crate::helpers::{binary, TestKiosk};
    let root = tempfile::tempdir().unwrap();
    let event = root.path().join("event");
    TestKiosk::demo().ok(&["event", "init", event.to_str().unwrap(), "--id", "salon-mail"]);
    let data = root.path().join("hub");
    std::fs::create_dir_all(&data).unwrap();
    let serve = || {
        let mut command = std::process::Command::new(binary());
        command
            .env_remove("BADGE_KIOSK_CONFIG")
            .env_remove("BADGE_KIOSK_MAIL_FROM")
            .env("BADGE_KIOSK_SMTP_URL", "smtps://marie:hunter22@127.0.0.1:1")
            .arg("--event")
            .arg(&event)
            .args(["hub", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data);
        command
    };
    // Without a sender: refused, saying what to add, without the password.
    let refused = serve().output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("--mail-from") && !stderr.contains("hunter22"),
        "{stderr}"
    );

    // With one: the banner names the server without its credentials.
    let log_path = data.join("hub.log");
    let mut child = serve()
        .args(["--mail-from", "Badges <badges@example.org>"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let log = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("claim emails are sent through") {
            break text;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the hub did not start: {text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(log.contains("smtps://***:***@127.0.0.1:1"), "{log}");
    assert!(!log.contains("hunter22") && !log.contains("marie"), "{log}");
}
