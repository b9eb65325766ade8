//! The visitor's side of the hub, on a phone: the claim page a kiosk's QR code opens
//! (`/claim/<token>`), its downloads and "send it to my email" form, the badge's public
//! page to share (`/badge/<public id>`) and the event's images as PNG (`/images/…`).
//!
//! One language per page (`lang::negotiate`), phone first, no outside resource: the page
//! is a template with one small inline stylesheet, and its only outside links are the
//! LinkedIn "add to profile" link. The claim token is the visitor's secret: it never
//! appears in a credential (a salted hash does), in a public page, or in a `Referer`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};

use super::images::{data_uri, ImageCache};
use super::lang::{negotiate, COOKIE};
use super::words::{words, Words};
use crate::credential::from_record::CredentialImages;
use crate::domain::event::{EventDefinition, Language};
use crate::hub::state::{blocking, error, HubState, SharedHub};
use crate::hub::store::{HubError, HubStore};

/// The visitor's routes; merged into the hub's router.
pub fn routes() -> Router<SharedHub> {
    Router::new()
        .route("/claim/{token}", get(claim_page))
        .route("/claim/{token}/email", post(claim_email))
        .route("/claim/{token}/{format}", get(claim_credential))
        .route("/badge/{public_id}", get(public_page))
        .route("/images/badges/{file}", get(badge_image))
        .route("/images/issuer.png", get(issuer_image))
}

// ------------------------------------------------------------------ what a claim holds

/// A visitor's credential, signed by the event key, and the badge's image as PNG.
pub(crate) struct ClaimCredential {
    pub badge_id: String,
    pub credential: serde_json::Value,
    /// The badge image as PNG (rendered from the event's SVG if need be).
    pub image: Option<Vec<u8>>,
    pub created_at_ms: i64,
}

/// The credential behind a claim link (None: not synced yet, or a hub-merged pathway
/// without a kiosk record). Shared by the pages, the downloads and the mailer. It carries
/// the badge's and the issuer's images as `data:` URIs, so that a wallet shows the badge
/// even when this hub is gone.
pub(crate) fn claim_credential_in(
    hub: &HubState,
    store: &HubStore,
    token: &str,
    language: Language,
) -> Result<Option<ClaimCredential>, HubError> {
    claim_credential_for(hub, store, token, language, None)
}

/// [`claim_credential_in`], with `credentialSubject.id` = `holder` when a wallet takes it
/// (`hub::web::wallet`).
pub(crate) fn claim_credential_for(
    hub: &HubState,
    store: &HubStore,
    token: &str,
    language: Language,
    holder: Option<&str>,
) -> Result<Option<ClaimCredential>, HubError> {
    let Some(event_key) = hub.event_key.as_ref() else {
        return Ok(None);
    };
    let Some((badge_id, Some(bytes))) = store.claim(token)? else {
        return Ok(None);
    };
    let record = crate::domain::award::AwardRecord::from_bytes(&bytes)
        .map_err(|failure| HubError::BadRequest(failure.to_string()))?;
    let badge_png = badge_png(hub, &store.event, &badge_id);
    let images = CredentialImages {
        badge: badge_png.as_deref().map(|png| data_uri(png)),
        issuer: issuer_png(hub, &store.event).as_deref().map(|png| data_uri(png)),
    };
    // A badge emailed to a typed address names that address: the hub holds it beside the
    // record (until `hub purge`).
    let email = match record.content.recipient {
        crate::domain::award::Recipient::EmailHash(_) => store.typed_email_of_claim(token)?,
        _ => None,
    };
    let credential = match holder {
        None => crate::credential::from_record::signed_credential_for(
            &store.event,
            &record,
            email.as_deref(),
            event_key,
            language,
            &images,
        ),
        Some(holder) => crate::credential::from_record::signed_credential_for_holder(
            &store.event,
            &record,
            event_key,
            language,
            &images,
            holder,
        ),
    }
    .map_err(|failure| HubError::BadRequest(failure.to_string()))?;
    Ok(Some(ClaimCredential {
        badge_id,
        credential,
        image: badge_png.map(|png| png.to_vec()),
        created_at_ms: record.content.created_at_ms,
    }))
}

/// The PNG of the event's image at `path`, from the files the hub serves.
fn event_png(
    cache: &ImageCache,
    files: &std::collections::BTreeMap<String, Vec<u8>>,
    path: &str,
) -> Option<Arc<Vec<u8>>> {
    let source = files.get(path)?;
    match cache.png(path, source) {
        Ok(png) => Some(png),
        Err(failure) => {
            tracing::warn!(%path, %failure, "event image");
            None
        }
    }
}

fn badge_png(hub: &HubState, event: &EventDefinition, badge_id: &str) -> Option<Arc<Vec<u8>>> {
    let path = &event.badge(badge_id)?.image;
    event_png(&hub.images, &hub.event_files, path)
}

fn issuer_png(hub: &HubState, event: &EventDefinition) -> Option<Arc<Vec<u8>>> {
    let path = event.issuer.image.as_deref()?;
    event_png(&hub.images, &hub.event_files, path)
}

/// Whether `credential` verifies and was signed by one of the event's keys: what the
/// pages' "this badge is genuine" line says, checked on every view.
fn is_genuine(event: &EventDefinition, credential: &serde_json::Value) -> bool {
    let Ok(verified) = crate::credential::verify(credential) else {
        return false;
    };
    event
        .public_keys()
        .iter()
        .any(|key| crate::credential::did_key(key) == verified.issuer)
}

/// The id of a claimed badge's public page: a one-way hash of the claim token, so that
/// it finds the badge and never gives the claim link away.
pub fn public_id(event_id: &str, token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"badge-kiosk/public-badge/v1\0")
        .chain_update(event_id.as_bytes())
        .chain_update([0])
        .chain_update(token.trim().as_bytes())
        .finalize();
    crate::domain::base32::encode(&digest[..10])
}

impl HubStore {
    /// Makes the badge behind `token` reachable at its public page (once; idempotent).
    pub fn publish_badge(&self, public_id: &str, token: &str, now_ms: i64) -> Result<(), HubError> {
        self.connection().execute(
            "INSERT OR IGNORE INTO public_badges (public_id, claim_token, created_ms) VALUES (?1, ?2, ?3)",
            rusqlite::params![public_id, token, now_ms],
        )?;
        Ok(())
    }

    /// The claim token behind a public page.
    pub fn published_badge(&self, public_id: &str) -> Result<Option<String>, HubError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .connection()
            .query_row(
                "SELECT claim_token FROM public_badges WHERE public_id = ?1",
                [public_id],
                |row| row.get(0),
            )
            .optional()?)
    }
}

/// The address phones use: the event's public claim address, else this hub's own.
pub(crate) fn public_base<'a>(hub: &'a HubState, event: &'a EventDefinition) -> &'a str {
    event.claim.base().unwrap_or(&hub.public_url)
}

/// LinkedIn's "add a certification to your profile" link, prefilled (the member confirms
/// on LinkedIn; nothing is sent before they do).
pub fn linkedin_url(name: &str, organisation: &str, at_ms: i64, cert_url: &str, cert_id: &str) -> String {
    use chrono::Datelike;
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    const COMPONENT: &percent_encoding::AsciiSet =
        &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    let at = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    let encode = |text: &str| utf8_percent_encode(text, COMPONENT).to_string();
    format!(
        "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name={}&organizationName={}&issueYear={}&issueMonth={}&certUrl={}&certId={}",
        encode(name),
        encode(organisation),
        at.year(),
        at.month(),
        encode(cert_url),
        encode(cert_id),
    )
}

// ------------------------------------------------------------------ templates

/// What the pages show of a badge.
struct BadgeView {
    name: String,
    description: String,
    criteria: String,
    event: String,
    date: String,
    issuer: String,
    /// Relative URL of the badge image on this hub (empty: none).
    image: String,
}

impl BadgeView {
    fn new(event: &EventDefinition, badge_id: &str, created_at_ms: Option<i64>, w: &Words, language: Language) -> Self {
        let badge = event.badge(badge_id);
        let text = |pick: fn(&crate::domain::event::BadgeClass) -> &crate::domain::event::Localised| {
            badge.map_or_else(String::new, |badge| pick(badge).get(language).to_owned())
        };
        Self {
            name: badge.map_or_else(|| badge_id.to_owned(), |badge| badge.name.get(language).to_owned()),
            description: text(|badge| &badge.description),
            criteria: text(|badge| &badge.criteria),
            event: event.event.name.get(language).to_owned(),
            date: created_at_ms.map(|at| w.date(at)).unwrap_or_default(),
            issuer: event.issuer.name.clone(),
            image: if badge.is_some() {
                format!("/images/badges/{badge_id}.png")
            } else {
                String::new()
            },
        }
    }
}

#[derive(Template)]
#[template(path = "claim/page.html")]
struct ClaimPage {
    w: &'static Words,
    badge: BadgeView,
    token: String,
    /// None: no credential to check (the hub has no event key, or a hub-merged award).
    genuine: Option<bool>,
    linkedin: String,
    /// Path of the badge's public page.
    public_path: String,
    /// The hub hands out credentials (downloads, email).
    downloads: bool,
    /// Shown instead of the downloads.
    note: &'static str,
    /// "Add to my wallet" (None: wallets hidden on this hub, or no genuine credential).
    wallet_offer: Option<super::wallet::links::WalletOffer>,
    /// Instead of the wallet links: minutes until this claim link gets new ones.
    wallet_wait: Option<i64>,
}

#[derive(Template)]
#[template(path = "claim/public.html")]
struct PublicPage {
    w: &'static Words,
    badge: BadgeView,
    genuine: bool,
    og_image: String,
    og_url: String,
    self_path: String,
}

#[derive(Template)]
#[template(path = "claim/message.html")]
struct MessagePage {
    w: &'static Words,
    title: String,
    body: String,
    detail: String,
    /// The claim page to go back to (empty: none).
    back: String,
    /// Reload every few seconds (the badge is on its way from the kiosk).
    refresh: bool,
}

/// A page, with the headers every visitor page gets: never cached when private, no
/// `Referer` leaving it (the claim token is in its address), and the language cookie
/// when the visitor just chose one.
fn html(status: StatusCode, page: &impl Template, private: bool, chosen: Option<Language>) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(failure) => {
            tracing::error!(%failure, "claim page template");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be drawn; try again",
            );
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if private { "no-store" } else { "public, max-age=300" }),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    if let Some(language) = chosen {
        if let Ok(cookie) = HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            language.code()
        )) {
            headers.insert(header::SET_COOKIE, cookie);
        }
    }
    response
}

#[derive(Debug, serde::Deserialize)]
struct LanguageQuery {
    lang: Option<String>,
}

/// The page language, and whether the visitor just chose it (`?lang=`).
fn page_language(query: &LanguageQuery, headers: &HeaderMap) -> (Language, Option<Language>) {
    let header_text = |name: header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok());
    let language = negotiate(
        query.lang.as_deref(),
        header_text(header::COOKIE),
        header_text(header::ACCEPT_LANGUAGE),
    );
    let chosen = query
        .lang
        .as_deref()
        .filter(|code| matches!(code.trim(), "fr" | "en"))
        .map(|_| language);
    (language, chosen)
}

fn message(w: &'static Words, title: &str, body: String, detail: String, token: &str) -> MessagePage {
    MessagePage {
        w,
        title: title.to_owned(),
        body,
        detail,
        back: if token.is_empty() {
            String::new()
        } else {
            format!("/claim/{token}")
        },
        refresh: false,
    }
}

fn not_yet(w: &'static Words) -> MessagePage {
    MessagePage {
        w,
        title: w.not_yet_title.to_owned(),
        body: w.not_yet_body.to_owned(),
        detail: w.not_yet_waiting.to_owned(),
        back: String::new(),
        refresh: true,
    }
}

/// How long a kiosk's last contact vouches for "within a few minutes" (a kiosk syncs at
/// least every few minutes while online, and every pass reaches the hub).
const RECENT_CONTACT_MS: i64 = 10 * 60_000;

/// "On its way", with the time expected from the kiosks' last contact with this hub.
fn not_yet_expected(w: &'static Words, latest_contact_ms: Option<i64>, now_ms: i64) -> MessagePage {
    let mut page = not_yet(w);
    if let Some(at) = latest_contact_ms {
        let minutes = (now_ms.saturating_sub(at).max(0) / 60_000).to_string();
        let text = if now_ms.saturating_sub(at) <= RECENT_CONTACT_MS {
            w.not_yet_recent
        } else {
            w.not_yet_quiet
        };
        page.detail = text.replace("{n}", &minutes);
    }
    page
}

// ------------------------------------------------------------------ handlers

/// Where a claim link leads, as the claim page shows it.
struct ClaimFound {
    badge_id: String,
    created_at_ms: Option<i64>,
    genuine: Option<bool>,
    wallet: Option<super::wallet::links::WalletLinks>,
}

async fn claim_page(
    State(hub): State<SharedHub>,
    UrlPath(token): UrlPath<String>,
    Query(query): Query<LanguageQuery>,
    headers: HeaderMap,
) -> Response {
    let (language, chosen) = page_language(&query, &headers);
    let w = words(language);
    let state = Arc::clone(&hub);
    let lookup = token.clone();
    let found = blocking(&hub, move |store, now| {
        let Some((badge_id, record)) = store.claim(&lookup).or_else(not_a_link)? else {
            return Ok(Err((store.latest_kiosk_contact_ms()?, now)));
        };
        let credential = claim_credential_in(&state, store, &lookup, language)?;
        let genuine = credential
            .as_ref()
            .map(|found| is_genuine(&store.event, &found.credential));
        let mut wallet = None;
        if genuine == Some(true) {
            store.publish_badge(&public_id(&store.event.event.id, &lookup), &lookup, now)?;
            wallet = super::wallet::links::links_for(&state, store, &lookup, language, now)?;
        }
        let created_at_ms = credential.as_ref().map(|found| found.created_at_ms).or_else(|| {
            record
                .and_then(|bytes| crate::domain::award::AwardRecord::from_bytes(&bytes).ok())
                .map(|record| record.content.created_at_ms)
        });
        Ok(Ok((
            ClaimFound {
                badge_id,
                created_at_ms,
                genuine,
                wallet,
            },
            store.event.clone(),
        )))
    })
    .await;
    let (found, event) = match found {
        Ok(Ok(found)) => found,
        Ok(Err((latest, now))) => return html(StatusCode::NOT_FOUND, &not_yet_expected(w, latest, now), true, chosen),
        Err(response) => return response,
    };
    let badge = BadgeView::new(&event, &found.badge_id, found.created_at_ms, w, language);
    let public = public_id(&event.event.id, &token);
    let public_url = format!("{}/badge/{public}", public_base(&hub, &event));
    let downloads = hub.event_key.is_some() && found.genuine.is_some();
    let page = ClaimPage {
        w,
        linkedin: linkedin_url(
            &badge.name,
            &event.issuer.name,
            found.created_at_ms.unwrap_or_else(|| (hub.clock)()),
            &public_url,
            &public,
        ),
        badge,
        public_path: if found.genuine == Some(true) {
            format!("/badge/{public}")
        } else {
            String::new()
        },
        downloads,
        note: if hub.event_key.is_none() {
            w.no_badges_here
        } else {
            w.recorded_only
        },
        genuine: found.genuine,
        wallet_offer: match &found.wallet {
            Some(super::wallet::links::WalletLinks::Offered(offer)) => Some(offer.clone()),
            _ => None,
        },
        wallet_wait: match found.wallet {
            Some(super::wallet::links::WalletLinks::RateLimited { minutes }) => Some(minutes),
            _ => None,
        },
        token,
    };
    html(StatusCode::OK, &page, true, chosen)
}

/// A malformed claim token is simply "no such claim" to a visitor.
fn not_a_link<T>(failure: HubError) -> Result<Option<T>, HubError> {
    match failure {
        HubError::BadRequest(_) => Ok(None),
        other => Err(other),
    }
}

/// The badge's public page: what the visitor shares (Open Graph tags for the preview).
async fn public_page(
    State(hub): State<SharedHub>,
    UrlPath(public): UrlPath<String>,
    Query(query): Query<LanguageQuery>,
    headers: HeaderMap,
) -> Response {
    let (language, chosen) = page_language(&query, &headers);
    let w = words(language);
    let state = Arc::clone(&hub);
    let wanted = public.clone();
    let found = blocking(&hub, move |store, _| {
        let Some(token) = store.published_badge(&wanted)? else {
            return Ok(None);
        };
        let Some(found) = claim_credential_in(&state, store, &token, language)? else {
            return Ok(None);
        };
        let genuine = is_genuine(&store.event, &found.credential);
        Ok(Some((
            found.badge_id,
            found.created_at_ms,
            genuine,
            store.event.clone(),
        )))
    })
    .await;
    let (badge_id, created_at_ms, genuine, event) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            let page = message(w, w.unknown_title, w.unknown_body.to_owned(), String::new(), "");
            return html(StatusCode::NOT_FOUND, &page, false, chosen);
        }
        Err(response) => return response,
    };
    let base = public_base(&hub, &event).to_owned();
    let badge = BadgeView::new(&event, &badge_id, Some(created_at_ms), w, language);
    let page = PublicPage {
        w,
        og_image: if badge.image.is_empty() {
            String::new()
        } else {
            format!("{base}{}", badge.image)
        },
        og_url: format!("{base}/badge/{public}"),
        self_path: format!("/badge/{public}"),
        badge,
        genuine,
    };
    html(StatusCode::OK, &page, false, chosen)
}

/// A downloadable file: bytes, content type, file name.
pub(crate) type ClaimFile = (Vec<u8>, &'static str, &'static str);

/// The badge image with the credential baked in (PNG, or SVG for an SVG the hub could
/// not render); the credential JSON alone when the badge has no image.
pub(crate) fn baked_badge(
    image: Option<&[u8]>,
    credential: &serde_json::Value,
) -> Result<ClaimFile, crate::credential::CredentialError> {
    match image {
        None => Ok(credential_json(credential)),
        Some(image) if image.starts_with(b"\x89PNG") => Ok((
            crate::credential::bake_png(image, credential)?,
            "image/png",
            "badge.png",
        )),
        Some(image) => Ok((
            crate::credential::bake_svg(&String::from_utf8_lossy(image), credential)?.into_bytes(),
            "image/svg+xml",
            "badge.svg",
        )),
    }
}

pub(crate) fn credential_json(credential: &serde_json::Value) -> ClaimFile {
    (
        serde_json::to_vec_pretty(credential).unwrap_or_default(),
        "application/json",
        "badge.json",
    )
}

/// The visitor's credential, signed by the event key (the hub is the organiser's own
/// machine): as JSON for wallets, or baked into the badge PNG.
async fn claim_credential(
    State(hub): State<SharedHub>,
    UrlPath((token, format)): UrlPath<(String, String)>,
    Query(query): Query<LanguageQuery>,
    headers: HeaderMap,
) -> Response {
    if hub.event_key.is_none() {
        return error(StatusCode::NOT_FOUND, "this hub does not hand out badges");
    }
    if format != "badge" && format != "credential.json" {
        return error(StatusCode::NOT_FOUND, "ask for /badge or /credential.json");
    }
    let (language, _) = page_language(&query, &headers);
    let state = Arc::clone(&hub);
    let result = blocking(&hub, move |store, now| {
        let found = claim_credential_in(&state, store, &token, language).or_else(not_a_link)?;
        if found.is_some() {
            store.note_claimed(&token, now)?;
        }
        Ok(found)
    })
    .await;
    let found = match result {
        Ok(Some(found)) => found,
        Ok(None) => return html(StatusCode::NOT_FOUND, &not_yet(words(language)), true, None),
        Err(response) => return response,
    };
    let file = if format == "badge" {
        baked_badge(found.image.as_deref(), &found.credential)
    } else {
        Ok(credential_json(&found.credential))
    };
    match file {
        Ok((bytes, content_type, name)) => (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            bytes,
        )
            .into_response(),
        Err(failure) => error(StatusCode::INTERNAL_SERVER_ERROR, failure.to_string()),
    }
}

fn png_response(png: Option<Arc<Vec<u8>>>) -> Response {
    match png {
        Some(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            png.to_vec(),
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "no such image"),
    }
}

/// A badge's image as PNG (`/images/badges/<badge id>.png`): the claim page's picture
/// and the public page's Open Graph image.
async fn badge_image(State(hub): State<SharedHub>, UrlPath(file): UrlPath<String>) -> Response {
    let Some(badge_id) = file.strip_suffix(".png").map(str::to_owned) else {
        return error(StatusCode::NOT_FOUND, "ask for /images/badges/<badge id>.png");
    };
    let state = Arc::clone(&hub);
    let png = tokio::task::spawn_blocking(move || {
        let event = state.store.lock().ok()?.event.clone();
        badge_png(&state, &event, &badge_id)
    })
    .await
    .ok()
    .flatten();
    png_response(png)
}

async fn issuer_image(State(hub): State<SharedHub>) -> Response {
    let state = Arc::clone(&hub);
    let png = tokio::task::spawn_blocking(move || {
        let event = state.store.lock().ok()?.event.clone();
        issuer_png(&state, &event)
    })
    .await
    .ok()
    .flatten();
    png_response(png)
}

#[derive(Debug, serde::Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
    lang: Option<String>,
}

/// How long the answer to the form waits for the mailer before saying "queued".
const MAIL_ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(8);

/// The light check the kiosk makes, and an address lettre can put in an envelope.
pub(crate) fn is_valid_address(address: &str) -> bool {
    crate::domain::award::is_plausible_email(address) && address.trim().parse::<lettre::Address>().is_ok()
}

/// The claim page's form: validates the address, queues the message (at most
/// `MAX_EMAILS_PER_TOKEN` per claim link and hour), and tells what happens next.
async fn claim_email(
    State(hub): State<SharedHub>,
    UrlPath(token): UrlPath<String>,
    headers: HeaderMap,
    form: Result<axum::Form<EmailForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    use crate::hub::outbox::{mask_address, EmailState, QueueOutcome};
    let form = form.map(|axum::Form(form)| form).unwrap_or(EmailForm {
        email: String::new(),
        lang: None,
    });
    let (language, _) = page_language(
        &LanguageQuery {
            lang: form.lang.clone(),
        },
        &headers,
    );
    let w = words(language);
    if hub.event_key.is_none() {
        let page = message(
            w,
            w.cannot_send_title,
            w.no_badges_here.to_owned(),
            String::new(),
            &token,
        );
        return html(StatusCode::NOT_FOUND, &page, true, None);
    }
    let address = form.email.trim().to_owned();
    if !is_valid_address(&address) {
        let page = message(w, w.bad_address_title, w.bad_address_body.to_owned(), address, &token);
        return html(StatusCode::BAD_REQUEST, &page, true, None);
    }
    let hint = mask_address(&address);
    let token_for_queue = token.clone();
    let queued = blocking(&hub, move |store, now| {
        store.queue_claim_email(&token_for_queue, &address, language.code(), now)
    })
    .await;
    let id = match queued {
        Ok(QueueOutcome::Queued(id)) => id,
        Ok(QueueOutcome::UnknownClaim) => return html(StatusCode::NOT_FOUND, &not_yet(w), true, None),
        Ok(QueueOutcome::RateLimited { retry_at_ms }) => {
            let minutes = ((retry_at_ms - (hub.clock)()).max(0) + 59_999) / 60_000;
            let body = format!("{} {minutes} {}{}", w.too_many_body, w.minutes, w.too_many_after);
            let page = message(w, w.too_many_title, body, String::new(), &token);
            return html(StatusCode::TOO_MANY_REQUESTS, &page, true, None);
        }
        Err(response) => return response,
    };
    let enabled = hub.mail.enabled.load(std::sync::atomic::Ordering::SeqCst);
    let mut state = EmailState::Waiting {
        attempts: 0,
        last_error: None,
    };
    if enabled {
        hub.mail.wake.notify_one();
        let deadline = tokio::time::Instant::now() + MAIL_ANSWER_WAIT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            match blocking(&hub, move |store, _| store.claim_email_state(id)).await {
                Ok(Some(EmailState::Waiting { .. })) => continue,
                Ok(Some(done)) => {
                    state = done;
                    break;
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
    let (status, page) = match state {
        EmailState::Sent => (
            StatusCode::OK,
            message(
                w,
                w.sent_title,
                format!("{} {hint}", w.sent_body),
                String::new(),
                &token,
            ),
        ),
        EmailState::Failed(reason) => (
            StatusCode::OK,
            message(w, w.refused_title, format!("{} {hint}", w.refused_body), reason, &token),
        ),
        EmailState::Waiting { .. } if enabled => (
            StatusCode::ACCEPTED,
            message(
                w,
                w.on_its_way_title,
                format!("{} {hint}", w.on_its_way_body),
                String::new(),
                &token,
            ),
        ),
        EmailState::Waiting { .. } => (
            StatusCode::ACCEPTED,
            message(
                w,
                w.queued_title,
                format!("{} {hint}", w.queued_body),
                String::new(),
                &token,
            ),
        ),
    };
    html(status, &page, true, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20 item 5: "on its way" says when, from the kiosks' last contact.
    #[test]
    fn on_its_way_says_when_from_the_kiosks_last_contact() {
        let now = 1_795_000_000_000;
        let w = words(Language::En);
        let recent = not_yet_expected(w, Some(now - 3 * 60_000), now);
        assert_eq!(recent.title, w.not_yet_title);
        assert!(
            recent.detail.contains("in touch with this site 3 min ago"),
            "{}",
            recent.detail
        );
        assert!(recent.detail.contains("within a few minutes"), "{}", recent.detail);
        let quiet = not_yet_expected(words(Language::Fr), Some(now - 45 * 60_000), now);
        assert!(quiet.detail.contains("depuis 45 min"), "{}", quiet.detail);
        assert!(!quiet.detail.contains("quelques minutes"), "{}", quiet.detail);
        assert_eq!(not_yet_expected(w, None, now).detail, w.not_yet_waiting);
    }

    #[test]
    fn the_public_id_is_stable_and_does_not_contain_the_token() {
        let token = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let id = public_id("finales-metiers-2026", token);
        assert_eq!(id, public_id("finales-metiers-2026", token));
        assert_eq!(id.len(), 16);
        assert_ne!(id, public_id("another-event", token));
        assert_ne!(id, public_id("finales-metiers-2026", "ABCDEFGHIJKLMNOPQRSTUVWXY2"));
        assert!(!token.contains(&id) && !id.contains(&token[..8]));
    }

    #[test]
    fn the_linkedin_link_is_prefilled_and_encoded() {
        let url = linkedin_url(
            "J'ai assisté aux Finales & co",
            "Chambre des métiers",
            1_795_000_000_000,
            "https://claim.example.org/badge/ABCD",
            "ABCD",
        );
        assert!(url.starts_with("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name=J%27ai%20assist%C3%A9%20aux%20Finales%20%26%20co&"), "{url}");
        assert!(url.contains("&organizationName=Chambre%20des%20m%C3%A9tiers&"), "{url}");
        assert!(url.contains("&issueYear=2026&issueMonth=11&"), "{url}");
        assert!(
            url.contains("&certUrl=https%3A%2F%2Fclaim.example.org%2Fbadge%2FABCD&certId=ABCD"),
            "{url}"
        );
    }
}
