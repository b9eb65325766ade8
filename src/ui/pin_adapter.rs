//! `PinAdapter`: the staff / organiser PIN keypad.

use std::sync::mpsc::Sender;

use slint::ComponentHandle;

use crate::app::controller::{Input, View};
use crate::kiosk::machine::{PinPurpose, Screen, Tap};
use crate::{AppWindow, PinAdapter, PinRole};

pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    let adapter = window.global::<PinAdapter>();
    let sender = inputs.clone();
    adapter.on_digit(move |digit| {
        if let Some(digit) = digit.chars().next() {
            let _ = sender.send(Input::Tap(Tap::PinDigit(digit)));
        }
    });
    let sender = inputs.clone();
    adapter.on_backspace(move || {
        let _ = sender.send(Input::Tap(Tap::PinBackspace));
    });
    let sender = inputs.clone();
    adapter.on_cancel(move || {
        let _ = sender.send(Input::Tap(Tap::Back));
    });
}

pub fn apply(window: &AppWindow, view: &View) {
    let (purpose, entered, wrong, set_up) = match &view.screen {
        Screen::PinEntry {
            purpose,
            entered,
            wrong,
        } => (purpose, *entered, *wrong, true),
        Screen::PinNotSetUp { purpose } => (purpose, 0, false, false),
        _ => return,
    };
    let adapter = window.global::<PinAdapter>();
    adapter.set_set_up(set_up);
    match purpose {
        PinPurpose::Staff { stand } => {
            adapter.set_role(PinRole::Staff);
            adapter.set_stand_name(view.event.stand_name(stand, view.language).into());
        }
        PinPurpose::Organiser => {
            adapter.set_role(PinRole::Organiser);
            adapter.set_stand_name("".into());
        }
    }
    adapter.set_entered(i32::try_from(entered).unwrap_or(0));
    adapter.set_wrong(wrong);
}
