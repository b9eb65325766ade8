//! `EnrolAdapter`: the first-boot screen of a packaged kiosk. It waits for the hub's
//! enrolment code (camera or USB scanner), enrols on a worker thread, then hands over to
//! the kiosk by starting afresh on the enrolled event.

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use slint::ComponentHandle;

use crate::app::controller::{now_ms, Input};
use crate::config::Config;
use crate::domain::bundle::BundleError;
use crate::domain::enrolment::EnrolmentCode;
use crate::kiosk::wedge_keys::WedgeKeys;
use crate::sync::enrol::{enrol, EnrolError};
use crate::{AppWindow, EnrolAdapter, EnrolFailure, EnrolState, KioskAdapter, ScreenId};

/// What the enrolment screen shows.
#[derive(Debug, Clone, Default)]
pub struct EnrolmentView {
    pub state: EnrolState,
    /// Why it failed, when `state` is `Failed`.
    pub failure: EnrolFailure,
    /// The event joined, or the technical reason for `EnrolFailure::Other`.
    pub detail: String,
    pub kiosk_id: String,
}

pub fn apply(window: &AppWindow, view: &EnrolmentView) {
    let adapter = window.global::<EnrolAdapter>();
    adapter.set_state(view.state);
    adapter.set_failure(view.failure);
    adapter.set_detail(view.detail.as_str().into());
    adapter.set_kiosk_id(view.kiosk_id.as_str().into());
    window.global::<KioskAdapter>().set_screen(ScreenId::Enrol);
}

fn show(window: &slint::Weak<AppWindow>, state: EnrolState, failure: EnrolFailure, detail: String) {
    let _ = window.upgrade_in_event_loop(move |window| {
        let kiosk_id = window.global::<EnrolAdapter>().get_kiosk_id().to_string();
        apply(
            &window,
            &EnrolmentView {
                state,
                failure,
                detail,
                kiosk_id,
            },
        );
    });
}

/// Sorts failures into what the screen can say in both languages.
fn failure_kind(error: &EnrolError) -> EnrolFailure {
    match error {
        EnrolError::Hub(_) => EnrolFailure::Unreachable,
        EnrolError::Refused(_) => EnrolFailure::Refused,
        EnrolError::Bundle(BundleError::UntrustedSigner | BundleError::KeyNotListed) => EnrolFailure::Untrusted,
        _ => EnrolFailure::Other,
    }
}

pub fn prepare(window: &AppWindow, kiosk_id: &str) {
    apply(
        window,
        &EnrolmentView {
            state: EnrolState::Waiting,
            kiosk_id: kiosk_id.to_owned(),
            ..EnrolmentView::default()
        },
    );
}

/// Runs until a kiosk is enrolled (then sets `enrolled` and closes the window) or the
/// inputs stop.
pub fn run_worker(config: Config, inputs: Receiver<Input>, window: slint::Weak<AppWindow>, enrolled: Arc<Mutex<bool>>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        show(
            &window,
            EnrolState::Failed,
            EnrolFailure::Other,
            "cannot start the network worker".into(),
        );
        return;
    };
    let hub_ca_pem = config.hub_ca.as_ref().and_then(|path| std::fs::read(path).ok());
    let mut keys = WedgeKeys::for_config(&config);
    let mut last_attempt: Option<(String, std::time::Instant)> = None;
    while let Ok(input) = inputs.recv() {
        let text = match input {
            Input::Scan(text) => text,
            Input::Key { text, at_ms } => match keys.key(&text, at_ms) {
                Some(text) => text,
                None => continue,
            },
            Input::Tick => match keys.poll(now_ms()) {
                Some(text) => text,
                None => continue,
            },
            Input::Quit => return,
            _ => continue,
        };
        // The camera sees the same code many times a second.
        if last_attempt
            .as_ref()
            .is_some_and(|(previous, at)| *previous == text && at.elapsed().as_secs() < 5)
        {
            continue;
        }
        last_attempt = Some((text.clone(), std::time::Instant::now()));
        // Only a code the event key signed: a QR naming another hub is refused here,
        // before the kiosk talks to anyone.
        let code = match EnrolmentCode::parse(&text).and_then(|code| code.verify().map(|_| ()).map(|()| code)) {
            Ok(code) => code,
            Err(error) => {
                show(&window, EnrolState::Failed, EnrolFailure::NotACode, error.to_string());
                continue;
            }
        };
        show(&window, EnrolState::Working, EnrolFailure::default(), String::new());
        match runtime.block_on(enrol(
            hub_ca_pem.clone(),
            &code,
            &config.data_dir,
            config.kiosk_id.as_deref(),
        )) {
            Ok(done) => {
                tracing::info!(event = %done.event_id, kiosk = %done.kiosk_id, "enrolled");
                show(&window, EnrolState::Done, EnrolFailure::default(), done.event_name);
                if let Ok(mut flag) = enrolled.lock() {
                    *flag = true;
                }
                std::thread::sleep(std::time::Duration::from_secs(2));
                let _ = slint::invoke_from_event_loop(|| {
                    let _ = slint::quit_event_loop();
                });
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "enrolment failed");
                show(&window, EnrolState::Failed, failure_kind(&error), error.to_string());
            }
        }
    }
}
