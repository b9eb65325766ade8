//! Issue #20, item 1: the hub emails every award that has an address itself. A hub on
//! loopback (HTTPS, its own pinned certificate) with its mailer handing mail to the SMTP
//! sink of `claim_email.rs` (a real SMTP conversation over TCP, not a mock of the mailer),
//! two kiosks enrolled through the real enrolment, a typed email at one and a registered
//! email at the other: each address receives exactly one message with the claim link, the
//! baked PNG and the credential JSON, seconds after the sync; a restarted hub sends nothing
//! again; a permanent refusal (550) is shown on the console with the server's answer.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::hub::mailer::{Mailer, MailerSettings};
use badge_kiosk::kiosk::{Delivery, KioskCore};
use badge_kiosk::store::Store;
use badge_kiosk::sync::client::{sync_once, SyncSettings};
use badge_kiosk::sync::protocol::EmailDelivery;

use crate::claim_email::{attachment, base64_decode, smtp_sink, Received, Reply};
use crate::helpers::{
    console_page, kiosk_sync_settings, runtime, start_hub_tls, visitor_code, FixedClock, LoopbackHub,
};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn fast_mailer() -> MailerSettings {
    MailerSettings {
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        idle: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
    }
}

/// The hub of `event` on `db` (HTTPS, real clock) with its mailer sending through `smtp`.
fn hub_with_mailer(
    runtime: &tokio::runtime::Runtime,
    db: &Path,
    event: &EventDir,
    smtp: &str,
) -> (LoopbackHub, tokio::task::JoinHandle<()>) {
    let hub = start_hub_tls(runtime, db, event, now_ms);
    let settings = fast_mailer();
    let mailer = Mailer::new(smtp, "Badges <badges@example.org>", settings.timeout).unwrap();
    let _guard = runtime.enter();
    let task = badge_kiosk::hub::mailer::spawn(Arc::clone(&hub.state), mailer, settings);
    (hub, task)
}

/// A kiosk enrolled at `hub` through the real enrolment (signed code, pinned TLS).
struct Kiosk {
    core: KioskCore,
    store: Arc<Mutex<Store>>,
}

fn enrol(runtime: &tokio::runtime::Runtime, hub: &LoopbackHub, data: &Path, kiosk_id: &str) -> Kiosk {
    let code = hub.enrolment_code(1, 30);
    let enrolled = runtime
        .block_on(badge_kiosk::sync::enrol::enrol(None, &code, data, Some(kiosk_id)))
        .expect("the kiosk enrols");
    let event = EventDir::load(&enrolled.event_dir).unwrap();
    let core = KioskCore::open(
        event,
        &data.join(&enrolled.event_id),
        Some(kiosk_id),
        Box::new(FixedClock),
    )
    .unwrap();
    let store = Arc::new(Mutex::new(
        Store::open(&badge_kiosk::datadir::queue_path(data, &enrolled.event_id)).unwrap(),
    ));
    Kiosk { core, store }
}

impl Kiosk {
    fn claim(&mut self, event: &EventDir, holder: Option<&str>, delivery: Delivery) {
        let visitor = self.core.identify(&visitor_code(event, holder)).unwrap();
        self.core.claim(&visitor, None, delivery).unwrap();
    }

    /// Syncs to `hub` (its current address) and returns what the hub said about emails.
    fn sync(&mut self, runtime: &tokio::runtime::Runtime, hub: &LoopbackHub) -> Option<EmailDelivery> {
        // A restarted hub listens on another port with another certificate: the kiosk
        // reaches it as if enrolled there.
        let settings: SyncSettings = kiosk_sync_settings(&hub.url(), &self.core).pinned(hub.tls_pin);
        let client = settings.http_client().unwrap();
        let summary = runtime
            .block_on(sync_once(&self.store, &settings, &client, |_, _| {}))
            .expect("the kiosk syncs");
        summary.email_delivery
    }
}

/// The outbox's rows, for a failure message.
fn outbox(db: &Path) -> String {
    let connection = rusqlite::Connection::open(db).unwrap();
    let mut statement = connection
        .prepare("SELECT award_key, email_hint, attempts, last_error, sent_ms, failed_ms FROM claim_emails")
        .unwrap();
    let rows: Vec<String> = statement
        .query_map([], |row| {
            Ok(format!(
                "{:?} {:?} {:?} {:?} {:?} {:?}",
                row.get::<_, Option<String>>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, Option<i64>>(5)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    format!("outbox: {rows:?}")
}

fn wait_for(what: impl Fn() -> String, mut done: impl FnMut() -> bool) {
    // Generous: the mailer sends within a second on an idle machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {}", what());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The decoded text of the first part of type `content_type` (quoted-printable, base64 or
/// plain, as lettre chose).
fn text_part(data: &str, content_type: &str) -> String {
    let lines: Vec<&str> = data.split("\r\n").collect();
    let header = lines
        .iter()
        .position(|line| {
            line.to_ascii_lowercase()
                .starts_with(&format!("content-type: {content_type}"))
        })
        .unwrap_or_else(|| panic!("no {content_type} part in\n{data}"));
    let part_start = lines[..header].iter().rposition(|line| line.starts_with("--")).unwrap();
    let blank = header + lines[header..].iter().position(|line| line.is_empty()).unwrap();
    let headers = lines[part_start..blank].join("\n").to_ascii_lowercase();
    // Up to the next MIME boundary ("---" is the text's own separator between languages).
    let body: Vec<&str> = lines[blank + 1..]
        .iter()
        .take_while(|line| !line.starts_with("--") || line.trim_end() == "---")
        .copied()
        .collect();
    if headers.contains("base64") {
        return String::from_utf8(base64_decode(&body.concat())).unwrap();
    }
    if !headers.contains("quoted-printable") {
        return body.join("\n");
    }
    let joined = body.join("\n").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            if let Ok(byte) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn to(messages: &[Received], address: &str) -> Vec<Received> {
    messages
        .iter()
        .filter(|message| message.recipients == vec![format!("<{address}>")])
        .cloned()
        .collect()
}

/// The claim link a message carries (`https://…/claim/TOKEN`).
fn claim_link(text: &str) -> String {
    text.split_whitespace()
        .find(|word| word.contains("/claim/"))
        .unwrap_or_else(|| panic!("no claim link in\n{text}"))
        .to_owned()
}

/// Checks one badge message: headers, both bodies with the claim link, the baked PNG whose
/// credential verifies with the event key, and the same credential as JSON.
fn check_badge_message(message: &Received, event: &EventDir) -> String {
    let data = &message.data;
    let headers = data.split("\r\n\r\n").next().unwrap();
    assert!(
        headers.contains("\r\nMessage-ID: <") || headers.starts_with("Message-ID: <"),
        "{headers}"
    );
    assert!(
        headers.contains("@example.org>"),
        "the Message-ID is in the sender's domain: {headers}"
    );
    assert!(
        headers.contains("\r\nDate: ") || headers.starts_with("Date: "),
        "{headers}"
    );
    let text = text_part(data, "text/plain");
    let html = text_part(data, "text/html");
    let link = claim_link(&text);
    assert!(
        html.contains(&format!("href=\"{link}\"")),
        "the HTML links the claim page too:\n{html}"
    );
    assert!(
        text.contains("/badge/") && text.contains("linkedin.com/profile/add"),
        "{text}"
    );
    assert!(text.contains("Bonjour") && text.contains("Hello"), "{text}");
    let png = attachment(data, "image/png").expect("the baked badge as PNG");
    let credential = badge_kiosk::credential::extract_png(&png).expect("a credential baked in the PNG");
    let event_key = event.event_key.as_ref().unwrap().verifying_key();
    badge_kiosk::credential::verify_with_key(&credential, &event_key).expect("the baked credential verifies");
    let json = attachment(data, "application/json").expect("the credential JSON");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&json).unwrap(), credential);
    link
}

#[test]
fn the_hub_emails_typed_and_registered_addresses_once_across_restarts() {
    let runtime = runtime();
    let sink = runtime.block_on(smtp_sink(|_| Reply::Refuse550("refused")));
    let smtp = format!("smtp://{}", sink.address);
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let db = dir.path().join("hub.sqlite");
    let (hub, mailer) = hub_with_mailer(&runtime, &db, &event, &smtp);

    // The registration list reaches the hub before the kiosks sync.
    let registrations = badge_kiosk::domain::registrations::parse_registrations(
        "reference;email;name\nR7;Registered.Visitor@Example.org;Ana\n",
    )
    .unwrap();
    badge_kiosk::hub::issue::import_registrations(
        &mut hub.state.store.lock().unwrap(),
        &registrations.registrations,
        now_ms(),
    )
    .unwrap();

    let mut kiosk_a = enrol(&runtime, &hub, &dir.path().join("kiosk-a"), "hall-a");
    let mut kiosk_b = enrol(&runtime, &hub, &dir.path().join("kiosk-b"), "hall-b");
    kiosk_a.claim(&event, None, Delivery::Email("Typed.Visitor@Example.org".into()));
    kiosk_b.claim(&event, Some("R7"), Delivery::Registration);

    // The sync answer tells the kiosks that the hub will email the badge.
    assert_eq!(kiosk_a.sync(&runtime, &hub), Some(EmailDelivery::Hub));
    assert_eq!(kiosk_b.sync(&runtime, &hub), Some(EmailDelivery::Hub));
    assert_eq!(kiosk_a.core.email_delivery().unwrap(), Some(EmailDelivery::Hub));
    wait_for(
        || format!("both messages ({})", outbox(&db)),
        || sink.messages().len() >= 2,
    );
    let messages = sink.messages();
    let typed = to(&messages, "typed.visitor@example.org");
    let registered = to(&messages, "registered.visitor@example.org");
    assert_eq!((typed.len(), registered.len()), (1, 1), "{messages:#?}");
    let typed_link = check_badge_message(&typed[0], &event);
    let registered_link = check_badge_message(&registered[0], &event);
    assert_ne!(typed_link, registered_link);

    // The link is on the event's public claim address (the demo event's `[claim]
    // public_url`), and its path opens the visitor's claim page on this hub.
    let public = event.definition.claim.base().unwrap();
    let path = typed_link
        .strip_prefix(public)
        .expect("the link is on the public claim address");
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(badge_kiosk::sync::pinning::pinned_client_config(hub.tls_pin.unwrap()))
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        client
            .get(format!("{}{path}", hub.url()))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200, "{typed_link}");

    // A restart (a new process on the same database) sends nothing again: a third award,
    // queued after the restart, is the sign the new mailer has been through its outbox.
    mailer.abort();
    let _ = hub.stop.send(());
    let (hub, _mailer) = hub_with_mailer(&runtime, &db, &event, &smtp);
    kiosk_a.claim(&event, None, Delivery::Email("third.visitor@example.org".into()));
    assert_eq!(kiosk_a.sync(&runtime, &hub), Some(EmailDelivery::Hub));
    wait_for(
        || format!("the third message ({})", outbox(&db)),
        || !to(&sink.messages(), "third.visitor@example.org").is_empty(),
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 3, "nothing sent twice after the restart: {messages:#?}");

    // A permanent refusal is kept with the server's answer and shown on the console.
    kiosk_b.claim(&event, None, Delivery::Email("refused.visitor@example.org".into()));
    kiosk_b.sync(&runtime, &hub);
    wait_for(
        || format!("the refusal on the console ({})", outbox(&db)),
        || {
            console_page(&runtime, &hub, "/console/registrations")
                .1
                .contains("r…@example.org")
        },
    );
    let (status, page) = console_page(&runtime, &hub, "/console/registrations");
    assert_eq!(status, 200);
    assert!(
        page.contains("550") && page.contains("no such user"),
        "the server's answer is shown: {page}"
    );
    assert!(!page.contains("refused.visitor"), "the address is masked: {page}");
    assert!(
        page.contains("[delivery] email = &quot;hub&quot;") || page.contains("[delivery] email = &#34;hub&#34;"),
        "{page}"
    );
    assert_eq!(sink.messages().len(), 3, "the refused message was not delivered");
    let cleared: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT COUNT(email) FROM claim_emails", [], |row| row.get(0))
        .unwrap();
    assert_eq!(cleared, 0, "no clear address stays in the outbox once sent or refused");
}

/// Without a mail server the hub tells kiosks that nobody will email the badge yet, and the
/// console shows the waiting count with the command that fixes it.
#[test]
fn a_hub_without_a_mail_server_promises_nothing_and_says_what_to_do() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(dir.path()).unwrap();
    let hub = start_hub_tls(&runtime, &dir.path().join("hub.sqlite"), &event, now_ms);
    let mut kiosk = enrol(&runtime, &hub, &dir.path().join("kiosk"), "hall-a");
    kiosk.claim(&event, None, Delivery::Email("waiting@example.org".into()));
    assert_eq!(kiosk.sync(&runtime, &hub), Some(EmailDelivery::None));
    // The kiosk keeps it for its done screen, which then promises no email.
    assert_eq!(kiosk.core.email_delivery().unwrap(), Some(EmailDelivery::None));
    let (status, page) = console_page(&runtime, &hub, "/console/registrations");
    assert_eq!(status, 200);
    assert!(page.contains("--smtp-url"), "{page}");
    assert!(
        page.contains("<strong>1</strong> waiting") || page.contains("<strong>1</strong> en attente"),
        "{page}"
    );
}
