//! Renders every screen, French and English, at the sizes a kiosk meets, into
//! target/screenshots/ (or $SCREENSHOT_DIR) with Slint's software renderer (no display
//! needed). Run by `scripts/screenshots`, which copies the ones the README shows into
//! docs/screenshots/; ignored in normal test runs because it writes files.

use std::rc::Rc;

use badge_kiosk::domain::event::Language;
use badge_kiosk::ui;
use badge_kiosk::{EnrolFailure, EnrolState, ScreenId};
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, PhysicalSize, Rgb8Pixel};

use super::{unlock_staff, Kiosk};

struct Offscreen(Rc<MinimalSoftwareWindow>);

impl Platform for Offscreen {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.0.clone())
    }
}

const SIZES: [(u32, u32); 3] = [(800, 480), (1920, 1080), (480, 800)];

/// Saves the kiosk's current screen in both languages at every size, showing the enrolment
/// screen with `enrolment` when given.
fn render_all(
    kiosk: &Kiosk,
    window: &MinimalSoftwareWindow,
    name: &str,
    out: &std::path::Path,
    enrolment: Option<&ui::EnrolmentView>,
) {
    for language in [Language::Fr, Language::En] {
        let mut view = kiosk.controller.view();
        view.language = language;
        ui::apply(&kiosk.window, &view);
        if let Some(enrolment) = enrolment {
            ui::apply_enrolment(&kiosk.window, enrolment);
        }
        for (width, height) in SIZES {
            save_frame(
                window,
                width,
                height,
                &out.join(format!("{name}-{}-{width}x{height}.png", language.code())),
            );
        }
    }
    ui::apply(&kiosk.window, &kiosk.controller.view());
}

#[test]
#[ignore = "writes every screen into SCREENSHOT_DIR; run scripts/screenshots"]
fn render_screenshots() {
    let out = std::path::PathBuf::from(
        std::env::var("SCREENSHOT_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/screenshots").into()),
    );
    std::fs::create_dir_all(&out).expect("screenshot dir");
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    slint::platform::set_platform(Box::new(Offscreen(window.clone()))).expect("offscreen platform");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut kiosk = Kiosk::open(dir, |_| {}, None);
    kiosk.window.show().expect("show");
    let shot = |kiosk: &Kiosk, name: &str| render_all(kiosk, &window, name, &out, None);

    shot(&kiosk, "attract");
    let registered = kiosk.registered_visitor();
    kiosk.scan(&registered);
    shot(&kiosk, "claim");
    kiosk.tap("Send it to the email I registered with");
    shot(&kiosk, "done");
    kiosk.tap("Finish");
    kiosk.scan(&registered);
    shot(&kiosk, "refusal");
    kiosk.tap("OK");

    let anonymous = kiosk.anonymous_visitor(0);
    kiosk.scan(&anonymous);
    shot(&kiosk, "claim-no-registration");
    kiosk.tap("Type an email address");
    kiosk.type_on_keyboard("marie.dupont@");
    kiosk.tap("gmail.com");
    shot(&kiosk, "email");
    kiosk.tap("Next");
    shot(&kiosk, "email-confirm");
    kiosk.tap("Change it");
    kiosk.tap("Back");
    kiosk.tap("Take it on my phone (QR code)");
    shot(&kiosk, "done-phone");
    kiosk.tap("Finish");

    let card = kiosk.staff_card("cuisine");
    kiosk.scan(&card);
    kiosk.tap("1");
    kiosk.tap("2");
    shot(&kiosk, "pin");
    kiosk.tap("3");
    kiosk.tap("4");
    shot(&kiosk, "staff");
    for stand in ["boulangerie", "patisserie", "orientation"] {
        kiosk.tap("Lock");
        unlock_staff(&mut kiosk, stand);
        kiosk.scan(&registered);
    }
    kiosk.tap("Lock");
    unlock_staff(&mut kiosk, "cuisine");
    kiosk.scan(&registered);
    shot(&kiosk, "staff-awarded");
    let other = kiosk.anonymous_visitor(1);
    kiosk.scan(&other);
    shot(&kiosk, "staff-progress");
    kiosk.tap("Lock");

    let organiser = kiosk.organiser_card();
    kiosk.scan(&organiser);
    for digit in ["2", "4", "6", "8"] {
        kiosk.tap(digit);
    }
    kiosk.tap("Export to USB stick");
    shot(&kiosk, "organiser");
    kiosk.tap("Lock");

    for _ in 0..3 {
        kiosk.scan(&organiser);
        for digit in ["0", "0", "0", "0"] {
            kiosk.tap(digit);
        }
        if kiosk.screen() == ScreenId::Pin {
            kiosk.tap("Cancel");
        }
    }
    assert_eq!(kiosk.screen(), ScreenId::Locked);
    shot(&kiosk, "locked");

    // The first-boot screen of a packaged kiosk, waiting and after a refused code.
    let enrolment = |state, failure| ui::EnrolmentView {
        state,
        failure,
        detail: String::new(),
        kiosk_id: "hall-a-entrance".into(),
    };
    render_all(
        &kiosk,
        &window,
        "enrol",
        &out,
        Some(&enrolment(EnrolState::Waiting, EnrolFailure::default())),
    );
    render_all(
        &kiosk,
        &window,
        "enrol-refused",
        &out,
        Some(&enrolment(EnrolState::Failed, EnrolFailure::Refused)),
    );
}

fn save_frame(window: &MinimalSoftwareWindow, width: u32, height: u32, file: &std::path::Path) {
    window.set_size(PhysicalSize::new(width, height));
    slint::platform::update_timers_and_animations();
    let mut pixels = vec![Rgb8Pixel::new(0, 0, 0); (width * height) as usize];
    window.request_redraw();
    window.draw_if_needed(|renderer| {
        renderer.render(&mut pixels, width as usize);
    });
    let bytes: Vec<u8> = pixels.iter().flat_map(|p| [p.r, p.g, p.b]).collect();
    image::save_buffer(file, &bytes, width, height, image::ColorType::Rgb8).expect("write png");
}
