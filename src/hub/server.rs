//! The hub's HTTP API and pages (axum). SQLite work runs on blocking threads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::SigningKey;

use super::store::{HubError, HubStore};
use crate::domain::bundle::BundleContent;
use crate::domain::enrolment::EnrolmentCode;
use crate::domain::keys::KioskCertificate;
use crate::sync::protocol::*;

pub struct HubState {
    pub store: Mutex<HubStore>,
    pub event_toml: String,
    /// The badge and issuer images event.toml refers to, sent to kiosks in the bundle.
    pub event_files: BTreeMap<String, Vec<u8>>,
    /// Needed to enrol kiosks (certify their device keys), sign bundles and credentials.
    pub event_key: Option<SigningKey>,
    pub clock: Box<dyn Fn() -> i64 + Send + Sync>,
    /// The address kiosks reach this hub at, for enrolment codes (e.g. `http://10.0.0.2:8787`).
    pub public_url: String,
    /// The claim-email outbox's mailer: whether one runs, and its "look now" bell.
    pub mail: MailSignal,
    /// True when the organiser chose plain HTTP (`--insecure-http`): the console and the
    /// kiosks' organiser panel say that enrolment codes, emails and claim links cross the
    /// network in clear.
    pub plain_http: bool,
    /// SHA-256 of the hub's TLS certificate, put in enrolment codes so kiosks pin it.
    pub tls_pin: Option<[u8; 32]>,
    /// Enrolment attempts per network address (see `trust::AttemptLimiter`).
    pub enrol_attempts: super::trust::AttemptLimiter,
    /// The event's images as PNG for the claim pages and credentials, rendered once.
    pub images: super::web::images::ImageCache,
}

/// Shared between the claim-email form and the mailer task (see `hub::mailer`).
#[derive(Debug, Default)]
pub struct MailSignal {
    /// True once a mailer runs (`hub serve --smtp-url`).
    pub enabled: std::sync::atomic::AtomicBool,
    /// Rung when a visitor queues an email, so the mailer sends it now.
    pub wake: tokio::sync::Notify,
}

impl HubState {
    /// The hub for `event` (with its key when this is the organiser's machine); kiosks
    /// reach it at `public_url`.
    pub fn new(
        store: HubStore,
        event: &crate::eventdir::EventDir,
        public_url: &str,
        clock: Box<dyn Fn() -> i64 + Send + Sync>,
    ) -> Result<Self, HubError> {
        let event_toml = std::fs::read_to_string(event.dir.join(crate::eventdir::EVENT_FILE))
            .map_err(|failure| HubError::BadRequest(format!("cannot read event.toml: {failure}")))?;
        Ok(Self {
            store: Mutex::new(store),
            event_toml,
            event_files: event.bundle_files(),
            event_key: event.event_key.clone(),
            clock,
            public_url: public_url.trim_end_matches('/').to_owned(),
            mail: MailSignal::default(),
            plain_http: !public_url.starts_with("https://"),
            tls_pin: None,
            enrol_attempts: super::trust::AttemptLimiter::default(),
            images: super::web::images::ImageCache::default(),
        })
    }

    /// This hub serves TLS with the certificate whose SHA-256 is `pin`: enrolment codes
    /// carry it and kiosks accept no other.
    pub fn pinned(mut self, pin: [u8; 32]) -> Self {
        self.tls_pin = Some(pin);
        self.plain_http = false;
        self
    }

    /// A new enrolment code (the text to show as a QR) valid for `kiosks` devices during
    /// `valid_for_ms`.
    pub fn new_enrolment_code(&self, kiosks: u32, valid_for_ms: i64, now_ms: i64) -> Result<String, HubError> {
        let event_key = self.event_key.as_ref().ok_or_else(|| {
            HubError::BadRequest("this hub has no event key: enrol kiosks from the organiser's hub".into())
        })?;
        let store = self
            .store
            .lock()
            .map_err(|_| HubError::Internal("hub store poisoned".into()))?;
        let token = store.create_enrol_token(now_ms, kiosks, now_ms.saturating_add(valid_for_ms.max(0)))?;
        EnrolmentCode::sign(&self.public_url, &token, self.tls_pin, event_key)
            .map(|code| code.to_url())
            .map_err(|error| HubError::BadRequest(format!("cannot make an enrolment code: {error}")))
    }

    /// The signed bundle every kiosk fetches: event, images, revocations, trusted time.
    fn signed_bundle(&self, store: &HubStore, now_ms: i64) -> Result<SignedBundle, HubError> {
        let event_key = self.event_key.as_ref().ok_or_else(|| {
            HubError::BadRequest("this hub has no event key: kiosks get their bundle from the organiser's hub".into())
        })?;
        let content = BundleContent {
            event_id: store.event.event.id.clone(),
            event_toml: self.event_toml.clone(),
            files: self
                .event_files
                .iter()
                .map(|(path, bytes)| (path.clone(), hex::encode(bytes)))
                .collect(),
            revoked: store.revoked_codes()?.iter().map(hex::encode).collect(),
            signed_at_ms: now_ms,
        };
        SignedBundle::sign(&content, event_key).map_err(|error| HubError::BadRequest(error.to_string()))
    }
}

pub type SharedHub = Arc<HubState>;

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: message.into() })).into_response()
}

fn hub_error(failure: HubError) -> Response {
    let status = match &failure {
        HubError::Unenrolled(_) => StatusCode::UNAUTHORIZED,
        HubError::RevokedKiosk(..) => StatusCode::FORBIDDEN,
        HubError::OtherEvent { .. } => StatusCode::CONFLICT,
        HubError::BadRequest(_) => StatusCode::BAD_REQUEST,
        HubError::Storage(_) | HubError::NewerSchema(_) | HubError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, failure.to_string())
}

/// Runs `work` on the store on a blocking thread (never on the runtime's threads), with
/// the hub's clock.
pub(crate) async fn with_store<T: Send + 'static>(
    hub: &SharedHub,
    work: impl FnOnce(&mut HubStore, i64) -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    let hub = Arc::clone(hub);
    tokio::task::spawn_blocking(move || {
        let now = (hub.clock)();
        let mut store = hub
            .store
            .lock()
            .map_err(|_| HubError::Internal("hub store poisoned".into()))?;
        work(&mut store, now)
    })
    .await
    .map_err(|join| HubError::Internal(join.to_string()))?
}

// The error is the HTTP answer itself, built once per failed request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub(crate) async fn blocking<T: Send + 'static>(
    hub: &SharedHub,
    work: impl FnOnce(&mut HubStore, i64) -> Result<T, HubError> + Send + 'static,
) -> Result<T, Response> {
    with_store(hub, work).await.map_err(hub_error)
}

async fn upload(State(hub): State<SharedHub>, body: Result<Json<UploadRequest>, JsonRejection>) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(
                rejection.status(),
                format!("malformed upload: {}", rejection.body_text()),
            )
        }
    };
    if request.records.len() > 10_000 {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "at most 10,000 records per upload");
    }
    let nonce = request.nonce.as_deref().and_then(parse_nonce);
    let state = Arc::clone(&hub);
    match blocking(&hub, move |store, now| {
        let mut response = store.ingest(&request, now)?;
        // The answer is what makes a kiosk forget an email and raise its clock: signed by
        // the event key for this very upload (its nonce), so no one else can forge it.
        if let (Some(event_key), Some(nonce)) = (state.event_key.as_ref(), nonce) {
            let kiosk_id = hex::decode(&request.certificate)
                .ok()
                .and_then(|bytes| KioskCertificate::from_bytes(&bytes).ok())
                .map(|certificate| certificate.kiosk_id)
                .unwrap_or_default();
            response
                .sign(&store.event.event.id, &kiosk_id, &nonce, event_key)
                .map_err(|failure| HubError::Internal(failure.to_string()))?;
        }
        Ok(response)
    })
    .await
    {
        Ok(response) => Json(response).into_response(),
        Err(response) => response,
    }
}

/// Who may read the bundle (event.toml, images, revocations): an enrolled kiosk that signs
/// its request with its device key, or a kiosk holding a live enrolment code.
fn bundle_reader(store: &HubStore, headers: &axum::http::HeaderMap, now: i64) -> Result<(), HubError> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(token) = text(ENROL_TOKEN_HEADER) {
        return if store.enrol_token_live(token, now)? {
            Ok(())
        } else {
            Err(HubError::Unenrolled(
                "unknown, expired or used-up enrolment code: show a new one from the hub".into(),
            ))
        };
    }
    let unenrolled = |why: &str| {
        HubError::Unenrolled(format!(
            "the event bundle is only for enrolled kiosks ({why}): enrol this kiosk with a code from the hub"
        ))
    };
    let certificate = text(CERTIFICATE_HEADER)
        .and_then(|hex_text| hex::decode(hex_text).ok())
        .and_then(|bytes| KioskCertificate::from_bytes(&bytes).ok())
        .ok_or_else(|| unenrolled("no kiosk certificate"))?;
    certificate
        .verify(&store.event.event.id, &store.event.public_keys())
        .map_err(|failure| unenrolled(&failure.to_string()))?;
    let time_ms = text(REQUEST_TIME_HEADER)
        .and_then(|value| value.parse::<i64>().ok())
        .ok_or_else(|| unenrolled("no request time"))?;
    let signature = text(REQUEST_SIGNATURE_HEADER)
        .and_then(|hex_text| hex::decode(hex_text).ok())
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| ed25519_dalek::Signature::from_bytes(&bytes))
        .ok_or_else(|| unenrolled("no request signature"))?;
    let message = bundle_request_message(&certificate.event_id, &certificate.kiosk_id, time_ms)
        .ok_or_else(|| unenrolled("unreadable request"))?;
    certificate
        .device_key
        .verify_strict(&message, &signature)
        .map_err(|_| unenrolled("the request is not signed by the kiosk's device key"))?;
    match store.kiosk_device(&certificate.kiosk_id)? {
        Some((_, Some(reason))) => Err(HubError::RevokedKiosk(certificate.kiosk_id.clone(), reason)),
        Some((key, None)) if key != certificate.device_key.as_bytes() => {
            // Stand-alone kiosks certify themselves; a newer certificate is checked at upload.
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn bundle(State(hub): State<SharedHub>, headers: axum::http::HeaderMap) -> Response {
    let state = Arc::clone(&hub);
    match blocking(&hub, move |store, now| {
        bundle_reader(store, &headers, now)?;
        Ok(EventBundle {
            bundle: state.signed_bundle(store, now)?,
            hub_time_ms: now,
            certificate: None,
        })
    })
    .await
    {
        Ok(bundle) => Json(bundle).into_response(),
        Err(response) => response,
    }
}

async fn enrol(
    State(hub): State<SharedHub>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<EnrolRequest>, JsonRejection>,
) -> Response {
    if let Err(wait_ms) = hub.enrol_attempts.attempt(peer.ip(), (hub.clock)()) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many enrolment attempts from this address: wait {} min and try again",
                (wait_ms + 59_999) / 60_000
            ),
        );
    }
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(
                rejection.status(),
                format!("malformed enrolment: {}", rejection.body_text()),
            )
        }
    };
    let Some(event_key) = hub.event_key.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this hub has no event key: enrol kiosks from the organiser's hub",
        );
    };
    let Some(device_key) = hex::decode(&request.device_key)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
    else {
        return error(StatusCode::BAD_REQUEST, "device_key must be 64 hex digits");
    };
    let state = Arc::clone(&hub);
    let result = blocking(&hub, move |store, now| {
        let issued_at = match store.use_enrol_token(&request.token, &request.kiosk_id, &device_key, now) {
            Ok(issued_at) => issued_at,
            Err(super::store::EnrolRefusal::Storage(failure)) => return Err(HubError::Storage(failure)),
            Err(super::store::EnrolRefusal::BadKioskId) => {
                return Err(HubError::BadRequest(super::store::EnrolRefusal::BadKioskId.to_string()))
            }
            Err(refusal) => return Err(HubError::Unenrolled(refusal.to_string())),
        };
        let certificate = KioskCertificate::issue(
            &event_key,
            &store.event.event.id,
            &request.kiosk_id,
            device_key,
            issued_at,
        )
        .map_err(|error| HubError::BadRequest(error.to_string()))?;
        let certificate = certificate
            .to_bytes()
            .map_err(|error| HubError::BadRequest(error.to_string()))?;
        Ok(EventBundle {
            bundle: state.signed_bundle(store, now)?,
            hub_time_ms: now,
            certificate: Some(hex::encode(certificate)),
        })
    })
    .await;
    match result {
        Ok(bundle) => Json(bundle).into_response(),
        Err(response) => response,
    }
}

async fn health(State(hub): State<SharedHub>) -> Response {
    Json(serde_json::json!({"status": "ok", "time_ms": (hub.clock)()})).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn dashboard(State(hub): State<SharedHub>) -> Response {
    let mail_enabled = hub.mail.enabled.load(std::sync::atomic::Ordering::SeqCst);
    match blocking(&hub, |store, _| {
        Ok((
            store.counts()?,
            store.claim_rate()?,
            store.event.clone(),
            store.outbox_counts()?,
        ))
    })
    .await
    {
        Ok((counts, (with_links, claimed), event, outbox)) => {
            let mut page = format!(
                "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{0} — hub</title>\
                 <style>body{{font-family:sans-serif;margin:2rem;max-width:60rem}}td,th{{padding:.3rem .8rem;text-align:left}}</style></head>\
                 <body><h1>{0}</h1><h2>Badges attribués · Awards</h2><table>",
                escape(&event.event.name.fr)
            );
            for (badge, count) in &counts.awards_by_badge {
                let name = event.badge(badge).map_or(badge.as_str(), |b| b.name.fr.as_str());
                page.push_str(&format!("<tr><td>{}</td><td>{count}</td></tr>", escape(name)));
            }
            page.push_str("</table><h2>Stands · Steps</h2><table>");
            for (stand, count) in &counts.steps_by_stand {
                page.push_str(&format!("<tr><td>{}</td><td>{count}</td></tr>", escape(stand)));
            }
            page.push_str("</table><h2>Bornes · Kiosks</h2><table>");
            for (kiosk, count) in &counts.records_by_kiosk {
                page.push_str(&format!("<tr><td>{}</td><td>{count} records</td></tr>", escape(kiosk)));
            }
            page.push_str(&format!(
                "</table><p>Doublons entre bornes · cross-kiosk duplicates: {}</p>",
                counts.duplicates
            ));
            let rate = if with_links == 0 {
                "—".to_owned()
            } else {
                format!("{:.0} %", claimed as f64 * 100.0 / with_links as f64)
            };
            page.push_str(&format!(
                "<h2>Récupération · Claim rate</h2><p>{claimed} / {with_links} badges récupérés sur téléphone · \
                 taken on a phone: <strong>{rate}</strong></p>\
                 <p><a href=\"/admin/enrol\">Enrôler une borne · Enrol a kiosk</a> (depuis cet ordinateur · from this computer)</p>"
            ));
            page.push_str(&outbox_section(&outbox, mail_enabled));
            if !counts.warnings.is_empty() {
                page.push_str("<h2>Alertes · Warnings</h2><ul>");
                for (kiosk, message) in &counts.warnings {
                    page.push_str(&format!("<li>{}: {}</li>", escape(kiosk), escape(message)));
                }
                page.push_str("</ul>");
            }
            page.push_str("</body></html>");
            Html(page).into_response()
        }
        Err(response) => response,
    }
}

/// The dashboard's claim-email section: counts, what to do when nothing can be sent,
/// and the messages the mail server refused, with its reason.
fn outbox_section(outbox: &super::outbox::OutboxCounts, mail_enabled: bool) -> String {
    if outbox.queued + outbox.sent + outbox.failed == 0 {
        return String::new();
    }
    let mut section = format!(
        "<h2>Courriels · Emails</h2><p id=\"emails\">En attente · queued: <strong>{}</strong> · \
         envoyés · sent: <strong>{}</strong> · refusés · failed: <strong>{}</strong></p>",
        outbox.queued, outbox.sent, outbox.failed
    );
    if outbox.queued > 0 && !mail_enabled {
        section.push_str(&format!(
            "<p><strong>{0} courriel(s) en attente : démarrez le hub avec --smtp-url · \
             {0} emails waiting: start the hub with --smtp-url</strong> (and --mail-from)</p>",
            outbox.queued
        ));
    }
    if let (true, Some(last)) = (outbox.queued > 0 && mail_enabled, &outbox.last_transient_error) {
        section.push_str(&format!(
            "<p>Dernière erreur, nouvel essai automatique · last error, retried automatically: {}</p>",
            escape(last)
        ));
    }
    if !outbox.failures.is_empty() {
        section.push_str(
            "<p>Refusés par le serveur de courriel (le visiteur peut réessayer depuis son lien) · \
             refused by the mail server (the visitor may try again from the claim link):</p><table>",
        );
        for (hint, reason, at_ms) in &outbox.failures {
            let at = chrono::DateTime::from_timestamp_millis(*at_ms)
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            section.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(hint),
                escape(reason),
                at
            ));
        }
        section.push_str("</table>");
    }
    section
}

/// The enrolment page is for the organiser at the hub's own keyboard: anyone who can
/// read an enrolment code can enrol a kiosk, so it is never served to the venue network.
async fn admin_enrol(State(hub): State<SharedHub>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if !peer.ip().is_loopback() {
        return error(
            StatusCode::FORBIDDEN,
            "the enrolment page opens only on the hub's own computer (http://127.0.0.1…)",
        );
    }
    let Some(event_key) = hub.event_key.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this hub has no event key: enrol kiosks from the organiser's hub",
        );
    };
    let state = Arc::clone(&hub);
    let result = blocking(&hub, move |store, now| {
        let expires = now + ENROL_PAGE_VALIDITY_MS;
        let token = store.create_enrol_token(now, ENROL_PAGE_KIOSKS, expires)?;
        EnrolmentCode::sign(&state.public_url, &token, state.tls_pin, &event_key)
            .map_err(|failure| HubError::BadRequest(failure.to_string()))
    })
    .await;
    let code = match result {
        Ok(code) => code,
        Err(response) => return response,
    };
    let url = code.to_url();
    let svg = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map(|qr| {
            qr.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(420, 420)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Enrôler une borne · Enrol a kiosk</title></head>\
         <body style=\"font-family:sans-serif;margin:2rem;text-align:center\">\
         <h1>Enrôler une borne · Enrol a kiosk</h1>\
         <p>Montrez ce code à la caméra de la borne (écran « Scannez le code d'enrôlement »).<br>\
         Show this code to the kiosk's camera (the \"Scan the enrolment code\" screen).</p>{svg}\
         <p>Valable {minutes} minutes pour {kiosks} bornes · Valid {minutes} minutes for {kiosks} kiosks.<br>\
         Clé de l'événement · Event key: <code>{fingerprint}</code></p>\
         <p style=\"color:#555;font-size:.85rem\">{url}</p></body></html>",
        minutes = ENROL_PAGE_VALIDITY_MS / 60_000,
        kiosks = ENROL_PAGE_KIOSKS,
        fingerprint = escape(&code.key_fingerprint),
        url = escape(&url),
    ))
    .into_response()
}

/// A phone that scanned an enrolment code by mistake lands here.
async fn enrol_info() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"font-family:sans-serif;margin:2rem\"><h1>Code d'enrôlement · Enrolment code</h1>\
         <p>Ce code sert à installer une borne badge-kiosk : montrez-le à la caméra de la borne, pas à un téléphone.<br>\
         This code sets up a badge-kiosk terminal: show it to the kiosk's camera, not to a phone.</p></body></html>",
    )
}

const ENROL_PAGE_VALIDITY_MS: i64 = 30 * 60 * 1000;
const ENROL_PAGE_KIOSKS: u32 = 50;

pub fn router(hub: SharedHub) -> Router {
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .route(BUNDLE_PATH, get(bundle))
        .route(ENROL_PATH, post(enrol))
        .route(HEALTH_PATH, get(health))
        .route("/", get(dashboard))
        .route("/admin/enrol", get(admin_enrol))
        .route("/enrol/{token}", get(enrol_info))
        .merge(super::web::claim::routes())
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .layer(axum::middleware::from_fn(request_deadline))
        .with_state(hub)
}

/// Every request, body and answer included, finishes within the limit: a client sending
/// its body one byte a minute gets an error, not a hub thread.
async fn request_deadline(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limit = super::listen::Limits::default().request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            "the request took too long: check the network and try again",
        ),
    }
}

/// Serves plain HTTP until `shutdown` resolves (`hub serve --insecure-http`, tests about
/// something else than transport).
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: SharedHub,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = super::listen::Limits::default();
    super::listen::serve(listener, router(hub), None, limits, shutdown).await
}

/// Serves HTTPS with `identity` (the hub's own certificate, or the venue CA's) until
/// `shutdown`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    hub: SharedHub,
    identity: &super::tls::HubIdentity,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = identity
        .server_config()
        .map_err(|failure| std::io::Error::new(std::io::ErrorKind::InvalidData, failure.to_string()))?;
    let limits = super::listen::Limits::default();
    super::listen::serve(listener, router(hub), Some(config), limits, shutdown).await
}
