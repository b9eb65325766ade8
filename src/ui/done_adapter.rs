//! `DoneAdapter`: what happens next, and the phone-claim QR code.

use std::sync::mpsc::Sender;

use slint::{ComponentHandle, Image, Rgb8Pixel, SharedPixelBuffer};

use crate::app::controller::{Input, View};
use crate::kiosk::machine::{self, Screen, Tap};
use crate::sync::protocol::EmailDelivery;
use crate::{AppWindow, DoneAdapter, DoneKind, EmailPromise};

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
    let (kind, url) = match kind {
        machine::DoneKind::Registration => (DoneKind::Registration, ""),
        machine::DoneKind::Email => (DoneKind::Email, ""),
        machine::DoneKind::Phone { claim_url } => (DoneKind::Phone, claim_url.as_str()),
    };
    adapter.set_kind(kind);
    let (ready_now, ready_in_minutes) = match view.claim_readiness {
        crate::sync::schedule::ClaimReadiness::Seconds => (true, 0),
        crate::sync::schedule::ClaimReadiness::AfterSync { minutes } => {
            (false, i32::try_from(minutes).unwrap_or(i32::MAX))
        }
        crate::sync::schedule::ClaimReadiness::Later => (false, 0),
    };
    adapter.set_ready_now(ready_now);
    adapter.set_ready_in_minutes(ready_in_minutes);
    adapter.set_email_promise(match view.email_delivery {
        None => EmailPromise::Unknown,
        Some(EmailDelivery::Hub) => EmailPromise::Hub,
        Some(EmailDelivery::Platform) => EmailPromise::Platform,
        Some(EmailDelivery::None) => EmailPromise::NoneYet,
    });
    adapter.set_claim_url(url.into());
    let qr = view.qr.as_ref().map(|qr| {
        Image::from_rgb8(SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(
            qr.as_raw(),
            qr.width(),
            qr.height(),
        ))
    });
    adapter.set_qr(qr.unwrap_or_default());
}
