//! The hub's HTTP API and pages (axum). SQLite work runs on blocking threads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
    /// The event's images as PNG for the claim pages and credentials, rendered once.
    pub images: super::web::images::ImageCache,
    /// The organiser console: its settings, sessions and issue runs (see `hub::web::console`).
    pub console: crate::hub::web::console::Console,
    /// True when the organiser chose plain HTTP (`--insecure-http`): the console and the
    /// kiosks' organiser panel say that enrolment codes, emails and claim links cross the
    /// network in clear.
    pub plain_http: bool,
    /// SHA-256 of the hub's TLS certificate, put in enrolment codes so kiosks pin it.
    pub tls_pin: Option<[u8; 32]>,
    /// Enrolment attempts per network address (see `trust::AttemptLimiter`).
    pub enrol_attempts: super::trust::AttemptLimiter,
    /// Rung when an upload brought records, for the relay to a public hub (`hub::relay`).
    pub relay: super::relay::RelaySignal,
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
            images: super::web::images::ImageCache::default(),
            console: crate::hub::web::console::Console::default(),
            plain_http: !public_url.starts_with("https://"),
            tls_pin: None,
            enrol_attempts: super::trust::AttemptLimiter::default(),
            relay: super::relay::RelaySignal::default(),
        })
    }

    /// Sets up the organiser console (password location, HTTPS, host names, platform).
    pub fn with_console(mut self, settings: crate::hub::web::console::ConsoleSettings) -> Self {
        self.console = crate::hub::web::console::Console::new(settings);
        self
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
        Ok(response) => {
            if !response.answers.is_empty() {
                hub.relay.wake.notify_one();
            }
            Json(response).into_response()
        }
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

pub fn router(hub: SharedHub) -> Router {
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .route(BUNDLE_PATH, get(bundle))
        .route(ENROL_PATH, post(enrol))
        .route(HEALTH_PATH, get(health))
        .merge(super::web::claim::routes())
        .merge(crate::hub::web::console::routes(Arc::clone(&hub)))
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
