//! The hub's shared state, and how every part of the hub (the kiosk API, the pages, the
//! mailer) reaches its store: on a blocking thread, with the hub's clock. Apart from
//! `server.rs` so that the mailer and the pages need nothing from the kiosk API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ed25519_dalek::SigningKey;

use super::store::{HubError, HubStore};
use crate::domain::bundle::{BundleContent, SignedBundle};
use crate::domain::enrolment::EnrolmentCode;
use crate::sync::protocol::ErrorBody;

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
    pub images: crate::hub::web::images::ImageCache,
    /// The organiser console: its settings, sessions and issue runs (see `hub::web::console`).
    pub console: crate::hub::web::console::shared::Console,
    /// True when the organiser chose plain HTTP (`--insecure-http`): the console and the
    /// kiosks' organiser panel say that enrolment codes, emails and claim links cross the
    /// network in clear.
    pub plain_http: bool,
    /// SHA-256 of the hub's TLS certificate, put in enrolment codes so kiosks pin it.
    pub tls_pin: Option<[u8; 32]>,
    /// Enrolment attempts per network address (see `trust::AttemptLimiter`).
    pub enrol_attempts: crate::hub::trust::AttemptLimiter,
    /// Rung when an upload brought records, for the relay to a public hub (`hub::relay`).
    pub relay: RelaySignal,
    /// Checks uploads' signatures before the store's lock is taken (`store::UploadChecker`).
    pub upload_checker: super::store::UploadChecker,
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
        let upload_checker = store.upload_checker();
        Ok(Self {
            upload_checker,
            store: Mutex::new(store),
            event_toml,
            event_files: event.bundle_files(),
            event_key: event.event_key.clone(),
            clock,
            public_url: public_url.trim_end_matches('/').to_owned(),
            mail: MailSignal::default(),
            images: crate::hub::web::images::ImageCache::default(),
            console: crate::hub::web::console::shared::Console::default(),
            plain_http: !public_url.starts_with("https://"),
            tls_pin: None,
            enrol_attempts: crate::hub::trust::AttemptLimiter::default(),
            relay: RelaySignal::default(),
        })
    }

    /// Sets up the organiser console (password location, HTTPS, host names, platform).
    pub fn with_console(mut self, settings: crate::hub::web::console::shared::ConsoleSettings) -> Self {
        self.console = crate::hub::web::console::shared::Console::new(settings);
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
    pub(super) fn signed_bundle(&self, store: &HubStore, now_ms: i64) -> Result<SignedBundle, HubError> {
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

pub(crate) fn hub_error(failure: HubError) -> Response {
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
    let clock = Arc::clone(hub);
    crate::blocking::with_lock_in(
        Arc::clone(hub),
        |hub: &HubState| &hub.store,
        move |store| work(store, (clock.clock)()),
    )
    .await
    .map_err(|error| match error {
        crate::blocking::BlockingError::Poisoned => HubError::Internal("hub store poisoned".into()),
        crate::blocking::BlockingError::Stopped(join) => HubError::Internal(join.to_string()),
        crate::blocking::BlockingError::Work(error) => error,
    })
}

// The error is the HTTP answer itself, built once per failed request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub(crate) async fn blocking<T: Send + 'static>(
    hub: &SharedHub,
    work: impl FnOnce(&mut HubStore, i64) -> Result<T, HubError> + Send + 'static,
) -> Result<T, Response> {
    with_store(hub, work).await.map_err(hub_error)
}

/// Rung by the hub when an upload brought records, so the relay (`hub::relay`) sends them
/// shortly.
#[derive(Debug, Default)]
pub struct RelaySignal {
    pub wake: tokio::sync::Notify,
}
