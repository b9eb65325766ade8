//! Measures the decoding pipeline against rqrr alone (and optionally zxing-cpp) on folders of
//! labelled photographs and on synthetic 720p kiosk frames.
//!
//! Labelled folders hold `NAME.png|jpg|jpeg|webp|gif|bmp` with the expected text in `NAME.txt`.
//! A label that is valid UTF-8 is compared exactly with the decoded text (trailing newlines
//! included); a label that is not (binary payloads) is compared with the decoded text read back
//! as ISO-8859-1 bytes, which is how both decoders return byte-mode data they cannot map to a
//! character set. Images without `NAME.txt` (e.g. one part of a structured-append set) are
//! counted as unlabelled and skipped; `*.result.txt` and `*.bin` metadata are ignored.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use image::DynamicImage;
use serde::{Deserialize, Serialize};

use crate::scan::decode::{decode_frame, decode_rqrr_only, gray_from_dynamic, DecodeBudget, DecodeOutcome};
use crate::scan::fixtures::{stress_image, synthetic_frame, STRESS_KINDS, SYNTHETIC_CODE_TEXT};
use crate::scan::source::is_image;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot list {path}: {source}; pass folders that exist and are readable")]
    ListFolder { path: PathBuf, source: std::io::Error },
    #[error("cannot run `{command}`: {source}; install Python 3 or bench without --zxing")]
    ZxingSpawn { command: String, source: std::io::Error },
    #[error("`{command}` failed: {stderr}; run `pip install zxing-cpp pillow` and check the script path")]
    ZxingFailed { command: String, stderr: String },
    #[error("cannot read the zxing-cpp script's JSON: {0}; run the script by hand to see its output")]
    ZxingOutput(serde_json::Error),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Longer sides above this are downscaled before any decoder sees the image (the kiosk
    /// camera delivers 1280×720); 0 keeps every image as it is.
    pub max_side: u32,
    /// The pipeline's per-frame budget.
    pub budget: DecodeBudget,
    /// Run the zxing-cpp script over the same folders.
    pub zxing: Option<ZxingCommand>,
    /// How many synthetic 1280×720 frames to time with and without a code (0: none).
    pub synthetic_frames: usize,
    /// How many images of each kind of the synthetic stress set to decode (0: none).
    pub stress_per_kind: u64,
    /// Keep each image's outcome in the report.
    pub per_file: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            max_side: 1280,
            budget: DecodeBudget::default(),
            zxing: None,
            synthetic_frames: 30,
            stress_per_kind: 0,
            per_file: false,
        }
    }
}

/// How to invoke `scripts/zxing_bench.py`.
#[derive(Debug, Clone)]
pub struct ZxingCommand {
    pub python: String,
    pub script: PathBuf,
}

impl Default for ZxingCommand {
    fn default() -> Self {
        ZxingCommand {
            python: "python3".to_string(),
            script: PathBuf::from("scripts/zxing_bench.py"),
        }
    }
}

/// Figures for one decoder over a set of images.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub images: usize,
    /// Images whose expected text was among the decoded texts.
    pub read: usize,
    /// Decoded texts that are not the expected one, on images where the expected text was not
    /// read: wrong output.
    pub misreads: usize,
    /// Decoded texts that are not the expected one, on images where the expected text was
    /// also read: a second code in view (the strict "any other text" count is
    /// `misreads + extra_codes`).
    #[serde(default)]
    pub extra_codes: usize,
    /// Decoder panics caught.
    #[serde(default)]
    pub panics: usize,
    /// Images that could not be loaded.
    #[serde(default, alias = "errors")]
    pub load_errors: usize,
    pub median_ms: f64,
    pub p90_ms: f64,
    /// 99th percentile (nearest rank): with a hundred images, the second-slowest.
    #[serde(default)]
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Images whose wall time exceeded the pipeline's per-frame budget.
    #[serde(default)]
    pub over_budget: usize,
    /// Median CPU time of the decoding thread (64-bit Linux; equals wall time elsewhere). Unlike wall
    /// time it does not grow when other programs compete for the cores.
    #[serde(default)]
    pub cpu_median_ms: f64,
    /// The same CPU time's 99th percentile and maximum: the worst images without the noise of
    /// other programs taking the core.
    #[serde(default)]
    pub cpu_p99_ms: f64,
    #[serde(default)]
    pub cpu_max_ms: f64,
}

/// One image's result for one decoder.
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    pub file: String,
    pub read: bool,
    pub misreads: usize,
    pub extra_codes: usize,
    pub panics: u32,
    pub ms: f64,
    pub cpu_ms: f64,
    /// The pipeline attempt that decoded (pipeline only).
    pub strategy: Option<String>,
    /// Work units the pipeline spent (deterministic for a given image and budget).
    pub work: u64,
    /// Every attempt that ran, with its time and work (pipeline only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<crate::scan::decode::AttemptTrace>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FolderReport {
    pub folder: String,
    /// Images without a `NAME.txt` label, skipped.
    pub unlabelled: usize,
    pub rqrr: Figures,
    pub pipeline: Figures,
    pub zxing: Option<Figures>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rqrr_files: Vec<FileOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pipeline_files: Vec<FileOutcome>,
}

/// Milliseconds per synthetic 1280×720 frame.
#[derive(Debug, Clone, Serialize)]
pub struct SyntheticReport {
    pub frames: usize,
    pub no_code_rqrr: Figures,
    pub no_code_pipeline: Figures,
    pub with_code_rqrr: Figures,
    pub with_code_pipeline: Figures,
}

/// The pipeline on the synthetic stress set ([`stress_image`]): 1280×720 scenes, one kind of
/// trouble each.
#[derive(Debug, Clone, Serialize)]
pub struct StressReport {
    pub per_kind: u64,
    pub kinds: Vec<StressKindFigures>,
    pub total: Figures,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileOutcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StressKindFigures {
    pub kind: String,
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub max_side: u32,
    pub budget_ms: f64,
    pub folders: Vec<FolderReport>,
    pub total_rqrr: Figures,
    pub total_pipeline: Figures,
    pub total_zxing: Option<Figures>,
    pub synthetic: Option<SyntheticReport>,
    pub stress: Option<StressReport>,
}

impl BenchReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// An image with its expected text.
#[derive(Debug, Clone)]
pub struct LabelledImage {
    pub image: PathBuf,
    pub expected: Vec<u8>,
}

/// Labelled images of a folder in name order, and how many images had no label.
pub fn labelled_images(dir: &Path) -> Result<(Vec<LabelledImage>, usize), BenchError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BenchError::ListFolder {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| is_image(path))
        .collect();
    paths.sort();
    let mut labelled = Vec::new();
    let mut unlabelled = 0;
    for image in paths {
        match std::fs::read(image.with_extension("txt")) {
            Ok(expected) => labelled.push(LabelledImage { image, expected }),
            Err(_) => unlabelled += 1,
        }
    }
    Ok((labelled, unlabelled))
}

/// Whether a decoded text is the expected label (see the module comment for the rules).
pub fn text_matches(expected: &[u8], decoded: &str) -> bool {
    match std::str::from_utf8(expected) {
        Ok(expected) => expected == decoded,
        Err(_) => {
            let mut bytes = Vec::with_capacity(decoded.len());
            for c in decoded.chars() {
                match u8::try_from(u32::from(c)) {
                    Ok(b) => bytes.push(b),
                    Err(_) => return false,
                }
            }
            bytes == expected
        }
    }
}

/// Loads an image as the kiosk would see it: at most `max_side` pixels on the longer side.
pub fn load_for_bench(path: &Path, max_side: u32) -> Result<DynamicImage, image::ImageError> {
    let image = image::open(path)?;
    if max_side > 0 && image.width().max(image.height()) > max_side {
        let (w, h) = fit_dimensions(image.width(), image.height(), max_side);
        Ok(image.resize_exact(w, h, image::imageops::FilterType::Triangle))
    } else {
        Ok(image)
    }
}

/// Output size for a longer side of `max_side`, rounded half up (as the zxing script does).
pub fn fit_dimensions(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let scale = f64::from(max_side) / f64::from(width.max(height).max(1));
    let fit = |v: u32| ((f64::from(v) * scale + 0.5) as u32).max(1);
    (fit(width), fit(height))
}

/// Runs rqrr alone, the pipeline and (if asked) zxing-cpp over every folder.
pub fn run_decode_bench(dirs: &[PathBuf], opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let budget_ms = opts.budget.time.as_secs_f64() * 1000.0;
    let mut folders = Vec::new();
    let mut all_rqrr = Samples::default();
    let mut all_pipeline = Samples::default();
    for dir in dirs {
        let (images, unlabelled) = labelled_images(dir)?;
        let mut rqrr = Samples::default();
        let mut pipeline = Samples::default();
        let mut rqrr_files = Vec::new();
        let mut pipeline_files = Vec::new();
        for labelled in &images {
            let name = labelled
                .image
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let image = match load_for_bench(&labelled.image, opts.max_side) {
                Ok(image) => image,
                Err(_) => {
                    rqrr.load_errors += 1;
                    pipeline.load_errors += 1;
                    continue;
                }
            };
            let (outcome, took) = timed(|| decode_rqrr_only(&gray_from_dynamic(&image)));
            rqrr_files.push(rqrr.add(&name, &labelled.expected, &outcome, took));
            let (outcome, took) = timed(|| decode_frame(&gray_from_dynamic(&image), &opts.budget));
            pipeline_files.push(pipeline.add(&name, &labelled.expected, &outcome, took));
        }
        all_rqrr.extend(&rqrr);
        all_pipeline.extend(&pipeline);
        folders.push(FolderReport {
            folder: folder_name(dir),
            unlabelled,
            rqrr: rqrr.figures(budget_ms),
            pipeline: pipeline.figures(budget_ms),
            zxing: None,
            rqrr_files: if opts.per_file { rqrr_files } else { Vec::new() },
            pipeline_files: if opts.per_file { pipeline_files } else { Vec::new() },
        });
    }
    let mut total_zxing = None;
    if let Some(command) = &opts.zxing {
        let zxing = run_zxing(command, dirs, opts.max_side)?;
        for (folder, figures) in folders.iter_mut().zip(zxing.folders) {
            folder.zxing = Some(figures);
        }
        total_zxing = Some(zxing.total);
    }
    let synthetic = (opts.synthetic_frames > 0).then(|| bench_synthetic(opts.synthetic_frames, &opts.budget));
    let stress = (opts.stress_per_kind > 0).then(|| bench_stress(opts.stress_per_kind, &opts.budget, opts.per_file));
    Ok(BenchReport {
        max_side: opts.max_side,
        budget_ms,
        folders,
        total_rqrr: all_rqrr.figures(budget_ms),
        total_pipeline: all_pipeline.figures(budget_ms),
        total_zxing,
        synthetic,
        stress,
    })
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

/// Wall and thread-CPU time of one measured call.
#[derive(Debug, Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

/// Runs `work` and measures it.
fn timed<T>(work: impl FnOnce() -> T) -> (T, Took) {
    let cpu_before = thread_cpu_time();
    let started = Instant::now();
    let value = work();
    let wall = started.elapsed();
    let cpu = match (cpu_before, thread_cpu_time()) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => wall,
    };
    (value, Took { wall, cpu })
}

/// CPU time this thread has run (the POSIX thread CPU clock).
///
/// Declared here rather than through the `libc` crate to keep the dependency list short; the
/// layout below is `struct timespec` on 64-bit Linux (glibc and musl), hence the narrow `cfg`.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_time() -> Option<Duration> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    extern "C" {
        fn clock_gettime(clock: i32, now: *mut Timespec) -> i32;
    }
    let mut now = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call, and the
    // thread CPU clock needs no other argument.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return None;
    }
    let seconds = u64::try_from(now.tv_sec).ok()?;
    let nanos = u32::try_from(now.tv_nsec).ok()?;
    Some(Duration::new(seconds, nanos))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

#[derive(Debug, Default)]
struct Samples {
    images: usize,
    read: usize,
    misreads: usize,
    extra_codes: usize,
    panics: usize,
    load_errors: usize,
    millis: Vec<f64>,
    cpu_millis: Vec<f64>,
}

impl Samples {
    fn add(&mut self, name: &str, expected: &[u8], outcome: &DecodeOutcome, took: Took) -> FileOutcome {
        let read = outcome.codes.iter().any(|c| text_matches(expected, &c.text));
        let others = outcome
            .codes
            .iter()
            .filter(|c| !text_matches(expected, &c.text))
            .count();
        let (misreads, extra_codes) = if read { (0, others) } else { (others, 0) };
        let ms = took.wall.as_secs_f64() * 1000.0;
        let cpu_ms = took.cpu.as_secs_f64() * 1000.0;
        self.cpu_millis.push(cpu_ms);
        self.images += 1;
        self.read += usize::from(read);
        self.misreads += misreads;
        self.extra_codes += extra_codes;
        self.panics += outcome.panics_caught as usize;
        self.millis.push(ms);
        FileOutcome {
            file: name.to_string(),
            read,
            misreads,
            extra_codes,
            panics: outcome.panics_caught,
            ms,
            cpu_ms,
            strategy: outcome.strategy.map(|s| s.to_string()),
            work: outcome.work,
            trace: outcome.trace.clone(),
        }
    }

    fn extend(&mut self, other: &Samples) {
        self.images += other.images;
        self.read += other.read;
        self.misreads += other.misreads;
        self.extra_codes += other.extra_codes;
        self.panics += other.panics;
        self.load_errors += other.load_errors;
        self.millis.extend_from_slice(&other.millis);
        self.cpu_millis.extend_from_slice(&other.cpu_millis);
    }

    /// Figures over the samples; `budget_ms` is the frame budget images are counted against.
    fn figures(&self, budget_ms: f64) -> Figures {
        let mut sorted = self.millis.clone();
        sorted.sort_by(f64::total_cmp);
        let mut cpu = self.cpu_millis.clone();
        cpu.sort_by(f64::total_cmp);
        Figures {
            images: self.images + self.load_errors,
            read: self.read,
            misreads: self.misreads,
            extra_codes: self.extra_codes,
            panics: self.panics,
            load_errors: self.load_errors,
            median_ms: round3(median(&sorted)),
            p90_ms: round3(percentile(&sorted, 0.9)),
            p99_ms: round3(percentile(&sorted, 0.99)),
            max_ms: round3(sorted.last().copied().unwrap_or(0.0)),
            over_budget: sorted.iter().filter(|&&ms| ms > budget_ms).count(),
            cpu_median_ms: round3(median(&cpu)),
            cpu_p99_ms: round3(percentile(&cpu, 0.99)),
            cpu_max_ms: round3(cpu.last().copied().unwrap_or(0.0)),
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted.get(n / 2).copied().unwrap_or(0.0),
        n => (sorted.get(n / 2 - 1).copied().unwrap_or(0.0) + sorted.get(n / 2).copied().unwrap_or(0.0)) / 2.0,
    }
}

/// Nearest-rank percentile, the same rule as the zxing script.
fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let last = sorted.len() - 1;
    let index = ((fraction * last as f64).round() as usize).min(last);
    sorted.get(index).copied().unwrap_or(0.0)
}

#[derive(Debug, Deserialize)]
struct ZxingReport {
    folders: Vec<Figures>,
    total: Figures,
}

fn run_zxing(command: &ZxingCommand, dirs: &[PathBuf], max_side: u32) -> Result<ZxingReport, BenchError> {
    let mut process = Command::new(&command.python);
    process
        .arg(&command.script)
        .arg("--max-side")
        .arg(max_side.to_string())
        .args(dirs);
    let shown = format!("{} {} …", command.python, command.script.display());
    let output = process.output().map_err(|source| BenchError::ZxingSpawn {
        command: shown.clone(),
        source,
    })?;
    if !output.status.success() {
        return Err(BenchError::ZxingFailed {
            command: shown,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(BenchError::ZxingOutput)
}

fn bench_synthetic(frames: usize, budget: &DecodeBudget) -> SyntheticReport {
    let budget_ms = budget.time.as_secs_f64() * 1000.0;
    let mut no_code_rqrr = Samples::default();
    let mut no_code_pipeline = Samples::default();
    let mut with_code_rqrr = Samples::default();
    let mut with_code_pipeline = Samples::default();
    let expected = SYNTHETIC_CODE_TEXT.as_bytes();
    for seed in 0..frames as u64 {
        let empty = synthetic_frame(seed, None);
        let code = synthetic_frame(seed, Some(SYNTHETIC_CODE_TEXT));
        for (frame, rqrr, pipeline) in [
            (&empty, &mut no_code_rqrr, &mut no_code_pipeline),
            (&code, &mut with_code_rqrr, &mut with_code_pipeline),
        ] {
            let name = format!("seed{seed}");
            let (outcome, took) = timed(|| decode_rqrr_only(frame));
            rqrr.add(&name, expected, &outcome, took);
            let (outcome, took) = timed(|| decode_frame(frame, budget));
            pipeline.add(&name, expected, &outcome, took);
        }
    }
    SyntheticReport {
        frames,
        no_code_rqrr: no_code_rqrr.figures(budget_ms),
        no_code_pipeline: no_code_pipeline.figures(budget_ms),
        with_code_rqrr: with_code_rqrr.figures(budget_ms),
        with_code_pipeline: with_code_pipeline.figures(budget_ms),
    }
}

/// The pipeline over `per_kind` stress images of every kind (generated, not timed).
fn bench_stress(per_kind: u64, budget: &DecodeBudget, per_file: bool) -> StressReport {
    let budget_ms = budget.time.as_secs_f64() * 1000.0;
    let mut total = Samples::default();
    let mut kinds = Vec::new();
    let mut files = Vec::new();
    for kind in STRESS_KINDS {
        let mut samples = Samples::default();
        for seed in 0..per_kind {
            let (image, text) = stress_image(kind, seed);
            let (outcome, took) = timed(|| decode_frame(&image, budget));
            let file = samples.add(&format!("{kind}-{seed:02}"), text.as_bytes(), &outcome, took);
            if per_file {
                files.push(file);
            }
        }
        total.extend(&samples);
        kinds.push(StressKindFigures {
            kind: kind.to_string(),
            figures: samples.figures(budget_ms),
        });
    }
    StressReport {
        per_kind,
        kinds,
        total: total.figures(budget_ms),
        files,
    }
}

// ---------------------------------------------------------------------------------------------
// Printing.

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "images downscaled to ≤{} px on the longer side; pipeline budget {} ms; ms = grey conversion + decoding per image (wall; cpu_p99 = the decoding thread's CPU time); over = images over the budget; mis = other text where the expected one was not read, extra = other codes beside the expected one",
            self.max_side, self.budget_ms
        )?;
        writeln!(
            f,
            "{:<14} {:<10} {:>6} {:>5} {:>4} {:>5} {:>6} {:>8} {:>8} {:>8} {:>8} {:>5} {:>8}",
            "folder",
            "decoder",
            "images",
            "read",
            "mis",
            "extra",
            "panics",
            "median",
            "p90",
            "p99",
            "max",
            "over",
            "cpu_p99"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, folder: &str, decoder: &str, x: &Figures| {
            writeln!(
                f,
                "{:<14} {:<10} {:>6} {:>5} {:>4} {:>5} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>5} {:>8.2}",
                folder,
                decoder,
                x.images,
                x.read,
                x.misreads,
                x.extra_codes,
                x.panics,
                x.median_ms,
                x.p90_ms,
                x.p99_ms,
                x.max_ms,
                x.over_budget,
                x.cpu_p99_ms
            )
        };
        for folder in &self.folders {
            row(f, &folder.folder, "rqrr", &folder.rqrr)?;
            row(f, &folder.folder, "pipeline", &folder.pipeline)?;
            if let Some(z) = &folder.zxing {
                row(f, &folder.folder, "zxing-cpp", z)?;
            }
            if folder.unlabelled > 0 {
                writeln!(
                    f,
                    "{:<14} ({} unlabelled images skipped)",
                    folder.folder, folder.unlabelled
                )?;
            }
        }
        if !self.folders.is_empty() {
            row(f, "TOTAL", "rqrr", &self.total_rqrr)?;
            row(f, "TOTAL", "pipeline", &self.total_pipeline)?;
            if let Some(z) = &self.total_zxing {
                row(f, "TOTAL", "zxing-cpp", z)?;
            }
        }
        if let Some(s) = &self.synthetic {
            writeln!(f, "synthetic 1280x720 frames ({} each):", s.frames)?;
            row(f, "720p-empty", "rqrr", &s.no_code_rqrr)?;
            row(f, "720p-empty", "pipeline", &s.no_code_pipeline)?;
            row(f, "720p-code", "rqrr", &s.with_code_rqrr)?;
            row(f, "720p-code", "pipeline", &s.with_code_pipeline)?;
        }
        if let Some(s) = &self.stress {
            writeln!(
                f,
                "synthetic stress set, 1280x720 ({} kinds × {} images):",
                s.kinds.len(),
                s.per_kind
            )?;
            for kind in &s.kinds {
                row(f, &kind.kind, "pipeline", &kind.figures)?;
            }
            row(f, "STRESS TOTAL", "pipeline", &s.total)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, Luma};

    use super::*;
    use crate::scan::fixtures::paste_code;

    #[test]
    fn labels_compare_exactly_as_utf8_or_as_latin1_bytes() {
        assert!(text_matches(b"BKABC", "BKABC"));
        assert!(!text_matches(b"BKABC\n", "BKABC"), "trailing newlines count");
        assert!(text_matches("MECARD:N:測試;;".as_bytes(), "MECARD:N:測試;;"));
        // A binary label (not UTF-8) matches the decoders' ISO-8859-1 reading of the payload.
        assert!(text_matches(&[0x01, 0xB0, 0xA2], "\u{1}\u{b0}\u{a2}"));
        assert!(!text_matches(&[0x01, 0xB0, 0xA2], "\u{1}阿"));
    }

    #[test]
    fn fitting_rounds_half_up_like_the_zxing_script() {
        assert_eq!(fit_dimensions(4032, 3024, 1280), (1280, 960));
        assert_eq!(fit_dimensions(1000, 3001, 1280), (427, 1280));
        assert_eq!(fit_dimensions(2, 1, 1), (1, 1));
    }

    #[test]
    fn bench_counts_reads_skips_unlabelled_images_and_ignores_metadata() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path();
        let mut frame = GrayImage::from_pixel(320, 240, Luma([210]));
        paste_code(&mut frame, "BKBENCH234567", 160.0, 120.0, 4.0, 0.0);
        frame.save(path.join("good.png")).expect("saved");
        std::fs::write(path.join("good.txt"), "BKBENCH234567").expect("saved");
        frame.save(path.join("wrong.png")).expect("saved");
        std::fs::write(path.join("wrong.txt"), "BKOTHER").expect("saved");
        GrayImage::from_pixel(64, 64, Luma([128]))
            .save(path.join("blank.png"))
            .expect("saved");
        std::fs::write(path.join("blank.txt"), "BKNONE").expect("saved");
        frame.save(path.join("part-01.png")).expect("saved");
        std::fs::write(path.join("good.result.txt"), "ecLevel=M").expect("saved");
        std::fs::write(path.join("data.bin"), [0u8, 1, 2]).expect("saved");
        std::fs::write(path.join("broken.png"), b"not an image").expect("saved");
        std::fs::write(path.join("broken.txt"), "BKBROKEN").expect("saved");

        let opts = BenchOptions {
            synthetic_frames: 0,
            per_file: true,
            ..BenchOptions::default()
        };
        let report = run_decode_bench(&[path.to_path_buf()], &opts).expect("bench runs");
        let folder = &report.folders[0];
        assert_eq!(folder.unlabelled, 1, "part-01.png has no label");
        for figures in [&folder.pipeline, &folder.rqrr] {
            assert_eq!(figures.images, 4);
            assert_eq!(figures.load_errors, 1);
            assert_eq!(figures.read, 1);
            assert_eq!(figures.misreads, 1, "wrong.png decodes to another text");
            assert_eq!(figures.panics, 0);
        }
        assert_eq!(report.total_pipeline, folder.pipeline);
        let table = report.to_string();
        assert!(table.contains("pipeline") && table.contains("TOTAL"));
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
        assert_eq!(json["total_pipeline"]["read"], 1);
    }

    #[test]
    fn synthetic_timing_reads_every_frame_with_a_code() {
        let report = bench_synthetic(
            2,
            &DecodeBudget {
                time: Duration::from_secs(20),
                ..DecodeBudget::default()
            },
        );
        assert_eq!(report.with_code_pipeline.read, 2);
        assert_eq!(report.no_code_pipeline.read, 0);
        assert_eq!(report.no_code_pipeline.misreads, 0);
    }
}
