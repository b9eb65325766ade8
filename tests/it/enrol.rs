//! Enrolment and event bundles through the real binaries: a hub on loopback (plain HTTP
//! and HTTPS with a venue CA), kiosks enrolled by code, revocations and event changes
//! reaching them at their next sync, forged or expired enrolment refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::helpers::{binary, require_tool, TestKiosk};

/// A hub process, killed when dropped (the relay tests start one too).
pub(crate) struct Hub {
    child: Child,
    pub(crate) url: String,
    event: PathBuf,
    data: PathBuf,
    /// Environment for the hub and its commands (e.g. a shifted clock).
    env: Vec<(String, String)>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Hub {
    pub(crate) fn start(event: &Path, data: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(event, data, extra, &[])
    }

    /// [`Hub::start`] with `env` set for the hub and every `hub …` command run through it.
    pub(crate) fn start_with_env(event: &Path, data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(data).unwrap();
        // A file, not a pipe: the hub must never die of a reader that went away.
        let log_path = data.join(format!(
            "hub-{}.log",
            std::time::SystemTime::now()
                .elapsed()
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(binary())
            .env_remove("BADGE_KIOSK_CONFIG")
            .arg("--event")
            .arg(event)
            .args(["hub", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .envs(env.iter().copied())
            .stderr(log)
            .stdout(Stdio::null())
            .spawn()
            .expect("hub starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let banner = loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            // The second line appears once the hub is about to serve.
            if text.contains("enrol kiosks from this computer") {
                break text;
            }
            assert!(std::time::Instant::now() < deadline, "the hub did not start: {text}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        // "hub for event E listening on http://127.0.0.1:PORT; kiosks reach it at …"
        let url = banner
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("unexpected hub banner: {banner}"))
            .to_owned();
        Self {
            child,
            url,
            event: event.to_owned(),
            data: data.to_owned(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary())
            .env_remove("BADGE_KIOSK_CONFIG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("--event")
            .arg(&self.event)
            .arg("hub")
            .args(args)
            .arg("--data")
            .arg(&self.data)
            .output()
            .expect("hub command")
    }

    pub(crate) fn enrol_code(&self, extra: &[&str]) -> String {
        let mut args = vec!["enrol-token", "--hub-url", self.url.as_str()];
        args.extend_from_slice(extra);
        let output = self.command(&args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn organiser_event(root: &Path) -> (PathBuf, Vec<String>) {
    let organiser = TestKiosk::demo();
    let event = root.join("event");
    organiser.ok(&["event", "init", event.to_str().unwrap(), "--id", "salon-enrol"]);
    let print = root.join("print");
    let made = Command::new(binary())
        .env_remove("BADGE_KIOSK_CONFIG")
        .arg("--event")
        .arg(&event)
        .args(["codes", "--count", "5", "--out"])
        .arg(&print)
        .output()
        .expect("codes");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let codes = std::fs::read_to_string(print.join("codes.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (event, codes)
}

/// A kiosk with no event of its own: what it runs comes from enrolment.
fn blank_kiosk() -> TestKiosk {
    TestKiosk::demo()
}

#[test]
fn an_enrolled_kiosk_syncs_and_receives_revocations_and_event_changes() {
    let root = tempfile::tempdir().unwrap();
    let (event, codes) = organiser_event(root.path());
    let hub = Hub::start(&event, &root.path().join("hub"), &[]);
    let code = hub.enrol_code(&["--kiosks", "2"]);

    // A packaged kiosk waits for enrolment instead of running the demo event.
    let kiosk = blank_kiosk();
    let waiting = kiosk
        .command()
        .env("BADGE_KIOSK_ENROL", "1")
        .args(["claim", &codes[0]])
        .output()
        .unwrap();
    assert!(!waiting.status.success());
    assert!(
        String::from_utf8_lossy(&waiting.stderr).contains("not enrolled"),
        "{}",
        String::from_utf8_lossy(&waiting.stderr)
    );

    let enrolled = kiosk.ok(&["--kiosk-id", "hall-a", "enrol", &code]);
    assert!(enrolled.contains("enrolled as hall-a"), "{enrolled}");
    assert!(kiosk.data_dir().join("event/event.toml").exists());
    // Enrolled kiosks never hold the event key.
    assert!(!kiosk.data_dir().join("event/event.key").exists());
    assert!(kiosk.ok(&["claim", &codes[0]]).contains("saved"));
    let synced = kiosk.ok(&["sync"]);
    assert!(synced.contains("synced 1"), "{synced}");

    // The organiser revokes a ticket and adds a stand on the hub's machine.
    let revoked = hub.command(&["revoke", &codes[1], "--reason", "lost ticket"]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    let toml_path = event.join("event.toml");
    let toml = std::fs::read_to_string(&toml_path).unwrap();
    std::fs::write(
        &toml_path,
        format!("{toml}\n[[stand]]\nid = \"late-stand\"\nname.fr = \"Stand ajouté\"\nname.en = \"Added stand\"\n"),
    )
    .unwrap();
    drop(hub);
    let hub = Hub::start(&event, &root.path().join("hub"), &[]);

    let synced = kiosk.ok(&["sync", "--hub", &hub.url]);
    assert!(synced.contains("1 new revoked code, event updated"), "{synced}");
    let refused = kiosk.run(&["claim", &codes[1]]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stdout(&refused).contains("cancelled") || String::from_utf8_lossy(&refused.stderr).contains("cancelled"));
    let shown = kiosk.ok(&["event", "show"]);
    assert!(shown.contains("late-stand"), "{shown}");
    // Codes not revoked still work, and records keep verifying.
    assert!(kiosk.ok(&["claim", &codes[2]]).contains("saved"));
    kiosk.ok(&["queue", "verify"]);
}

#[test]
fn enrolment_refuses_expired_used_up_and_foreign_codes() {
    let root = tempfile::tempdir().unwrap();
    let (event, _) = organiser_event(root.path());
    let hub = Hub::start(&event, &root.path().join("hub"), &[]);

    let single = hub.enrol_code(&["--kiosks", "1"]);
    blank_kiosk().ok(&["--kiosk-id", "a", "enrol", &single]);
    let second = blank_kiosk().run(&["--kiosk-id", "b", "enrol", &single]);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("used-up"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    let expired = hub.enrol_code(&["--minutes", "0"]);
    let late = blank_kiosk().run(&["enrol", &expired]);
    assert!(!late.status.success());

    // A code naming another event key: whoever answers at that address is not trusted.
    let valid = hub.enrol_code(&[]);
    let (prefix, _) = valid.split_once("?key=").unwrap();
    let forged = format!("{prefix}?key=AAAA-BBBB-CCCC-DDDD");
    let fooled = blank_kiosk().run(&["enrol", &forged]);
    assert!(!fooled.status.success());
    let message = String::from_utf8_lossy(&fooled.stderr);
    assert!(message.contains("not signed by the event key"), "{message}");

    let garbage = blank_kiosk().run(&["enrol", "BK1234"]);
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("not an enrolment code"));
}

#[test]
fn hub_serves_https_to_kiosks_that_trust_the_venue_ca() {
    require_tool("openssl", "openssl");
    let root = tempfile::tempdir().unwrap();
    let tls = root.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl").current_dir(&tls).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    // A venue CA and the hub's certificate for 127.0.0.1, as an organiser would make them.
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=Venue CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=hub",
        "-keyout",
        "hub.key",
        "-out",
        "hub.csr",
    ]);
    std::fs::write(tls.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "hub.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "san.ext",
        "-out",
        "hub.pem",
    ]);

    let (event, codes) = organiser_event(root.path());
    let hub = Hub::start(
        &event,
        &root.path().join("hub"),
        &[
            "--tls-certificate",
            tls.join("hub.pem").to_str().unwrap(),
            "--tls-key",
            tls.join("hub.key").to_str().unwrap(),
        ],
    );
    assert!(hub.url.starts_with("https://127.0.0.1:"), "{}", hub.url);
    let code = hub.enrol_code(&[]);

    // Without the venue CA the kiosk refuses the hub's certificate.
    let kiosk = blank_kiosk();
    let untrusted = kiosk.run(&["enrol", &code]);
    assert!(!untrusted.status.success());

    let ca = tls.join("ca.pem");
    let with_ca = |args: &[&str]| {
        let output = kiosk
            .command()
            .env("BADGE_KIOSK_HUB_CA", &ca)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}{}",
            stdout(&output),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout(&output)
    };
    assert!(with_ca(&["enrol", &code]).contains("enrolled"));
    assert!(with_ca(&["claim", &codes[0]]).contains("saved"));
    assert!(with_ca(&["sync"]).contains("synced 1"));
    let status = hub.command(&["status"]);
    assert!(stdout(&status).contains("awards attended: 1"), "{}", stdout(&status));
}
