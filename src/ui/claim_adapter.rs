//! `ClaimAdapter`: the attendance badge and the ways to receive it.

use std::sync::mpsc::Sender;

use slint::ComponentHandle;

use crate::app::controller::{Input, View};
use crate::kiosk::machine::{Screen, Tap};
use crate::{AppWindow, ClaimAdapter};

pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    let adapter = window.global::<ClaimAdapter>();
    let tap = |tap: Tap| {
        let sender = inputs.clone();
        move || {
            let _ = sender.send(Input::Tap(tap.clone()));
        }
    };
    adapter.on_claim_registered(tap(Tap::ClaimRegistered));
    adapter.on_claim_email(tap(Tap::ClaimByEmail));
    adapter.on_claim_phone(tap(Tap::ClaimOnPhone));
    adapter.on_cancel(tap(Tap::Back));
}

pub fn apply(window: &AppWindow, view: &View) {
    let Screen::Claim { visitor } = &view.screen else {
        return;
    };
    let adapter = window.global::<ClaimAdapter>();
    adapter.set_has_registration(visitor.holder.is_some());
    if let Some(badge) = view.event.definition.attendance_badge() {
        adapter.set_badge_name(badge.name.get(view.language).into());
        adapter.set_badge_description(badge.description.get(view.language).into());
        adapter.set_badge_image(super::image(&view.event.image_path(&badge.image)));
    }
}
