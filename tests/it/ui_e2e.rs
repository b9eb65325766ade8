//! The kiosk as a person uses it: a real window under Xvfb, a visitor code typed the way
//! a USB keyboard-wedge scanner types it, a tap on the claim button, and a signed award in
//! the queue afterwards. Needs Xvfb and xdotool (skipped with a note when missing).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::helpers::TestKiosk;

/// Kills what it started, even when an assertion fails.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn xdotool(display: &str, args: &[&str]) -> String {
    let output = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .expect("xdotool runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Polls `check` until it holds. The timeouts are generous on purpose: CI runs this beside
/// the power-cut and sync tests on two cores, and a debug kiosk's first software-rendered
/// frame can then take tens of seconds. `explain` says what was going on when time ran out.
fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool, explain: impl Fn() -> String) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}\n{}", explain());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn visitor_claims_with_a_wedge_scanner_and_a_tap() {
    if !installed("Xvfb") || !installed("xdotool") {
        eprintln!("skipped: needs Xvfb and xdotool (apt-get install xvfb xdotool)");
        return;
    }
    let kiosk = TestKiosk::demo();
    let codes_dir = kiosk.dir.path().join("codes");
    let made = kiosk
        .command()
        .args(["codes", "--demo", "--out"])
        .arg(&codes_dir)
        .output()
        .expect("codes");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let csv = std::fs::read_to_string(codes_dir.join("codes.csv")).expect("codes.csv");
    // The first demo visitor carries a registration (DEMO-0001).
    let code = csv
        .lines()
        .find(|line| line.contains("DEMO-0001"))
        .and_then(|line| line.rsplit(',').next())
        .expect("a registered demo visitor")
        .to_owned();

    // `-displayfd`: Xvfb picks a free display itself and writes its number once it accepts
    // connections (a socket file can exist before the server answers on it).
    let mut processes = Processes(Vec::new());
    let mut xvfb = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts");
    let ready = xvfb.stdout.take().expect("Xvfb's standard output");
    processes.0.push(xvfb);
    let mut number = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(ready), &mut number).expect("Xvfb's display number");
    let number = number.trim();
    assert!(
        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        "Xvfb did not start: {number:?}"
    );
    let display = format!(":{number}");
    let kiosk_log = kiosk.dir.path().join("kiosk.log");
    let log_file = std::fs::File::create(&kiosk_log).expect("kiosk log");
    processes.0.push(
        kiosk
            .command()
            .args(["run", "--camera", "none", "--size", "800x480"])
            .env("DISPLAY", &display)
            .env("SLINT_BACKEND", "winit-software")
            .env("BADGE_KIOSK_LANGUAGE", "en")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("the kiosk starts"),
    );
    let kiosk_said = || {
        let log = std::fs::read_to_string(&kiosk_log).unwrap_or_default();
        format!("the kiosk's log:\n{log}")
    };
    let mut window = String::new();
    wait_for(
        "the kiosk window",
        Duration::from_secs(180),
        || {
            if let Ok(Some(status)) = processes.0[1].try_wait() {
                panic!(
                    "the kiosk exited before showing its window ({status})\n{}",
                    kiosk_said()
                );
            }
            window = xdotool(&display, &["search", "--onlyvisible", "--name", "badge-kiosk"]);
            !window.is_empty()
        },
        kiosk_said,
    );
    let window = window.lines().next().unwrap_or_default().to_owned();
    // No window manager under Xvfb: give the window the keyboard ourselves.
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&display, &["windowfocus", "--sync", &window]);
    xdotool(&display, &["type", "--delay", "5", &code]);
    xdotool(&display, &["key", "Return"]);

    // "Send it to the email I registered with": the first choice on the claim screen,
    // right-hand column of the 800×480 layout. The screen changes once the code has been
    // checked off the UI thread, so tap again every few seconds until the award is queued;
    // once it is, the kiosk has left the claim screen and no further tap is made.
    let listing = std::cell::RefCell::new(String::new());
    // The first tap waits a moment: before the code is checked, the welcome screen is showing.
    let mut last_tap = Instant::now();
    wait_for(
        "the award in the queue",
        Duration::from_secs(120),
        || {
            let output = kiosk.command().args(["queue", "list"]).output().expect("queue list");
            *listing.borrow_mut() = String::from_utf8_lossy(&output.stdout).into_owned();
            if listing.borrow().lines().count() > 1 {
                return true;
            }
            if last_tap.elapsed() > Duration::from_secs(3) {
                xdotool(
                    &display,
                    &["mousemove", "--window", &window, "640", "250", "click", "1"],
                );
                last_tap = Instant::now();
            }
            false
        },
        || format!("the queue:\n{}\n{}", listing.borrow(), kiosk_said()),
    );
    let listing = listing.into_inner();
    assert!(listing.contains("attended"), "{listing}");
    let verified = kiosk
        .command()
        .args(["queue", "verify"])
        .output()
        .expect("queue verify");
    assert!(
        verified.status.success(),
        "the queued award is signed: {}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

/// A kiosk board without a screen (or without the KMS driver) must say what to check,
/// not panic or hang. Only meaningful where no DRM device exists, as on CI machines.
#[test]
fn linuxkms_without_a_display_says_what_to_check() {
    if std::path::Path::new("/dev/dri").exists() {
        eprintln!("skipped: this machine has a DRM device, the kiosk would take the screen");
        return;
    }
    let kiosk = TestKiosk::demo();
    let output = kiosk
        .command()
        .env("SLINT_BACKEND", "linuxkms-software")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args(["run", "--camera", "none"])
        .output()
        .expect("run badge-kiosk");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no display to show the kiosk on"), "{stderr}");
    assert!(stderr.contains("/dev/dri"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
