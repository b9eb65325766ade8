//! `KioskAdapter`: which screen is up, the language, camera status, typed keys.

use std::sync::mpsc::Sender;

use slint::ComponentHandle;

use crate::app::controller::{now_ms, Input, View};
use crate::kiosk::machine::{Screen, Tap};
use crate::{AppWindow, CameraStatus, KioskAdapter, ScreenId};

/// The one place a machine screen becomes a Slint screen.
pub fn screen_id(screen: &Screen) -> ScreenId {
    match screen {
        Screen::Attract => ScreenId::Attract,
        Screen::Busy => ScreenId::Busy,
        Screen::Claim { .. } => ScreenId::Claim,
        Screen::EmailEntry { .. } => ScreenId::Email,
        Screen::Done { .. } => ScreenId::Done,
        Screen::Refused { .. } => ScreenId::Refusal,
        Screen::PinEntry { .. } | Screen::PinNotSetUp { .. } => ScreenId::Pin,
        Screen::LockedOut { .. } => ScreenId::Locked,
        Screen::Staff { .. } => ScreenId::Staff,
        Screen::Organiser => ScreenId::Organiser,
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
    adapter.set_screen(screen_id(&view.screen));
    adapter.set_event_name(view.event.definition.event.name.get(view.language).into());
    adapter.set_clock_warning(view.clock_warning);
}

pub fn set_camera_status(window: &AppWindow, status: CameraStatus) {
    window.global::<KioskAdapter>().set_camera_status(status);
}
