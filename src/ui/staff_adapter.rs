//! `StaffAdapter`: the stand, the last scan's feedback and the visitor's progress.

use std::sync::mpsc::Sender;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::app::controller::{Input, View};
use crate::kiosk::machine::{self, Screen, Tap};
use crate::{AppWindow, RefusalReason, StaffAdapter, StaffFeedback};

pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    let sender = inputs.clone();
    window.global::<StaffAdapter>().on_lock(move || {
        let _ = sender.send(Input::Tap(Tap::Lock));
    });
}

fn names(view: &View, ids: impl Iterator<Item = String>) -> ModelRc<SharedString> {
    let names: Vec<SharedString> = ids.map(|id| view.event.stand_name(&id, view.language).into()).collect();
    ModelRc::new(VecModel::from(names))
}

pub fn apply(window: &AppWindow, view: &View) {
    let Screen::Staff {
        stand,
        feedback,
        visitors,
    } = &view.screen
    else {
        return;
    };
    let adapter = window.global::<StaffAdapter>();
    adapter.set_stand_name(view.event.stand_name(stand, view.language).into());
    adapter.set_visitors(i32::try_from(*visitors).unwrap_or(i32::MAX));
    let (kind, refusal) = match feedback {
        None => (StaffFeedback::Waiting, RefusalReason::default()),
        Some(machine::StaffFeedback::Refused(reason)) => {
            (StaffFeedback::Refused, super::refusal_adapter::refusal_reason(reason))
        }
        Some(machine::StaffFeedback::Recorded(outcome)) if outcome.pathways.iter().any(|p| p.awarded_now) => {
            (StaffFeedback::Awarded, RefusalReason::default())
        }
        Some(machine::StaffFeedback::Recorded(outcome)) if !outcome.newly_recorded => {
            (StaffFeedback::Again, RefusalReason::default())
        }
        Some(machine::StaffFeedback::Recorded(_)) => (StaffFeedback::Recorded, RefusalReason::default()),
    };
    adapter.set_feedback(kind);
    adapter.set_refusal(refusal);
    let pathway = match feedback {
        Some(machine::StaffFeedback::Recorded(outcome)) => outcome.pathways.first(),
        _ => None,
    };
    adapter.set_has_pathway(pathway.is_some());
    if let Some(status) = pathway {
        let progress = &status.progress;
        adapter.set_pathway_name(view.event.badge_name(&status.badge_id, view.language).into());
        adapter.set_visited(i32::try_from(progress.counted_visited).unwrap_or(0));
        adapter.set_needed(i32::try_from(progress.counted_needed).unwrap_or(0));
        let required: Vec<String> = view
            .event
            .definition
            .badge(&status.badge_id)
            .and_then(|badge| badge.pathway.as_ref())
            .map(|rule| rule.required.clone())
            .unwrap_or_default();
        let done = required
            .into_iter()
            .filter(|stand| !progress.required_missing.contains(stand));
        adapter.set_required_done(names(view, done));
        adapter.set_required_missing(names(view, progress.required_missing.iter().cloned()));
    } else {
        adapter.set_required_done(ModelRc::default());
        adapter.set_required_missing(ModelRc::default());
    }
}
