//! The hub's HTTP API and pages (axum). SQLite work runs on blocking threads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::SigningKey;

use super::store::{HubError, HubStore};
use crate::domain::bundle::BundleContent;
use crate::domain::enrolment::EnrolmentCode;
use crate::domain::keys::{fingerprint, KioskCertificate};
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
        })
    }

    /// Sets up the organiser console (password location, HTTPS, host names, platform).
    pub fn with_console(mut self, settings: crate::hub::web::console::ConsoleSettings) -> Self {
        self.console = crate::hub::web::console::Console::new(settings);
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
        Ok(EnrolmentCode {
            hub_url: self.public_url.clone(),
            token,
            key_fingerprint: fingerprint(&event_key.verifying_key()),
        }
        .to_url())
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
        HubError::RevokedKiosk(_) => StatusCode::FORBIDDEN,
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
    match blocking(&hub, move |store, now| store.ingest(&request, now)).await {
        Ok(response) => Json(response).into_response(),
        Err(response) => response,
    }
}

async fn bundle(State(hub): State<SharedHub>) -> Response {
    let state = Arc::clone(&hub);
    match blocking(&hub, move |store, now| {
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

async fn enrol(State(hub): State<SharedHub>, body: Result<Json<EnrolRequest>, JsonRejection>) -> Response {
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
        if !store.use_enrol_token(&request.token, &request.kiosk_id, now)? {
            return Err(HubError::Unenrolled(
                "unknown, expired or used-up enrolment code: show a new one from the hub's enrolment page".into(),
            ));
        }
        let certificate = KioskCertificate::issue(
            &event_key,
            &store.event.event.id,
            &request.kiosk_id,
            device_key,
            now / 1000,
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
        .with_state(hub)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: SharedHub,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(hub).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves HTTPS with the organiser's certificate (PEM chain and key) until `shutdown`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    hub: SharedHub,
    certificate_pem: &std::path::Path,
    key_pem: &std::path::Path,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Several crates may link rustls; the first provider installed wins, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(certificate_pem, key_pem)
        .await
        .map_err(|failure| {
            std::io::Error::new(
                failure.kind(),
                format!(
                    "cannot use the TLS certificate {} and key {}: {failure}",
                    certificate_pem.display(),
                    key_pem.display()
                ),
            )
        })?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, config)
        .handle(handle)
        .serve(router(hub).into_make_service_with_connect_info::<SocketAddr>())
        .await
}
