//! Shared helpers: run the real binary in a temporary kiosk, paths to shared data.

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_badge-kiosk"))
}

/// A kiosk with its own data directory (and the demo event unless `event` is given).
pub struct TestKiosk {
    pub dir: tempfile::TempDir,
    pub event: Option<PathBuf>,
}

impl TestKiosk {
    pub fn demo() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            event: None,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(binary());
        command
            .env_remove("BADGE_KIOSK_CONFIG")
            .env("HOME", self.dir.path())
            .arg("--data-dir")
            .arg(self.data_dir());
        if let Some(event) = &self.event {
            command.arg("--event").arg(event);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run badge-kiosk")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "badge-kiosk {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn queue_path(&self, event_id: &str) -> PathBuf {
        self.data_dir().join(event_id).join("queue.sqlite")
    }
}

pub fn require_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is missing: install the Debian package {package} (scripts/setup-debian.sh --test does)"
    );
}
