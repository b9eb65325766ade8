//! The touchscreen flows through Slint's testing backend: real screens, real kiosk core
//! (temp data dir, demo event, signed codes), driven by accessible labels as a screen
//! reader or a finger would. A separate test binary because the testing backend must be
//! set up before any window exists in the thread.

// Test code, helpers included: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod screenshots;

use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use badge_kiosk::app::controller::{Controller, ExportTarget, Input, Options, Silent, SyncRunner};
use badge_kiosk::app::{make_codes, open_event, open_kiosk, CodeRequest, CodeToPrint};
use badge_kiosk::config::Config;
use badge_kiosk::domain::code::Role;
use badge_kiosk::kiosk::machine::Refusal;
use badge_kiosk::sync::client::SyncSummary;
use badge_kiosk::ui;
use badge_kiosk::{AppWindow, KioskAdapter, RefusalAdapter, ScreenId};
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use slint::ComponentHandle;

/// A hub that accepts every record: it reports as sent what the kiosk's queue holds when
/// the sync starts (read through a second connection, as the real sync does), no more.
struct FakeSync {
    hub: Option<String>,
    config: Config,
}

impl SyncRunner for FakeSync {
    fn hub(&self) -> Option<String> {
        self.hub.clone()
    }
    fn sync(&self, progress: &mut (dyn FnMut(usize, usize) + Send)) -> Result<SyncSummary, String> {
        let core = open_kiosk(&self.config).map_err(|error| error.to_string())?;
        let queued = core.store().counts().map_err(|error| error.to_string())?.queued;
        let queued = usize::try_from(queued).map_err(|error| error.to_string())?;
        for done in 1..=queued {
            progress(done, queued);
        }
        Ok(SyncSummary {
            sent: queued,
            synced: queued,
            ..SyncSummary::default()
        })
    }
}

struct Kiosk {
    window: AppWindow,
    controller: Controller,
    inputs: Receiver<Input>,
    codes: Vec<CodeToPrint>,
    dir: tempfile::TempDir,
}

fn config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.join("data"),
        language: "en".into(),
        // Tests scan the same code twice on purpose.
        debounce_secs: 0,
        ..Config::default()
    }
}

impl Kiosk {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, |_| {}, Some("https://hub.example.org".into()))
    }

    fn start_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config), hub: Option<String>) -> Self {
        i_slint_backend_testing::init_no_event_loop();
        Self::open(dir, adjust, hub)
    }

    /// Like `start_in`, on whatever Slint platform this thread already has.
    fn open(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config), hub: Option<String>) -> Self {
        let mut config = config(dir.path());
        adjust(&mut config);
        let event = open_event(&config).expect("demo event");
        let codes = make_codes(
            &event,
            &CodeRequest {
                demo: true,
                ..CodeRequest::default()
            },
        )
        .expect("demo codes");
        let core = open_kiosk(&config).expect("kiosk");
        let window = AppWindow::new().expect("window");
        window.show().expect("show the window");
        let (sender, inputs) = mpsc::channel();
        ui::bind(&window, &sender);
        let options = Options {
            sync: Arc::new(FakeSync {
                hub,
                config: config.clone(),
            }),
            export: ExportTarget::Folder(dir.path().join("usb")),
            speaker: Box::new(Silent),
        };
        let controller = Controller::new(core, config, options, sender);
        let mut kiosk = Self {
            window,
            controller,
            inputs,
            codes,
            dir,
        };
        kiosk.pump();
        kiosk
    }

    /// Runs every pending input through the worker logic, then shows the result.
    fn pump(&mut self) {
        while let Ok(input) = self.inputs.try_recv() {
            self.controller.handle(input);
        }
        ui::apply(&self.window, &self.controller.view());
    }

    /// Handles the inputs that work on other threads sends back until `text` is on screen;
    /// fails only if nothing arrives for two minutes (something is stuck).
    fn wait_for(&mut self, text: &str) {
        while !self.shows(text) {
            let input = self
                .inputs
                .recv_timeout(std::time::Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("{text:?} never appeared; the screen shows {:?}", self.texts()));
            self.controller.handle(input);
            self.pump();
        }
    }

    fn send(&mut self, input: Input) {
        self.controller.handle(input);
        self.pump();
    }

    fn scan(&mut self, text: &str) {
        self.send(Input::Scan(text.to_owned()));
    }

    fn code(&self, wanted: impl Fn(&CodeToPrint) -> bool) -> String {
        self.codes
            .iter()
            .find(|code| wanted(code))
            .map(|code| code.text.clone())
            .expect("the demo set has this code")
    }
    fn registered_visitor(&self) -> String {
        self.code(|c| c.role == Role::Visitor && c.holder.is_some())
    }
    fn anonymous_visitor(&self, nth: usize) -> String {
        self.codes
            .iter()
            .filter(|c| c.role == Role::Visitor && c.holder.is_none())
            .nth(nth)
            .map(|c| c.text.clone())
            .expect("enough demo visitors")
    }
    fn staff_card(&self, stand: &str) -> String {
        self.code(|c| c.role == Role::Staff { stand: stand.into() })
    }
    fn organiser_card(&self) -> String {
        self.code(|c| c.role == Role::Organiser)
    }

    fn screen(&self) -> ScreenId {
        self.window.global::<KioskAdapter>().get_screen()
    }

    /// Every text on screen, as assistive technology reads it.
    fn texts(&self) -> Vec<String> {
        ElementQuery::from_root(&self.window)
            .match_descendants()
            .find_all()
            .into_iter()
            .filter(|element| element.accessible_role() == Some(AccessibleRole::Text))
            .filter_map(|element| element.accessible_label())
            .map(|label| label.to_string())
            .collect()
    }

    fn shows(&self, text: &str) -> bool {
        self.texts().iter().any(|shown| shown.contains(text))
    }

    fn assert_shows(&self, text: &str) {
        assert!(
            self.shows(text),
            "{text:?} is not on screen; it shows {:?}",
            self.texts()
        );
    }

    fn tap(&mut self, label: &str) {
        let element = ElementHandle::find_by_accessible_label(&self.window, label)
            .next()
            .unwrap_or_else(|| panic!("no control labelled {label:?}; the screen shows {:?}", self.texts()));
        element.invoke_accessible_default_action();
        self.pump();
    }

    fn type_on_keyboard(&mut self, text: &str) {
        for c in text.chars() {
            self.tap(&c.to_string());
        }
    }

    fn queue_count(&self) -> u64 {
        let core = open_kiosk(&config(self.dir.path())).expect("kiosk");
        core.store().counts().expect("counts").queued
    }
}

#[test]
fn claim_with_registration() {
    let mut kiosk = Kiosk::start();
    assert_eq!(kiosk.screen(), ScreenId::Attract);
    kiosk.assert_shows("Scan your ticket");
    kiosk.assert_shows("National Skills Finals 2026");
    let code = kiosk.registered_visitor();
    kiosk.scan(&code);
    assert_eq!(kiosk.screen(), ScreenId::Claim);
    kiosk.assert_shows("I attended the National Skills Finals 2026");
    kiosk.tap("Send it to the email I registered with");
    assert_eq!(kiosk.screen(), ScreenId::Done);
    kiosk.assert_shows("It will arrive at the email address you registered with");
    assert_eq!(kiosk.queue_count(), 1);
    kiosk.tap("Finish");
    assert_eq!(kiosk.screen(), ScreenId::Attract);
    // The same ticket again: refused, nothing added.
    kiosk.scan(&code);
    assert_eq!(kiosk.screen(), ScreenId::Refusal);
    kiosk.assert_shows("This ticket's badge has already been claimed");
    assert_eq!(kiosk.queue_count(), 1);
}

#[test]
fn claim_with_typed_email_in_french() {
    let mut kiosk = Kiosk::start();
    kiosk.tap("Change language");
    kiosk.assert_shows("Scannez votre billet");
    let code = kiosk.anonymous_visitor(0);
    kiosk.scan(&code);
    assert_eq!(kiosk.screen(), ScreenId::Claim);
    // No registration on this ticket: no "registered email" choice.
    assert!(
        ElementHandle::find_by_accessible_label(&kiosk.window, "À l'adresse e-mail de mon inscription")
            .next()
            .is_none()
    );
    kiosk.tap("Saisir une adresse e-mail");
    assert_eq!(kiosk.screen(), ScreenId::Email);
    kiosk.assert_shows("effacée 30 jours après");
    kiosk.type_on_keyboard("marie");
    kiosk.tap("Suivant");
    kiosk.assert_shows("Cette adresse semble incomplète");
    kiosk.type_on_keyboard("@");
    kiosk.tap(".fr");
    kiosk.tap("Effacer");
    kiosk.tap("Effacer");
    kiosk.tap("Effacer");
    kiosk.tap("gmail.com");
    kiosk.tap("Suivant");
    kiosk.assert_shows("Est-ce bien votre adresse e-mail ?");
    kiosk.assert_shows("marie@gmail.com");
    kiosk.tap("Oui, envoyer mon badge");
    assert_eq!(kiosk.screen(), ScreenId::Done);
    kiosk.assert_shows("Il arrivera à l'adresse saisie");
    assert_eq!(kiosk.queue_count(), 1);
}

#[test]
fn claim_on_phone_shows_a_qr_code() {
    let mut kiosk = Kiosk::start();
    let code = kiosk.anonymous_visitor(1);
    kiosk.scan(&code);
    kiosk.tap("Take it on my phone (QR code)");
    assert_eq!(kiosk.screen(), ScreenId::Done);
    kiosk.assert_shows("Scan this code with your phone");
    let qr = ElementHandle::find_by_accessible_label(&kiosk.window, "QR code of your badge link").next();
    assert!(qr.is_some(), "the QR code is on screen");
    let url = kiosk.window.global::<badge_kiosk::DoneAdapter>().get_claim_url();
    assert!(url.contains("/claim/"), "{url}");
    let size = kiosk.window.global::<badge_kiosk::DoneAdapter>().get_qr().size();
    assert!(size.width > 100, "the QR image was rendered");
    // Leaving the screen forgets the link.
    kiosk.tap("Finish");
    assert_eq!(kiosk.window.global::<badge_kiosk::DoneAdapter>().get_claim_url(), "");
}

/// Issue 17: the done screen promises "ready now" only when the kiosk's last sync reached
/// the hub, and "a few hours" when it did not (or never synced).
#[test]
fn the_done_screen_says_when_the_phone_link_works() {
    let mut kiosk = Kiosk::start();
    let code = kiosk.anonymous_visitor(1);
    kiosk.scan(&code);
    kiosk.tap("Take it on my phone (QR code)");
    kiosk.assert_shows("usually within a few hours");
    kiosk.tap("Finish");

    kiosk.send(Input::BackgroundSync {
        reached_hub: true,
        claim_reached: true,
    });
    let code = kiosk.anonymous_visitor(2);
    kiosk.scan(&code);
    kiosk.tap("Take it on my phone (QR code)");
    kiosk.assert_shows("Ready now on your phone");
    // Issue 20 item 5: the hub answers but no longer reaches the public claim address
    // (its relay fails): no "ready now", the next sync instead.
    kiosk.send(Input::BackgroundSync {
        reached_hub: true,
        claim_reached: false,
    });
    kiosk.assert_shows("after the next sync, usually within");
    // The hub goes out of reach while the screen shows: the promise follows.
    kiosk.send(Input::BackgroundSync {
        reached_hub: false,
        claim_reached: false,
    });
    kiosk.assert_shows("usually within a few hours");
}

#[test]
fn refusals_have_their_own_friendly_message() {
    let mut kiosk = Kiosk::start();
    // A forged code: one character changed in a real one.
    let mut forged = kiosk.anonymous_visitor(2);
    let last = forged.pop().expect("non-empty");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    kiosk.scan(&forged);
    assert_eq!(kiosk.screen(), ScreenId::Refusal);
    let title = kiosk.texts().join(" | ");
    assert!(
        title.contains("could not be verified") || title.contains("could not read"),
        "{title}"
    );
    kiosk.tap("OK");
    assert_eq!(kiosk.screen(), ScreenId::Attract);
    // Something that is not a code at all.
    kiosk.scan("https://example.org/not-a-ticket");
    kiosk.assert_shows("We could not read this code");
    // Every refusal the machine knows has its own title and explanation, in both languages,
    // through the same mapping the kiosk uses.
    for language in ["en", "fr"] {
        slint::select_bundled_translation(if language == "en" { "" } else { language }).expect("bundled");
        let mut titles = std::collections::HashSet::new();
        for reason in Refusal::ALL {
            kiosk
                .window
                .global::<RefusalAdapter>()
                .set_reason(ui::refusal_reason(&reason));
            let texts = kiosk.texts();
            assert!(
                !texts
                    .iter()
                    .any(|t| t == "Something went wrong" || t == "Un problème est survenu"),
                "{reason:?} has no message: {texts:?}"
            );
            titles.insert(texts.join("|"));
        }
        assert_eq!(
            titles.len(),
            Refusal::ALL.len(),
            "each refusal reads differently ({language})"
        );
    }
    kiosk
        .window
        .global::<RefusalAdapter>()
        .set_reason(ui::refusal_reason(&Refusal::NotSaved));
    slint::select_bundled_translation("").expect("bundled");
    kiosk.assert_shows("Your badge was NOT saved");
}

#[test]
fn wrong_stand_and_not_a_staff_card() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut kiosk = Kiosk::start_in(dir, |config| config.stand = Some("cuisine".into()), None);
    let card = kiosk.staff_card("boulangerie");
    kiosk.scan(&card);
    assert_eq!(kiosk.screen(), ScreenId::Refusal);
    kiosk.assert_shows("This staff card is for another stand");
}

fn unlock_staff(kiosk: &mut Kiosk, stand: &str) {
    let card = kiosk.staff_card(stand);
    kiosk.scan(&card);
    assert_eq!(kiosk.screen(), ScreenId::Pin);
    kiosk.assert_shows("Staff mode");
    for digit in ["1", "2", "3", "4"] {
        kiosk.tap(digit);
    }
    assert_eq!(kiosk.screen(), ScreenId::Staff);
}

#[test]
fn staff_unlock_then_lockout_survives_a_restart() {
    let mut kiosk = Kiosk::start();
    unlock_staff(&mut kiosk, "cuisine");
    kiosk.assert_shows("Cooking");
    kiosk.tap("Lock");
    assert_eq!(kiosk.screen(), ScreenId::Attract);
    // Three wrong PINs lock staff and organiser access.
    let card = kiosk.staff_card("cuisine");
    for attempt in 0..3 {
        kiosk.scan(&card);
        assert_eq!(kiosk.screen(), ScreenId::Pin, "attempt {attempt}");
        for digit in ["9", "9", "9", "9"] {
            kiosk.tap(digit);
        }
        if attempt < 2 {
            kiosk.assert_shows("Wrong PIN. Try again.");
            kiosk.tap("Cancel");
        }
    }
    assert_eq!(kiosk.screen(), ScreenId::Locked);
    kiosk.assert_shows("Too many wrong PINs");
    kiosk.assert_shows("Try again in 0:30");
    // A restart keeps the lock.
    let Kiosk { dir, .. } = kiosk;
    let mut restarted = Kiosk::open(dir, |_| {}, None);
    let card = restarted.staff_card("cuisine");
    restarted.scan(&card);
    assert_eq!(restarted.screen(), ScreenId::Locked);
}

/// #20 item 4: on a real event with no PIN (neither configured nor from the hub), the PIN
/// screen says the mode is not set up and whom to ask, with no keypad to lock.
#[test]
fn a_mode_without_a_pin_says_so_without_a_keypad() {
    let dir = tempfile::tempdir().expect("temp dir");
    let event_dir = dir.path().join("event");
    badge_kiosk::eventdir::EventDir::init(&event_dir, "salon-ui").expect("a real event");
    let mut kiosk = Kiosk::start_in(dir, |config| config.event_dir = Some(event_dir), None);
    let card = kiosk.staff_card("cuisine");
    kiosk.scan(&card);
    assert_eq!(kiosk.screen(), ScreenId::Pin);
    kiosk.assert_shows("Staff mode is not set up: ask the organiser to set the staff PIN on the hub.");
    assert!(
        ElementHandle::find_by_accessible_label(&kiosk.window, "1")
            .next()
            .is_none(),
        "no keypad"
    );
    kiosk.tap("Cancel");
    assert_eq!(kiosk.screen(), ScreenId::Attract);
    let card = kiosk.organiser_card();
    kiosk.scan(&card);
    assert_eq!(kiosk.screen(), ScreenId::Pin);
    kiosk.assert_shows("The organiser panel is not set up: ask the organiser to set its PIN on the hub.");
}

#[test]
fn pathway_completion_awards_the_badge() {
    let mut kiosk = Kiosk::start();
    let visitor = kiosk.registered_visitor();
    let step = |kiosk: &mut Kiosk, stand: &str| {
        unlock_staff(kiosk, stand);
        kiosk.scan(&visitor);
        kiosk.tap("Lock");
    };
    step(&mut kiosk, "boulangerie");
    step(&mut kiosk, "patisserie");
    unlock_staff(&mut kiosk, "orientation");
    kiosk.scan(&visitor);
    kiosk.assert_shows("✓ Visit recorded");
    kiosk.assert_shows("Food trades discovery pathway: 2 of 3 stands");
    kiosk.assert_shows("+ Orientation counselling ✓");
    kiosk.scan(&visitor);
    kiosk.assert_shows("Already recorded at this stand");
    kiosk.tap("Lock");
    unlock_staff(&mut kiosk, "cuisine");
    kiosk.scan(&visitor);
    kiosk.assert_shows("Pathway complete — badge awarded!");
    kiosk.assert_shows("1 visitor recorded since unlocking");
    // A visitor code is what staff mode takes: an organiser card is refused.
    let organiser = kiosk.organiser_card();
    kiosk.scan(&organiser);
    kiosk.assert_shows("This is not a visitor ticket");
}

#[test]
fn organiser_panel_counts_syncs_and_exports() {
    let mut kiosk = Kiosk::start();
    let visitor = kiosk.registered_visitor();
    kiosk.scan(&visitor);
    kiosk.tap("Send it to the email I registered with");
    kiosk.tap("Finish");
    let card = kiosk.organiser_card();
    kiosk.scan(&card);
    assert_eq!(kiosk.screen(), ScreenId::Pin);
    kiosk.assert_shows("Organiser panel");
    for digit in ["2", "4", "6", "8"] {
        kiosk.tap(digit);
    }
    assert_eq!(kiosk.screen(), ScreenId::Organiser);
    kiosk.assert_shows("I attended the National Skills Finals 2026");
    kiosk.assert_shows("Waiting to be sent");
    kiosk.assert_shows("Hub: https://hub.example.org");
    kiosk.assert_shows("Never synced yet");
    assert_eq!(kiosk.queue_count(), 1, "one claim is queued");
    kiosk.tap("Sync now");
    // The sync runs on its own thread; its progress and result come back as inputs.
    kiosk.wait_for("Sync finished");
    kiosk.assert_shows("Sync finished: 1 record sent.");
    kiosk.tap("Export to USB stick");
    kiosk.assert_shows("1 record written to");
    let exported = std::fs::read_dir(kiosk.dir.path().join("usb"))
        .expect("usb dir")
        .count();
    assert_eq!(exported, 1);
    kiosk.tap("Lock");
    assert_eq!(kiosk.screen(), ScreenId::Attract);
}

#[test]
fn organiser_panel_without_a_hub_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut kiosk = Kiosk::start_in(dir, |_| {}, None);
    let card = kiosk.organiser_card();
    kiosk.scan(&card);
    for digit in ["2", "4", "6", "8"] {
        kiosk.tap(digit);
    }
    kiosk.assert_shows("No hub is configured for this event");
    let sync = ElementHandle::find_by_accessible_label(&kiosk.window, "Sync now")
        .next()
        .expect("sync button");
    assert_eq!(sync.accessible_enabled(), Some(false));
}

/// Issue #20: the done screen promises an email only when the hub said at the last sync
/// that someone will send it; with nobody to send it, it says so and promises nothing.
#[test]
fn the_done_screen_promises_an_email_only_when_someone_will_send_it() {
    use badge_kiosk::sync::protocol::EmailDelivery;
    let cases = [
        (None, "usually the same day"),
        (Some(EmailDelivery::Hub), "within minutes of this kiosk sending"),
        (
            Some(EmailDelivery::Platform),
            "The event's badge platform will email it",
        ),
        (Some(EmailDelivery::None), "Sending by email is not set up yet"),
    ];
    for (nth, (delivery, said)) in cases.into_iter().enumerate() {
        // One Slint platform per thread: the first kiosk sets it up, the others reuse it.
        let mut kiosk = if nth == 0 {
            Kiosk::start()
        } else {
            Kiosk::open(
                tempfile::tempdir().expect("temp dir"),
                |_| {},
                Some("https://hub.example.org".into()),
            )
        };
        if let Some(delivery) = delivery {
            let core = open_kiosk(&config(kiosk.dir.path())).expect("kiosk");
            core.store()
                .set_setting(EmailDelivery::SETTING, delivery.name())
                .expect("the setting is kept");
        }
        let code = kiosk.registered_visitor();
        kiosk.scan(&code);
        kiosk.tap("Send it to the email I registered with");
        assert_eq!(kiosk.screen(), ScreenId::Done);
        kiosk.assert_shows(said);
        if delivery == Some(EmailDelivery::None) {
            assert!(!kiosk.shows("It will arrive"), "no email promised: {:?}", kiosk.texts());
        }
    }
}
