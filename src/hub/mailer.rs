//! Sends the claim-email outbox (`hub::outbox`) over SMTP with lettre, as a background
//! task of `hub serve --smtp-url`.
//!
//! Like the kiosk's sync: a failure is either transient (server unreachable, timeout,
//! 4xx: the message stays queued and the task backs off with the shared `Backoff`) or
//! permanent (5xx, an address the server or lettre refuses: kept with its reason for the
//! organiser's dashboard, never retried). SQLite and the credential signing/baking run on
//! blocking threads. Addresses are never logged in full and the SMTP URL's credentials are
//! never printed: errors are scrubbed of both before they are stored or shown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use thiserror::Error;

use super::outbox::OutgoingEmail;
use super::state::{with_store, SharedHub};
use super::store::{HubError, HubStore};
use super::web::claim::{
    baked_badge, claim_credential_in, credential_json, linkedin_url, public_base, public_id, ClaimFile,
};
use super::web::words::email_words;
use crate::backoff::Backoff;
use crate::domain::event::Language;

#[derive(Debug, Error)]
pub enum MailerError {
    #[error(
        "the SMTP URL {url} is not usable ({reason}): give one like smtp://host:25, \
         smtps://user:password@host:465 or smtp://host:587?tls=required"
    )]
    BadUrl { url: String, reason: String },
    #[error("the sender address {0:?} is not valid: give --mail-from like \"Badges <badges@example.org>\"")]
    BadFrom(String),
}

/// The mailer's timing; the defaults suit a venue, tests shorten them.
#[derive(Debug, Clone)]
pub struct MailerSettings {
    /// First wait after a transient failure; doubles up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How often the outbox is looked at when nobody rings.
    pub idle: Duration,
    /// SMTP connection and command timeout.
    pub timeout: Duration,
}

impl Default for MailerSettings {
    fn default() -> Self {
        Self {
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(10 * 60),
            idle: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }
}

/// An SMTP transport and the sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The URL without its credentials, for logs and the banner.
    shown_url: String,
    /// User name and password from the URL, scrubbed from any error text.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("url", &self.shown_url)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// `smtp_url` as lettre's `from_url` takes it (`smtp://`, `smtps://`, `?tls=required`
    /// or `opportunistic`, credentials in the URL); `from` like `Badges <badges@example.org>`.
    pub fn new(smtp_url: &str, from: &str, timeout: Duration) -> Result<Self, MailerError> {
        let secrets = url_secrets(smtp_url);
        let shown_url = redact_url(smtp_url);
        // rustls needs a process-wide crypto provider; ring is the one already linked.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|failure| MailerError::BadUrl {
                url: shown_url.clone(),
                reason: scrub(&failure.to_string(), None, &secrets),
            })?
            .timeout(Some(timeout))
            .build();
        let from = from
            .trim()
            .parse::<Mailbox>()
            .map_err(|_| MailerError::BadFrom(from.to_owned()))?;
        Ok(Self {
            transport,
            from,
            shown_url,
            secrets,
        })
    }

    /// The SMTP URL with its user name and password replaced by `***`.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }
}

/// Refuses an SMTP URL that would send the login and the visitors' badges in clear:
/// `smtp://` without `?tls=required` (STARTTLS that cannot be stripped), unless the
/// organiser explicitly allowed it (`hub serve --smtp-insecure`, e.g. a relay on the same
/// machine).
pub fn check_transport_security(smtp_url: &str, allow_plain: bool) -> Result<(), MailerError> {
    let Ok(parsed) = reqwest::Url::parse(smtp_url) else {
        return Ok(()); // `Mailer::new` says what is wrong with it.
    };
    if parsed.scheme() != "smtp" || allow_plain {
        return Ok(());
    }
    let required = parsed
        .query_pairs()
        .any(|(name, value)| name == "tls" && value == "required");
    if required {
        Ok(())
    } else {
        Err(MailerError::BadUrl {
            url: redact_url(smtp_url),
            reason: "smtp:// without ?tls=required sends the SMTP login and the visitors' badges in clear: use \
                     smtps://host:465, or smtp://host:587?tls=required, or (a relay on this machine only) add \
                     --smtp-insecure"
                .into(),
        })
    }
}

/// `smtps://user:secret@host:465` → `smtps://***:***@host:465`.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if !parsed.username().is_empty() {
                let _ = parsed.set_username("***");
            }
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => match url.rsplit_once('@') {
            // Unparseable: still never show what precedes the host.
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        },
    }
}

fn url_secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Vec::new();
    };
    let mut secrets = Vec::new();
    for raw in [Some(parsed.username()), parsed.password()].into_iter().flatten() {
        if raw.is_empty() {
            continue;
        }
        secrets.push(raw.to_owned());
        if let Ok(decoded) = percent_encoding::percent_decode_str(raw).decode_utf8() {
            secrets.push(decoded.into_owned());
        }
    }
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets
}

/// Replaces the recipient's address (and its local part) by its masked hint, and every
/// secret by `***`; keeps error texts short.
pub fn scrub(text: &str, address: Option<&str>, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    if let Some(address) = address {
        let hint = super::outbox::mask_address(address);
        text = replace_ignoring_ascii_case(&text, address, &hint);
        if let Some((local, _)) = address.split_once('@') {
            if local.len() >= 3 {
                text = replace_ignoring_ascii_case(&text, local, "…");
            }
        }
    }
    for secret in secrets {
        if secret.len() >= 2 {
            text = text.replace(secret.as_str(), "***");
        }
    }
    if text.chars().count() > 300 {
        text = text.chars().take(300).chain(['…']).collect();
    }
    text
}

fn replace_ignoring_ascii_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_owned();
    }
    let lower_text = text.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(found) = lower_text.get(rest..).and_then(|tail| tail.find(&lower_needle)) {
        let start = rest + found;
        out.push_str(text.get(rest..start).unwrap_or_default());
        out.push_str(with);
        rest = start + needle.len();
    }
    out.push_str(text.get(rest..).unwrap_or_default());
    out
}

/// Starts the mailer on the current tokio runtime; the claim form's answers then wait for
/// it and the dashboard stops asking for `--smtp-url`.
pub fn spawn(hub: SharedHub, mailer: Mailer, settings: MailerSettings) -> tokio::task::JoinHandle<()> {
    hub.mail.enabled.store(true, Ordering::SeqCst);
    tokio::spawn(run(hub, Arc::new(mailer), settings))
}

/// How one pass over the outbox ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// Nothing (more) is due; this many were sent, this many refused for good.
    Done { sent: usize, failed: usize },
    /// A transient failure: try again after a backoff.
    Deferred(String),
}

async fn run(hub: SharedHub, mailer: Arc<Mailer>, settings: MailerSettings) {
    let mut backoff = Backoff::new(settings.backoff_base, settings.backoff_max);
    tracing::info!(url = %mailer.shown_url, "claim-email mailer started");
    loop {
        let wait = match send_due(&hub, &mailer).await {
            Pass::Done { sent, failed } => {
                if sent + failed > 0 {
                    tracing::info!(sent, failed, "claim emails");
                }
                backoff.reset();
                settings.idle
            }
            Pass::Deferred(reason) => {
                let delay = backoff.next_delay(rand::random::<f64>());
                tracing::warn!(%reason, ?delay, "claim emails deferred");
                delay
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = hub.mail.wake.notified() => {}
        }
    }
}

/// Sends every due message, oldest and least-tried first; stops at the first transient
/// failure (the server is most likely down for all of them).
pub async fn send_due(hub: &SharedHub, mailer: &Arc<Mailer>) -> Pass {
    let mut sent = 0;
    let mut failed = 0;
    // Awards whose address arrived since (an import, a registrations list): queued first.
    if let Err(failure) = with_store(hub, |store, now| store.queue_award_emails(now)).await {
        return Pass::Deferred(failure.to_string());
    }
    loop {
        let due = match with_store(hub, |store, _| store.due_claim_emails(20)).await {
            Ok(due) => due,
            Err(failure) => return Pass::Deferred(failure.to_string()),
        };
        if due.is_empty() {
            return Pass::Done { sent, failed };
        }
        for email in due {
            match send_one(hub, mailer, email).await {
                Ok(Sent::Yes) => sent += 1,
                Ok(Sent::Refused) => failed += 1,
                Err(reason) => return Pass::Deferred(reason),
            }
        }
    }
}

enum Sent {
    Yes,
    Refused,
}

/// Builds and sends one message; `Err` is a transient failure (already recorded).
async fn send_one(hub: &SharedHub, mailer: &Arc<Mailer>, email: OutgoingEmail) -> Result<Sent, String> {
    let id = email.id;
    let own_delivery = email.award_key.is_some();
    let hint = email.hint.clone();
    let state = Arc::clone(hub);
    let from = mailer.from.clone();
    let address = email.address.clone();
    let prepared = with_store(hub, move |store, now| prepare(&state, store, &from, &email, now)).await;
    let message = match prepared {
        Ok(Ok(message)) => message,
        Ok(Err(reason)) => {
            tracing::warn!(to = %hint, %reason, "claim email refused before sending");
            record(hub, move |store, now| store.claim_email_failed(id, &reason, now)).await?;
            return Ok(Sent::Refused);
        }
        Err(failure) => {
            // Kept with the message, so the console says why it waits.
            let reason = failure.to_string();
            let stored = reason.clone();
            record(hub, move |store, _| store.claim_email_deferred(id, &stored)).await?;
            return Err(reason);
        }
    };
    match mailer.transport.send(message).await {
        Ok(_) => {
            tracing::info!(to = %hint, "claim email sent");
            record(hub, move |store, now| {
                store.claim_email_sent(id, now)?;
                // A visitor who asked from the claim page has taken the link; the hub's own
                // delivery of an award is counted as delivered by the outbox itself.
                if !own_delivery {
                    if let Some(token) = store.claim_email_token(id)? {
                        store.note_claimed(&token, now)?;
                    }
                }
                Ok(())
            })
            .await?;
            Ok(Sent::Yes)
        }
        Err(failure) => {
            let reason = scrub(&failure.to_string(), Some(&address), &mailer.secrets);
            if failure.is_permanent() {
                tracing::warn!(to = %hint, %reason, "claim email refused by the mail server");
                record(hub, move |store, now| store.claim_email_failed(id, &reason, now)).await?;
                Ok(Sent::Refused)
            } else {
                tracing::warn!(to = %hint, %reason, "claim email not sent yet");
                let stored = reason.clone();
                record(hub, move |store, _| store.claim_email_deferred(id, &stored)).await?;
                Err(reason)
            }
        }
    }
}

async fn record(
    hub: &SharedHub,
    work: impl FnOnce(&mut HubStore, i64) -> Result<(), HubError> + Send + 'static,
) -> Result<(), String> {
    with_store(hub, work).await.map_err(|failure| failure.to_string())
}

/// The message for one request: `Ok(Err(reason))` when it can never be sent (bad address,
/// the claim link no longer leads to a credential).
fn prepare(
    hub: &super::state::HubState,
    store: &HubStore,
    from: &Mailbox,
    email: &OutgoingEmail,
    now_ms: i64,
) -> Result<Result<Message, String>, HubError> {
    let language = Language::from_code(&email.language);
    let Some(found) = claim_credential_in(hub, store, &email.claim_token, language)? else {
        return Ok(Err("this claim link no longer leads to a credential on this hub".into()));
    };
    let badge = match baked_badge(found.image.as_deref(), &found.credential) {
        Ok(badge) => badge,
        Err(failure) => return Ok(Err(format!("cannot bake the badge image: {failure}"))),
    };
    let (name_fr, name_en) = store.event.badge(&found.badge_id).map_or_else(
        || (found.badge_id.clone(), found.badge_id.clone()),
        |badge| (badge.name.fr.clone(), badge.name.en.clone()),
    );
    // The links phones open: the claim page (downloads, wallet, LinkedIn) and the badge's
    // public page, which exists from now on since the credential verifies.
    let base = public_base(hub, &store.event);
    let public = public_id(&store.event.event.id, &email.claim_token);
    store.publish_badge(&public, &email.claim_token, now_ms)?;
    let public_url = format!("{base}/badge/{public}");
    let shown_name = match language {
        Language::Fr => &name_fr,
        Language::En => &name_en,
    };
    let links = MessageLinks {
        claim: format!("{base}/claim/{}", email.claim_token),
        linkedin: linkedin_url(
            shown_name,
            &store.event.issuer.name,
            found.created_at_ms,
            &public_url,
            &public,
        ),
        public: public_url,
    };
    let content = MessageContent {
        badge_fr: name_fr,
        badge_en: name_en,
        issuer: store.event.issuer.name.clone(),
        language,
        links,
        message_id: email.message_id.clone(),
        date_ms: now_ms,
    };
    Ok(build_message(
        from,
        &email.address,
        &content,
        badge,
        credential_json(&found.credential),
    )
    .map_err(|reason| scrub(&reason, Some(&email.address), &[])))
}

/// The addresses a message links to (empty: left out).
#[derive(Debug, Clone, Default)]
pub struct MessageLinks {
    pub claim: String,
    pub public: String,
    pub linkedin: String,
}

/// What the message says.
#[derive(Debug, Clone)]
pub struct MessageContent {
    pub badge_fr: String,
    pub badge_en: String,
    pub issuer: String,
    /// The visitor's language: its text comes first and names the subject.
    pub language: Language,
    pub links: MessageLinks,
    /// The unique part of the `Message-ID` (fixed when the message was queued, so a resend
    /// carries the same id); None: a fresh one.
    pub message_id: Option<String>,
    /// The `Date` header, from the hub's clock.
    pub date_ms: i64,
}

/// One language's part of the message, its texts filled in.
struct Section {
    lang: &'static str,
    hello: &'static str,
    intro: String,
    attached: String,
    json: &'static str,
    claim_page: &'static str,
    public_page: &'static str,
    linkedin: &'static str,
    why: &'static str,
}

impl Section {
    fn new(language: Language, content: &MessageContent, image: &str) -> Self {
        let words = email_words(language);
        let badge = match language {
            Language::Fr => &content.badge_fr,
            Language::En => &content.badge_en,
        };
        Self {
            lang: words.lang,
            hello: words.hello,
            intro: words
                .intro
                .replace("{issuer}", &content.issuer)
                .replace("{badge}", badge),
            attached: words.attached.replace("{image}", image),
            json: words.json,
            claim_page: words.claim_page,
            public_page: words.public_page,
            linkedin: words.linkedin,
            why: words.why,
        }
    }
}

#[derive(Template)]
#[template(path = "email/badge.txt")]
struct TextBody<'a> {
    sections: &'a [Section],
    links: &'a MessageLinks,
    has_json: bool,
}

#[derive(Template)]
#[template(path = "email/badge.html")]
struct HtmlBody<'a> {
    sections: &'a [Section],
    links: &'a MessageLinks,
    has_json: bool,
    subject: &'a str,
    /// The visitor's language, for `<html lang>`.
    lang: &'a str,
}

/// The multipart message: the visitor's language then the other, as plain text and HTML
/// (askama templates in templates/email/), the baked badge and the credential JSON
/// attached, a `Message-ID` and a `Date`. `Err` when the address cannot be put in an
/// envelope.
pub fn build_message(
    from: &Mailbox,
    to: &str,
    content: &MessageContent,
    badge: ClaimFile,
    credential: ClaimFile,
) -> Result<Message, String> {
    let to: Mailbox = to
        .trim()
        .parse::<lettre::Address>()
        .map(|address| Mailbox::new(None, address))
        .map_err(|failure| format!("invalid recipient address: {failure}"))?;
    let subject = match content.language {
        Language::En => format!("Your badge · Votre badge : {}", content.badge_en),
        Language::Fr => format!("Votre badge · Your badge: {}", content.badge_fr),
    };
    let has_json = badge.2 != credential.2;
    let sections = [
        Section::new(content.language, content, badge.2),
        Section::new(content.language.other(), content, badge.2),
    ];
    let text = TextBody {
        sections: &sections,
        links: &content.links,
        has_json,
    }
    .render()
    .map_err(|failure| format!("cannot write the message: {failure}"))?;
    let html = HtmlBody {
        sections: &sections,
        links: &content.links,
        has_json,
        subject: &subject,
        lang: email_words(content.language).lang,
    }
    .render()
    .map_err(|failure| format!("cannot write the message: {failure}"))?;
    let attachment = |(bytes, content_type, name): ClaimFile| -> Result<_, String> {
        let content_type = ContentType::parse(content_type).map_err(|failure| failure.to_string())?;
        // Base64 whatever the content, so long JSON lines travel intact.
        let body = Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
            .map_err(|_| "cannot encode the attachment".to_owned())?;
        Ok(Attachment::new(name.to_owned()).body(body, content_type))
    };
    let mut parts = MultiPart::mixed()
        .multipart(MultiPart::alternative_plain_html(text, html))
        .singlepart(attachment(badge)?);
    if has_json {
        parts = parts.singlepart(attachment(credential)?);
    }
    let unique = content
        .message_id
        .clone()
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()));
    let date = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(content.date_ms).unwrap_or(0));
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{unique}@{}>", from.email.domain())))
        .date(date)
        .multipart(parts)
        .map_err(|failure| format!("cannot build the message: {failure}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn smtp_without_tls_is_refused_unless_allowed() {
        assert!(super::check_transport_security("smtp://u:secret@relay:587", false).is_err());
        assert!(super::check_transport_security("smtp://relay:587?tls=opportunistic", false).is_err());
        assert!(super::check_transport_security("smtp://u:p@relay:587?tls=required", false).is_ok());
        assert!(super::check_transport_security("smtps://u:p@relay:465", false).is_ok());
        assert!(super::check_transport_security("smtp://127.0.0.1:25", true).is_ok());
        let message = super::check_transport_security("smtp://u:secret@relay:587", false)
            .unwrap_err()
            .to_string();
        assert!(!message.contains("secret"), "{message}");
    }

    use super::*;

    #[test]
    fn urls_never_show_credentials() {
        assert_eq!(
            redact_url("smtps://marie:s3cr%40t@mail.example.org:465"),
            "smtps://***:***@mail.example.org:465"
        );
        assert_eq!(redact_url("smtp://localhost:25"), "smtp://localhost:25");
        assert_eq!(redact_url("not a url:pw@host"), "***@host");
        let secrets = url_secrets("smtps://marie:s3cr%40t@mail.example.org:465");
        assert!(secrets.contains(&"s3cr@t".to_owned()), "{secrets:?}");
        assert_eq!(
            scrub("auth failed for marie with s3cr@t", None, &secrets),
            "auth failed for *** with ***"
        );
    }

    #[test]
    fn bad_urls_and_senders_say_what_to_give() {
        let error = Mailer::new("ftp://u:hunter22@host", "a@b.fr", Duration::from_secs(1)).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("smtp://host:25") && !text.contains("hunter22"), "{text}");
        let error = Mailer::new("smtp://host:25", "not an address", Duration::from_secs(1)).unwrap_err();
        assert!(error.to_string().contains("--mail-from"), "{error}");
    }

    #[test]
    fn server_errors_lose_the_address() {
        let scrubbed = scrub(
            "permanent error (550): 5.1.1 <Marie.Curie@Example.fr>: user marie.curie unknown",
            Some("marie.curie@example.fr"),
            &[],
        );
        assert!(!scrubbed.to_lowercase().contains("marie.curie"), "{scrubbed}");
        assert!(scrubbed.contains("m…@example.fr"), "{scrubbed}");
    }

    #[test]
    fn message_has_text_html_and_both_attachments() {
        let from: Mailbox = "Badges <badges@example.org>".parse().unwrap();
        let content = MessageContent {
            badge_fr: "Participant·e".into(),
            badge_en: "Participant".into(),
            issuer: "Fête <du> code".into(),
            language: Language::Fr,
            links: MessageLinks {
                claim: "https://hub.example.org/claim/ABC".into(),
                public: "https://hub.example.org/badge/XYZ".into(),
                linkedin: "https://www.linkedin.com/profile/add?name=a&b=c".into(),
            },
            message_id: Some("0123abcd".into()),
            date_ms: 1_795_000_000_000,
        };
        let message = build_message(
            &from,
            "visitor@example.fr",
            &content,
            (b"\x89PNG fake".to_vec(), "image/png", "badge.png"),
            (b"{}".to_vec(), "application/json", "badge.json"),
        )
        .unwrap();
        let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
        for needle in [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "image/png",
            "filename=\"badge.png\"",
            "filename=\"badge.json\"",
            "To: visitor@example.fr",
            // Issue #20: large providers penalise messages without these.
            "Message-ID: <0123abcd@example.org>",
            "Date: Wed, 18 Nov 2026",
        ] {
            assert!(raw.contains(needle), "{needle} missing in\n{raw}");
        }
        // The bodies, as the templates write them: the visitor's language first, the links,
        // the issuer's name escaped in HTML only.
        let sections = [
            Section::new(Language::Fr, &content, "badge.png"),
            Section::new(Language::En, &content, "badge.png"),
        ];
        let text = TextBody {
            sections: &sections,
            links: &content.links,
            has_json: true,
        }
        .render()
        .unwrap();
        assert!(text.find("Bonjour").unwrap() < text.find("Hello").unwrap(), "{text}");
        assert!(
            text.contains("Fête <du> code") && text.contains("badge.json est le même"),
            "{text}"
        );
        for link in [&content.links.claim, &content.links.public, &content.links.linkedin] {
            assert!(text.contains(link.as_str()), "{link} missing in\n{text}");
        }
        let html = HtmlBody {
            sections: &sections,
            links: &content.links,
            has_json: true,
            subject: "Votre badge",
            lang: "fr",
        }
        .render()
        .unwrap();
        assert!(
            html.contains("Fête &#60;du&#62; code") || html.contains("Fête &lt;du&gt; code"),
            "{html}"
        );
        assert!(html.contains("href=\"https://hub.example.org/claim/ABC\""), "{html}");
        assert!(
            html.contains("name=a&#38;b=c") || html.contains("name=a&amp;b=c"),
            "{html}"
        );
        assert!(build_message(
            &from,
            "no at sign",
            &content,
            (Vec::new(), "image/png", "badge.png"),
            (Vec::new(), "application/json", "badge.json")
        )
        .is_err());
    }
}
