//! `DoneAdapter`: what happens next, and the phone-claim QR code.

use std::sync::mpsc::Sender;

use slint::{ComponentHandle, Image};

use super::controller::{Input, View};
use crate::kiosk::machine::{DoneKind, Screen, Tap};
use crate::{AppWindow, DoneAdapter};

pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    let sender = inputs.clone();
    window.global::<DoneAdapter>().on_finish(move || {
        let _ = sender.send(Input::Tap(Tap::Back));
    });
}

pub fn apply(window: &AppWindow, view: &View) {
    let adapter = window.global::<DoneAdapter>();
    let Screen::Done { kind } = &view.screen else {
        adapter.set_qr(Image::default());
        adapter.set_claim_url("".into());
        return;
    };
    let (id, url) = match kind {
        DoneKind::Registration => ("registration", ""),
        DoneKind::Email => ("email", ""),
        DoneKind::Phone { claim_url } => ("phone", claim_url.as_str()),
    };
    adapter.set_kind(id.into());
    adapter.set_ready_now(view.claim_readiness == crate::sync::schedule::ClaimReadiness::Seconds);
    adapter.set_claim_url(url.into());
    adapter.set_qr(view.qr.clone().map(Image::from_rgb8).unwrap_or_default());
}
