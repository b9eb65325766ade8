//! The foundation, end to end through the real binary.

use std::process::Command;

use crate::helpers::{require_tool, TestKiosk};

const DEMO_EVENT: &str = "finales-metiers-2026";

#[test]
fn event_init_codes_scan_claim_verify() {
    require_tool("zbarimg", "zbar-tools");
    require_tool("pdftoppm", "poppler-utils");
    let kiosk = TestKiosk::demo();
    let event_dir = kiosk.dir.path().join("salon");
    let out = kiosk.ok(&["event", "init", event_dir.to_str().unwrap(), "--id", "salon-2027"]);
    assert!(out.contains("public key fingerprint"), "{out}");
    // Refuses to overwrite.
    assert!(!kiosk
        .run(&["event", "init", event_dir.to_str().unwrap()])
        .status
        .success());
    let kiosk = TestKiosk {
        event: Some(event_dir.clone()),
        ..kiosk
    };
    // Phone claims need the event's public claim address (never the issuer's website).
    let event_toml = event_dir.join("event.toml");
    let text = std::fs::read_to_string(&event_toml).unwrap().replace(
        "# public_url = \"https://badges.example.org\"",
        "public_url = \"https://badges.example.org\"",
    );
    assert!(
        text.contains("\npublic_url = "),
        "event init writes the claim address commented out"
    );
    std::fs::write(&event_toml, text).unwrap();

    let print_dir = kiosk.dir.path().join("print");
    kiosk.ok(&[
        "codes",
        "--count",
        "100",
        "--staff",
        "all",
        "--organisers",
        "1",
        "--out",
        print_dir.to_str().unwrap(),
    ]);
    let codes: Vec<String> = std::fs::read_to_string(print_dir.join("codes.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 106);

    // Every code on the PDF decodes with an independent decoder (zbar): each label is cut
    // out of the rasterised page, as the printed sheet is cut.
    let raster = kiosk.dir.path().join("raster");
    std::fs::create_dir_all(&raster).unwrap();
    let dpi = 200.0;
    let status = Command::new("pdftoppm")
        .args(["-r", "200", "-gray", "-png"])
        .arg(print_dir.join("codes.pdf"))
        .arg(raster.join("page"))
        .status()
        .unwrap();
    assert!(status.success());
    let mut pages: Vec<_> = std::fs::read_dir(&raster).unwrap().map(|e| e.unwrap().path()).collect();
    pages.sort();
    let mut decoded = Vec::new();
    for (page_index, page) in pages.iter().enumerate() {
        let image = image::open(page).unwrap().to_luma8();
        for cell in 0..badge_kiosk::printing::LABELS_PER_PAGE {
            if page_index * badge_kiosk::printing::LABELS_PER_PAGE + cell >= codes.len() {
                break;
            }
            let (x, y, w, h) = badge_kiosk::printing::label_cell_mm(cell);
            let px = |mm: f64| (mm * dpi / 25.4).round() as u32;
            let label = image::imageops::crop_imm(&image, px(x), px(y), px(w), px(h)).to_image();
            let path = raster.join(format!("label-{page_index}-{cell}.png"));
            label.save(&path).unwrap();
            let output = Command::new("zbarimg")
                .args(["--raw", "-q", "-Sdisable", "-Sqrcode.enable"])
                .arg(&path)
                .output()
                .unwrap();
            decoded.push(String::from_utf8_lossy(&output.stdout).trim_end().to_owned());
        }
    }
    assert_eq!(decoded, codes, "every label, in order, decodes to its code");

    // `scan` decodes the PNG sheet with our own pipeline and verifies every code on it.
    let page = print_dir.join("codes-page-1.png");
    let out = kiosk.ok(&["scan", "--json", page.to_str().unwrap()]);
    let verdict: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(!verdict["codes"].as_array().unwrap().is_empty(), "{out}");
    assert!(
        verdict["codes"].as_array().unwrap().iter().all(|c| c["valid"] == true),
        "{out}"
    );

    // One character changed: refused as forged (or not a code at all), never accepted.
    let original = &codes[0];
    let mut forged: Vec<char> = original.chars().collect();
    let position = forged.len() / 2;
    forged[position] = if forged[position] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let output = kiosk.run(&["claim", &forged]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stdout).contains("refused"));

    // 100 claims, twice each: 100 awards, 100 "already claimed".
    let visitors: String = codes.iter().take(100).map(|c| format!("{c}\n")).collect();
    let claim = |input: &str| {
        let mut child = kiosk
            .command()
            .args(["claim", "-", "--phone"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let first = claim(&visitors);
    assert_eq!(first.matches("saved:").count(), 100, "{first}");
    let second = claim(&visitors);
    assert_eq!(second.matches("already claimed").count(), 100);
    let out = kiosk.ok(&["queue", "verify"]);
    assert!(out.starts_with("ok: 100 records"), "{out}");

    // Edit one row with sqlite3: `queue verify` names it. Then delete another.
    require_tool("sqlite3", "sqlite3");
    let queue = kiosk.queue_path("salon-2027");
    let sql = |statement: &str| {
        let status = Command::new("sqlite3").arg(&queue).arg(statement).status().unwrap();
        assert!(status.success());
    };
    sql("UPDATE records SET created_at_ms = created_at_ms + 1 WHERE sequence = 42");
    let output = kiosk.run(&["queue", "verify"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("record #42) was edited"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    sql("UPDATE records SET created_at_ms = created_at_ms - 1 WHERE sequence = 42");
    sql("DELETE FROM records WHERE sequence = 17");
    let output = kiosk.run(&["queue", "verify"]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("record #17 was deleted"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn staff_steps_complete_the_demo_pathway() {
    let kiosk = TestKiosk::demo();
    let print_dir = kiosk.dir.path().join("print");
    kiosk.ok(&["codes", "--demo", "--out", print_dir.to_str().unwrap()]);
    let codes = std::fs::read_to_string(print_dir.join("codes.txt")).unwrap();
    let visitor = codes.lines().next().unwrap();
    for stand in ["boulangerie", "patisserie", "cuisine"] {
        let out = kiosk.ok(&["step", visitor, "--stand", stand]);
        assert!(out.contains("recorded") && !out.contains("awarded"), "{out}");
    }
    let out = kiosk.ok(&["step", visitor, "--stand", "orientation"]);
    assert!(out.contains("pathway complete, badge awarded"), "{out}");
    let out = kiosk.ok(&["queue", "status"]);
    assert!(out.contains("awards food-pathway: 1"), "{out}");
    let export = kiosk.ok(&["queue", "export", "--format", "csv"]);
    assert_eq!(export.lines().count(), 6, "{export}");
    let _ = DEMO_EVENT;
}

#[test]
fn help_explains_the_demo_and_configuration() {
    let kiosk = TestKiosk::demo();
    let out = kiosk.ok(&["--help"]);
    assert!(out.contains("demo event") && out.contains("BADGE_KIOSK_"), "{out}");
}

#[test]
fn a_bad_event_file_names_file_and_line() {
    let kiosk = TestKiosk::demo();
    let dir = kiosk.dir.path().join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("event.toml"), "[event]\nid = \"x\"\nname.fr = 3\n").unwrap();
    let kiosk = TestKiosk {
        event: Some(dir),
        ..kiosk
    };
    let output = kiosk.run(&["event", "show"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("event.toml:3"), "{stderr}");
}

#[test]
fn a_kiosk_award_becomes_a_credential_the_dcc_verifier_accepts() {
    let kiosk = TestKiosk::demo();
    let print_dir = kiosk.dir.path().join("print");
    kiosk.ok(&["codes", "--demo", "--out", print_dir.to_str().unwrap()]);
    let code = std::fs::read_to_string(print_dir.join("codes.txt"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    kiosk.ok(&["claim", &code, "--email", "Zoë.O'Brien+badge@example.fr"]);
    let credential = kiosk.ok(&["credential", "show", "1", "--language", "en"]);
    let path = kiosk.dir.path().join("credential.json");
    std::fs::write(&path, &credential).unwrap();
    assert!(kiosk
        .ok(&["credential", "verify", path.to_str().unwrap()])
        .starts_with("valid"));
    let harness = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dcc");
    assert!(
        harness.join("node_modules").is_dir(),
        "run `npm ci --prefix tests/dcc` first"
    );
    let output = Command::new("node")
        .arg(harness.join("verify.mjs"))
        .arg(&path)
        .output()
        .unwrap();
    let verdict: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(verdict["verified"], true, "{verdict}");
    // One changed character in the badge name: both verifiers refuse it.
    std::fs::write(&path, credential.replacen("attended", "attendee", 1)).unwrap();
    assert!(!kiosk
        .run(&["credential", "verify", path.to_str().unwrap()])
        .status
        .success());
    let output = Command::new("node")
        .arg(harness.join("verify.mjs"))
        .arg(&path)
        .output()
        .unwrap();
    let verdict: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(verdict["verified"], false, "{verdict}");
}
