//! QR decoding of one camera frame: a pure function over a grey image.
//!
//! No single open decoder reads every real-world photograph, and each is fast on some images and
//! slow on others, so a frame goes through an ordered list of attempts (image variant × decoder),
//! cheapest-most-likely first, and stops at the first one that decodes. Every decoder call runs
//! under `catch_unwind`: a decoder bug costs one attempt, never the kiosk.

use std::borrow::Cow;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use image::{DynamicImage, GrayImage};

mod image_ops;
mod rqrr_adapter;
mod rxing_adapter;

pub use image_ops::resize_to_fit;
use image_ops::{box_blur3, box_downscale, invert, pad, stretch_levels, upscale};
use rqrr_adapter::rqrr_read;
use rxing_adapter::{binarise, rxing_read};

/// A point in the pixel coordinates of the image handed to [`decode_frame`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CornerPoint {
    pub x: f32,
    pub y: f32,
}

/// Which decoder looks, and for rxing how the grey image is turned into black and white.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Decoder {
    /// rqrr (quirc's algorithm): its own row-wise moving-average threshold and a region-based
    /// finder search that copes with blur but not with strong perspective.
    Rqrr,
    /// rxing's port of zxing-cpp's QR reader over the given binarisation.
    Rxing(Binariser),
}

/// Binarisations offered to rxing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Binariser {
    /// 8×8-block local thresholds (zxing's hybrid binariser): the best general choice.
    Hybrid,
    /// One threshold from the histogram valley: smooth gradients, soft blur.
    Global,
    /// Local-mean threshold with the given window radius in pixels: glare, shadows, curved
    /// paper, where 8×8 blocks are too small for big modules.
    LocalMean(u16),
}

/// How the grey image is changed before binarising.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Variant {
    /// The working image as it is.
    Plain,
    /// Levels stretched between the 1st and 99th percentile: dim or washed-out frames.
    Stretched,
    /// 3×3 box blur: screen moiré, print halftones and sensor noise.
    Smoothed,
    /// A white margin added around the image: codes cropped to the edge have no quiet zone.
    Padded,
}

/// Resolution the decoder works at, relative to the working image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Scale {
    /// Working resolution (the frame, after fitting into [`DecodeBudget::max_side`]).
    Full,
    /// Box-averaged down by an integer factor: large, blurred or noisy codes.
    Down(u8),
    /// Bilinear up by an integer factor: codes with modules of only 1–2 pixels.
    Up(u8),
}

/// One attempt: what the decoder sees and which decoder looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Strategy {
    pub scale: Scale,
    pub variant: Variant,
    pub decoder: Decoder,
    /// Light-on-dark codes: dark-mode phone screens, printed negatives.
    pub inverted: bool,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.decoder {
            Decoder::Rqrr => write!(f, "rqrr")?,
            Decoder::Rxing(Binariser::Hybrid) => write!(f, "rxing-hybrid")?,
            Decoder::Rxing(Binariser::Global) => write!(f, "rxing-global")?,
            Decoder::Rxing(Binariser::LocalMean(r)) => write!(f, "rxing-mean{r}")?,
        }
        match self.scale {
            Scale::Full => {}
            Scale::Down(n) => write!(f, "/down{n}")?,
            Scale::Up(n) => write!(f, "/up{n}")?,
        }
        match self.variant {
            Variant::Plain => {}
            Variant::Stretched => write!(f, "/stretched")?,
            Variant::Smoothed => write!(f, "/smoothed")?,
            Variant::Padded => write!(f, "/padded")?,
        }
        if self.inverted {
            write!(f, "/inverted")?;
        }
        Ok(())
    }
}

/// One decoded code.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecodedCode {
    /// The text after the decoder's error correction and character-set handling.
    pub text: String,
    /// Corners of the code (top-left, top-right, bottom-right, bottom-left as the code is
    /// oriented) in the caller's image coordinates, for outlining it on screen.
    pub corners: [CornerPoint; 4],
}

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum StopReason {
    /// An attempt decoded at least one code.
    Found,
    /// The cheap first attempts saw nothing shaped like a QR finder pattern, so the rest was
    /// skipped: the normal outcome for a frame without a code.
    NothingInView,
    /// Every attempt ran and none decoded.
    AllAttemptsFailed,
    /// The time budget ran out before every attempt could run.
    BudgetSpent,
    /// The image was empty (zero width or height).
    EmptyImage,
}

/// What one call of [`decode_frame`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecodeOutcome {
    /// Every code the successful attempt decoded (usually one), without duplicates.
    pub codes: Vec<DecodedCode>,
    /// The attempt that decoded them.
    pub strategy: Option<Strategy>,
    pub stop: StopReason,
    /// Decoder calls made, including the successful one.
    pub attempts: u32,
    /// Decoder panics caught and counted as failed attempts.
    pub panics_caught: u32,
    /// Most QR finder-pattern candidates any attempt saw. Three or more without a decoded code
    /// usually means a code is in view but unreadable (blur, glare, too far): worth a hint to
    /// the visitor.
    pub finder_patterns: usize,
    /// Most finder-pattern triples (possible codes) any attempt saw.
    pub finder_sets: usize,
    /// Work units spent (see [`DecodeBudget::work`]): the same for the same frame and budget
    /// on every machine.
    pub work: u64,
    pub elapsed: Duration,
    /// Every attempt that ran, in order: for tuning the plan and explaining slow frames.
    pub trace: Vec<AttemptTrace>,
}

/// One attempt as it ran.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AttemptTrace {
    pub strategy: Strategy,
    /// Work units charged to this attempt.
    pub work: u64,
    /// Wall time of the whole attempt, and of building its image and black-and-white matrix.
    pub micros: u64,
    pub prepare_micros: u64,
    pub finder_patterns: usize,
    pub finder_sets: usize,
    /// Finder-pattern triples sampled and error-corrected.
    pub sets_sampled: usize,
    /// The budget ran out inside the attempt, before every candidate was tried.
    pub cut_short: bool,
    pub found: bool,
}

impl DecodeOutcome {
    /// The first decoded text, which is what a kiosk acts on.
    pub fn first_text(&self) -> Option<&str> {
        self.codes.first().map(|code| code.text.as_str())
    }
}

/// How much work one frame may cost.
///
/// Two limits, both enforced between and inside attempts: `work` counts work units, so the
/// same frame gets the same attempts on every machine (what the tests check), and `time`
/// keeps a slow or busy machine within the frame rate. Every attempt is bounded by
/// construction: its cost is predicted from the pixels it will touch before it starts (it
/// does not start if that does not fit), and a running attempt checks both limits before each
/// finder-pattern triple it samples, the only part whose count depends on the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeBudget {
    /// Wall-clock limit. An attempt starts only if its predicted time (from the time per work
    /// unit measured on this frame's first attempt) fits in what is left.
    pub time: Duration,
    /// Deterministic limit, in work units: one unit is one pixel through one binarisation and
    /// finder-pattern scan; sampling one finder-pattern triple costs [`SET_WORK`].
    pub work: u64,
    /// Frames with a longer side are scaled down to this size first (the corners reported are
    /// still in the frame's own pixels); 1280 matches the kiosk camera, and smaller would lose
    /// the small codes of a ticket held at arm's length.
    pub max_side: u32,
    /// Skip the expensive attempts when the cheap ones found no finder-like pattern at all.
    pub early_out: bool,
}

/// The kiosk's per-frame work: eight full passes over a 1280×720 frame. On one core of the
/// 2-core CI machine (x86-64) a unit costs about 3 ns, so this is about 25 ms of the 30 ms
/// frame budget; slower boards hit the time limit first.
pub const FRAME_WORK: u64 = 8 * 1280 * 720;

/// Work units charged for sampling and error-correcting one finder-pattern triple.
pub const SET_WORK: u64 = 40_000;

/// Work units charged for each finder-pattern candidate the finder search located (its
/// cross-checks and the grouping of candidates into triples).
pub const PATTERN_WORK: u64 = 400;

impl Default for DecodeBudget {
    fn default() -> Self {
        DecodeBudget {
            time: Duration::from_millis(30),
            work: FRAME_WORK,
            max_side: 1280,
            early_out: true,
        }
    }
}

impl DecodeBudget {
    /// No time or work limit and no early-out: for offline images where only the result matters.
    pub fn exhaustive() -> Self {
        DecodeBudget {
            time: Duration::from_secs(3600),
            work: u64::MAX,
            max_side: 1280,
            early_out: false,
        }
    }

    /// The kiosk's per-frame budget without its wall-clock limit: the same attempts on every
    /// machine, whatever its speed or load (for tests).
    pub fn deterministic() -> Self {
        DecodeBudget {
            time: Duration::from_secs(3600),
            ..DecodeBudget::default()
        }
    }
}

/// What a running attempt may still spend; attempts check it between finder-pattern triples.
struct Meter {
    deadline: Instant,
    work_left: u64,
    spent: u64,
}

impl Meter {
    fn new(budget: &DecodeBudget, started: Instant) -> Self {
        Meter {
            deadline: started
                .checked_add(budget.time)
                .unwrap_or_else(|| started + Duration::from_secs(3600)),
            work_left: budget.work,
            spent: 0,
        }
    }

    /// Charges `units` if they fit in the work left and time remains; `false` (and nothing
    /// charged) otherwise. `first` work of an attempt skips the clock: the attempt's pixel
    /// passes are paid already, and one more step (a fraction of a millisecond) is what turns
    /// them into a read on a machine that was slowed down while they ran.
    fn try_charge(&mut self, units: u64, first: bool) -> bool {
        if units > self.work_left || (!first && Instant::now() >= self.deadline) {
            return false;
        }
        self.charge(units);
        true
    }

    /// Charges work already done (it may exceed what was left).
    fn charge(&mut self, units: u64) {
        self.work_left = self.work_left.saturating_sub(units);
        self.spent = self.spent.saturating_add(units);
    }

    fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Converts any decoded image to grey with the ITU-R BT.601 weights that zxing, quirc and PIL
/// use, so that all decoders compared see the same pixels.
pub fn gray_from_dynamic(image: &DynamicImage) -> GrayImage {
    match image {
        DynamicImage::ImageLuma8(gray) => gray.clone(),
        other => {
            let rgb = other.to_rgb8();
            let (width, height) = rgb.dimensions();
            let pixels = rgb
                .as_raw()
                .chunks_exact(3)
                .map(|p| luma601(p[0], p[1], p[2]))
                .collect();
            GrayImage::from_raw(width, height, pixels).unwrap_or_else(|| GrayImage::new(0, 0))
        }
    }
}

fn luma601(r: u8, g: u8, b: u8) -> u8 {
    ((306 * u32::from(r) + 601 * u32::from(g) + 117 * u32::from(b) + 512) >> 10) as u8
}

/// [`decode_frame`] on any image type.
pub fn decode_dynamic(image: &DynamicImage, budget: &DecodeBudget) -> DecodeOutcome {
    decode_frame(&gray_from_dynamic(image), budget)
}

/// Decodes every QR code the first successful attempt finds in `frame`.
pub fn decode_frame(frame: &GrayImage, budget: &DecodeBudget) -> DecodeOutcome {
    run_plan(frame, budget, &default_plan())
}

/// rqrr alone on the image as given: the baseline the pipeline is measured against.
pub fn decode_rqrr_only(frame: &GrayImage) -> DecodeOutcome {
    let plan = Plan {
        cheap: vec![Strategy {
            scale: Scale::Full,
            variant: Variant::Plain,
            decoder: Decoder::Rqrr,
            inverted: false,
        }],
        expensive: Vec::new(),
    };
    let budget = DecodeBudget {
        max_side: u32::MAX,
        ..DecodeBudget::exhaustive()
    };
    run_plan(frame, &budget, &plan)
}

/// One strategy on its own, without budget or early-out: for tuning the plan.
pub fn decode_with_strategy(frame: &GrayImage, strategy: Strategy, max_side: u32) -> DecodeOutcome {
    let plan = Plan {
        cheap: vec![strategy],
        expensive: Vec::new(),
    };
    let budget = DecodeBudget {
        max_side,
        ..DecodeBudget::exhaustive()
    };
    run_plan(frame, &budget, &plan)
}

/// The attempts in order. `cheap` always runs; `expensive` only when a cheap attempt saw
/// something shaped like a QR finder pattern (or the early-out is off).
#[derive(Debug, Clone)]
pub struct Plan {
    pub cheap: Vec<Strategy>,
    pub expensive: Vec<Strategy>,
}

/// The attempt order the kiosk uses.
pub fn default_plan() -> Plan {
    use Binariser::*;
    use Scale::*;
    use Variant::*;
    let rxing = |scale, variant, binariser, inverted| Strategy {
        scale,
        variant,
        decoder: Decoder::Rxing(binariser),
        inverted,
    };
    Plan {
        // Full resolution first: it reads most codes, and every code in view at once (half
        // resolution can read a big code and miss a small one beside it). Half resolution then
        // catches codes held so close that they are blurred or noisy, at a quarter of the cost.
        cheap: vec![
            rxing(Full, Plain, Hybrid, false),
            rxing(Down(2), Plain, Hybrid, false),
            rxing(Down(2), Plain, Hybrid, true),
            // Local-mean threshold: low contrast, shadows, glare (8×8 blocks are too small for
            // a shadow edge, and faint codes fall under the noise-adapted flat-block range).
            rxing(Down(2), Plain, LocalMean(8), false),
        ],
        expensive: vec![
            rxing(Full, Plain, Global, false),
            rxing(Full, Plain, Hybrid, true),
            rxing(Full, Plain, LocalMean(16), false),
            rxing(Full, Stretched, Hybrid, false),
            // No rqrr here: its cost is per candidate triple times the code's modules squared
            // (its perspective fit), 10–20 ms for one code on a 300-pixel photo and hundreds of
            // milliseconds on busy scenes, with no way to bound or interrupt it; and on the
            // labelled photos and the stress set it never read a code these attempts missed.
            rxing(Full, Padded, Hybrid, false),
            rxing(Up(2), Plain, Hybrid, false),
        ],
    }
}

/// Working images smaller than this (in pixels) skip the early-out: every attempt is cheap
/// there, the time budget still bounds the total, and stills (screenshots, scans) are more
/// often small than camera frames.
const EARLY_OUT_MIN_PIXELS: u64 = 640 * 480;

/// Runs a plan of attempts over a frame.
///
/// Stops at the first attempt that decodes. An attempt whose predicted work does not fit in
/// what is left of the work budget, or whose predicted time (from this frame's measured time
/// per unit, with a margin) does not fit in what is left of the time budget, is skipped, so a
/// slow machine drops the dearest attempts instead of overrunning every frame; a cheaper one
/// later in the plan may still run.
pub fn run_plan(frame: &GrayImage, budget: &DecodeBudget, plan: &Plan) -> DecodeOutcome {
    let started = Instant::now();
    let mut outcome = DecodeOutcome {
        codes: Vec::new(),
        strategy: None,
        stop: StopReason::AllAttemptsFailed,
        attempts: 0,
        panics_caught: 0,
        finder_patterns: 0,
        finder_sets: 0,
        work: 0,
        elapsed: Duration::ZERO,
        trace: Vec::new(),
    };
    if frame.width() == 0 || frame.height() == 0 {
        outcome.stop = StopReason::EmptyImage;
        return outcome;
    }
    let mut meter = Meter::new(budget, started);
    let mut views = Views::new(frame, budget.max_side);
    let work_pixels = views.work_pixels();
    let early_out = budget.early_out && work_pixels >= EARLY_OUT_MIN_PIXELS;
    let mut saw_code_shape = false;
    // Nanoseconds per work unit of the pixel passes, the fastest seen on this frame: a
    // preempted attempt must not make later ones look dear.
    let mut nanos_per_unit: Option<f64> = None;
    let mut skipped = false;
    let all = plan
        .cheap
        .iter()
        .map(|s| (s, true))
        .chain(plan.expensive.iter().map(|s| (s, false)));
    for (strategy, cheap) in all {
        if !cheap && early_out && !saw_code_shape {
            outcome.stop = StopReason::NothingInView;
            break;
        }
        let units = attempt_work(strategy, work_pixels);
        if units > meter.work_left {
            skipped = true;
            continue;
        }
        let time_left = meter.time_left();
        if time_left.is_zero() {
            skipped = true;
            break;
        }
        if let Some(rate) = nanos_per_unit {
            let estimate = Duration::from_nanos((rate * units as f64 * TIME_MARGIN) as u64);
            if estimate > time_left {
                skipped = true;
                continue;
            }
        }
        meter.charge(units);
        outcome.attempts += 1;
        let attempt_started = Instant::now();
        let attempt = catch_unwind(AssertUnwindSafe(|| views.attempt(*strategy, &mut meter)));
        let micros = attempt_started.elapsed().as_micros() as u64;
        let mut trace = AttemptTrace {
            strategy: *strategy,
            work: 0,
            micros,
            prepare_micros: 0,
            finder_patterns: 0,
            finder_sets: 0,
            sets_sampled: 0,
            cut_short: false,
            found: false,
        };
        match attempt {
            Ok(result) => {
                if let (Some(pixel_time), Decoder::Rxing(_)) = (result.pixel_time, strategy.decoder) {
                    let rate = pixel_time.as_nanos() as f64 / units.max(1) as f64;
                    nanos_per_unit = Some(nanos_per_unit.map_or(rate, |known| known.min(rate)));
                }
                trace.prepare_micros = result.prepare_time.as_micros() as u64;
                trace.finder_patterns = result.finder_patterns;
                trace.finder_sets = result.finder_sets;
                trace.sets_sampled = result.sets_sampled;
                trace.cut_short = result.cut_short;
                trace.found = !result.codes.is_empty();
                skipped |= result.cut_short;
                outcome.finder_patterns = outcome.finder_patterns.max(result.finder_patterns);
                outcome.finder_sets = outcome.finder_sets.max(result.finder_sets);
                // Noise-adapted binarisation leaves plain scenes with at most one stray
                // finder-like spot; two or more, or any plausible triple, is worth a search.
                saw_code_shape |= result.finder_sets > 0 || result.finder_patterns >= 2;
                if !result.codes.is_empty() {
                    outcome.codes = result.codes;
                    outcome.strategy = Some(*strategy);
                    outcome.stop = StopReason::Found;
                }
            }
            Err(_) => {
                // A decoder only gets far enough to panic on something code-like.
                outcome.panics_caught += 1;
                saw_code_shape = true;
            }
        }
        trace.work = meter.spent - outcome.work;
        outcome.work = meter.spent;
        outcome.trace.push(trace);
        if outcome.stop == StopReason::Found {
            break;
        }
    }
    if outcome.stop == StopReason::AllAttemptsFailed && skipped {
        outcome.stop = StopReason::BudgetSpent;
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// Predicted times are stretched by this much before comparing with the time left: the rate
/// comes from the fastest pass so far, and content makes some passes dearer per pixel.
const TIME_MARGIN: f64 = 1.5;

/// Work units an attempt is charged before it starts: the pixels its decoder sees, weighted
/// by decoder (sampling finder-pattern triples is charged as it happens).
fn attempt_work(strategy: &Strategy, work_pixels: u64) -> u64 {
    let pixels = work_pixels as f64
        * match strategy.scale {
            Scale::Full => 1.0,
            Scale::Down(n) => 1.0 / f64::from(n.max(1)).powi(2),
            Scale::Up(n) => f64::from(n.max(1)).powi(2),
        }
        * if strategy.variant == Variant::Padded { 1.45 } else { 1.0 };
    let decoder = match strategy.decoder {
        Decoder::Rqrr => RQRR_WEIGHT,
        Decoder::Rxing(Binariser::Hybrid | Binariser::Global) => 1.0,
        // A running mean per pixel and a bit set per dark pixel: measured at 2.7× (radius 8, half
        // resolution) and 8× (radius 16, full resolution) a hybrid pass.
        Decoder::Rxing(Binariser::LocalMean(radius)) => 1.0 + f64::from(radius).powi(2) / 40.0,
    };
    (pixels * decoder).ceil() as u64
}

/// rqrr's threshold and flood fills, in rxing passes; its perspective fit per candidate
/// triple is not counted (which is why the kiosk's plan leaves rqrr out).
const RQRR_WEIGHT: f64 = 8.0;

struct AttemptResult {
    codes: Vec<DecodedCode>,
    /// Finder-pattern candidates (rxing) or grids (rqrr) seen: the early-out's evidence.
    finder_patterns: usize,
    /// Triples of finder patterns placed like the corners of one code.
    finder_sets: usize,
    /// Triples sampled and error-corrected.
    sets_sampled: usize,
    /// The budget ran out before every triple was tried.
    cut_short: bool,
    /// Building the attempt's grey view and black-and-white matrix.
    prepare_time: Duration,
    /// Time of the passes whose cost is proportional to pixels (binarisation and finder
    /// search), for predicting the next attempts; `None` when not measured separately.
    pixel_time: Option<Duration>,
}

/// A grey image derived from the working image, and how to map its pixels back.
struct View {
    image: GrayImage,
    /// Working-image pixels per view pixel.
    work_per_view: f32,
    /// Margin added on the left and top, in view pixels.
    margin: f32,
}

/// The working image and its variants, built on first use and shared between attempts.
struct Views<'a> {
    source: &'a GrayImage,
    /// Source pixels per working pixel (≥ 1).
    source_per_work: f32,
    work: Option<GrayImage>,
    grays: Vec<((Scale, Variant, bool), View)>,
    matrices: Vec<((Scale, Variant, bool, Binariser), rxing::common::BitMatrix)>,
}

impl<'a> Views<'a> {
    fn new(source: &'a GrayImage, max_side: u32) -> Self {
        let long_side = source.width().max(source.height());
        let (work, source_per_work) = if max_side > 0 && long_side > max_side {
            let resized = resize_to_fit(source, max_side);
            let ratio = source.width() as f32 / resized.width().max(1) as f32;
            (Some(resized), ratio)
        } else {
            (None, 1.0)
        };
        Views {
            source,
            source_per_work,
            work,
            grays: Vec::new(),
            matrices: Vec::new(),
        }
    }

    fn work_pixels(&self) -> u64 {
        let work = self.work.as_ref().unwrap_or(self.source);
        u64::from(work.width()) * u64::from(work.height())
    }

    fn view_index(&mut self, scale: Scale, variant: Variant, inverted: bool) -> usize {
        let key = (scale, variant, inverted);
        if let Some(index) = self.grays.iter().position(|(k, _)| *k == key) {
            return index;
        }
        let work = self.work.as_ref().unwrap_or(self.source);
        let (scaled, work_per_view) = match scale {
            Scale::Full => (Cow::Borrowed(work), 1.0),
            Scale::Down(n) => {
                let n = n.max(1);
                (Cow::Owned(box_downscale(work, u32::from(n))), f32::from(n))
            }
            Scale::Up(n) => {
                let n = n.max(1);
                (Cow::Owned(upscale(work, u32::from(n))), 1.0 / f32::from(n))
            }
        };
        // Inverting the grey image rather than the binarised bits: local binarisers are not
        // symmetric, and light-on-dark codes read better binarised as dark-on-light.
        let scaled = if inverted { Cow::Owned(invert(&scaled)) } else { scaled };
        let (image, margin) = match variant {
            Variant::Plain => (scaled.into_owned(), 0),
            Variant::Stretched => (stretch_levels(&scaled), 0),
            Variant::Smoothed => (box_blur3(&scaled), 0),
            Variant::Padded => {
                let margin = (scaled.width().max(scaled.height()) / 10).max(8);
                (pad(&scaled, margin), margin)
            }
        };
        self.grays.push((
            key,
            View {
                image,
                work_per_view,
                margin: margin as f32,
            },
        ));
        self.grays.len() - 1
    }

    fn matrix_index(&mut self, scale: Scale, variant: Variant, inverted: bool, binariser: Binariser) -> Option<usize> {
        let key = (scale, variant, inverted, binariser);
        if let Some(index) = self.matrices.iter().position(|(k, _)| *k == key) {
            return Some(index);
        }
        let view = self.view_index(scale, variant, inverted);
        let image = &self.grays.get(view)?.1.image;
        let matrix = binarise(image, binariser)?;
        self.matrices.push((key, matrix));
        Some(self.matrices.len() - 1)
    }

    fn attempt(&mut self, strategy: Strategy, meter: &mut Meter) -> AttemptResult {
        let Strategy {
            scale,
            variant,
            decoder,
            inverted,
        } = strategy;
        let prepare_started = Instant::now();
        let view = self.view_index(scale, variant, inverted);
        let mut result = match decoder {
            Decoder::Rqrr => match self.grays.get(view) {
                Some((_, v)) => rqrr_read(&v.image),
                None => AttemptResult::nothing(),
            },
            Decoder::Rxing(binariser) => {
                let matrix = self.matrix_index(scale, variant, inverted, binariser);
                let prepare_time = prepare_started.elapsed();
                let mut result = matrix
                    .and_then(|index| self.matrices.get(index))
                    .map(|(_, matrix)| rxing_read(matrix, meter))
                    .unwrap_or_else(AttemptResult::nothing);
                result.prepare_time = prepare_time;
                if let Some(find_time) = result.pixel_time {
                    result.pixel_time = Some(find_time + prepare_time);
                }
                result
            }
        };
        if let Some((_, v)) = self.grays.get(view) {
            let scale = v.work_per_view * self.source_per_work;
            for code in &mut result.codes {
                for corner in &mut code.corners {
                    corner.x = (corner.x - v.margin) * scale;
                    corner.y = (corner.y - v.margin) * scale;
                }
            }
        }
        result
    }
}

impl AttemptResult {
    fn nothing() -> Self {
        AttemptResult {
            codes: Vec::new(),
            finder_patterns: 0,
            finder_sets: 0,
            sets_sampled: 0,
            cut_short: false,
            prepare_time: Duration::ZERO,
            pixel_time: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{paste_code, stress_image, synthetic_frame};
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = "BKMFRGGZDFMZTWQ2LKNNWG23TPOJ2XK5TXPB4XUYJRGI";

    /// Timing must not decide a test's outcome: a generous budget, the kiosk's other settings.
    fn patient() -> DecodeBudget {
        DecodeBudget {
            time: Duration::from_secs(20),
            ..DecodeBudget::default()
        }
    }

    fn centre(corners: &[CornerPoint; 4]) -> (f32, f32) {
        let (sx, sy) = corners.iter().fold((0.0, 0.0), |(x, y), c| (x + c.x, y + c.y));
        (sx / 4.0, sy / 4.0)
    }

    fn frame_with_code(seed: u64, cx: f32, cy: f32, module: f32, angle: f32) -> GrayImage {
        let mut frame = synthetic_frame(seed, None);
        paste_code(&mut frame, TEXT, cx, cy, module, angle);
        frame
    }

    #[test]
    fn reads_a_code_in_a_720p_frame_and_outlines_it() {
        let frame = frame_with_code(3, 700.0, 300.0, 4.0, 0.3);
        let outcome = decode_frame(&frame, &patient());
        assert_eq!(outcome.stop, StopReason::Found);
        assert_eq!(outcome.first_text(), Some(TEXT));
        assert_eq!(outcome.panics_caught, 0);
        let (x, y) = centre(&outcome.codes[0].corners);
        assert!((x - 700.0).abs() < 6.0 && (y - 300.0).abs() < 6.0, "centre ({x}, {y})");
    }

    #[test]
    fn corners_are_in_the_callers_pixels_when_the_frame_is_scaled_down() {
        // A 1920×1080 frame is decoded at 1280×720; the outline must still fit the original.
        let small = frame_with_code(5, 500.0, 400.0, 5.0, -0.2);
        let big = image::imageops::resize(&small, 1920, 1080, image::imageops::FilterType::Triangle);
        let outcome = decode_frame(&big, &patient());
        assert_eq!(outcome.first_text(), Some(TEXT));
        let (x, y) = centre(&outcome.codes[0].corners);
        assert!((x - 750.0).abs() < 9.0 && (y - 600.0).abs() < 9.0, "centre ({x}, {y})");
    }

    #[test]
    fn frames_without_a_code_stop_after_the_cheap_attempts() {
        let cheap = default_plan().cheap.len() as u32;
        for seed in 0..6 {
            let outcome = decode_frame(&synthetic_frame(seed, None), &patient());
            assert!(outcome.codes.is_empty(), "seed {seed}: {:?}", outcome.codes);
            assert_eq!(outcome.stop, StopReason::NothingInView, "seed {seed}");
            assert_eq!(outcome.attempts, cheap, "seed {seed}");
        }
    }

    #[test]
    fn without_the_early_out_every_attempt_runs() {
        let budget = DecodeBudget {
            early_out: false,
            work: u64::MAX,
            ..patient()
        };
        let outcome = decode_frame(&synthetic_frame(1, None), &budget);
        let plan = default_plan();
        assert_eq!(outcome.stop, StopReason::AllAttemptsFailed);
        assert_eq!(outcome.attempts as usize, plan.cheap.len() + plan.expensive.len());
    }

    /// Finder patterns (7×7 modules, 1:1:3:1:1) on a regular grid: every three at the corners
    /// of a grid square look like a code's corners, so there are far more triples to sample
    /// than a frame can afford, and none decodes.
    fn finder_look_alikes(columns: u32, rows: u32, module: u32) -> GrayImage {
        let pitch = 12 * module;
        let mut image = GrayImage::from_pixel(
            columns * pitch + 8 * module,
            rows * pitch + 8 * module,
            image::Luma([230]),
        );
        for gy in 0..rows {
            for gx in 0..columns {
                let (x0, y0) = (4 * module + gx * pitch, 4 * module + gy * pitch);
                for my in 0..7 {
                    for mx in 0..7 {
                        let ring = mx.min(my).min(6 - mx).min(6 - my);
                        if ring == 1 {
                            continue;
                        }
                        for dy in 0..module {
                            for dx in 0..module {
                                image.put_pixel(x0 + mx * module + dx, y0 + my * module + dy, image::Luma([20]));
                            }
                        }
                    }
                }
            }
        }
        image
    }

    #[test]
    fn sampling_stops_when_the_work_budget_runs_out() {
        let image = finder_look_alikes(8, 5, 4);
        let first = default_plan().cheap[0];
        let unlimited = decode_with_strategy(&image, first, 1280);
        let sampled = unlimited.trace[0].sets_sampled;
        assert!(unlimited.trace[0].finder_patterns >= 30, "{:?}", unlimited.trace[0]);
        assert!(sampled > 20, "{sampled} triples sampled without a limit");
        // Room for the pixel pass, the patterns found and five triples.
        let pixels = u64::from(image.width()) * u64::from(image.height());
        let patterns = unlimited.trace[0].finder_patterns as u64;
        let budget = DecodeBudget {
            work: pixels + patterns * PATTERN_WORK + 5 * SET_WORK,
            ..DecodeBudget::deterministic()
        };
        let plan = Plan {
            cheap: vec![first],
            expensive: Vec::new(),
        };
        let bounded = run_plan(&image, &budget, &plan);
        assert_eq!(bounded.trace[0].sets_sampled, 5, "{:?}", bounded.trace[0]);
        assert!(bounded.trace[0].cut_short);
        assert_eq!(bounded.stop, StopReason::BudgetSpent);
        assert!(bounded.work <= budget.work, "{} > {}", bounded.work, budget.work);
    }

    #[test]
    fn attempts_that_do_not_fit_the_work_left_are_skipped() {
        let frame = synthetic_frame(1, None);
        let pixels = u64::from(frame.width()) * u64::from(frame.height());
        // Room for the first, full-resolution attempt only: the later full-resolution ones are
        // skipped, the half-resolution ones (a quarter of the pixels) may still run.
        let budget = DecodeBudget {
            work: pixels + pixels / 8,
            early_out: false,
            ..DecodeBudget::deterministic()
        };
        let outcome = decode_frame(&frame, &budget);
        assert_eq!(outcome.stop, StopReason::BudgetSpent);
        assert!(outcome.work <= budget.work + 2 * SET_WORK, "{}", outcome.work);
        let full = outcome.trace.iter().filter(|t| t.strategy.scale == Scale::Full).count();
        assert_eq!(full, 1, "{:?}", outcome.trace);
    }

    #[test]
    fn the_same_frame_gets_the_same_attempts_whatever_the_clock() {
        let (image, text) = stress_image("glare", 2);
        let budget = DecodeBudget::deterministic();
        let runs: Vec<DecodeOutcome> = (0..2).map(|_| decode_frame(&image, &budget)).collect();
        let shape = |o: &DecodeOutcome| -> Vec<(super::Strategy, u64, usize)> {
            o.trace.iter().map(|t| (t.strategy, t.work, t.sets_sampled)).collect()
        };
        assert_eq!(shape(&runs[0]), shape(&runs[1]));
        assert_eq!(runs[0].work, runs[1].work);
        assert_eq!(runs[0].first_text(), runs[1].first_text());
        assert!(runs[0].first_text().is_none_or(|t| t == text));
        assert!(runs[0].work <= budget.work + SET_WORK, "{}", runs[0].work);
    }

    #[test]
    fn a_spent_budget_stops_the_search() {
        let budget = DecodeBudget {
            time: Duration::ZERO,
            early_out: false,
            ..DecodeBudget::default()
        };
        let outcome = decode_frame(&synthetic_frame(1, None), &budget);
        assert_eq!(outcome.stop, StopReason::BudgetSpent);
        assert_eq!(outcome.attempts, 0);
    }

    #[test]
    fn reads_light_on_dark_codes() {
        let frame = frame_with_code(2, 640.0, 360.0, 5.0, 0.1);
        let outcome = decode_frame(&invert(&frame), &patient());
        assert_eq!(outcome.first_text(), Some(TEXT));
        assert!(outcome.strategy.is_some_and(|s| s.inverted), "{:?}", outcome.strategy);
    }

    #[test]
    fn reads_steep_perspective_that_zxing_grouping_rejects() {
        for seed in [1, 3, 4] {
            let (image, text) = stress_image("perspective", seed);
            let plain = decode_with_strategy(&image, default_plan().cheap[0], 1280);
            assert_eq!(plain.first_text(), Some(text.as_str()), "perspective seed {seed}");
        }
    }

    #[test]
    fn reads_faint_codes_through_the_local_mean_threshold() {
        let (image, text) = stress_image("low-contrast", 7);
        let outcome = decode_frame(&image, &patient());
        assert_eq!(outcome.first_text(), Some(text.as_str()));
    }

    #[test]
    fn reads_small_codes_in_small_images() {
        // A 1.5 px module code in a 400×300 crop: only upscaling or the full-resolution
        // attempts can resolve it.
        let mut frame = GrayImage::from_pixel(400, 300, image::Luma([200]));
        paste_code(&mut frame, "BK234567ABCDEFGH", 200.0, 150.0, 1.6, 0.0);
        let outcome = decode_frame(&frame, &patient());
        assert_eq!(outcome.first_text(), Some("BK234567ABCDEFGH"));
    }

    #[test]
    fn empty_and_tiny_images_decode_to_nothing() {
        let outcome = decode_frame(&GrayImage::new(0, 0), &patient());
        assert_eq!(outcome.stop, StopReason::EmptyImage);
        for (w, h) in [(1, 1), (3, 200), (200, 3), (40, 40)] {
            let outcome = decode_frame(&GrayImage::from_pixel(w, h, image::Luma([90])), &patient());
            assert!(outcome.codes.is_empty());
            assert_eq!(outcome.panics_caught, 0, "{w}×{h}");
        }
    }

    /// rqrr 0.11 panics on this 78×74 crop of a public test photo (zxing-cpp
    /// test/samples/qrcode-6/7.png): an overflow assertion in its perspective fit, rqrr issue
    /// #54. The panic must be caught and counted, never reach the kiosk.
    #[test]
    fn rqrr_issue_54_panic_is_caught_and_counted() {
        const ROWS: &[&str] = &[
            "fffffc00001ffffffffc",
            "fffff800000ffffffffc",
            "fffff0000003fffffffc",
            "fffff0000001fffffffc",
            "ffffe00000007ffffffc",
            "ffffc00000003ffffffc",
            "ffff800000001ffffffc",
            "ffff8001000007fffffc",
            "ffff0001800003fffffc",
            "fffe0003e00000fffffc",
            "fffe0007f000007ffffc",
            "fffc0007fc00001ffffc",
            "fff8000f3e00000ffffc",
            "fff8001e1f000007fffc",
            "fff0003c07c00001fffc",
            "ffe0003803e00000fffc",
            "ffc00078c0f800003ffc",
            "ffc000f0f07c00001ffc",
            "ff8000e1f83f000007fc",
            "ff0001e3fe0f800003fc",
            "ff0003c3ff0f000001fc",
            "fe000387ff0e0000007c",
            "fc00078ffe1e0000003c",
            "fc000f07fe3c4000000c",
            "f8000f83fc7860000004",
            "f00007c1f870f1c00000",
            "e00003f070f1fdc00000",
            "e00000f831e1ffc00000",
            "c000007e01c3df800000",
            "8000001f03c087c00000",
            "8000000f878003e00000",
            "00002303e70000e00000",
            "00023fc1ff0010407000",
            "0007ffe0fe203860f800",
            "000f3fe03c303ef0fc00",
            "000e0fc0187c1fe1ff00",
            "001e07c000fe1fe3cf80",
            "003c03f080fe1fc383e0",
            "003800f0c1e43d8781f0",
            "00380061f3c0180f00fc",
            "00101c03fb87000e183c",
            "00101c33ff8f001e3c1c",
            "019c3c7f9f0e003c7e04",
            "03fc783f1e1c30787f80",
            "03f8701e1c1c7870ffc0",
            "00f020043c0870f1ffc0",
            "00600000180cf1e1ffc4",
            "1800000708cfe1c1ff84",
            "1c30000f8dffc3e0ff0c",
            "1c786007dec7c1f83f1c",
            "0830f001fc43e07c1e1c",
            "0c11e000f840f83e0438",
            "0e19c2007ef07c0f8078",
            "1fbfe70cffe01c07c0f0",
            "07ffffcfefc00803f0e0",
            "87fffffec3e000e0f9e0",
            "eff7fffc07f0cee07fc0",
            "fe63cc7867f0fee01f80",
            "e600c078f7e1fc000f80",
            "c20000f063e07c600300",
            "c700e0f823c038780000",
            "870ef07c3384007c0000",
            "031ffc3c7f0f183e0000",
            "0007f8787f0f9c3f8000",
            "038798f01e07df7fc000",
            "07c700200c018ff3f000",
            "03ff000000608ff0e000",
            "00fe000040700fe04000",
            "007c300460fc1fc00000",
            "001f784ff1fe0fc60000",
            "000ff0fe61df83e70000",
            "000710fe03c7c1f60000",
            "0000107c0783f0620004",
            "00003c780f00f8000004",
        ];
        let mut image = GrayImage::from_pixel(78, 74, image::Luma([255]));
        for (y, row) in ROWS.iter().enumerate() {
            for x in 0..78usize {
                let byte = u8::from_str_radix(&row[x / 8 * 2..x / 8 * 2 + 2], 16).unwrap_or(0);
                if byte & (0x80 >> (x % 8)) != 0 {
                    image.put_pixel(x as u32, y as u32, image::Luma([0]));
                }
            }
        }
        let alone = decode_rqrr_only(&image);
        assert_eq!(alone.panics_caught, 1, "rqrr fixed? then expect 0 here");
        assert!(alone.codes.is_empty());
        let pipeline = decode_frame(&image, &DecodeBudget::exhaustive());
        assert!(pipeline.codes.is_empty());
        assert!(pipeline.attempts as usize > default_plan().cheap.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_pixels_never_decode_or_escape(
            w in 0u32..90,
            h in 0u32..90,
            seed in any::<u64>(),
        ) {
            let mut state = seed | 1;
            let image = GrayImage::from_fn(w, h, |_, _| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                image::Luma([(state >> 56) as u8])
            });
            let outcome = decode_frame(&image, &DecodeBudget::exhaustive());
            prop_assert!(outcome.codes.is_empty());
        }
    }
}
