//! `EmailAdapter`: typing an address on the on-screen keyboard.

use std::sync::mpsc::Sender;

use slint::ComponentHandle;

use crate::app::controller::{Input, View};
use crate::kiosk::machine::{Screen, Tap};
use crate::{AppWindow, EmailAdapter};

pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    let adapter = window.global::<EmailAdapter>();
    let sender = inputs.clone();
    adapter.on_changed(move |text| {
        let _ = sender.send(Input::Tap(Tap::EmailChanged(text.to_string())));
    });
    let sender = inputs.clone();
    let weak = window.as_weak();
    adapter.on_backspace(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<EmailAdapter>();
        let mut text = adapter.get_text().to_string();
        text.pop();
        adapter.set_text(text.as_str().into());
        let _ = sender.send(Input::Tap(Tap::EmailChanged(text)));
    });
    let sender = inputs.clone();
    adapter.on_submit(move || {
        let _ = sender.send(Input::Tap(Tap::EmailSubmit));
    });
    let sender = inputs.clone();
    adapter.on_back(move || {
        let _ = sender.send(Input::Tap(Tap::Back));
    });
}

pub fn apply(window: &AppWindow, view: &View, entering: bool) {
    let adapter = window.global::<EmailAdapter>();
    adapter.set_retention_days(i32::try_from(view.event.email_retention_days).unwrap_or(i32::MAX));
    match &view.screen {
        Screen::EmailEntry {
            text,
            invalid,
            confirming,
            ..
        } => {
            // The field is edited on the UI thread; the worker's copy may lag a keystroke.
            if entering || *confirming {
                adapter.set_text(text.as_str().into());
            }
            adapter.set_invalid(*invalid);
            adapter.set_confirming(*confirming);
        }
        _ => {
            // Nothing typed by the previous visitor stays behind.
            adapter.set_text("".into());
            adapter.set_invalid(false);
            adapter.set_confirming(false);
        }
    }
}
