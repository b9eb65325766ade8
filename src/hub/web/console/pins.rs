//! The kiosks page's PIN section (`hub pins set` from the console) and its warnings about
//! the hub's clock.

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::{Extension, Form};

use super::texts::Texts;
use super::{csrf_ok, language, Notice, SessionContext};
use crate::domain::event::Language;
use crate::hub::state::{with_store, SharedHub};
use crate::hub::store::{HubError, HubStore, PinRole};

/// Kiosks' clocks further than this from the hub's: the console warns.
const CLOCK_DISAGREES_MS: i64 = 5 * 60 * 1000;

/// Each PIN's line: (role, "set on …" / "not set …").
pub(super) fn pin_lines(store: &HubStore, language: Language) -> Result<Vec<(String, String)>, HubError> {
    let t = Texts::of(language);
    [(PinRole::Staff, t.pin_staff), (PinRole::Organiser, t.pin_organiser)]
        .into_iter()
        .map(|(role, label)| {
            let status = match store.pin(role)? {
                Some((_, at)) => t.fill(t.pin_set_on, &[("at", &super::pages::local_time(at, "%d/%m %H:%M"))]),
                None => t.pin_not_set.to_owned(),
            };
            Ok((label.to_owned(), status))
        })
        .collect()
}

/// What the organiser must know about the hub's own clock: outside the event's dates
/// (kiosks ignore it), or far from what its kiosks report (the median of their offsets).
pub(super) fn clock_warnings(store: &HubStore, now: i64, language: Language) -> Result<Vec<String>, HubError> {
    let t = Texts::of(language);
    let mut warnings = Vec::new();
    if let Some(window) = store.event.hub_time_window() {
        if !window.contains(now) {
            let date = chrono::DateTime::from_timestamp_millis(now)
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| now.to_string());
            warnings.push(t.fill(t.hub_clock_outside_event, &[("date", &date)]));
        }
    }
    let mut offsets: Vec<i64> = store
        .kiosk_fleet()?
        .into_iter()
        .filter(|kiosk| kiosk.revoked.is_none())
        .filter_map(|kiosk| kiosk.clock_offset_ms)
        .collect();
    offsets.sort_unstable();
    if let Some(median) = offsets.get(offsets.len() / 2).copied() {
        if median.abs() > CLOCK_DISAGREES_MS {
            warnings.push(t.fill(t.hub_clock_differs, &[("offset", &describe_offset(median))]));
        }
    }
    Ok(warnings)
}

fn describe_offset(ms: i64) -> String {
    let minutes = ms.unsigned_abs() / 60_000;
    match minutes {
        0..=119 => format!("{minutes} min"),
        120..=2879 => format!("{} h", minutes / 60),
        _ => format!("{} d", minutes / 1440),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct PinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    pin: String,
}

/// `POST /console/kiosks/pins`: sets a PIN (Argon2, on a blocking thread).
pub async fn set_pin(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<PinForm>,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    if !csrf_ok(&session, &form.csrf) {
        return super::pages::expired_form(language);
    }
    let (role, label) = match form.role.as_str() {
        "organiser" => (PinRole::Organiser, t.pin_organiser),
        _ => (PinRole::Staff, t.pin_staff),
    };
    let pin = form.pin.trim().to_owned();
    let demo = pin == crate::kiosk::pin::DEMO_STAFF_PIN || pin == crate::kiosk::pin::DEMO_ORGANISER_PIN;
    let hashed = if demo {
        None
    } else {
        tokio::task::spawn_blocking(move || crate::kiosk::pin::hash_pin(&pin).ok())
            .await
            .ok()
            .flatten()
    };
    let Some(hash) = hashed else {
        let notices = vec![Notice::error(t.pin_invalid.to_owned())];
        return super::pages::kiosks_page(&hub, language, &session, notices).await;
    };
    match with_store(&hub, move |store, now| store.set_pin(role, Some(&hash), now)).await {
        Ok(()) => {
            tracing::info!(role = role.name(), "kiosk PIN set from the organiser console");
            let notices = vec![Notice::success(t.fill(t.pin_saved, &[("role", &label)]))];
            super::pages::kiosks_page(&hub, language, &session, notices).await
        }
        Err(failure) => super::pages::storage_failure(language, failure),
    }
}
