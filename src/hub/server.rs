//! The hub's HTTP API and pages (axum). SQLite work runs on blocking threads.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::state::{blocking, error};
pub use super::state::{HubState, MailSignal, SharedHub};
use super::store::{HubError, HubStore};
use crate::domain::keys::KioskCertificate;
use crate::sync::protocol::*;

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
    // Signatures first, on a blocking thread but outside the store's lock: kiosks syncing at
    // once verify side by side, and only their writes take turns.
    let checker = hub.upload_checker.clone();
    let (request, checked) = match tokio::task::spawn_blocking(move || {
        let checked = checker.check(&request);
        (request, checked)
    })
    .await
    {
        Ok((request, Ok(checked))) => (request, checked),
        Ok((_, Err(failure))) => return super::state::hub_error(failure),
        Err(join) => return super::state::hub_error(HubError::Internal(join.to_string())),
    };
    match blocking(&hub, move |store, now| {
        let mut response = store.write_upload(checked, &request, now)?;
        response.claim_reach = Some(state.claim_reach(&store.event, now));
        // The hub's own emails of the awards this upload brought (committed apart: the
        // mailer's next pass queues whatever a failure here left out).
        if let Err(failure) = store.queue_award_emails(now) {
            tracing::warn!(%failure, "award emails not queued yet");
        }
        response.email_delivery = Some(state.email_delivery(&store.event));
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
                hub.mail.wake.notify_one();
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
            bundle: state.bundle_for(store, now, &headers)?,
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
    headers: axum::http::HeaderMap,
    body: Result<Json<EnrolRequest>, JsonRejection>,
) -> Response {
    let now = (hub.clock)();
    if let Err(until_ms) = hub.enrol_attempts.attempt(peer.ip(), now) {
        let wait_ms = until_ms - now;
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many enrolment attempts: wait {} min and try again",
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
            Err(super::store::EnrolRefusal::Revoked(kiosk_id, reason)) => {
                return Err(HubError::RevokedKiosk(kiosk_id, reason))
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
            bundle: state.bundle_for(store, now, &headers)?,
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

/// Revocations a venue hub relays (signed by the event key): applied, never removed.
async fn revocations(
    State(hub): State<SharedHub>,
    body: Result<Json<crate::domain::revocations::SignedRevocations>, JsonRejection>,
) -> Response {
    let Json(signed) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(
                rejection.status(),
                format!("malformed revocations: {}", rejection.body_text()),
            )
        }
    };
    let result = blocking(&hub, move |store, _| {
        let content = signed
            .verify(&store.event.public_keys(), &store.event.event.id)
            .map_err(|failure| HubError::Unenrolled(failure.to_string()))?;
        store.apply_revocations(&content)
    })
    .await;
    match result {
        Ok((codes, devices)) => {
            Json(serde_json::json!({"codes_added": codes, "devices_added": devices})).into_response()
        }
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
        .route(REVOCATIONS_PATH, post(revocations))
        .merge(super::web::claim::routes())
        .merge(super::web::wallet::routes())
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
