//! Binds the Slint screens (ui/) to the kiosk. One adapter file per screen maps the
//! machine's `Screen` onto that screen's global; the controller runs on its own thread.

mod attract_adapter;
mod camera;
mod claim_adapter;
pub mod controller;
mod done_adapter;
mod email_adapter;
pub mod keys;
mod kiosk_adapter;
mod locked_adapter;
mod organiser_adapter;
mod pin_adapter;
pub mod qr;
mod refusal_adapter;
mod staff_adapter;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;

use anyhow::{Context, Result};
use slint::{ComponentHandle, Image, Rgb8Pixel, SharedPixelBuffer};

pub use attract_adapter::Outline;
pub use controller::{Controller, ExportTarget, HubSync, Input, Options, ScanSender, SyncRunner, View};
pub use kiosk_adapter::screen_id;

use crate::cli::args::RunArgs;
use crate::config::Config;
use crate::AppWindow;

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
    let entering_email = window.global::<crate::KioskAdapter>().get_screen() != "email";
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

    /// "on", "off" (USB scanner only) or "trouble".
    pub fn set_camera_status(&self, status: &'static str) {
        let _ = self.window.upgrade_in_event_loop(move |window| {
            kiosk_adapter::set_camera_status(&window, status);
        });
    }
}

fn parse_size(text: &str) -> Option<(u32, u32)> {
    let (width, height) = text.split_once(['x', 'X'])?;
    Some((width.trim().parse().ok()?, height.trim().parse().ok()?))
}

pub fn run(config: Config, args: RunArgs) -> Result<()> {
    let mut config = config;
    if let Some(stand) = args.stand.clone() {
        config.stand = Some(stand);
    }
    if let Some(camera) = args.camera.clone() {
        config.camera = camera;
    }
    let core = crate::cli::open_kiosk(&config)?;
    let window = AppWindow::new()?;
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

    let (inputs, receiver) = mpsc::channel();
    bind(&window, &inputs);
    let handle = KioskHandle {
        inputs: inputs.clone(),
        window: window.as_weak(),
    };
    // With no camera the USB scanner is the input; a camera that fails is retried.
    let camera = if config.camera == "none" {
        handle.set_camera_status("off");
        None
    } else {
        handle.set_camera_status("trouble");
        Some(camera::start(&config.camera, handle.clone())?)
    };

    let certificate_hex = core
        .certificate()
        .to_bytes()
        .map(hex::encode)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let sync = HubSync {
        hub: core.definition().sync.hub.clone(),
        store_path: config.data_dir.join(&core.definition().event.id).join("queue.sqlite"),
        event_id: core.definition().event.id.clone(),
        certificate_hex,
    };
    // With a hub configured, records also sync in the background every five minutes,
    // backing off after failures; "Sync now" on the organiser panel runs a pass at once.
    let background_sync = sync.hub.clone().map(|hub| {
        let settings = crate::sync::client::SyncSettings::new(&hub, &sync.event_id, &sync.certificate_hex);
        let store_path = sync.store_path.clone();
        let (commands, receiver) = tokio::sync::mpsc::channel(4);
        let thread = std::thread::Builder::new()
            .name("background-sync".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(crate::sync::client::run_background(
                        store_path,
                        settings,
                        std::time::Duration::from_secs(300),
                        receiver,
                        |status| {
                            if let Some(error) = status.last_error {
                                tracing::warn!(%error, "background sync");
                            }
                        },
                    ));
                }
            });
        (commands, thread)
    });
    let options = Options {
        sync: Arc::new(sync),
        export: ExportTarget::Removable,
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
