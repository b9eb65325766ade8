//! The kiosk's worker: owns the `KioskCore` (SQLite) and the screen `Machine`, performs
//! the machine's effects and publishes a `View` after every input. The UI thread only
//! sends `Input`s and renders views, so it never waits on the disk or the network.
//!
//! Nothing here knows the window: a `View` is plain data (the QR code as pixels, sounds
//! through a `Speaker`), and `src/ui/` translates it into the Slint screens' adapters.
//! So every flow runs in the tests below without a display.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use crate::config::Config;
use crate::domain::event::{EventDefinition, Language};
use crate::kiosk::machine::{Effect, Machine, PinPurpose, PinsSetUp, Refusal, Screen, Tap, Timing, WorkResult};
use crate::kiosk::{Delivery, KioskCore};
use crate::store::QueueCounts;
use crate::sync::client::SyncSummary;

use crate::kiosk::wedge_keys::WedgeKeys;

const PIN_FAILURES: &str = "pin.failures";
const PIN_LOCKED_UNTIL: &str = "pin.locked_until_ms";

pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Everything the UI (or a scanner, or a timer) can tell the worker.
#[derive(Debug, Clone)]
pub enum Input {
    /// A complete code text (camera decoder, wedge detector, tests).
    Scan(String),
    /// One key typed while no text field has focus, with when it was typed.
    Key {
        text: String,
        at_ms: i64,
    },
    Tap(Tap),
    Tick,
    SyncProgress {
        done: usize,
        total: usize,
    },
    SyncFinished(Result<SyncSummary, String>),
    /// A background sync pass ended: reached the hub (true) or not, and whether the hub
    /// reaches the claim address phone links point at.
    BackgroundSync {
        reached_hub: bool,
        claim_reached: bool,
    },
    /// The hub's bundle changed the enrolled event (new stands, badges): reload it.
    EventUpdated,
    Quit,
}

/// Sends scanned texts to the kiosk from any thread (camera decoder, tests).
#[derive(Debug, Clone)]
pub struct ScanSender(pub(crate) Sender<Input>);

impl ScanSender {
    /// Returns false once the kiosk has stopped.
    pub fn send(&self, text: impl Into<String>) -> bool {
        self.0.send(Input::Scan(text.into())).is_ok()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum SyncState {
    #[default]
    Idle,
    Running {
        progress: f32,
    },
    Done {
        sent: usize,
    },
    Failed(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum ExportState {
    #[default]
    Idle,
    Done {
        count: usize,
        path: PathBuf,
    },
    NoUsb,
    Failed(String),
}

#[derive(Debug, Clone, Default)]
pub struct OrganiserView {
    pub kiosk_id: String,
    pub counts: QueueCounts,
    pub hub: Option<String>,
    pub last_sync_ms: Option<i64>,
    pub sync: SyncState,
    pub export: ExportState,
    pub fingerprint: String,
}

/// What the screens show; sent from the worker to the UI thread.
#[derive(Debug, Clone)]
pub struct View {
    pub screen: Screen,
    pub language: Language,
    pub now_ms: i64,
    pub event: Arc<EventView>,
    pub organiser: OrganiserView,
    /// The phone-claim QR code, when the Done screen shows one.
    pub qr: Option<Arc<image::RgbImage>>,
    pub clock_warning: bool,
    /// What the done screen may promise about a phone claim link, from the sync state.
    pub claim_readiness: crate::sync::schedule::ClaimReadiness,
    /// Who the hub last said will email the badge (None: not said yet); read for the done
    /// screen only.
    pub email_delivery: Option<crate::sync::protocol::EmailDelivery>,
}

/// The event's texts and images, fixed for the kiosk's run.
#[derive(Debug)]
pub struct EventView {
    pub definition: EventDefinition,
    pub dir: PathBuf,
    pub email_retention_days: u64,
}

impl EventView {
    pub fn image_path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }
    pub fn stand_name(&self, id: &str, language: Language) -> String {
        self.definition
            .stand(id)
            .map_or_else(|| id.to_owned(), |stand| stand.name.get(language).to_owned())
    }
    pub fn badge_name(&self, id: &str, language: Language) -> String {
        self.definition
            .badge(id)
            .map_or_else(|| id.to_owned(), |badge| badge.name.get(language).to_owned())
    }
}

/// Sending records off the kiosk. The real one talks to the hub with `sync_once`; tests
/// use a fake.
pub trait SyncRunner: Send + Sync {
    /// The hub records go to, if the event has one.
    fn hub(&self) -> Option<String>;
    /// Runs one sync pass; blocking, called on its own thread.
    fn sync(&self, progress: &mut (dyn FnMut(usize, usize) + Send)) -> Result<SyncSummary, String>;
    /// A record was just saved: the background sync sends it within seconds.
    fn record_saved(&self) {}
}

/// Syncs with the event hub named in event.toml, through a second connection to the queue.
pub struct HubSync {
    /// None when the kiosk has no hub (stand-alone event): USB export only.
    pub settings: Option<crate::sync::client::SyncSettings>,
    pub store_path: PathBuf,
    /// The background sync task's command channel, told of every new record.
    pub background: Option<tokio::sync::mpsc::Sender<crate::sync::client::SyncCommand>>,
}

impl SyncRunner for HubSync {
    fn hub(&self) -> Option<String> {
        self.settings.as_ref().map(|settings| settings.hub_url.clone())
    }

    fn record_saved(&self) {
        if let Some(background) = &self.background {
            // A full channel already holds a wake-up; dropping this one loses nothing.
            let _ = background.try_send(crate::sync::client::SyncCommand::AwardSaved);
        }
    }

    fn sync(&self, progress: &mut (dyn FnMut(usize, usize) + Send)) -> Result<SyncSummary, String> {
        use crate::sync::client::sync_once;
        let Some(settings) = &self.settings else {
            return Err("no hub configured".into());
        };
        let store = crate::store::Store::open(&self.store_path).map_err(|error| error.to_string())?;
        let store = Arc::new(std::sync::Mutex::new(store));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        let http = settings.http_client().map_err(|error| error.to_string())?;
        runtime.block_on(async {
            sync_once(&store, settings, &http, &mut *progress)
                .await
                .map_err(|error| error.to_string())
        })
    }
}

/// Where "export to USB" writes: the first mounted removable drive, or a fixed folder.
#[derive(Debug, Clone)]
pub enum ExportTarget {
    /// Look under /media and /run/media for a mounted stick.
    Removable,
    Folder(PathBuf),
}

impl ExportTarget {
    fn resolve(&self) -> Option<PathBuf> {
        match self {
            ExportTarget::Folder(path) => Some(path.clone()),
            ExportTarget::Removable => ["/media", "/run/media"].iter().find_map(|root| {
                // /media/<user>/<label> or /media/<label>
                let children = |dir: &std::path::Path| -> Vec<PathBuf> {
                    std::fs::read_dir(dir)
                        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                        .unwrap_or_default()
                };
                children(std::path::Path::new(root))
                    .into_iter()
                    .flat_map(|dir| {
                        let mut below = children(&dir);
                        below.push(dir);
                        below
                    })
                    .find(|dir| is_mount_point(dir))
            }),
        }
    }
}

fn is_mount_point(dir: &std::path::Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    let wanted = dir.to_string_lossy();
    mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .any(|mount| mount.replace("\\040", " ") == wanted)
}

/// A sound a visitor hears over the hall's noise: the result is felt, not only seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    Saved,
    Refused,
}

/// The sound for a piece of work's result, if it calls for one.
pub fn cue_for(result: &WorkResult) -> Option<Cue> {
    match result {
        WorkResult::Claimed(Ok(crate::kiosk::ClaimOutcome::Saved { .. })) => Some(Cue::Saved),
        WorkResult::Step(Ok(step)) if step.newly_recorded => Some(Cue::Saved),
        WorkResult::Identified { result: Err(_), .. }
        | WorkResult::StaffCard { result: Err(_) }
        | WorkResult::Claimed(Err(_))
        | WorkResult::Step(Err(_)) => Some(Cue::Refused),
        _ => None,
    }
}

/// Plays cues without blocking the worker (the real one is `ui::sound::Sounds`).
pub trait Speaker: Send {
    fn play(&self, cue: Cue);
}

/// No sound device, or tests.
pub struct Silent;

impl Speaker for Silent {
    fn play(&self, _cue: Cue) {}
}

pub struct Options {
    pub sync: Arc<dyn SyncRunner>,
    pub export: ExportTarget,
    pub speaker: Box<dyn Speaker>,
}

pub struct Controller {
    core: KioskCore,
    machine: Machine,
    config: Config,
    event: Arc<EventView>,
    organiser: OrganiserView,
    qr: Option<Arc<image::RgbImage>>,
    detector: WedgeKeys,
    options: Options,
    inputs: Sender<Input>,
    event_reload_pending: bool,
    sync_health: crate::sync::schedule::SyncHealth,
}

impl Controller {
    /// `inputs` is the sending side of the worker's own channel (for sync progress).
    pub fn new(core: KioskCore, config: Config, options: Options, inputs: Sender<Input>) -> Self {
        let setting = |key: &str| core.store().setting(key).ok().flatten();
        let failures: u32 = setting(PIN_FAILURES).and_then(|v| v.parse().ok()).unwrap_or(0);
        let locked_until_ms: i64 = setting(PIN_LOCKED_UNTIL).and_then(|v| v.parse().ok()).unwrap_or(0);
        let language = if config.language.eq_ignore_ascii_case("en") {
            Language::En
        } else {
            Language::Fr
        };
        let timing = Timing {
            idle_timeout_ms: i64::try_from(config.idle_timeout_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            debounce_ms: i64::try_from(config.debounce_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            ..Timing::default()
        };
        let event = Arc::new(EventView {
            definition: core.definition().clone(),
            dir: core.event.dir.clone(),
            email_retention_days: config.email_retention_days,
        });
        let organiser = OrganiserView {
            kiosk_id: core.kiosk_id().to_owned(),
            hub: options.sync.hub(),
            fingerprint: core
                .definition()
                .public_keys()
                .first()
                .map(crate::domain::keys::fingerprint)
                .unwrap_or_default(),
            ..OrganiserView::default()
        };
        let detector = WedgeKeys::for_config(&config);
        let mut controller = Self {
            machine: Machine::new(language, timing, failures, locked_until_ms),
            core,
            config,
            event,
            organiser,
            qr: None,
            detector,
            options,
            inputs,
            event_reload_pending: false,
            sync_health: crate::sync::schedule::SyncHealth::default(),
        };
        controller.refresh_pins();
        controller
    }

    /// The PIN that opens `purpose` here (see `pin::effective_pin`): a real event never
    /// opens staff or organiser mode with the demo's PINs (every demo ticket and the README
    /// know them); the organiser's from the hub stand in for them.
    fn pin_for(&self, purpose: &PinPurpose) -> Option<String> {
        use crate::sync::enrol::{BUNDLE_ORGANISER_PIN_SETTING, BUNDLE_STAFF_PIN_SETTING};
        let (local, demo, setting) = match purpose {
            PinPurpose::Staff { .. } => (
                &self.config.staff_pin,
                crate::domain::pin::DEMO_STAFF_PIN,
                BUNDLE_STAFF_PIN_SETTING,
            ),
            PinPurpose::Organiser => (
                &self.config.organiser_pin,
                crate::domain::pin::DEMO_ORGANISER_PIN,
                BUNDLE_ORGANISER_PIN_SETTING,
            ),
        };
        let from_hub = self.core.store().setting(setting).ok().flatten();
        crate::domain::pin::effective_pin(local, demo, self.core.event.is_demo, from_hub.as_deref())
    }

    /// Tells the machine which modes have a PIN (after opening, and after each sync: the
    /// hub's bundle may have brought one).
    fn refresh_pins(&mut self) {
        let pins = PinsSetUp {
            staff: self.pin_for(&PinPurpose::Staff { stand: String::new() }).is_some(),
            organiser: self.pin_for(&PinPurpose::Organiser).is_some(),
        };
        if !pins.staff || !pins.organiser {
            tracing::info!(
                staff = pins.staff,
                organiser = pins.organiser,
                "a mode has no PIN: set one on the hub (`badge-kiosk hub pins set`) or in this kiosk's configuration"
            );
        }
        self.machine.set_pins_set_up(pins);
    }

    /// Opens the enrolled event again after the hub's bundle changed it.
    fn reload_event(&mut self) {
        match crate::app::open_kiosk(&self.config) {
            Ok(core) => {
                self.event = Arc::new(EventView {
                    definition: core.definition().clone(),
                    dir: core.event.dir.clone(),
                    email_retention_days: self.config.email_retention_days,
                });
                self.core = core;
                tracing::info!("event updated from the hub's bundle");
            }
            Err(error) => tracing::warn!(%error, "the updated event could not be opened; keeping the current one"),
        }
    }

    pub fn view(&self) -> View {
        View {
            screen: self.machine.screen.clone(),
            language: self.machine.language,
            now_ms: now_ms(),
            event: Arc::clone(&self.event),
            organiser: self.organiser.clone(),
            qr: self.qr.clone(),
            clock_warning: self.core.now().map(|time| time.clock_behind).unwrap_or(false),
            claim_readiness: crate::sync::schedule::claim_readiness(
                &self.sync_health,
                &crate::sync::schedule::SyncPolicy::with_interval(std::time::Duration::from_secs(
                    self.config.sync_interval_secs,
                )),
                now_ms(),
            ),
            email_delivery: match self.machine.screen {
                Screen::Done { .. } => self.core.email_delivery().ok().flatten(),
                _ => None,
            },
        }
    }

    /// Handles one input; returns whether the view may have changed.
    pub fn handle(&mut self, input: Input) -> bool {
        let now = now_ms();
        let effects = match input {
            Input::Scan(text) => self.machine.scanned(&text, now),
            Input::Key { text, at_ms } => match self.detector.key(&text, at_ms) {
                Some(code) => self.machine.scanned(&code, now),
                None => return false,
            },
            Input::Tap(tap) => self.machine.tap(tap, now),
            Input::Tick => match self.detector.poll(now) {
                Some(code) => self.machine.scanned(&code, now),
                None => self.machine.tick(now),
            },
            Input::SyncProgress { done, total } => {
                let progress = if total == 0 { 1.0 } else { done as f32 / total as f32 };
                self.organiser.sync = SyncState::Running { progress };
                vec![]
            }
            Input::SyncFinished(result) => {
                let claim_reached = result
                    .as_ref()
                    .is_ok_and(|summary| summary.claim_address == crate::sync::client::ClaimAddress::Reached);
                self.note_sync(result.is_ok(), claim_reached, now);
                self.refresh_pins();
                self.organiser.sync = match result {
                    Ok(summary) => SyncState::Done { sent: summary.sent },
                    Err(error) => SyncState::Failed(error),
                };
                self.refresh_organiser();
                vec![]
            }
            Input::BackgroundSync {
                reached_hub,
                claim_reached,
            } => {
                self.note_sync(reached_hub, claim_reached, now);
                self.refresh_pins();
                // The done screen's promise may change; nothing else on screen does.
                return matches!(self.machine.screen, Screen::Done { .. });
            }
            Input::EventUpdated => {
                self.event_reload_pending = true;
                vec![]
            }
            Input::Quit => return false,
        };
        self.perform(effects);
        // Never under a visitor's feet: the new event is opened between visitors.
        if self.event_reload_pending && matches!(self.machine.screen, Screen::Attract) {
            self.event_reload_pending = false;
            self.reload_event();
        }
        if !matches!(self.machine.screen, Screen::Done { .. }) {
            // The claim link is the visitor's: it leaves memory with the screen.
            self.qr = None;
        }
        true
    }

    fn perform(&mut self, mut effects: Vec<Effect>) {
        while !effects.is_empty() {
            let mut next = Vec::new();
            for effect in effects {
                let now = now_ms();
                if let Some(result) = self.effect(effect) {
                    // Saved or refused is heard as well as seen, off this thread.
                    if let Some(cue) = cue_for(&result) {
                        self.options.speaker.play(cue);
                    }
                    next.extend(self.machine.work_done(result, now));
                }
            }
            effects = next;
        }
    }

    fn effect(&mut self, effect: Effect) -> Option<WorkResult> {
        match effect {
            Effect::Identify { text } => {
                let result = self.core.identify(&text).map_err(|error| Refusal::from_error(&error));
                let already_claimed = match (&result, self.core.attendance_badge()) {
                    (Ok(visitor), Ok(badge)) => self.core.has_claimed(visitor, &badge.id).unwrap_or(false),
                    _ => false,
                };
                Some(WorkResult::Identified {
                    text,
                    result,
                    already_claimed,
                })
            }
            Effect::CheckStaffCard { text } => {
                let result = self
                    .core
                    .identify(&text)
                    .and_then(|identified| self.core.staff_stand(&identified, self.config.stand.as_deref()))
                    .map_err(|error| Refusal::from_error(&error));
                Some(WorkResult::StaffCard { result })
            }
            Effect::ClaimRegistered { visitor } => Some(self.claim(&visitor, Delivery::Registration)),
            Effect::ClaimEmail { visitor, email } => Some(self.claim(&visitor, Delivery::Email(email))),
            Effect::ClaimPhone { visitor } => {
                let result = self.claim(&visitor, Delivery::Phone);
                if let WorkResult::Claimed(Ok(crate::kiosk::ClaimOutcome::Saved {
                    claim_url: Some(url), ..
                })) = &result
                {
                    self.qr = crate::kiosk::claim_qr::render(url).map(Arc::new);
                }
                Some(result)
            }
            Effect::RecordStep { text, stand } => {
                let result = self
                    .core
                    .identify(&text)
                    .and_then(|visitor| self.core.record_step(&visitor, &stand))
                    .map_err(|error| Refusal::from_error(&error));
                if result.as_ref().is_ok_and(|step| step.newly_recorded) {
                    self.options.sync.record_saved();
                }
                Some(WorkResult::Step(result))
            }
            Effect::CheckPin { purpose, pin } => {
                // Not set up (the hub's PIN was withdrawn while the keypad showed): nothing opens.
                let (correct, complete) = match self.pin_for(&purpose) {
                    Some(expected) => crate::domain::pin::check(&expected, &pin),
                    None => (false, true),
                };
                Some(WorkResult::PinChecked {
                    correct,
                    complete,
                    purpose,
                })
            }
            Effect::SaveLockout {
                failures,
                locked_until_ms,
            } => {
                let store = self.core.store();
                if let Err(error) = store
                    .set_setting(PIN_FAILURES, &failures.to_string())
                    .and_then(|()| store.set_setting(PIN_LOCKED_UNTIL, &locked_until_ms.to_string()))
                {
                    tracing::error!("could not save the PIN lockout: {error}");
                }
                None
            }
            Effect::RefreshOrganiser => {
                self.organiser.sync = SyncState::Idle;
                self.organiser.export = ExportState::Idle;
                self.refresh_organiser();
                None
            }
            Effect::SyncNow => {
                if self.organiser.hub.is_some() && !matches!(self.organiser.sync, SyncState::Running { .. }) {
                    self.organiser.sync = SyncState::Running { progress: 0.0 };
                    let runner = Arc::clone(&self.options.sync);
                    let inputs = self.inputs.clone();
                    std::thread::spawn(move || {
                        let progress_inputs = inputs.clone();
                        let result = runner.sync(&mut |done, total| {
                            let _ = progress_inputs.send(Input::SyncProgress { done, total });
                        });
                        let _ = inputs.send(Input::SyncFinished(result));
                    });
                }
                None
            }
            Effect::ResetClock => {
                if let Err(error) = self.core.store().reset_trusted_time() {
                    tracing::warn!(%error, "the trusted clock could not be reset");
                }
                self.refresh_organiser();
                None
            }
            Effect::ExportUsb => {
                self.organiser.export = match self.options.export.resolve() {
                    None => ExportState::NoUsb,
                    Some(dir) => match crate::app::write_export(&self.core, &dir) {
                        Ok(export) => ExportState::Done {
                            count: export.records,
                            path: export.path,
                        },
                        Err(error) => ExportState::Failed(error.to_string()),
                    },
                };
                None
            }
        }
    }

    fn claim(&mut self, visitor: &crate::kiosk::Identified, delivery: Delivery) -> WorkResult {
        let result = self
            .core
            .claim(visitor, None, delivery)
            .map_err(|error| Refusal::from_error(&error));
        if matches!(result, Ok(crate::kiosk::ClaimOutcome::Saved { .. })) {
            self.options.sync.record_saved();
        }
        WorkResult::Claimed(result)
    }

    fn note_sync(&mut self, reached_hub: bool, claim_reached: bool, now_ms: i64) {
        self.sync_health.last_failed = !reached_hub;
        if reached_hub {
            self.sync_health.last_success_ms = Some(now_ms);
            self.sync_health.claim_reached = claim_reached;
        }
    }

    fn refresh_organiser(&mut self) {
        match self.core.store().counts() {
            Ok(counts) => self.organiser.counts = counts,
            Err(error) => tracing::error!("could not count the queue: {error}"),
        }
        self.organiser.last_sync_ms = self
            .core
            .store()
            .setting("sync.last_success_ms")
            .ok()
            .flatten()
            .and_then(|text| text.parse().ok());
    }
}

/// Runs the worker until `Quit` or until every sender is gone.
pub fn run_worker(mut controller: Controller, inputs: Receiver<Input>, publish: impl Fn(View)) {
    publish(controller.view());
    while let Ok(input) = inputs.recv() {
        if matches!(input, Input::Quit) {
            break;
        }
        if controller.handle(input) {
            publish(controller.view());
        }
    }
}

/// The controller's decisions, without a window: what `src/ui/` would be asked to show
/// and play. tests/ui drives the same flows through the real screens.
#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::domain::code::{AttendanceCode, CodeClaims, CodeId, Role};
    use crate::kiosk::machine::DoneKind;

    struct NoHub;

    impl SyncRunner for NoHub {
        fn hub(&self) -> Option<String> {
            None
        }
        fn sync(&self, _progress: &mut (dyn FnMut(usize, usize) + Send)) -> Result<SyncSummary, String> {
            Err("no hub configured".into())
        }
    }

    /// Remembers every cue instead of playing it.
    #[derive(Clone, Default)]
    struct Heard(Arc<Mutex<Vec<Cue>>>);

    impl Speaker for Heard {
        fn play(&self, cue: Cue) {
            if let Ok(mut heard) = self.0.lock() {
                heard.push(cue);
            }
        }
    }

    impl Heard {
        fn take(&self) -> Vec<Cue> {
            self.0
                .lock()
                .map(|mut heard| std::mem::take(&mut *heard))
                .unwrap_or_default()
        }
    }

    struct Kiosk {
        controller: Controller,
        heard: Heard,
        key: ed25519_dalek::SigningKey,
        event_id: String,
        dir: tempfile::TempDir,
    }

    impl Kiosk {
        fn start() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let config = Config {
                data_dir: dir.path().join("data"),
                language: "en".into(),
                debounce_secs: 0,
                ..Config::default()
            };
            let event = crate::eventdir::EventDir::demo(&config.data_dir).expect("demo event");
            let key = event.event_key.clone().expect("the demo event has its key");
            let event_id = event.definition.event.id.clone();
            let core = KioskCore::open(
                event,
                &config.data_dir.join(&event_id),
                None,
                Box::new(crate::domain::clock::SystemClock),
            )
            .expect("kiosk");
            let heard = Heard::default();
            let options = Options {
                sync: Arc::new(NoHub),
                export: ExportTarget::Folder(dir.path().join("usb")),
                speaker: Box::new(heard.clone()),
            };
            let (inputs, _) = std::sync::mpsc::channel();
            Self {
                controller: Controller::new(core, config, options, inputs),
                heard,
                key,
                event_id,
                dir,
            }
        }

        fn code(&self, role: Role, holder: Option<&str>) -> String {
            AttendanceCode::sign(
                &self.event_id,
                &self.key,
                CodeClaims {
                    code_id: CodeId::random(),
                    role,
                    holder: holder.map(str::to_owned),
                    valid_from: 1_700_000_000,
                    valid_until: 2_000_000_000,
                },
            )
            .expect("signed")
            .to_text()
        }

        fn send(&mut self, input: Input) -> Screen {
            self.controller.handle(input);
            self.controller.view().screen
        }

        fn tap(&mut self, tap: Tap) -> Screen {
            self.send(Input::Tap(tap))
        }
    }

    #[test]
    fn a_claim_is_saved_with_a_chime_and_a_bad_code_buzzes() {
        let mut kiosk = Kiosk::start();
        assert_eq!(kiosk.controller.view().screen, Screen::Attract);
        let ticket = kiosk.code(Role::Visitor, Some("REG-1"));
        assert!(matches!(kiosk.send(Input::Scan(ticket.clone())), Screen::Claim { .. }));
        assert_eq!(
            kiosk.tap(Tap::ClaimRegistered),
            Screen::Done {
                kind: DoneKind::Registration
            }
        );
        assert_eq!(kiosk.heard.take(), [Cue::Saved]);
        assert_eq!(kiosk.tap(Tap::Back), Screen::Attract);
        assert_eq!(
            kiosk.send(Input::Scan(ticket)),
            Screen::Refused {
                reason: Refusal::AlreadyClaimed
            }
        );
        assert_eq!(
            kiosk.send(Input::Scan("https://example.org/not-a-ticket".into())),
            Screen::Refused {
                reason: Refusal::Damaged
            }
        );
        assert_eq!(kiosk.heard.take(), [Cue::Refused]);
    }

    #[test]
    fn a_phone_claim_holds_its_qr_code_only_while_it_shows() {
        let mut kiosk = Kiosk::start();
        let ticket = kiosk.code(Role::Visitor, None);
        kiosk.send(Input::Scan(ticket));
        assert!(matches!(
            kiosk.tap(Tap::ClaimOnPhone),
            Screen::Done {
                kind: DoneKind::Phone { .. }
            }
        ));
        let qr = kiosk.controller.view().qr.expect("a QR code on the done screen");
        assert!(qr.width() > 100 && qr.width() == qr.height());
        kiosk.tap(Tap::Back);
        assert!(kiosk.controller.view().qr.is_none(), "the claim link left memory");
    }

    #[test]
    fn the_organiser_exports_to_the_stick() {
        let mut kiosk = Kiosk::start();
        let ticket = kiosk.code(Role::Visitor, Some("REG-2"));
        kiosk.send(Input::Scan(ticket));
        kiosk.tap(Tap::ClaimRegistered);
        kiosk.tap(Tap::Back);
        let card = kiosk.code(Role::Organiser, None);
        assert!(matches!(kiosk.send(Input::Scan(card)), Screen::PinEntry { .. }));
        for digit in "2468".chars() {
            kiosk.tap(Tap::PinDigit(digit));
        }
        assert_eq!(kiosk.controller.view().screen, Screen::Organiser);
        let organiser = kiosk.controller.view().organiser;
        assert_eq!((organiser.counts.queued, organiser.hub), (1, None));
        kiosk.tap(Tap::ExportUsb);
        let ExportState::Done { count, path } = kiosk.controller.view().organiser.export else {
            panic!("not exported: {:?}", kiosk.controller.view().organiser.export);
        };
        assert_eq!(count, 1);
        assert!(path.starts_with(kiosk.dir.path().join("usb")), "{}", path.display());
        assert_eq!(kiosk.tap(Tap::Lock), Screen::Attract);
    }

    #[test]
    fn saved_work_chimes_and_refusals_buzz() {
        use crate::kiosk::ClaimOutcome;
        assert_eq!(cue_for(&WorkResult::Claimed(Err(Refusal::Forged))), Some(Cue::Refused));
        assert_eq!(cue_for(&WorkResult::Step(Err(Refusal::WrongStand))), Some(Cue::Refused));
        let saved = WorkResult::Claimed(Ok(ClaimOutcome::Saved {
            sequence: 1,
            badge_id: "attended".into(),
            claim_url: None,
        }));
        assert_eq!(cue_for(&saved), Some(Cue::Saved));
        let already = WorkResult::Claimed(Ok(ClaimOutcome::AlreadyClaimed { created_at_ms: 0 }));
        assert_eq!(cue_for(&already), None);
    }
}
