//! `KioskAdapter`: which screen is up, the language, camera status, typed keys.

use std::sync::mpsc::Sender;

use slint::ComponentHandle;

use super::controller::{now_ms, Input, View};
use crate::kiosk::machine::{Screen, Tap};
use crate::{AppWindow, KioskAdapter};

pub fn screen_id(screen: &Screen) -> &'static str {
    match screen {
        Screen::Attract => "attract",
        Screen::Busy => "busy",
        Screen::Claim { .. } => "claim",
        Screen::EmailEntry { .. } => "email",
        Screen::Done { .. } => "done",
        Screen::Refused { .. } => "refusal",
        Screen::PinEntry { .. } => "pin",
        Screen::LockedOut { .. } => "locked",
        Screen::Staff { .. } => "staff",
        Screen::Organiser => "organiser",
    }
}

pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    let adapter = window.global::<KioskAdapter>();
    let sender = inputs.clone();
    adapter.on_toggle_language(move || {
        let _ = sender.send(Input::Tap(Tap::ToggleLanguage));
    });
    let sender = inputs.clone();
    adapter.on_key_text(move |text| {
        // Timestamped here, as typed: the worker may be busy when it reads them.
        let _ = sender.send(Input::Key {
            text: text.to_string(),
            at_ms: now_ms(),
        });
    });
}

pub fn apply(window: &AppWindow, view: &View) {
    let adapter = window.global::<KioskAdapter>();
    let language = view.language.code();
    if adapter.get_language() != language {
        // "en" is the source language of the .slint texts.
        if let Err(error) = slint::select_bundled_translation(if language == "en" { "" } else { language }) {
            tracing::warn!("no {language} translation: {error}");
        }
        adapter.set_language(language.into());
    }
    adapter.set_screen(screen_id(&view.screen).into());
    adapter.set_event_name(view.event.definition.event.name.get(view.language).into());
    adapter.set_clock_warning(view.clock_warning);
}

/// Camera state for the attract screen: "on", "off" (scanner only) or "trouble".
pub fn set_camera_status(window: &AppWindow, status: &str) {
    window.global::<KioskAdapter>().set_camera_status(status.into());
}
