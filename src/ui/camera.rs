//! The camera pipeline behind the attract screen: capture on its own thread (latest
//! frame wins), decode on another, previews to the UI at about 15 fps with the detected
//! code outlined. Nothing here runs on the UI thread.

use std::time::{Duration, Instant};

use slint::{Rgb8Pixel, SharedPixelBuffer};

use super::attract_adapter::Outline;
use super::KioskHandle;
use crate::scan::decode::{decode_frame, DecodeBudget};
use crate::scan::source::{spawn_capture, FolderSource, FrameError, FrameSource, LatestFrameSlot};

const PREVIEW_WIDTH: u32 = 640;
const PREVIEW_INTERVAL: Duration = Duration::from_millis(66);

/// Folder replay rate: a camera's pace, slow enough to leave the decoder idle time.
const FOLDER_FPS: f64 = 10.0;

/// Whether `--camera` names a folder of images to replay rather than a camera: an existing
/// folder, or a path that is not a device (`/dev/…`) — a folder that is not there yet is
/// camera trouble until it appears, as an unplugged camera is.
pub fn is_folder(camera: &str) -> bool {
    let path = std::path::Path::new(camera);
    path.is_dir() || (camera.contains(std::path::MAIN_SEPARATOR) && !camera.starts_with("/dev/"))
}

/// Starts capture and decoding for `camera`: a device ("0", "/dev/video2") or a folder of
/// images replayed at 10 fps (demos, tests), watched like a camera: if it disappears or
/// empties the kiosk shows camera trouble, and scanning resumes when images are back.
/// Returns the slot; closing it stops both threads.
pub fn start(camera: &str, handle: KioskHandle) -> std::io::Result<LatestFrameSlot> {
    let slot = LatestFrameSlot::new();
    let device = camera.to_owned();
    let trouble_handle = handle.clone();
    let last_trouble = std::cell::RefCell::new(None::<String>);
    let make_source = move || -> Box<dyn FrameSource> {
        if is_folder(&device) {
            Box::new(FolderSource::watch(&device, FOLDER_FPS))
        } else {
            Box::new(crate::scan::camera::CameraSource::new(&device))
        }
    };
    spawn_capture(make_source, slot.clone(), move |trouble: Option<&FrameError>| {
        // Sources retry on their own and report each failed try: say it once per change.
        let was = last_trouble.replace(trouble.map(|error| error.to_string()));
        match trouble {
            Some(error) => {
                if was.as_deref() != Some(error.to_string().as_str()) {
                    tracing::warn!(%error, "camera trouble");
                }
                trouble_handle.set_camera_status(crate::CameraStatus::Trouble);
            }
            None => {
                tracing::info!("camera working again");
                trouble_handle.set_camera_status(crate::CameraStatus::On);
            }
        }
    })?;
    let decoder_slot = slot.clone();
    std::thread::Builder::new()
        .name("frame-decoder".into())
        .spawn(move || {
            let scans = handle.scan_sender();
            let budget = DecodeBudget::default();
            let mut last_preview = Instant::now() - PREVIEW_INTERVAL;
            let mut announced = false;
            while !decoder_slot.is_closed() {
                let Some(frame) = decoder_slot.wait_take(Duration::from_millis(500)) else {
                    continue;
                };
                if !announced {
                    handle.set_camera_status(crate::CameraStatus::On);
                    announced = true;
                }
                let outcome = decode_frame(&frame.to_gray(), &budget);
                let (width, height) = frame.image.dimensions();
                let outline = outcome.codes.first().map(|code| {
                    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
                    for corner in &code.corners {
                        min_x = min_x.min(corner.x);
                        min_y = min_y.min(corner.y);
                        max_x = max_x.max(corner.x);
                        max_y = max_y.max(corner.y);
                    }
                    Outline {
                        x: min_x / width as f32,
                        y: min_y / height as f32,
                        width: (max_x - min_x) / width as f32,
                        height: (max_y - min_y) / height as f32,
                    }
                });
                if last_preview.elapsed() >= PREVIEW_INTERVAL || outline.is_some() {
                    last_preview = Instant::now();
                    let preview_height = (height * PREVIEW_WIDTH / width.max(1)).max(1);
                    let small = image::imageops::resize(
                        &frame.image,
                        PREVIEW_WIDTH,
                        preview_height,
                        image::imageops::FilterType::Triangle,
                    );
                    let buffer =
                        SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(small.as_raw(), PREVIEW_WIDTH, preview_height);
                    handle.show_frame(buffer, outline);
                }
                for code in outcome.codes {
                    if !scans.send(code.text) {
                        return;
                    }
                }
            }
        })?;
    Ok(slot)
}
