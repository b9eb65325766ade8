//! `LockedAdapter`: the PIN lockout countdown.

use slint::ComponentHandle;

use crate::app::controller::View;
use crate::kiosk::machine::Screen;
use crate::{AppWindow, LockedAdapter};

pub fn apply(window: &AppWindow, view: &View) {
    if let Screen::LockedOut { until_ms } = &view.screen {
        let seconds = ((until_ms - view.now_ms).max(0) + 999) / 1000;
        window
            .global::<LockedAdapter>()
            .set_seconds_left(i32::try_from(seconds).unwrap_or(i32::MAX));
    }
}
