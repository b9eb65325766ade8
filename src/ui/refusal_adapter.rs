//! `RefusalAdapter`: which refusal to explain (the words are in ui/screens/refusal.slint).

use std::sync::mpsc::Sender;

use slint::ComponentHandle;

use super::controller::{Input, View};
use crate::kiosk::machine::{Refusal, Screen, Tap};
use crate::{AppWindow, RefusalAdapter};

pub fn reason_id(reason: &Refusal) -> &'static str {
    match reason {
        Refusal::AlreadyClaimed => "already-claimed",
        Refusal::OtherEvent => "other-event",
        Refusal::Expired => "expired",
        Refusal::NotYetValid => "not-yet-valid",
        Refusal::Forged => "forged",
        Refusal::Revoked => "revoked",
        Refusal::UnknownKey => "unknown-key",
        Refusal::Damaged => "damaged",
        Refusal::NotAVisitorCode => "not-a-visitor-code",
        Refusal::WrongStand => "wrong-stand",
        Refusal::NotStaffCard => "not-staff-card",
        Refusal::NotSaved => "not-saved",
        Refusal::UpdateNeeded => "update-needed",
    }
}

pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    let sender = inputs.clone();
    window.global::<RefusalAdapter>().on_ok(move || {
        let _ = sender.send(Input::Tap(Tap::Back));
    });
}

pub fn apply(window: &AppWindow, view: &View) {
    if let Screen::Refused { reason } = &view.screen {
        window.global::<RefusalAdapter>().set_reason(reason_id(reason).into());
    }
}
