//! What the kiosks page shows about the kiosks' PINs (`hub pins set`, the form in
//! `pages::set_pin`) and the hub's clock.

use super::texts::Texts;
use crate::domain::event::Language;
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
                Some((_, at)) => {
                    let at = chrono::DateTime::from_timestamp_millis(at)
                        .map(|at| at.with_timezone(&chrono::Local).format("%d/%m %H:%M").to_string())
                        .unwrap_or_default();
                    t.fill(t.pin_set_on, &[("at", &at)])
                }
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
