//! #21 items 1, 12 and 15, #20 item 4, against the real binary over loopback: a genuine hub
//! whose clock runs years ahead never makes a kiosk refuse valid codes and is heard again
//! at once when fixed; `clock reset` truly restores; a revoked device cannot enrol again;
//! the PINs the organiser sets on the hub reach the kiosk in the signed bundle.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::enrol::Hub;
use crate::helpers::{binary, TestKiosk};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// 15 years, as in the report.
const FIFTEEN_YEARS_MS: i64 = 15 * 365 * DAY_MS;
const OFFSET_ENV: &str = badge_kiosk::domain::clock::CLOCK_OFFSET_ENV;

fn day(offset_days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(offset_days))
        .format("%Y-%m-%d")
        .to_string()
}

/// An organiser's event running from yesterday to in ten days (whatever day the test runs),
/// and `count` visitor codes for it.
fn event_around_today(root: &Path, count: usize) -> (PathBuf, Vec<String>) {
    let organiser = TestKiosk::demo();
    let event = root.join("event");
    organiser.ok(&["event", "init", event.to_str().unwrap(), "--id", "salon-time"]);
    let toml_path = event.join("event.toml");
    let toml = std::fs::read_to_string(&toml_path)
        .unwrap()
        .replace("starts = \"2026-11-20\"", &format!("starts = \"{}\"", day(-1)))
        .replace("ends = \"2026-11-29\"", &format!("ends = \"{}\"", day(10)));
    std::fs::write(&toml_path, toml).unwrap();
    let print = root.join("print");
    let made = Command::new(binary())
        .env_remove("BADGE_KIOSK_CONFIG")
        .arg("--event")
        .arg(&event)
        .args(["codes", "--count", &count.to_string(), "--out"])
        .arg(&print)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let codes = std::fs::read_to_string(print.join("codes.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (event, codes)
}

/// The time `clock show` says the kiosk signs with, in ms.
fn signing_time_ms(kiosk: &TestKiosk, extra: &[&str]) -> i64 {
    let mut args = extra.to_vec();
    args.extend(["clock", "show"]);
    let shown = kiosk.ok(&args);
    let text = shown
        .split("signing with ")
        .nth(1)
        .and_then(|rest| rest.get(..23))
        .unwrap_or_else(|| panic!("unexpected `clock show`: {shown}"));
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S UTC")
        .unwrap_or_else(|_| panic!("unexpected `clock show`: {shown}"))
        .and_utc()
        .timestamp_millis()
}

fn assert_signs_now(kiosk: &TestKiosk, extra: &[&str]) {
    let now = chrono::Utc::now().timestamp_millis();
    let signing = signing_time_ms(kiosk, extra);
    assert!(
        (signing - now).abs() < 60 * 60 * 1000,
        "the kiosk signs at {signing}, an hour or more away from now ({now})"
    );
}

fn claim_saved(kiosk: &TestKiosk, code: &str) {
    // By email: a stand-alone kiosk of an event without a claim address has no phone link.
    let claimed = kiosk.run(&["claim", code, "--email", "visitor@example.org"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&claimed.stdout),
        String::from_utf8_lossy(&claimed.stderr)
    );
    assert!(claimed.status.success() && said.contains("saved"), "{said}");
}

#[test]
fn regression_21_1_a_hub_years_ahead_never_stops_valid_codes_and_is_heard_at_once_when_fixed() {
    let root = tempfile::tempdir().unwrap();
    let (event, codes) = event_around_today(root.path(), 40);
    let offset = FIFTEEN_YEARS_MS.to_string();
    let hub = Hub::start_with_env(&event, &root.path().join("hub"), &[], &[(OFFSET_ENV, &offset)]);
    let code = hub.enrol_code(&["--kiosks", "2"]);

    // Enrolled during the episode: the certificate and the bundle say 2041; the kiosk
    // does not jump there.
    let kiosk = TestKiosk::demo();
    kiosk.ok(&["--kiosk-id", "hall-a", "enrol", &code]);
    assert_signs_now(&kiosk, &[]);

    // Many syncs with records (an upload answer and a bundle each time): valid codes are
    // accepted throughout, and the kiosk keeps signing with today's time.
    for (round, code) in codes.iter().take(30).enumerate() {
        claim_saved(&kiosk, code);
        let synced = kiosk.ok(&["sync"]);
        assert!(synced.contains("synced 1"), "round {round}: {synced}");
        assert!(!synced.contains("not applied"), "round {round}: {synced}");
    }
    assert_signs_now(&kiosk, &[]);

    // The organiser fixes the hub's clock and revokes a ticket: the very next sync brings
    // the revocation (freshness is the bundle's number, not the hub's clock).
    drop(hub);
    let hub = Hub::start(&event, &root.path().join("hub"), &[]);
    let revoked = hub.command(&["revoke", &codes[39], "--reason", "lost ticket"]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    let synced = kiosk.ok(&["sync", "--hub", &hub.url]);
    assert!(synced.contains("1 new revoked code"), "{synced}");
    let refused = kiosk.run(&["claim", &codes[39]]);
    assert_eq!(refused.status.code(), Some(2));
    claim_saved(&kiosk, &codes[38]);
    assert_signs_now(&kiosk, &[]);
    kiosk.ok(&["queue", "verify"]);
}

#[test]
fn regression_21_15_clock_reset_forgets_a_record_signed_while_the_kiosk_clock_was_ahead() {
    let root = tempfile::tempdir().unwrap();
    let (event, codes) = event_around_today(root.path(), 3);
    let kiosk = TestKiosk {
        dir: tempfile::tempdir().unwrap(),
        event: Some(event),
    };
    // The board's clock ran 8 days ahead for a while (the codes are still valid then), and
    // a visitor claimed: that record (and the certificate the kiosk gave itself) is in the
    // future once the clock is right again.
    let ahead = (8 * DAY_MS).to_string();
    let claimed = kiosk
        .command()
        .env(OFFSET_ENV, &ahead)
        .args(["claim", &codes[0], "--email", "visitor@example.org"])
        .output()
        .unwrap();
    assert!(claimed.status.success(), "{}", String::from_utf8_lossy(&claimed.stdout));
    let stuck = signing_time_ms(&kiosk, &[]);
    assert!(stuck > chrono::Utc::now().timestamp_millis() + 7 * DAY_MS, "{stuck}");

    let reset = kiosk.ok(&["clock", "reset"]);
    assert!(reset.contains("trusted clock reset"), "{reset}");
    assert_signs_now(&kiosk, &[]);
    // Records signed afterwards count again (and carry today's time).
    claim_saved(&kiosk, &codes[1]);
    assert_signs_now(&kiosk, &[]);
    kiosk.ok(&["queue", "verify"]);
}

#[test]
fn regression_21_12_a_revoked_device_cannot_repeat_its_enrolment() {
    let root = tempfile::tempdir().unwrap();
    let (event, _) = event_around_today(root.path(), 1);
    let hub = Hub::start(&event, &root.path().join("hub"), &[]);
    let code = hub.enrol_code(&["--kiosks", "3"]);
    let kiosk = TestKiosk::demo();
    kiosk.ok(&["--kiosk-id", "hall-a", "enrol", &code]);
    // A repeat by the same device is answered while it is in good standing (a lost answer).
    kiosk.ok(&["--kiosk-id", "hall-a", "enrol", &code]);

    let revoked = hub.command(&["kiosk", "revoke", "hall-a", "--reason", "stolen"]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    let again = kiosk.run(&["--kiosk-id", "hall-a", "enrol", &code]);
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("revoked") && said.contains("stolen"), "{said}");
}

/// `hub pins set ROLE`, the PIN on standard input.
fn set_pin(event: &Path, data: &Path, role: &str, pin: &str) -> std::process::Output {
    let mut child = Command::new(binary())
        .env_remove("BADGE_KIOSK_CONFIG")
        .arg("--event")
        .arg(event)
        .args(["hub", "pins", "set", role, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{pin}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

mod screens {
    use std::sync::Arc;

    use badge_kiosk::app::controller::{Controller, ExportTarget, Input, Options, Silent, SyncRunner};
    use badge_kiosk::config::Config;
    use badge_kiosk::domain::code::{AttendanceCode, CodeClaims, CodeId, Role};
    use badge_kiosk::kiosk::machine::{PinPurpose, Screen, Tap};
    use badge_kiosk::sync::client::SyncSummary;

    struct NoSync;
    impl SyncRunner for NoSync {
        fn hub(&self) -> Option<String> {
            None
        }
        fn sync(&self, _progress: &mut (dyn FnMut(usize, usize) + Send)) -> Result<SyncSummary, String> {
            Err("no hub in this test".into())
        }
    }

    /// The touchscreen's controller for the kiosk in `data_dir`, without a window.
    pub(super) fn controller(data_dir: &std::path::Path) -> Controller {
        let config = Config {
            data_dir: data_dir.to_owned(),
            language: "en".into(),
            debounce_secs: 0,
            ..Config::default()
        };
        let core = badge_kiosk::app::open_kiosk(&config).unwrap();
        let options = Options {
            sync: Arc::new(NoSync),
            export: ExportTarget::Folder(data_dir.join("usb")),
            speaker: Box::new(Silent),
        };
        let (inputs, _) = std::sync::mpsc::channel();
        Controller::new(core, config, options, inputs)
    }

    pub(super) fn card(event: &std::path::Path, role: Role) -> String {
        let event = badge_kiosk::eventdir::EventDir::load(event).unwrap();
        AttendanceCode::sign(
            &event.definition.event.id,
            event.event_key.as_ref().unwrap(),
            CodeClaims {
                code_id: CodeId::random(),
                role,
                holder: None,
                valid_from: 0,
                valid_until: u32::MAX,
            },
        )
        .unwrap()
        .to_text()
    }

    pub(super) fn screen_after(controller: &mut Controller, inputs: Vec<Input>) -> Screen {
        for input in inputs {
            controller.handle(input);
        }
        controller.view().screen
    }

    pub(super) fn typed(pin: &str) -> Vec<Input> {
        pin.chars().map(|digit| Input::Tap(Tap::PinDigit(digit))).collect()
    }

    pub(super) fn staff() -> Role {
        Role::Staff {
            stand: "boulangerie".into(),
        }
    }

    pub(super) fn staff_purpose() -> PinPurpose {
        PinPurpose::Staff {
            stand: "boulangerie".into(),
        }
    }
}

#[test]
fn regression_20_4_pins_set_on_the_hub_reach_the_kiosk_in_the_signed_bundle() {
    use badge_kiosk::app::controller::Input;
    use badge_kiosk::domain::code::Role;
    use badge_kiosk::kiosk::machine::{PinPurpose, Screen, Tap};
    use screens::*;

    let root = tempfile::tempdir().unwrap();
    let (event, _) = event_around_today(root.path(), 1);
    let hub_data = root.path().join("hub");
    let hub = Hub::start(&event, &hub_data, &[]);
    let kiosk = TestKiosk::demo();
    kiosk.ok(&["--kiosk-id", "hall-a", "enrol", &hub.enrol_code(&[])]);

    // A real event, no PIN anywhere: each mode says it is not set up, takes no digit,
    // and nothing locks however often someone tries.
    let staff_card = card(&event, staff());
    let organiser_card = card(&event, Role::Organiser);
    let mut screen = controller(&kiosk.data_dir());
    for _ in 0..5 {
        let mut inputs = vec![Input::Scan(staff_card.clone())];
        inputs.extend(typed("12345678"));
        assert_eq!(
            screen_after(&mut screen, inputs),
            Screen::PinNotSetUp {
                purpose: staff_purpose()
            }
        );
        assert_eq!(screen_after(&mut screen, vec![Input::Tap(Tap::Back)]), Screen::Attract);
    }
    assert_eq!(
        screen_after(&mut screen, vec![Input::Scan(organiser_card.clone())]),
        Screen::PinNotSetUp {
            purpose: PinPurpose::Organiser
        }
    );
    drop(screen);

    // The organiser sets both PINs once on the hub; the demo's are refused.
    let demo = set_pin(&event, &hub_data, "staff", "1234");
    assert!(!demo.status.success());
    for (role, pin) in [("staff", "5151"), ("organiser", "86420")] {
        let set = set_pin(&event, &hub_data, role, pin);
        assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    }
    let synced = kiosk.ok(&["sync"]);
    assert!(!synced.contains("not applied"), "{synced}");

    let mut screen = controller(&kiosk.data_dir());
    let mut inputs = vec![Input::Scan(staff_card.clone())];
    inputs.extend(typed("5151"));
    assert!(
        matches!(screen_after(&mut screen, inputs), Screen::Staff { ref stand, .. } if stand == "boulangerie"),
        "the staff PIN from the hub opens staff mode"
    );
    screen_after(&mut screen, vec![Input::Tap(Tap::Lock)]);
    // A wrong PIN is refused (a hashed PIN's length is unknown: judged at 8 digits).
    let mut inputs = vec![Input::Scan(staff_card)];
    inputs.extend(typed("51525152"));
    assert_eq!(
        screen_after(&mut screen, inputs),
        Screen::PinEntry {
            purpose: staff_purpose(),
            entered: 0,
            wrong: true
        }
    );
    screen_after(&mut screen, vec![Input::Tap(Tap::Back)]);
    let mut inputs = vec![Input::Scan(organiser_card)];
    inputs.extend(typed("86420"));
    assert_eq!(screen_after(&mut screen, inputs), Screen::Organiser);
}

/// #21 item 1: the organiser learns that the hub's clock is wrong (outside the event's
/// dates, or far from its kiosks'), on the console's Kiosks page, beside the PINs' state.
#[test]
fn regression_21_1_the_console_warns_about_the_hub_s_clock_and_shows_the_pins() {
    use crate::helpers::{console_page, runtime, start_hub, NOW_MS};
    use badge_kiosk::hub::store::PinRole;
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let event = badge_kiosk::eventdir::EventDir::demo(&dir.path().join("organiser")).unwrap();
    // NOW_MS is inside the demo event's dates.
    let ahead = start_hub(&runtime, &dir.path().join("ahead.sqlite"), &event, || {
        NOW_MS + FIFTEEN_YEARS_MS
    });
    let (status, page) = console_page(&runtime, &ahead, "/console/kiosks?lang=en");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("2041-11-14") && page.contains("outside the event"),
        "{page}"
    );
    assert!(page.contains("not set: kiosks without a PIN of their own"), "{page}");

    let right = start_hub(&runtime, &dir.path().join("right.sqlite"), &event, || NOW_MS);
    let hash = badge_kiosk::domain::pin::hash_pin("5151").unwrap();
    right
        .state
        .store
        .lock()
        .unwrap()
        .set_pin(PinRole::Staff, Some(&hash), NOW_MS)
        .unwrap();
    let (_, page) = console_page(&runtime, &right, "/console/kiosks?lang=en");
    assert!(!page.contains("outside the event"), "{page}");
    assert!(page.contains("set on"), "{page}");
    assert!(!page.contains(&hash), "the hash stays on the hub");
}
