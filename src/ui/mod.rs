//! Binds the Slint screens (ui/) to the kiosk. One adapter file per screen translates the
//! controller's `View` (plain Rust, `app::controller`) into that screen's global, with
//! the states as the Slint enums of ui/types.slint; the controller runs on its own thread.

mod attract_adapter;
mod camera;
mod claim_adapter;
mod done_adapter;
mod email_adapter;
mod enrol_adapter;
pub use enrol_adapter::{apply as apply_enrolment, EnrolmentView};
mod kiosk_adapter;
mod locked_adapter;
mod organiser_adapter;
mod pin_adapter;
mod refusal_adapter;
pub use refusal_adapter::refusal_reason;
pub mod sound;
mod staff_adapter;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;

use anyhow::{Context, Result};
use slint::{ComponentHandle, Image, Rgb8Pixel, SharedPixelBuffer};

pub use attract_adapter::Outline;
pub use kiosk_adapter::screen_id;

use crate::app::controller::{self, Controller, ExportTarget, HubSync, Input, Options, ScanSender, View};
use crate::app::RunOptions;
use crate::config::Config;
use crate::{AppWindow, CameraStatus, ScreenId};

thread_local! {
    // Badge images are decoded once; `Image` is cheap to clone and lives on the UI thread.
    static IMAGES: RefCell<HashMap<PathBuf, Image>> = RefCell::new(HashMap::new());
}

fn image(path: &Path) -> Image {
    IMAGES.with(|images| {
        images
            .borrow_mut()
            .entry(path.to_owned())
            .or_insert_with(|| {
                Image::load_from_path(path).unwrap_or_else(|_| {
                    tracing::warn!("cannot load image {}", path.display());
                    Image::default()
                })
            })
            .clone()
    })
}

/// Connects every screen's callbacks to the worker's input channel.
pub fn bind(window: &AppWindow, inputs: &Sender<Input>) {
    kiosk_adapter::bind(window, inputs);
    claim_adapter::bind(window, inputs);
    email_adapter::bind(window, inputs);
    done_adapter::bind(window, inputs);
    refusal_adapter::bind(window, inputs);
    pin_adapter::bind(window, inputs);
    staff_adapter::bind(window, inputs);
    organiser_adapter::bind(window, inputs);
}

/// Shows a view (UI thread).
pub fn apply(window: &AppWindow, view: &View) {
    let entering_email = window.global::<crate::KioskAdapter>().get_screen() != ScreenId::Email;
    attract_adapter::apply(window, view);
    claim_adapter::apply(window, view);
    email_adapter::apply(window, view, entering_email);
    done_adapter::apply(window, view);
    refusal_adapter::apply(window, view);
    pin_adapter::apply(window, view);
    locked_adapter::apply(window, view);
    staff_adapter::apply(window, view);
    organiser_adapter::apply(window, view);
    // Last: the screen switches once its data is in place.
    kiosk_adapter::apply(window, view);
}

/// What other threads use to talk to a running kiosk: scans in, camera frames out.
#[derive(Clone)]
pub struct KioskHandle {
    inputs: Sender<Input>,
    window: slint::Weak<AppWindow>,
}

impl KioskHandle {
    /// Scanned texts from the camera decoder (any thread).
    pub fn scan_sender(&self) -> ScanSender {
        ScanSender(self.inputs.clone())
    }

    /// Shows a camera frame on the attract screen, with the detected code's outline.
    pub fn show_frame(&self, frame: SharedPixelBuffer<Rgb8Pixel>, outline: Option<Outline>) {
        let _ = self.window.upgrade_in_event_loop(move |window| {
            attract_adapter::show_frame(&window, frame, outline);
        });
    }

    /// Whether the scan area shows the camera, the USB scanner hint, or a camera problem.
    pub fn set_camera_status(&self, status: CameraStatus) {
        let _ = self.window.upgrade_in_event_loop(move |window| {
            kiosk_adapter::set_camera_status(&window, status);
        });
    }
}

fn parse_size(text: &str) -> Option<(u32, u32)> {
    let (width, height) = text.split_once(['x', 'X'])?;
    Some((width.trim().parse().ok()?, height.trim().parse().ok()?))
}

fn new_window(args: &RunOptions, config: &Config) -> Result<AppWindow> {
    let window = AppWindow::new().map_err(|error| no_display(&error.to_string()))?;
    if let Some(size) = &args.size {
        let (width, height) =
            parse_size(size).with_context(|| format!("--size {size:?}: give it as WIDTHxHEIGHT, e.g. 800x480"))?;
        window
            .window()
            .set_size(slint::LogicalSize::new(width as f32, height as f32));
    }
    if args.fullscreen || config.fullscreen {
        window.window().set_fullscreen(true);
    }
    Ok(window)
}

/// First boot of a packaged kiosk: "scan the enrolment code" until a hub enrols it, then
/// the process starts again on the enrolled event (same arguments, same PID for systemd).
fn run_enrolment(config: Config, args: RunOptions) -> Result<()> {
    let window = new_window(&args, &config)?;
    enrol_adapter::prepare(&window, config.kiosk_id.as_deref().unwrap_or("—"));
    let (inputs, receiver) = mpsc::channel();
    kiosk_adapter::bind(&window, &inputs);
    let handle = KioskHandle {
        inputs: inputs.clone(),
        window: window.as_weak(),
    };
    let camera = if config.camera == "none" {
        handle.set_camera_status(CameraStatus::Off);
        None
    } else {
        handle.set_camera_status(CameraStatus::Trouble);
        Some(camera::start(&config.camera, handle.clone())?)
    };
    let enrolled = Arc::new(std::sync::Mutex::new(false));
    let worker = {
        let enrolled = Arc::clone(&enrolled);
        let weak = window.as_weak();
        let config = config.clone();
        std::thread::Builder::new()
            .name("enrolment".into())
            .spawn(move || enrol_adapter::run_worker(config, receiver, weak, enrolled))?
    };
    let ticks = inputs.clone();
    let timer = slint::Timer::default();
    timer.start(
        slint::TimerMode::Repeated,
        std::time::Duration::from_millis(250),
        move || {
            let _ = ticks.send(Input::Tick);
        },
    );
    window.run()?;
    drop(timer);
    if let Some(slot) = camera {
        slot.close();
    }
    let _ = inputs.send(Input::Quit);
    drop(handle);
    let _ = worker.join();
    drop(window);
    if enrolled.lock().is_ok_and(|flag| *flag) {
        restart_self()
    } else {
        Ok(())
    }
}

/// Replaces this process with a fresh one: the simplest way to open the enrolled event
/// with nothing left over from the enrolment screen (camera, window, threads).
fn restart_self() -> Result<()> {
    use std::os::unix::process::CommandExt;
    let program = std::env::current_exe().context("finding the badge-kiosk binary to restart")?;
    let error = std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(anyhow::anyhow!(
        "enrolled, but could not restart: {error}. Start badge-kiosk again"
    ))
}

pub fn run(config: Config, args: RunOptions) -> Result<()> {
    let mut config = config;
    if let Some(stand) = args.stand.clone() {
        config.stand = Some(stand);
    }
    if let Some(camera) = args.camera.clone() {
        config.camera = camera;
    }
    let core = match crate::app::open_kiosk(&config) {
        Ok(core) => core,
        Err(crate::app::OpenError::NotEnrolled) => return run_enrolment(config, args),
        Err(error) => return Err(error.into()),
    };
    let window = new_window(&args, &config)?;

    let (inputs, receiver) = mpsc::channel();
    bind(&window, &inputs);
    let handle = KioskHandle {
        inputs: inputs.clone(),
        window: window.as_weak(),
    };
    // With no camera the USB scanner is the input; a camera that fails is retried.
    let camera = if config.camera == "none" {
        handle.set_camera_status(CameraStatus::Off);
        None
    } else {
        handle.set_camera_status(CameraStatus::Trouble);
        Some(camera::start(&config.camera, handle.clone())?)
    };

    let settings = crate::app::sync_settings(&config, &core, None)?;
    let store_path = crate::app::queue_path(&config, &core);
    // With a hub configured, records also sync in the background: each new record a few
    // seconds after it is saved, and every `sync_interval_secs` otherwise, backing off
    // after failures (`sync::schedule`); "Sync now" on the organiser panel runs a pass at once.
    let policy =
        crate::sync::schedule::SyncPolicy::with_interval(std::time::Duration::from_secs(config.sync_interval_secs));
    let event_updates = inputs.clone();
    let background_sync = settings.clone().map(|settings| {
        let store_path = store_path.clone();
        let (commands, receiver) = tokio::sync::mpsc::channel(16);
        let thread = std::thread::Builder::new()
            .name("background-sync".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(crate::sync::client::run_background(
                        store_path,
                        settings,
                        policy,
                        receiver,
                        move |status| {
                            if status.running {
                                return;
                            }
                            if let Some(error) = &status.last_error {
                                tracing::warn!(%error, "background sync");
                            }
                            let _ = event_updates.send(Input::BackgroundSync {
                                reached_hub: status.last_error.is_none(),
                                claim_reached: status.last_summary.as_ref().is_some_and(|summary| {
                                    summary.claim_address == crate::sync::client::ClaimAddress::Reached
                                }),
                            });
                            let summary = status.last_summary.unwrap_or_default();
                            if let Some(problem) = summary.bundle_problem {
                                tracing::warn!(%problem, "event bundle");
                            }
                            if summary.bundle.is_some_and(|update| update.event_changed) {
                                let _ = event_updates.send(Input::EventUpdated);
                            }
                        },
                    ));
                }
            });
        (commands, thread)
    });
    let sync = HubSync {
        settings,
        store_path,
        background: background_sync.as_ref().map(|(commands, _)| commands.clone()),
    };
    let options = Options {
        sync: Arc::new(sync),
        export: ExportTarget::Removable,
        speaker: Box::new(sound::Sounds::start(config.sound_volume)),
    };
    let controller = Controller::new(core, config, options, inputs.clone());
    let weak = window.as_weak();
    let worker = std::thread::Builder::new().name("kiosk-worker".into()).spawn(move || {
        controller::run_worker(controller, receiver, move |view| {
            let _ = weak.upgrade_in_event_loop(move |window| apply(&window, &view));
        });
    })?;

    let ticks = inputs.clone();
    let timer = slint::Timer::default();
    timer.start(
        slint::TimerMode::Repeated,
        std::time::Duration::from_secs(1),
        move || {
            let _ = ticks.send(Input::Tick);
        },
    );

    window.run()?;
    drop(timer);
    if let Some(slot) = camera {
        slot.close();
    }
    if let Some((commands, _thread)) = background_sync {
        let _ = commands.try_send(crate::sync::client::SyncCommand::Shutdown);
    }
    let _ = inputs.send(Input::Quit);
    drop(handle);
    let _ = worker.join();
    Ok(())
}

/// Slint's own message lists every framebuffer it tried; the organiser needs the one
/// thing to check, then the details.
fn no_display(details: &str) -> anyhow::Error {
    let backend = std::env::var("SLINT_BACKEND").unwrap_or_default();
    let advice = if backend.starts_with("linuxkms") {
        if std::path::Path::new("/dev/dri").exists() {
            "a DRM device exists but could not be opened: check that the badge-kiosk user is in the \
             video and render groups and that no desktop session holds the screen"
        } else {
            "no DRM device (/dev/dri) was found: connect the screen and enable the KMS driver \
             (on a Raspberry Pi, dtoverlay=vc4-kms-v3d in /boot/firmware/config.txt), then restart"
        }
    } else {
        "no graphical session was found: on a kiosk without a desktop, run with \
         SLINT_BACKEND=linuxkms-software; on a desktop, run from inside the session (DISPLAY or \
         WAYLAND_DISPLAY must be set)"
    };
    anyhow::anyhow!("no display to show the kiosk on: {advice}.\nDetails from the display backend:\n{details}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sizes() {
        assert_eq!(parse_size("800x480"), Some((800, 480)));
        assert_eq!(parse_size("1920X1080"), Some((1920, 1080)));
        assert_eq!(parse_size("big"), None);
    }
}
