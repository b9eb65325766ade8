//! What the console keeps inside the hub's shared state (`hub::state::HubState`): its
//! settings, sessions, login limits and issue runs. Apart from the handlers in `mod.rs`, so
//! the hub's state can hold it without depending on the handlers that take that state.

use std::path::PathBuf;

use super::auth;
use super::issue_run::{self, IssuerSetup};

/// How `hub serve` (or a test) sets the console up.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// The hub's data directory, holding the organiser password's hash. None: no
    /// password can be set, the console stays closed.
    pub data_dir: Option<PathBuf>,
    /// The hub's database file, opened a second time for "Issue now".
    pub database: Option<PathBuf>,
    /// Served over HTTPS: the session cookie is `Secure`.
    pub https: bool,
    /// Host names the console answers to besides IP literals, `localhost` and the host of
    /// the hub's public URL (`hub serve --console-host`).
    pub host_names: Vec<String>,
    /// The badge platform "Issue now" sends to.
    pub issuer: Option<IssuerSetup>,
}

/// The console's state inside `HubState`.
#[derive(Debug, Default)]
pub struct Console {
    pub settings: ConsoleSettings,
    pub sessions: auth::Sessions,
    pub login_limiter: auth::LoginLimiter,
    pub issue_runs: issue_run::IssueRuns,
}

impl Console {
    pub fn new(settings: ConsoleSettings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// The command that sets the organiser password for this hub.
    pub fn passwd_command(&self) -> String {
        let data = self
            .settings
            .data_dir
            .as_ref()
            .map_or_else(|| "DIR".to_owned(), |dir| dir.display().to_string());
        format!("badge-kiosk hub passwd --data {data}")
    }
}
