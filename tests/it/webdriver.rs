//! A small WebDriver client (the W3C protocol over reqwest) driving Debian's headless
//! Chromium through chromedriver, plus axe-core injection. Waits are for conditions, with
//! generous timeouts that only fail when something is truly stuck.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::require_tool;

/// The generous wait for anything the browser or the hub does.
pub const PATIENCE: Duration = Duration::from_secs(90);

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and one Chromium session, both ended when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let http = self.http.clone();
        let _ = self.runtime.block_on(async move { http.delete(url).send().await });
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

impl Browser {
    /// Headless Chromium at 1280×800, English first (the console follows Accept-Language).
    pub fn start() -> Self {
        require_tool("chromedriver", "chromium-driver");
        require_tool("chromium", "chromium");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for WebDriver calls");
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log.reopen().map(Stdio::from).unwrap_or_else(|_| Stdio::null()))
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(PATIENCE)
            .build()
            .expect("an HTTP client");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ready = runtime.block_on(async {
                let answer = http.get(format!("{base}/status")).send().await.ok()?;
                answer.json::<Value>().await.ok()
            });
            if ready.as_ref().and_then(|v| v["value"]["ready"].as_bool()) == Some(true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("a Chromium profile directory");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--lang=en-US", "--window-size=1280,800", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {"intl.accept_languages": "en-US,en"},
            },
        }}});
        let answer: Value = runtime.block_on(async {
            http.post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
                .expect("chromedriver answers")
                .json()
                .await
                .expect("a JSON answer")
        });
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no Chromium session: {answer}"))
            .to_owned();
        let _ = log;
        Self {
            driver,
            base,
            session,
            http,
            runtime,
            _profile: profile,
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = self.http.request(method, url);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let answer: Value = self.runtime.block_on(async {
            request
                .send()
                .await
                .expect("chromedriver answers")
                .json()
                .await
                .expect("a JSON answer")
        });
        answer
    }

    fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let answer = self.call(method, path, body);
        assert!(
            answer["value"].get("error").is_none(),
            "WebDriver {path}: {}",
            answer["value"]
        );
        answer["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.ok(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.ok(reqwest::Method::GET, "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching `css`, waiting for it to appear.
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let answer = self.call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            if let Some(id) = answer["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(Instant::now() < deadline, "no element {css} on {}", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.ok(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({})));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.ok(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(json!({})));
        self.ok(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Chooses a file for an `<input type="file">`.
    pub fn choose_file(&self, css: &str, path: &Path) {
        let id = self.find(css);
        self.ok(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": path.display().to_string() })),
        );
    }

    pub fn script(&self, script: &str, args: Value) -> Value {
        self.ok(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// A script that calls `arguments[arguments.length - 1]` with its answer.
    pub fn script_async(&self, script: &str, args: Value) -> Value {
        self.ok(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The text of the first element matching `css` (waiting for it), or "".
    pub fn text(&self, css: &str) -> String {
        self.find(css);
        self.script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until the text of `css` satisfies `done`; returns it.
    pub fn wait_for_text(&self, css: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self
                .script(
                    "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
                    json!([css]),
                )
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {css} shows {text:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn cdp(&self, command: &str, params: Value) -> Value {
        self.ok(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({ "cmd": command, "params": params })),
        )
    }

    /// The viewport: desktop (1280×800) or phone (390×844, touch, mobile).
    pub fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    /// A PNG of the whole page (up to 3,000 px tall) at the current viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let metrics = self.cdp("Page.getLayoutMetrics", json!({}));
        let width = metrics["cssContentSize"]["width"].as_f64().unwrap_or(1280.0);
        let height = metrics["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(800.0)
            .min(3000.0);
        let shot = self.cdp(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("a base64 screenshot")
    }

    /// Runs axe-core on the page: (rule, impact, nodes, help) of every violation.
    pub fn axe(&self, axe_source: &str) -> Vec<(String, String, usize, String)> {
        self.script(axe_source, json!([]));
        let answer = self.script_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done(r.violations.map(v => [v.id, v.impact || '', v.nodes.length,
                                                      v.help + ' ' + JSON.stringify(v.nodes.slice(0, 2).map(n => n.target))])))
               .catch(e => done([['axe-error', 'critical', 1, String(e)]]));",
            json!([]),
        );
        answer
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                (
                    v[0].as_str().unwrap_or_default().to_owned(),
                    v[1].as_str().unwrap_or_default().to_owned(),
                    v[2].as_u64().unwrap_or(0) as usize,
                    v[3].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// axe-core's source from tests/browser (installed by `npm ci --prefix tests/browser`).
pub fn axe_source() -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/browser/node_modules/axe-core/axe.min.js",
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run `npm ci --prefix tests/browser` (scripts/test does)",
            path.display()
        )
    })
}
