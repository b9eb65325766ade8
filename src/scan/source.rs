//! Where frames come from: a camera (elsewhere), a still image or a folder of images, behind one
//! trait; and the "latest frame wins" hand-over between the capture thread and the decoder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

/// One captured frame.
///
/// Colour, because that is what cameras deliver and what a preview shows; the decoder converts
/// to grey itself ([`Frame::to_gray`]).
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: RgbImage,
    pub captured_at: Instant,
    /// Counts up from 0 for each frame a source delivers.
    pub seq: u64,
}

impl Frame {
    /// The grey image the decoder works on (BT.601 weights, as in `decode::gray_from_dynamic`).
    pub fn to_gray(&self) -> image::GrayImage {
        super::decode::gray_from_dynamic(&image::DynamicImage::ImageRgb8(self.image.clone()))
    }
}

/// Why no frame came.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{source_name} has no more frames; restart the source or switch to the camera")]
    EndOfStream { source_name: String },
    #[error("camera {device} was unplugged; plug it back in — the kiosk retries on its own")]
    DeviceUnplugged { device: String },
    #[error("camera {device} is busy; close any other program using it (video call, browser tab)")]
    DeviceBusy { device: String },
    #[error("{source_name} is missing or holds no images; put the images back — the kiosk retries on its own")]
    SourceGone { source_name: String },
    #[error("cannot decode a frame from {origin}: {reason}; replace or remove that file, or check the camera's format setting")]
    Decode { origin: String, reason: String },
    #[error("cannot read {path}: {reason}; check that the path exists and is readable")]
    Io { path: PathBuf, reason: String },
}

/// A source of frames: camera, still image, folder replay.
/// Not `Send`: a V4L2 camera handle must stay on the thread that opened it, so sources
/// are built on their capture thread (see [`spawn_capture`]).
pub trait FrameSource {
    /// Blocks until the next frame is due and returns it.
    fn next_frame(&mut self) -> Result<Frame, FrameError>;
    /// Human-readable description for logs and the organiser screen.
    fn describe(&self) -> String;
}

fn load_rgb(path: &Path) -> Result<RgbImage, FrameError> {
    image::open(path)
        .map(|image| image.to_rgb8())
        .map_err(|error| match error {
            image::ImageError::IoError(io) => FrameError::Io {
                path: path.to_path_buf(),
                reason: io.to_string(),
            },
            other => FrameError::Decode {
                origin: path.display().to_string(),
                reason: other.to_string(),
            },
        })
}

/// One still image, delivered once or over and over (a test card for the decoder).
pub struct ImageFileSource {
    path: PathBuf,
    image: RgbImage,
    repeat: bool,
    next_seq: u64,
}

impl ImageFileSource {
    /// Loads the image now, so a bad path fails at start-up rather than at the first frame.
    pub fn open(path: impl Into<PathBuf>, repeat: bool) -> Result<Self, FrameError> {
        let path = path.into();
        let image = load_rgb(&path)?;
        Ok(ImageFileSource {
            path,
            image,
            repeat,
            next_seq: 0,
        })
    }
}

impl FrameSource for ImageFileSource {
    fn next_frame(&mut self) -> Result<Frame, FrameError> {
        if !self.repeat && self.next_seq > 0 {
            return Err(FrameError::EndOfStream {
                source_name: self.describe(),
            });
        }
        let frame = Frame {
            image: self.image.clone(),
            captured_at: Instant::now(),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        Ok(frame)
    }

    fn describe(&self) -> String {
        let mode = if self.repeat { "repeating" } else { "once" };
        format!("image {} ({mode})", self.path.display())
    }
}

/// Replays the images of a folder in name order at a fixed frame rate.
pub struct FolderSource {
    dir: PathBuf,
    files: Vec<PathBuf>,
    interval: Duration,
    looping: bool,
    /// Live folder: listed again at each pass, and a missing or empty folder is trouble that
    /// passes (like an unplugged camera) rather than the end.
    watch: bool,
    /// When a watched folder was last found missing or empty (to pace the retries).
    last_missing: Option<Instant>,
    position: usize,
    next_seq: u64,
    next_due: Option<Instant>,
}

/// A watched folder that is missing or empty is looked at again at most this often.
pub const FOLDER_RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// Image file extensions a folder source replays (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "gif", "bmp"];

/// Whether `path` names an image a folder source would replay.
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|known| e.eq_ignore_ascii_case(known)))
}

fn list_images(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| is_image(path))
        .collect();
    files.sort();
    Ok(files)
}

impl FolderSource {
    /// Lists the folder now (png, jpg, jpeg, webp, gif, bmp; case-insensitive). `fps` ≤ 0 or
    /// not finite means "as fast as the caller asks".
    pub fn open(dir: impl Into<PathBuf>, fps: f64, looping: bool) -> Result<Self, FrameError> {
        let dir = dir.into();
        let files = list_images(&dir).map_err(|e| FrameError::Io {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        if files.is_empty() {
            return Err(FrameError::EndOfStream {
                source_name: format!("folder {} (no images)", dir.display()),
            });
        }
        Ok(FolderSource {
            dir,
            files,
            interval: interval_for(fps),
            looping,
            watch: false,
            last_missing: None,
            position: 0,
            next_seq: 0,
            next_due: None,
        })
    }

    /// A live folder, as a camera stand-in: replays its images in a loop, listing the folder
    /// again at each pass (images added or removed are seen), and a folder that is missing or
    /// empty, now or later, gives [`FrameError::SourceGone`] until images are back. Never fails
    /// to open, as a camera that is not plugged in yet.
    pub fn watch(dir: impl Into<PathBuf>, fps: f64) -> Self {
        FolderSource {
            dir: dir.into(),
            files: Vec::new(),
            interval: interval_for(fps),
            looping: true,
            watch: true,
            last_missing: None,
            position: 0,
            next_seq: 0,
            next_due: None,
        }
    }

    /// Lists a watched folder again; `SourceGone` (after pacing) when it is missing or empty.
    fn relist(&mut self) -> Result<(), FrameError> {
        if let Some(at) = self.last_missing {
            let wait = FOLDER_RETRY_INTERVAL.saturating_sub(at.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        self.position = 0;
        self.files = list_images(&self.dir).unwrap_or_default();
        if self.files.is_empty() {
            self.last_missing = Some(Instant::now());
            return Err(FrameError::SourceGone {
                source_name: format!("folder {}", self.dir.display()),
            });
        }
        self.last_missing = None;
        Ok(())
    }

    /// The images this source replays, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

fn interval_for(fps: f64) -> Duration {
    if fps.is_finite() && fps > 0.0 {
        Duration::from_secs_f64(1.0 / fps)
    } else {
        Duration::ZERO
    }
}

impl FrameSource for FolderSource {
    fn next_frame(&mut self) -> Result<Frame, FrameError> {
        if !self.watch {
            return self.next_file();
        }
        // An image of a watched folder removed since the listing: list again and go on with
        // what is there (a few times at most; then it is trouble, retried at the next call).
        for _ in 0..3 {
            if self.position >= self.files.len() {
                self.relist()?;
            }
            match self.next_file() {
                Err(FrameError::Io { .. }) => self.position = self.files.len(),
                other => return other,
            }
        }
        Err(FrameError::SourceGone {
            source_name: format!("folder {}", self.dir.display()),
        })
    }

    fn describe(&self) -> String {
        self.description()
    }
}

impl FolderSource {
    fn next_file(&mut self) -> Result<Frame, FrameError> {
        if self.position >= self.files.len() {
            if !self.looping {
                return Err(FrameError::EndOfStream {
                    source_name: self.describe(),
                });
            }
            self.position = 0;
        }
        if let Some(due) = self.next_due {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let captured_at = Instant::now();
        // Keep to the schedule (a slow caller does not stretch every interval), but after
        // falling more than a frame behind start a new schedule instead of bursting to catch up.
        self.next_due = Some(match self.next_due {
            Some(due) if captured_at.saturating_duration_since(due) < self.interval => due + self.interval,
            _ => captured_at + self.interval,
        });
        let path = self.files.get(self.position).cloned();
        self.position += 1;
        let Some(path) = path else {
            return Err(FrameError::EndOfStream {
                source_name: self.describe(),
            });
        };
        let image = load_rgb(&path)?;
        let frame = Frame {
            image,
            captured_at,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        Ok(frame)
    }

    fn description(&self) -> String {
        let rate = if self.interval.is_zero() {
            "unpaced".to_string()
        } else {
            format!("{:.1} fps", 1.0 / self.interval.as_secs_f64())
        };
        let mode = if self.watch {
            ", watched"
        } else if self.looping {
            ", looping"
        } else {
            ""
        };
        format!(
            "folder {} ({} images, {rate}{mode})",
            self.dir.display(),
            self.files.len()
        )
    }
}

/// Hands frames from a capture thread to the decoder: the newest frame wins and frames the
/// decoder had no time for are dropped (and counted), so the decoder never works on the past.
#[derive(Clone, Default)]
pub struct LatestFrameSlot {
    shared: Arc<(Mutex<SlotState>, Condvar)>,
}

#[derive(Default)]
struct SlotState {
    frame: Option<Frame>,
    dropped: u64,
    delivered: u64,
    closed: bool,
}

impl LatestFrameSlot {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, SlotState> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep going.
        self.shared.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a frame, replacing (and counting as dropped) one that was not taken yet.
    pub fn put(&self, frame: Frame) {
        let mut state = self.state();
        if state.frame.replace(frame).is_some() {
            state.dropped += 1;
        }
        drop(state);
        self.shared.1.notify_one();
    }

    /// The newest frame, if one arrived since the last take.
    pub fn take(&self) -> Option<Frame> {
        let mut state = self.state();
        let frame = state.frame.take();
        state.delivered += u64::from(frame.is_some());
        frame
    }

    /// Waits up to `timeout` for a frame. `None` on timeout or once the slot is closed and empty.
    pub fn wait_take(&self, timeout: Duration) -> Option<Frame> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state();
        loop {
            if let Some(frame) = state.frame.take() {
                state.delivered += 1;
                return Some(frame);
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = match self.shared.1.wait_timeout(state, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Tells both sides to stop: the capture loop ends and waiting takes return.
    pub fn close(&self) {
        self.state().closed = true;
        self.shared.1.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Frames overwritten before the decoder took them.
    pub fn dropped(&self) -> u64 {
        self.state().dropped
    }

    /// Frames the decoder took.
    pub fn delivered(&self) -> u64 {
        self.state().delivered
    }
}

/// Builds a source on its own thread and puts every frame into `slot` until the slot is
/// closed or the source ends. Device trouble (unplugged, busy, a bad frame) is reported
/// through `on_trouble` and retried — the camera source itself paces reopening — so a
/// kiosk survives a camera being unplugged and plugged back. The thread returns the
/// error that ended it (`None` when the slot was closed).
pub fn spawn_capture(
    make_source: impl FnOnce() -> Box<dyn FrameSource> + Send + 'static,
    slot: LatestFrameSlot,
    on_trouble: impl Fn(Option<&FrameError>) + Send + 'static,
) -> std::io::Result<JoinHandle<Option<FrameError>>> {
    std::thread::Builder::new()
        .name("frame-capture".to_string())
        .spawn(move || {
            let mut source = make_source();
            let mut in_trouble = false;
            while !slot.is_closed() {
                match source.next_frame() {
                    Ok(frame) => {
                        if in_trouble {
                            in_trouble = false;
                            on_trouble(None);
                        }
                        slot.put(frame);
                    }
                    Err(error @ (FrameError::EndOfStream { .. } | FrameError::Io { .. })) => {
                        on_trouble(Some(&error));
                        slot.close();
                        return Some(error);
                    }
                    Err(error) => {
                        in_trouble = true;
                        on_trouble(Some(&error));
                    }
                }
            }
            None
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn write_image(dir: &Path, name: &str, shade: u8) -> PathBuf {
        let path = dir.join(name);
        RgbImage::from_pixel(16, 8, Rgb([shade, shade, shade]))
            .save(&path)
            .expect("test image written");
        path
    }

    #[test]
    fn image_file_source_delivers_once_then_ends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_image(dir.path(), "card.png", 200);
        let mut source = ImageFileSource::open(&path, false).expect("opens");
        let frame = source.next_frame().expect("first frame");
        assert_eq!(frame.seq, 0);
        assert_eq!(frame.image.dimensions(), (16, 8));
        assert_eq!(frame.image.get_pixel(3, 3), &Rgb([200, 200, 200]));
        assert!(matches!(source.next_frame(), Err(FrameError::EndOfStream { .. })));
        assert!(source.describe().contains("card.png"));
    }

    #[test]
    fn image_file_source_repeats_with_rising_sequence_numbers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_image(dir.path(), "card.png", 10);
        let mut source = ImageFileSource::open(&path, true).expect("opens");
        let seqs: Vec<u64> = (0..4)
            .map(|_| source.next_frame().map(|f| f.seq).unwrap_or(99))
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3]);
    }

    #[test]
    fn image_file_source_reports_missing_and_broken_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = ImageFileSource::open(dir.path().join("none.png"), false);
        assert!(matches!(missing, Err(FrameError::Io { .. })), "{:?}", missing.err());
        let broken = dir.path().join("broken.png");
        std::fs::write(&broken, b"not a png").expect("written");
        let error = ImageFileSource::open(&broken, false).err().expect("fails");
        assert!(matches!(error, FrameError::Decode { .. }), "{error:?}");
        assert!(error.to_string().contains("replace or remove"));
    }

    #[test]
    fn folder_source_replays_in_name_order_and_loops() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_image(dir.path(), "b.png", 20);
        write_image(dir.path(), "a.png", 10);
        write_image(dir.path(), "c.bmp", 30);
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("written");
        let mut source = FolderSource::open(dir.path(), 0.0, true).expect("opens");
        assert_eq!(source.files().len(), 3);
        let shades: Vec<u8> = (0..5)
            .map(|_| source.next_frame().map(|f| f.image.get_pixel(0, 0).0[0]).unwrap_or(0))
            .collect();
        assert_eq!(shades, [10, 20, 30, 10, 20]);
    }

    #[test]
    fn folder_source_without_looping_ends_and_paces_frames() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_image(dir.path(), "1.png", 1);
        write_image(dir.path(), "2.png", 2);
        write_image(dir.path(), "3.png", 3);
        let mut source = FolderSource::open(dir.path(), 50.0, false).expect("opens");
        let frames: Vec<Frame> = (0..3).filter_map(|_| source.next_frame().ok()).collect();
        assert_eq!(frames.len(), 3);
        assert!(matches!(source.next_frame(), Err(FrameError::EndOfStream { .. })));
        // Frames keep to a 20 ms schedule from the first one (single gaps may be shorter when a
        // sleep overshot, as a camera's would).
        let span = frames[2].captured_at - frames[0].captured_at;
        assert!(
            span >= Duration::from_millis(40),
            "3 frames at 50 fps span 40 ms, got {span:?}"
        );
        assert!(frames.windows(2).all(|pair| pair[1].seq == pair[0].seq + 1));
    }

    #[test]
    fn folder_source_rejects_a_folder_without_images() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(matches!(
            FolderSource::open(dir.path(), 10.0, false),
            Err(FrameError::EndOfStream { .. })
        ));
        assert!(matches!(
            FolderSource::open(dir.path().join("missing"), 10.0, false),
            Err(FrameError::Io { .. })
        ));
    }

    #[test]
    fn folder_source_reports_a_broken_file_and_goes_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.png"), b"garbage").expect("written");
        write_image(dir.path(), "b.png", 7);
        let mut source = FolderSource::open(dir.path(), 0.0, false).expect("opens");
        assert!(matches!(source.next_frame(), Err(FrameError::Decode { .. })));
        let frame = source.next_frame().expect("next file still plays");
        assert_eq!(frame.image.get_pixel(0, 0).0[0], 7);
    }

    #[test]
    fn a_watched_folder_is_trouble_while_missing_and_plays_again_when_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let live = dir.path().join("camera");
        let mut source = FolderSource::watch(&live, 0.0);
        let gone = source.next_frame().expect_err("nothing to play yet");
        assert!(matches!(gone, FrameError::SourceGone { .. }), "{gone:?}");
        assert!(gone.to_string().contains("retries on its own"), "{gone}");
        std::fs::create_dir(&live).expect("folder created");
        write_image(&live, "a.png", 40);
        let shade = |source: &mut FolderSource| source.next_frame().map(|f| f.image.get_pixel(0, 0).0[0]);
        assert_eq!(shade(&mut source).ok(), Some(40), "images are back");
        // Images added are seen at the next pass.
        write_image(&live, "b.png", 50);
        assert_eq!(shade(&mut source).ok(), Some(40));
        assert_eq!(shade(&mut source).ok(), Some(50));
        // One image removed mid-pass: the others go on playing, no trouble.
        assert_eq!(shade(&mut source).ok(), Some(40));
        std::fs::remove_file(live.join("b.png")).expect("removed");
        assert_eq!(shade(&mut source).ok(), Some(40));
        // The whole folder removed: trouble, again and again, until it returns.
        std::fs::remove_dir_all(&live).expect("removed");
        for _ in 0..2 {
            assert!(matches!(shade(&mut source), Err(FrameError::SourceGone { .. })));
        }
        std::fs::create_dir(&live).expect("folder created");
        write_image(&live, "c.png", 60);
        assert_eq!(shade(&mut source).ok(), Some(60));
        assert!(source.describe().contains("watched"));
    }

    #[test]
    fn capture_from_a_watched_folder_survives_its_removal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let live = dir.path().join("camera");
        std::fs::create_dir(&live).expect("folder created");
        write_image(&live, "a.png", 70);
        let slot = LatestFrameSlot::new();
        let (events, troubles) = std::sync::mpsc::channel();
        let source = FolderSource::watch(&live, 100.0);
        let handle = spawn_capture(
            move || Box::new(source),
            slot.clone(),
            move |trouble| {
                let _ = events.send(trouble.map(|error| error.to_string()));
            },
        )
        .expect("thread starts");
        let patient = Duration::from_secs(30);
        assert!(slot.wait_take(patient).is_some(), "frames flow");
        std::fs::remove_dir_all(&live).expect("removed");
        let trouble = troubles.recv_timeout(patient).expect("trouble reported");
        assert!(
            trouble.is_some_and(|text| text.contains("missing")),
            "says what is wrong"
        );
        assert!(!slot.is_closed(), "a missing folder does not end capture");
        std::fs::create_dir(&live).expect("folder created");
        write_image(&live, "b.png", 80);
        // Trouble may be reported again before the folder is seen; then it clears.
        let cleared = loop {
            match troubles.recv_timeout(patient) {
                Ok(None) => break true,
                Ok(Some(_)) => continue,
                Err(_) => break false,
            }
        };
        assert!(cleared, "recovery reported");
        let frame = loop {
            match slot.wait_take(patient) {
                Some(frame) if frame.image.get_pixel(0, 0).0[0] == 80 => break Some(frame),
                Some(_) => continue,
                None => break None,
            }
        };
        assert!(frame.is_some(), "frames of the new images flow");
        slot.close();
        assert!(matches!(handle.join(), Ok(None)));
    }

    fn frame(seq: u64) -> Frame {
        Frame {
            image: RgbImage::new(2, 2),
            captured_at: Instant::now(),
            seq,
        }
    }

    #[test]
    fn latest_frame_wins_and_stale_frames_are_counted() {
        let slot = LatestFrameSlot::new();
        assert!(slot.take().is_none());
        slot.put(frame(0));
        slot.put(frame(1));
        slot.put(frame(2));
        assert_eq!(slot.take().map(|f| f.seq), Some(2));
        assert!(slot.take().is_none(), "a frame is handed over once");
        assert_eq!(slot.dropped(), 2);
        assert_eq!(slot.delivered(), 1);
    }

    #[test]
    fn a_slow_decoder_only_ever_sees_the_newest_frame() {
        let slot = LatestFrameSlot::new();
        let producer = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                for seq in 0..200 {
                    slot.put(frame(seq));
                    std::thread::sleep(Duration::from_micros(200));
                }
                slot.close();
            })
        };
        let mut seen = Vec::new();
        while let Some(f) = slot.wait_take(Duration::from_secs(5)) {
            seen.push(f.seq);
            std::thread::sleep(Duration::from_millis(3));
        }
        assert!(producer.join().is_ok());
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "never an older frame after a newer one"
        );
        assert_eq!(
            seen.len() as u64 + slot.dropped(),
            200,
            "every frame is taken or counted dropped"
        );
        assert!(slot.dropped() > 0, "a decoder slower than capture must drop frames");
    }

    #[test]
    fn capture_thread_fills_the_slot_until_the_source_ends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_image(dir.path(), "card.png", 99);
        let source = ImageFileSource::open(&path, false).expect("opens");
        let slot = LatestFrameSlot::new();
        let handle = spawn_capture(move || Box::new(source), slot.clone(), |_| {}).expect("thread starts");
        let first = slot.wait_take(Duration::from_secs(5));
        assert_eq!(first.map(|f| f.seq), Some(0));
        let ended = handle.join().ok().flatten();
        assert!(matches!(ended, Some(FrameError::EndOfStream { .. })));
        assert!(slot.is_closed());
        assert!(slot.wait_take(Duration::from_millis(10)).is_none());
    }
}
