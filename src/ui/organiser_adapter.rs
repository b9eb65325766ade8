//! `OrganiserAdapter`: awards, queue state, sync and export.

use std::sync::mpsc::Sender;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::app::controller::{self, Input, View};
use crate::kiosk::machine::{Screen, Tap};
use crate::{AppWindow, CountRow, ExportState, OrganiserAdapter, SyncState};

pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    let adapter = window.global::<OrganiserAdapter>();
    let tap = |tap: Tap| {
        let sender = inputs.clone();
        move || {
            let _ = sender.send(Input::Tap(tap.clone()));
        }
    };
    adapter.on_sync_now(tap(Tap::SyncNow));
    adapter.on_export_usb(tap(Tap::ExportUsb));
    adapter.on_lock(tap(Tap::Lock));
    adapter.on_reset_clock(tap(Tap::ResetClock));
}

fn rows(rows: impl Iterator<Item = (String, u64)>) -> ModelRc<CountRow> {
    let rows: Vec<CountRow> = rows
        .map(|(label, count)| CountRow {
            label: label.into(),
            count: i32::try_from(count).unwrap_or(i32::MAX),
        })
        .collect();
    ModelRc::new(VecModel::from(rows))
}

fn count(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

pub fn apply(window: &AppWindow, view: &View) {
    if view.screen != Screen::Organiser {
        return;
    }
    let adapter = window.global::<OrganiserAdapter>();
    let organiser = &view.organiser;
    let counts = &organiser.counts;
    adapter.set_kiosk_id(organiser.kiosk_id.as_str().into());
    adapter.set_fingerprint(organiser.fingerprint.as_str().into());
    adapter.set_awards(rows(
        counts
            .awards_by_badge
            .iter()
            .map(|(badge, n)| (view.event.badge_name(badge, view.language), *n)),
    ));
    adapter.set_stands(rows(
        counts
            .steps_by_stand
            .iter()
            .map(|(stand, n)| (view.event.stand_name(stand, view.language), *n)),
    ));
    adapter.set_queued(count(counts.queued));
    adapter.set_synced(count(counts.synced));
    adapter.set_failed(count(counts.failed));
    let reasons: Vec<SharedString> = counts
        .failures
        .iter()
        .take(5)
        .map(|(sequence, reason)| format!("#{sequence}: {reason}").into())
        .collect();
    adapter.set_failure_reasons(ModelRc::new(VecModel::from(reasons)));
    adapter.set_hub_configured(organiser.hub.is_some());
    adapter.set_hub_url(organiser.hub.clone().unwrap_or_default().into());
    // A hub reached over plain HTTP (`hub serve --insecure-http`): emails and claim links
    // cross the network in clear, and the organiser should know.
    adapter.set_plain_http(organiser.hub.as_deref().is_some_and(|hub| hub.starts_with("http://")));
    let last_sync = organiser
        .last_sync_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|at| at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    adapter.set_last_sync(last_sync.into());
    let (state, progress, sent, error) = match &organiser.sync {
        controller::SyncState::Idle => (SyncState::Idle, 0.0, 0, String::new()),
        controller::SyncState::Running { progress } => (SyncState::Running, *progress, 0, String::new()),
        controller::SyncState::Done { sent } => (SyncState::Done, 1.0, *sent, String::new()),
        controller::SyncState::Failed(error) => (SyncState::Failed, 0.0, 0, error.clone()),
    };
    adapter.set_sync_state(state);
    adapter.set_sync_progress(progress);
    adapter.set_sync_sent(i32::try_from(sent).unwrap_or(i32::MAX));
    adapter.set_sync_error(error.into());
    let (state, export_count, path) = match &organiser.export {
        controller::ExportState::Idle => (ExportState::Idle, 0, String::new()),
        controller::ExportState::Done { count, path } => (ExportState::Done, *count, path.display().to_string()),
        controller::ExportState::NoUsb => (ExportState::NoUsb, 0, String::new()),
        controller::ExportState::Failed(error) => (ExportState::Failed, 0, error.clone()),
    };
    adapter.set_export_state(state);
    adapter.set_export_count(i32::try_from(export_count).unwrap_or(i32::MAX));
    adapter.set_export_path(path.into());
}
