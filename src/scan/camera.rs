//! The real camera, through nokhwa (V4L2 on Linux). A camera that is missing, unplugged
//! or busy is a status, not a crash: `next_frame` says what is wrong and the next call
//! tries to open it again.

use std::time::{Duration, Instant};

use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution};
use nokhwa::{Camera, NokhwaError};

use super::source::{Frame, FrameError, FrameSource};

/// 1280×720 is what the decoder is tuned for: enough pixels for a wristband at arm's
/// length, little enough to decode within a frame at 30 fps.
const PREFERRED: (u32, u32, u32) = (1280, 720, 30);
/// Do not hammer a missing device: at most one open attempt per interval.
const REOPEN_INTERVAL: Duration = Duration::from_secs(2);

pub struct CameraSource {
    device: String,
    index: CameraIndex,
    camera: Option<Camera>,
    last_attempt: Option<Instant>,
    seq: u64,
}

impl CameraSource {
    /// `device` is a camera index ("0") or a V4L2 path ("/dev/video2").
    pub fn new(device: &str) -> Self {
        let index = device
            .strip_prefix("/dev/video")
            .unwrap_or(device)
            .parse::<u32>()
            .map(CameraIndex::Index)
            .unwrap_or_else(|_| CameraIndex::String(device.to_owned()));
        Self {
            device: device.to_owned(),
            index,
            camera: None,
            last_attempt: None,
            seq: 0,
        }
    }

    fn classify(&self, error: &NokhwaError) -> FrameError {
        let text = error.to_string().to_lowercase();
        if text.contains("busy") || text.contains("resource temporarily unavailable") {
            FrameError::DeviceBusy {
                device: self.device.clone(),
            }
        } else if matches!(error, NokhwaError::ProcessFrameError { .. }) {
            FrameError::Decode {
                origin: format!("camera {}", self.device),
                reason: error.to_string(),
            }
        } else {
            FrameError::DeviceUnplugged {
                device: self.device.clone(),
            }
        }
    }

    fn open(&mut self) -> Result<(), FrameError> {
        if let Some(at) = self.last_attempt {
            let wait = REOPEN_INTERVAL.saturating_sub(at.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        self.last_attempt = Some(Instant::now());
        let (width, height, fps) = PREFERRED;
        let requested = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new(
            Resolution::new(width, height),
            FrameFormat::MJPEG,
            fps,
        )));
        // nokhwa may panic deep in a driver binding on odd devices: contain it.
        let index = self.index.clone();
        let opened = std::panic::catch_unwind(move || {
            let mut camera = Camera::new(index, requested)?;
            camera.open_stream()?;
            Ok::<_, NokhwaError>(camera)
        })
        .map_err(|_| FrameError::DeviceUnplugged {
            device: self.device.clone(),
        })?;
        match opened {
            Ok(camera) => {
                tracing::info!(device = %self.device, format = %camera.camera_format(), "camera opened");
                self.camera = Some(camera);
                Ok(())
            }
            Err(error) => {
                tracing::warn!(device = %self.device, %error, "camera not available");
                Err(self.classify(&error))
            }
        }
    }
}

impl FrameSource for CameraSource {
    fn next_frame(&mut self) -> Result<Frame, FrameError> {
        if self.camera.is_none() {
            self.open()?;
        }
        let Some(camera) = self.camera.as_mut() else {
            return Err(FrameError::DeviceUnplugged {
                device: self.device.clone(),
            });
        };
        let decoded = camera.frame().and_then(|buffer| buffer.decode_image::<RgbFormat>());
        match decoded {
            Ok(image) => {
                let (width, height) = image.dimensions();
                let image =
                    image::RgbImage::from_raw(width, height, image.into_raw()).ok_or_else(|| FrameError::Decode {
                        origin: format!("camera {}", self.device),
                        reason: "frame size does not match its format".into(),
                    })?;
                let frame = Frame {
                    image,
                    captured_at: Instant::now(),
                    seq: self.seq,
                };
                self.seq += 1;
                Ok(frame)
            }
            Err(error) => {
                // Drop the stream: the next call reopens it (unplug → replug recovers).
                let classified = self.classify(&error);
                if !matches!(classified, FrameError::Decode { .. }) {
                    self.camera = None;
                }
                Err(classified)
            }
        }
    }

    fn describe(&self) -> String {
        format!("camera {}", self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_camera_is_a_clear_error_not_a_crash() {
        // No camera exists at this index on any test machine.
        let mut source = CameraSource::new("/dev/video97");
        let error = source.next_frame().unwrap_err();
        assert!(
            matches!(
                error,
                FrameError::DeviceUnplugged { .. } | FrameError::DeviceBusy { .. }
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains("video97") || error.to_string().contains("97"),
            "{error}"
        );
        // A second attempt waits for the reopen interval instead of spinning, then fails the same way.
        let started = Instant::now();
        assert!(source.next_frame().is_err());
        assert!(started.elapsed() >= REOPEN_INTERVAL - Duration::from_millis(100));
        assert_eq!(source.describe(), "camera /dev/video97");
    }

    #[test]
    fn device_names_parse() {
        assert_eq!(CameraSource::new("0").index, CameraIndex::Index(0));
        assert_eq!(CameraSource::new("/dev/video3").index, CameraIndex::Index(3));
        assert!(matches!(CameraSource::new("usb-cam").index, CameraIndex::String(_)));
    }
}
