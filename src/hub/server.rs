//! The hub's HTTP API and pages (axum). SQLite work runs on blocking threads.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::SigningKey;

use super::store::{HubError, HubStore};
use crate::domain::keys::KioskCertificate;
use crate::sync::protocol::*;

pub struct HubState {
    pub store: Mutex<HubStore>,
    pub event_toml: String,
    /// Needed to enrol kiosks (certify their device keys).
    pub event_key: Option<SigningKey>,
    pub clock: Box<dyn Fn() -> i64 + Send + Sync>,
}

pub type SharedHub = Arc<HubState>;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: message.into() })).into_response()
}

fn hub_error(failure: HubError) -> Response {
    let status = match &failure {
        HubError::Unenrolled(_) => StatusCode::UNAUTHORIZED,
        HubError::RevokedKiosk(_) => StatusCode::FORBIDDEN,
        HubError::OtherEvent { .. } => StatusCode::CONFLICT,
        HubError::BadRequest(_) => StatusCode::BAD_REQUEST,
        HubError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, failure.to_string())
}

// The error is the HTTP answer itself, built once per failed request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
async fn blocking<T: Send + 'static>(
    hub: &SharedHub,
    work: impl FnOnce(&mut HubStore, i64) -> Result<T, HubError> + Send + 'static,
) -> Result<T, Response> {
    let hub = Arc::clone(hub);
    tokio::task::spawn_blocking(move || {
        let now = (hub.clock)();
        let mut store = hub
            .store
            .lock()
            .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "hub store poisoned"))?;
        work(&mut store, now).map_err(hub_error)
    })
    .await
    .map_err(|join| error(StatusCode::INTERNAL_SERVER_ERROR, join.to_string()))?
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
    let toml = hub.event_toml.clone();
    match blocking(&hub, move |_, now| {
        Ok(EventBundle {
            event_toml: toml,
            revoked: Vec::new(),
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
    let toml = hub.event_toml.clone();
    let result = blocking(&hub, move |store, now| {
        if !store.use_enrol_token(&request.token, &request.kiosk_id)? {
            return Err(HubError::Unenrolled(
                "unknown or already used enrolment code: show a new one from the hub".into(),
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
            event_toml: toml,
            revoked: Vec::new(),
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
    match blocking(&hub, |store, _| Ok((store.counts()?, store.event.clone()))).await {
        Ok((counts, event)) => {
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

async fn claim_page(State(hub): State<SharedHub>, UrlPath(token): UrlPath<String>) -> Response {
    let token_for_lookup = token.clone();
    match blocking(&hub, move |store, _| Ok((store.claim(&token_for_lookup)?, store.event.clone()))).await {
        Ok((Some((badge_id, _record)), event)) => {
            let name = event.badge(&badge_id).map_or(badge_id.clone(), |b| format!("{} · {}", b.name.fr, b.name.en));
            Html(format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{0}</title></head>\
                 <body style=\"font-family:sans-serif;margin:2rem\"><h1>{0}</h1><p>Votre badge est enregistré. · Your badge is recorded.</p>\
                 <p>Référence · Reference: {1}</p></body></html>",
                escape(&name),
                escape(&token)
            ))
            .into_response()
        }
        Ok((None, _)) => (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif;margin:2rem\">\
                  <h1>Pas encore disponible · Not available yet</h1><p>La borne n'a pas encore envoyé ses données. Réessayez après la fin de journée.<br>\
                  The kiosk has not sent its data yet. Try again after the end of the day.</p></body></html>"),
        )
            .into_response(),
        Err(response) => response,
    }
}

pub fn router(hub: SharedHub) -> Router {
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .route(BUNDLE_PATH, get(bundle))
        .route(ENROL_PATH, post(enrol))
        .route(HEALTH_PATH, get(health))
        .route("/", get(dashboard))
        .route("/claim/{token}", get(claim_page))
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
