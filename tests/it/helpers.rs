//! Shared helpers: run the real binary in a temporary kiosk, paths to shared data.

use std::path::PathBuf;
use std::process::{Command, Output};

use badge_kiosk::domain::clock::Clock;

/// The fixed "now" of the tests that must not depend on the machine's clock.
pub const NOW_MS: i64 = 1_795_000_000_000;

/// [`NOW_MS`] as a hub's clock function.
pub fn fixed_now_ms() -> i64 {
    NOW_MS
}

/// [`NOW_MS`] as a kiosk's clock.
pub struct FixedClock;
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        NOW_MS
    }
}

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
        badge_kiosk::datadir::queue_path(&self.data_dir(), event_id)
    }
}

pub fn require_tool(tool: &str, package: &str) {
    assert!(
        tool_installed(tool),
        "{tool} is missing: install the Debian package {package} (scripts/setup-debian.sh --test does)"
    );
}

/// Whether a test that needs these tools (name, Debian package) must be skipped here: on a
/// developer's machine without them it says so and skips; under CI (`CI` set) a missing
/// tool fails the test, so a suite cannot pass by not running it.
pub fn skip_without(tools: &[(&str, &str)]) -> bool {
    let missing: Vec<&(&str, &str)> = tools.iter().filter(|(tool, _)| !tool_installed(tool)).collect();
    if missing.is_empty() {
        return false;
    }
    if std::env::var_os("CI").is_some() {
        for (tool, package) in missing {
            require_tool(tool, package);
        }
        return false;
    }
    let packages: Vec<&str> = missing.iter().map(|(_, package)| *package).collect();
    eprintln!(
        "skipped: needs {} (apt-get install {})",
        packages.join(", "),
        packages.join(" ")
    );
    true
}

fn tool_installed(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The runtime of the tests that run a hub or sync: two workers, as on a CI machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A real hub serving on loopback until `stop` is sent or dropped.
pub struct LoopbackHub {
    /// "127.0.0.1:PORT".
    pub address: String,
    pub state: badge_kiosk::hub::server::SharedHub,
    pub stop: tokio::sync::oneshot::Sender<()>,
    /// The SHA-256 of the hub's TLS certificate when it serves HTTPS (see [`start_hub_tls`]).
    pub tls_pin: Option<[u8; 32]>,
}

impl LoopbackHub {
    pub fn url(&self) -> String {
        match self.tls_pin {
            Some(_) => format!("https://{}", self.address),
            None => format!("http://{}", self.address),
        }
    }

    /// A signed enrolment code for `kiosks` kiosks, valid `minutes` on the hub's clock.
    pub fn enrolment_code(&self, kiosks: u32, minutes: i64) -> badge_kiosk::domain::enrolment::EnrolmentCode {
        let now = (self.state.clock)();
        let text = self
            .state
            .new_enrolment_code(kiosks, minutes * 60_000, now)
            .expect("the hub makes an enrolment code");
        badge_kiosk::domain::enrolment::EnrolmentCode::parse(&text).expect("the code parses")
    }
}

/// Starts the hub of `event` on `db`, telling the time with `clock` (milliseconds), in
/// explicit plain-HTTP mode (`hub serve --insecure-http`): for the tests about something
/// else than transport. The attack suite and the enrolment tests use [`start_hub_tls`].
pub fn start_hub(
    runtime: &tokio::runtime::Runtime,
    db: &std::path::Path,
    event: &badge_kiosk::eventdir::EventDir,
    clock: impl Fn() -> i64 + Send + Sync + 'static,
) -> LoopbackHub {
    start_hub_with(runtime, db, event, clock, None)
}

/// Starts the hub serving HTTPS with its own certificate, as `hub serve` does by default;
/// kiosks pin it through the signed enrolment code.
pub fn start_hub_tls(
    runtime: &tokio::runtime::Runtime,
    db: &std::path::Path,
    event: &badge_kiosk::eventdir::EventDir,
    clock: impl Fn() -> i64 + Send + Sync + 'static,
) -> LoopbackHub {
    let identity = badge_kiosk::hub::tls::HubIdentity::ephemeral().expect("a TLS identity");
    start_hub_with(runtime, db, event, clock, Some(identity))
}

fn start_hub_with(
    runtime: &tokio::runtime::Runtime,
    db: &std::path::Path,
    event: &badge_kiosk::eventdir::EventDir,
    clock: impl Fn() -> i64 + Send + Sync + 'static,
    identity: Option<badge_kiosk::hub::tls::HubIdentity>,
) -> LoopbackHub {
    use badge_kiosk::hub::server::{serve, serve_tls, HubState};
    let store =
        badge_kiosk::hub::store::HubStore::open(db, event.definition.clone()).expect("the hub's database opens");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let address = listener.local_addr().expect("the port's address").to_string();
    let scheme = if identity.is_some() { "https" } else { "http" };
    let mut state =
        HubState::new(store, event, &format!("{scheme}://{address}"), Box::new(clock)).expect("the hub starts");
    if let Some(identity) = &identity {
        state = state.pinned(identity.pin);
    }
    let state = std::sync::Arc::new(state);
    let stopped = async {
        let _ = stopped.await;
    };
    let tls_pin = identity.as_ref().map(|identity| identity.pin);
    match identity {
        Some(identity) => {
            let served = std::sync::Arc::clone(&state);
            runtime.spawn(async move { serve_tls(listener, served, &identity, stopped).await });
        }
        None => {
            runtime.spawn(serve(listener, std::sync::Arc::clone(&state), stopped));
        }
    }
    LoopbackHub {
        address,
        state,
        stop,
        tls_pin,
    }
}

/// Sync settings for a kiosk of `event` (its certificate), trusting the event's keys and
/// signing bundle requests with its device key.
pub fn kiosk_sync_settings(
    hub_url: &str,
    core: &badge_kiosk::kiosk::KioskCore,
) -> badge_kiosk::sync::client::SyncSettings {
    let certificate = hex::encode(core.certificate().to_bytes().expect("the certificate encodes"));
    badge_kiosk::sync::client::SyncSettings::new(hub_url, &core.definition().event.id, &certificate)
        .trusting(core.definition().public_keys())
        .signing_with(core.device_key().clone())
}

/// A page of `hub`'s organiser console as a logged-in organiser (a session opened in the
/// hub directly, as `POST /login` does): (status, body).
pub fn console_page(runtime: &tokio::runtime::Runtime, hub: &LoopbackHub, path: &str) -> (u16, String) {
    let (session, _) = hub.state.console.sessions.open((hub.state.clock)());
    let mut client = reqwest::Client::builder();
    if let Some(pin) = hub.tls_pin {
        client = client.use_preconfigured_tls(badge_kiosk::sync::pinning::pinned_client_config(pin));
    }
    let client = client.build().expect("an HTTP client");
    runtime.block_on(async {
        let response = client
            .get(format!("{}{path}", hub.url()))
            .header(
                "cookie",
                format!("{}={session}", badge_kiosk::hub::web::console::auth::SESSION_COOKIE),
            )
            .send()
            .await
            .expect("the console answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("the console's page"))
    })
}

/// A visitor's code signed with the event's key and valid at any time, carrying the
/// registration reference `holder` when given.
pub fn visitor_code(event: &badge_kiosk::eventdir::EventDir, holder: Option<&str>) -> String {
    use badge_kiosk::domain::code::{AttendanceCode, CodeClaims, CodeId, Role};
    let claims = CodeClaims {
        code_id: CodeId::random(),
        role: Role::Visitor,
        holder: holder.map(str::to_owned),
        valid_from: 0,
        valid_until: u32::MAX,
    };
    let key = event.event_key.as_ref().expect("the event's secret key");
    AttendanceCode::sign(&event.definition.event.id, key, claims)
        .expect("a visitor code signs")
        .to_text()
}

/// The bytes of a visitor code for `code_id` (what version 2 records carry), signed with
/// the event's key.
pub fn signed_code_bytes(event: &badge_kiosk::eventdir::EventDir, code_id: [u8; 10], holder: Option<&str>) -> Vec<u8> {
    use badge_kiosk::domain::code::{AttendanceCode, CodeClaims, CodeId, Role, CODE_PREFIX};
    let claims = CodeClaims {
        code_id: CodeId(code_id),
        role: Role::Visitor,
        holder: holder.map(str::to_owned),
        valid_from: 0,
        valid_until: u32::MAX,
    };
    let key = event.event_key.as_ref().expect("the event's secret key");
    let text = AttendanceCode::sign(&event.definition.event.id, key, claims)
        .expect("a visitor code signs")
        .to_text();
    badge_kiosk::domain::base32::decode(text.strip_prefix(CODE_PREFIX).expect("a BK code")).expect("base32")
}
