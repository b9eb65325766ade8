//! `RefusalAdapter`: which refusal to explain (the words are in ui/screens/refusal.slint).

use std::sync::mpsc::Sender;

use slint::ComponentHandle;

use crate::app::controller::{Input, View};
use crate::kiosk::machine::{Refusal, Screen, Tap};
use crate::{AppWindow, RefusalAdapter, RefusalReason};

/// The one place a refusal becomes the reason the screens explain (the refusal screen and
/// the staff screen's feedback).
pub fn refusal_reason(reason: &Refusal) -> RefusalReason {
    match reason {
        Refusal::AlreadyClaimed => RefusalReason::AlreadyClaimed,
        Refusal::OtherEvent => RefusalReason::OtherEvent,
        Refusal::Expired => RefusalReason::Expired,
        Refusal::NotYetValid => RefusalReason::NotYetValid,
        Refusal::Forged => RefusalReason::Forged,
        Refusal::Revoked => RefusalReason::Revoked,
        Refusal::UnknownKey => RefusalReason::UnknownKey,
        Refusal::Damaged => RefusalReason::Damaged,
        Refusal::NotAVisitorCode => RefusalReason::NotAVisitorCode,
        Refusal::WrongStand => RefusalReason::WrongStand,
        Refusal::NotStaffCard => RefusalReason::NotStaffCard,
        Refusal::NotSaved => RefusalReason::NotSaved,
        Refusal::UpdateNeeded => RefusalReason::UpdateNeeded,
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
        window.global::<RefusalAdapter>().set_reason(refusal_reason(reason));
    }
}
