//! The kiosk as a person uses it: a real window under Xvfb, a visitor code typed the way
//! a USB keyboard-wedge scanner types it, a tap on the claim button, and a signed award in
//! the queue afterwards. Needs Xvfb and xdotool (skipped with a note when missing, a failure
//! under CI).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::helpers::TestKiosk;

/// Kills what it started, even when an assertion fails.
pub(crate) struct Processes(pub(crate) Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn xdotool(display: &str, args: &[&str]) -> String {
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
pub(crate) fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool, explain: impl Fn() -> String) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}\n{}", explain());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A kiosk in a real window under its own Xvfb, killed (with Xvfb) when dropped.
struct Session {
    /// Held for its `Drop`: the kiosk and Xvfb stop with the session.
    _processes: Processes,
    display: String,
    window: String,
    log: std::path::PathBuf,
}

impl Session {
    /// Starts Xvfb and `badge-kiosk run ARGS --size 800x480`, and waits for the window.
    fn start(kiosk: &TestKiosk, args: &[&str]) -> Session {
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
        let log = kiosk.dir.path().join("kiosk.log");
        let log_file = std::fs::File::create(&log).expect("kiosk log");
        processes.0.push(
            kiosk
                .command()
                .arg("run")
                .args(args)
                .args(["--size", "800x480"])
                .env("DISPLAY", &display)
                .env("SLINT_BACKEND", "winit-software")
                .env("BADGE_KIOSK_LANGUAGE", "en")
                // xdotool's keys reach the window late when the machine is busy; a scanner's
                // never do. The speed rule itself is tested with a simulated clock
                // (scan::wedge), so here any pause between keys still counts as one scan.
                .env("BADGE_KIOSK_WEDGE_MAX_GAP_MS", "5000")
                .env("BADGE_KIOSK_LOG", "badge_kiosk=info")
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("the kiosk starts"),
        );
        let said = || {
            format!(
                "the kiosk's log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        };
        let mut window = String::new();
        wait_for(
            "the kiosk window",
            Duration::from_secs(180),
            || {
                if let Ok(Some(status)) = processes.0[1].try_wait() {
                    panic!("the kiosk exited before showing its window ({status})\n{}", said());
                }
                window = xdotool(&display, &["search", "--onlyvisible", "--name", "badge-kiosk"]);
                !window.is_empty()
            },
            said,
        );
        let mut session = Session {
            _processes: processes,
            display,
            window: String::new(),
            log,
        };
        session.window = window.lines().next().unwrap_or_default().to_owned();
        // No window manager under Xvfb: give the window the keyboard ourselves.
        std::thread::sleep(Duration::from_millis(500));
        xdotool(&session.display, &["windowfocus", "--sync", &session.window]);
        session
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn said(&self) -> String {
        format!("the kiosk's log:\n{}", self.log_text())
    }

    /// Types a code the way a USB keyboard-wedge scanner does.
    fn wedge_scan(&self, code: &str) {
        xdotool(&self.display, &["windowfocus", "--sync", &self.window]);
        xdotool(&self.display, &["type", "--delay", "5", code]);
        xdotool(&self.display, &["key", "Return"]);
    }

    /// Taps "Send it to the email I registered with" (the first choice on the claim screen,
    /// right-hand column of the 800×480 layout) every few seconds until the queue holds
    /// `awards` awards. The claim screen opens once the code has been checked off the UI
    /// thread, so the first tap waits a moment; once the award is queued the kiosk has left
    /// the claim screen and no further tap is made. Returns `queue list`'s output.
    fn tap_until_queued(&self, kiosk: &TestKiosk, awards: usize) -> String {
        let listing = std::cell::RefCell::new(String::new());
        let mut last_tap = Instant::now();
        wait_for(
            &format!("award {awards} in the queue"),
            Duration::from_secs(120),
            || {
                let output = kiosk.command().args(["queue", "list"]).output().expect("queue list");
                *listing.borrow_mut() = String::from_utf8_lossy(&output.stdout).into_owned();
                if listing.borrow().lines().count() > awards {
                    return true;
                }
                if last_tap.elapsed() > Duration::from_secs(3) {
                    xdotool(
                        &self.display,
                        &["mousemove", "--window", &self.window, "640", "250", "click", "1"],
                    );
                    last_tap = Instant::now();
                }
                false
            },
            || format!("the queue:\n{}\n{}", listing.borrow(), self.said()),
        );
        let listing = listing.into_inner();
        assert_eq!(
            listing.lines().count(),
            awards + 1,
            "one award per claim (header + {awards} rows):\n{listing}"
        );
        listing
    }

    /// The window's pixels, through ImageMagick's `import`.
    fn screenshot(&self) -> Option<image::RgbImage> {
        let output = Command::new("import")
            .args(["-window", &self.window, "png:-"])
            .env("DISPLAY", &self.display)
            .output()
            .ok()?;
        image::load_from_memory(&output.stdout)
            .ok()
            .map(|image| image.to_rgb8())
    }
}

fn skip_without_x() -> bool {
    crate::helpers::skip_without(&[("Xvfb", "xvfb"), ("xdotool", "xdotool")])
}

/// `codes --demo` into the kiosk's folder; the codes of the registered demo visitors
/// (DEMO-0001, DEMO-0003, …) by registration, with their short ids.
fn registered_demo_codes(kiosk: &TestKiosk) -> Vec<(String, String, String)> {
    let codes_dir = kiosk.dir.path().join("codes");
    let made = kiosk
        .command()
        .args(["codes", "--demo", "--out"])
        .arg(&codes_dir)
        .output()
        .expect("codes");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let csv = std::fs::read_to_string(codes_dir.join("codes.csv")).expect("codes.csv");
    // short_id,role,holder,event,code
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let (short_id, holder, code) = (fields.first()?, fields.get(2)?, fields.last()?);
            holder
                .starts_with("DEMO-")
                .then(|| (holder.to_string(), short_id.to_string(), code.to_string()))
        })
        .collect()
}

#[test]
fn visitor_claims_with_a_wedge_scanner_and_a_tap() {
    if skip_without_x() {
        return;
    }
    let kiosk = TestKiosk::demo();
    let codes = registered_demo_codes(&kiosk);
    // The first demo visitor carries a registration (DEMO-0001).
    let (_, _, code) = codes
        .iter()
        .find(|(holder, _, _)| holder == "DEMO-0001")
        .expect("a registered demo visitor");
    let session = Session::start(&kiosk, &["--camera", "none"]);
    session.wedge_scan(code);
    let listing = session.tap_until_queued(&kiosk, 1);
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

/// A camera frame as the kiosk camera would see a ticket held up: `code` as a QR code on a
/// white card in a grey 1280×720 scene.
fn camera_frame(code: &str) -> image::RgbImage {
    let qr = qrcode::QrCode::new(code.as_bytes()).expect("the code fits a QR code");
    let modules = qr.width() as u32;
    let colors = qr.to_colors();
    let module = 5;
    let side = (modules + 8) * module;
    let (x0, y0) = ((1280 - side) / 2, (720 - side) / 2);
    image::RgbImage::from_fn(1280, 720, |x, y| {
        let inside = (x0..x0 + side).contains(&x) && (y0..y0 + side).contains(&y);
        if !inside {
            return image::Rgb([90, 96, 104]);
        }
        let (mx, my) = ((x - x0) / module, (y - y0) / module);
        let dark = (4..modules + 4).contains(&mx)
            && (4..modules + 4).contains(&my)
            && colors.get(((my - 4) * modules + (mx - 4)) as usize) == Some(&qrcode::Color::Dark);
        if dark {
            image::Rgb([25, 25, 30])
        } else {
            image::Rgb([235, 235, 228])
        }
    })
}

/// Fills the replay folder with frames of `code` (created if missing).
fn show_to_camera(folder: &std::path::Path, code: &str) {
    std::fs::create_dir_all(folder).expect("camera folder");
    let frame = camera_frame(code);
    for name in ["frame-1.png", "frame-2.png"] {
        frame.save(folder.join(name)).expect("frame written");
    }
}

/// Pixels of `shot` inside the rectangle (x, y, width, height) that `matches`.
fn count_pixels(shot: &image::RgbImage, area: (u32, u32, u32, u32), matches: impl Fn([u8; 3]) -> bool) -> usize {
    let (x0, y0, width, height) = area;
    shot.enumerate_pixels()
        .filter(|(x, y, p)| (x0..x0 + width).contains(x) && (y0..y0 + height).contains(y) && matches(p.0))
        .count()
}

/// The attract screen with the camera-trouble message, in the 800×480 layout: the yellow
/// "Scan your ticket" title (Theme.accent, #ffd23f) on the left and text in Theme.danger
/// (#ff6b6b) inside the camera area on the right, where the preview is when the camera works.
fn shows_camera_trouble(shot: &image::RgbImage) -> bool {
    let title = count_pixels(shot, (0, 100, 480, 140), |[r, g, b]| {
        r > 235 && (190..=225).contains(&g) && b < 90
    });
    let trouble = count_pixels(shot, (480, 80, 320, 400), |[r, g, b]| {
        r > 230 && (80..140).contains(&g) && (80..140).contains(&b)
    });
    title > 1000 && trouble > 300
}

#[test]
fn camera_folder_claims_survives_the_camera_going_away_and_resumes() {
    if skip_without_x() {
        return;
    }
    let kiosk = TestKiosk::demo();
    let codes = registered_demo_codes(&kiosk);
    let by_holder = |holder: &str| {
        codes
            .iter()
            .find(|(h, _, _)| h == holder)
            .map(|(_, short, code)| (short.clone(), code.clone()))
            .expect("a registered demo visitor")
    };
    let (first_short, first_code) = by_holder("DEMO-0001");
    let (wedge_short, wedge_code) = by_holder("DEMO-0003");
    let (back_short, back_code) = by_holder("DEMO-0005");
    let camera = kiosk.dir.path().join("camera");
    show_to_camera(&camera, &first_code);
    let camera_arg = camera.to_str().expect("a UTF-8 temporary path");
    let session = Session::start(&kiosk, &["--camera", camera_arg]);

    // 1. The camera sees the ticket: the claim screen opens and a tap queues the award.
    let listing = session.tap_until_queued(&kiosk, 1);
    assert!(listing.contains(&first_short), "the camera's visitor:\n{listing}");

    // 2. The camera goes away: the attract screen says so, and the wedge scanner still works.
    std::fs::remove_dir_all(&camera).expect("camera folder removed");
    wait_for(
        "the camera-trouble message",
        Duration::from_secs(120),
        || {
            session.log_text().contains("camera trouble")
                && session.screenshot().is_some_and(|shot| shows_camera_trouble(&shot))
        },
        || session.said(),
    );
    session.wedge_scan(&wedge_code);
    let listing = session.tap_until_queued(&kiosk, 2);
    assert!(listing.contains(&wedge_short), "the scanner's visitor:\n{listing}");

    // 3. The camera comes back: scanning resumes (and the message goes).
    show_to_camera(&camera, &back_code);
    let listing = session.tap_until_queued(&kiosk, 3);
    assert!(listing.contains(&back_short), "the camera's second visitor:\n{listing}");
    assert!(
        session.log_text().contains("camera working again"),
        "{}",
        session.said()
    );
    wait_for(
        "the camera-trouble message to go",
        Duration::from_secs(120),
        || session.screenshot().is_some_and(|shot| !shows_camera_trouble(&shot)),
        || session.said(),
    );
    let verified = kiosk
        .command()
        .args(["queue", "verify"])
        .output()
        .expect("queue verify");
    assert!(
        verified.status.success(),
        "{}",
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
