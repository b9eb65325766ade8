//! Issue 25, "into a wallet app from the claim page", against the real `hub serve` over
//! HTTPS with a venue CA's certificate (`--tls-certificate`):
//!
//! - the Learner Credential Wallet's VC-API exchange replayed with the JSON LCW sends, the
//!   DIDAuthentication presentation signed by the DCC libraries exactly as LCW's
//!   `composeVp` signs it (`tests/wallet/lcw-present.mjs`), refused for a wrong challenge,
//!   domain or signature;
//! - a full OpenID4VCI 1.0 pre-authorized code flow driven by `@openid4vc/openid4vci`
//!   (`tests/wallet/oid4vci-client.mjs`), EdDSA with a did:key kid and ES256 with a jwk
//!   header; a code used twice is `invalid_grant`, an expired offer, a wrong nonce and a
//!   proof for another audience are refused;
//! - every credential a wallet took verified by the DCC verifier (`tests/dcc/verify.mjs`);
//! - a hub with its own self-signed certificate shows no wallet button and says why.
//!
//! Needs Node.js ≥ 20, openssl and `npm ci --prefix tests/wallet` and `--prefix tests/dcc`
//! (what `scripts/test` runs); fails loudly when they are missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use badge_kiosk::eventdir::EventDir;
use serde_json::{json, Value};

use crate::helpers::{binary, require_tool, visitor_code, TestKiosk};

fn harness(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(name)
}

/// Runs a Node script of a harness; fails loudly when its packages are missing.
fn node(dir: &str, module: &str, args: &[&str], env: &[(&str, &Path)]) -> String {
    let modules = harness(dir).join("node_modules").join(module);
    assert!(
        modules.is_dir(),
        "{} is missing: run `npm ci --prefix tests/{dir}` first (Node.js >= 20; needs the npm registry once)",
        modules.display()
    );
    let mut command = Command::new("node");
    command.current_dir(harness(dir)).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}); install Node.js >= 20"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        !stdout.trim().is_empty(),
        "node {args:?} printed nothing; stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The DCC verifier's verdict on a credential.
fn dcc_verifies(dir: &Path, name: &str, credential: &Value) -> Value {
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(credential).unwrap()).unwrap();
    let out = node(
        "dcc",
        "@digitalcredentials/vc",
        &["verify.mjs", file.to_str().unwrap()],
        &[],
    );
    serde_json::from_str(out.lines().next().unwrap()).unwrap()
}

/// A venue CA and the hub's certificate for 127.0.0.1, as an organiser would make them.
fn venue_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    require_tool("openssl", "openssl");
    std::fs::create_dir_all(dir).unwrap();
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl").current_dir(dir).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "30",
                "-subj",
                "/CN=Venue CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &["-subj", "/CN=hub", "-keyout", "hub.key", "-out", "hub.csr"],
        ]
        .concat(),
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
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
    (dir.join("ca.pem"), dir.join("hub.pem"), dir.join("hub.key"))
}

/// A free loopback port, and the demo event whose public claim address is the hub there.
fn event(dir: &Path) -> (EventDir, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let demo = EventDir::demo(dir).expect("the demo event");
    let path = demo.dir.join("event.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let public = toml.replace("https://claim.example.org", &format!("https://127.0.0.1:{port}"));
    assert_ne!(toml, public, "the demo event's [claim] section moved");
    std::fs::write(&path, public).unwrap();
    (EventDir::load(&demo.dir).unwrap(), port)
}

/// A `hub serve` process; killed when dropped.
struct ServedHub {
    child: Child,
    url: String,
    event: PathBuf,
    data: PathBuf,
}

impl Drop for ServedHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServedHub {
    fn start(event: &Path, data: &Path, port: u16, extra: &[&str]) -> Self {
        std::fs::create_dir_all(data).unwrap();
        let log = data.join("serve.log");
        let child = Command::new(binary())
            .env_remove("BADGE_KIOSK_CONFIG")
            .arg("--event")
            .arg(event)
            .args(["hub", "serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .args(extra)
            .stderr(std::fs::File::create(&log).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .expect("hub starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        let banner = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("enrol kiosks from this computer") {
                break text;
            }
            assert!(Instant::now() < deadline, "the hub did not start: {text}");
            std::thread::sleep(Duration::from_millis(20));
        };
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
        }
    }

    fn hub(&self, args: &[&str]) -> String {
        let output = Command::new(binary())
            .env_remove("BADGE_KIOSK_CONFIG")
            .arg("--event")
            .arg(&self.event)
            .arg("hub")
            .args(args)
            .arg("--data")
            .arg(&self.data)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// A phone claim at a kiosk, brought to the hub's data directory by USB export: the token.
fn claim_on_hub(root: &Path, event: &EventDir, hub_data: &Path) -> Vec<String> {
    let kiosk = TestKiosk {
        dir: tempfile::tempdir_in(root).unwrap(),
        event: Some(event.dir.clone()),
    };
    let tokens = (0..2)
        .map(|_| {
            let out = kiosk.ok(&["claim", &visitor_code(event, None), "--phone"]);
            let link = out
                .split("claim link: ")
                .nth(1)
                .unwrap_or_else(|| panic!("no claim link: {out}"));
            link.trim().rsplit('/').next().unwrap().to_owned()
        })
        .collect();
    let usb = root.join("usb");
    kiosk.ok(&["export", "--to", usb.to_str().unwrap()]);
    let file = std::fs::read_dir(&usb).unwrap().next().unwrap().unwrap().path();
    kiosk.ok(&[
        "hub",
        "import",
        file.to_str().unwrap(),
        "--data",
        hub_data.to_str().unwrap(),
    ]);
    tokens
}

/// A blocking HTTP client trusting the venue CA (or anything, for a hub's own certificate).
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new(ca: Option<&Path>) -> Self {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
        builder = match ca {
            Some(ca) => {
                builder.add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
            }
            None => builder.danger_accept_invalid_certs(true),
        };
        Self {
            runtime: crate::helpers::runtime(),
            client: builder.build().unwrap(),
        }
    }

    fn send(&self, request: reqwest::RequestBuilder) -> (u16, String) {
        self.runtime.block_on(async {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }

    fn get(&self, url: &str) -> (u16, String) {
        self.send(self.client.get(url))
    }

    fn post_json(&self, url: &str, body: &Value) -> (u16, Value) {
        let (status, text) = self.send(
            self.client
                .post(url)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn post_form(&self, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let (status, text) = self.send(self.client.post(url).form(form));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn get_json(&self, url: &str) -> Value {
        let (status, text) = self.get(url);
        assert_eq!(status, 200, "{url}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// The value of `href="PREFIX…"` in a page, unescaped.
fn link(page: &str, prefix: &str) -> String {
    let start = page
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("no link starting {prefix} in the page:\n{page}"));
    let rest = &page[start + 6..];
    rest[..rest.find('"').unwrap()]
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

struct Setup {
    root: tempfile::TempDir,
    ca: PathBuf,
    hub: ServedHub,
    tokens: Vec<String>,
}

fn served_with_venue_certificate() -> Setup {
    let root = tempfile::tempdir().unwrap();
    let (ca, certificate, key) = venue_tls(&root.path().join("tls"));
    let (event, port) = event(root.path());
    let data = root.path().join("hub");
    let tokens = claim_on_hub(root.path(), &event, &data);
    let hub = ServedHub::start(
        &event.dir,
        &data,
        port,
        &[
            "--tls-certificate",
            certificate.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(hub.url, format!("https://127.0.0.1:{port}"));
    Setup { root, ca, hub, tokens }
}

fn claim_page(setup: &Setup, token: &str) -> String {
    let (status, page) = Http::new(Some(&setup.ca)).get(&format!("{}/claim/{token}?lang=en", setup.hub.url));
    assert_eq!(status, 200, "{page}");
    page
}

fn holder_of(credential: &Value) -> &str {
    credential["credentialSubject"]["id"].as_str().unwrap_or_default()
}

#[test]
fn lcw_exchange_with_did_authentication_signed_as_lcw_signs_it() {
    let setup = served_with_venue_certificate();
    let token = &setup.tokens[0];
    let page = claim_page(&setup, token);
    let lcw = link(&page, "https://lcw.app/request?request=");
    let dcc = link(&page, "dccrequest://request?request=");
    assert_eq!(lcw.split_once('?').unwrap().1, dcc.split_once('?').unwrap().1);
    assert!(!lcw.contains(token.as_str()) && !page.contains(&format!("exchanges/{token}")));
    // What LCW reads: `request` parsed from the query, then JSON.
    let request: Value = serde_json::from_str(&percent_decode(lcw.split_once("request=").unwrap().1)).unwrap();
    assert_eq!(request["credentialRequestOrigin"], setup.hub.url.as_str());
    let exchange = request["protocols"]["vcapi"].as_str().unwrap().to_owned();
    assert!(
        exchange.starts_with(&format!("{}/exchanges/", setup.hub.url)),
        "{exchange}"
    );

    // LCW's sendToExchanger: POST, Content-Type application/json, body `{}` to open.
    let http = Http::new(Some(&setup.ca));
    let post = |body: &Value| http.post_json(&exchange, body);
    let (status, opened) = post(&json!({}));
    assert_eq!(status, 200, "{opened}");
    let vpr = &opened["verifiablePresentationRequest"];
    assert_eq!(vpr["query"][0]["type"], "DIDAuthentication");
    let challenge = vpr["challenge"].as_str().unwrap().to_owned();
    let domain = vpr["domain"].as_str().unwrap().to_owned();
    assert_eq!(domain, setup.hub.url);

    // The presentation LCW's composeVp makes (DCC libraries), and three that must fail.
    let seed = "4c4357e2a7f1c6a0b1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738";
    let present = |challenge: &str, domain: &str| -> Value {
        serde_json::from_str(&node(
            "wallet",
            "@digitalcredentials/vc",
            &["lcw-present.mjs", seed, challenge, domain],
            &[],
        ))
        .unwrap()
    };
    let signed = present(&challenge, &domain);
    let holder = signed["holder"].as_str().unwrap().to_owned();
    let mut forged = signed.clone();
    forged["proof"]["created"] = json!("2001-01-01T00:00:00Z");
    for (case, presentation) in [
        ("wrong challenge", present("another-challenge", &domain)),
        ("wrong domain", present(&challenge, "https://evil.example")),
        ("bad signature", forged),
    ] {
        let (status, refused) = post(&json!({"verifiablePresentation": presentation}));
        assert_eq!(status, 400, "{case}: {refused}");
        assert!(
            refused["error"].as_str().unwrap().contains("start again"),
            "{case}: {refused}"
        );
    }
    // A refusal does not spend the exchange: the genuine presentation still works.
    let (status, answer) = post(&json!({"verifiablePresentation": signed}));
    assert_eq!(status, 200, "{answer}");
    let credentials = answer["verifiablePresentation"]["verifiableCredential"]
        .as_array()
        .unwrap();
    assert_eq!(credentials.len(), 1);
    let credential = &credentials[0];
    assert_eq!(holder_of(credential), holder);
    assert!(credential["type"]
        .as_array()
        .unwrap()
        .contains(&json!("OpenBadgeCredential")));
    assert!(
        !credential.to_string().contains(token.as_str()),
        "the claim token stays out"
    );
    let verdict = dcc_verifies(setup.root.path(), "lcw", credential);
    assert_eq!(verdict["verified"], true, "{verdict}");

    // Single use: the same exchange answers nothing more.
    let (status, again) = post(&json!({}));
    assert_eq!(status, 404, "{again}");
    let (status, _) = post(&json!({"verifiablePresentation": signed}));
    assert_eq!(status, 404);
    // The console's funnel and `hub status` count it.
    let status = setup.hub.hub(&["status"]);
    assert!(status.contains("1 badges taken into a wallet"), "{status}");
}

#[test]
fn oid4vci_pre_authorized_flow_with_an_independent_client() {
    let setup = served_with_venue_certificate();
    let token = &setup.tokens[1];
    let ca = setup.ca.clone();
    let wallet = |args: &[&str]| -> Vec<Value> {
        node(
            "wallet",
            "@openid4vc/openid4vci",
            &[&["oid4vci-client.mjs"][..], args].concat(),
            &[("NODE_EXTRA_CA_CERTS", &ca)],
        )
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
    };
    let offer_of = |page: &str| {
        let offer = link(page, "openid-credential-offer://?credential_offer_uri=");
        assert!(!offer.contains(token.as_str()));
        assert!(page.contains("<svg"), "the offer as a QR code for a computer");
        offer
    };
    let step = |lines: &[Value], name: &str| -> Value {
        lines
            .iter()
            .find(|line| line["step"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {lines:?}"))
            .clone()
    };

    // EdDSA, key named by a did:key kid; then the same code again.
    let lines = wallet(&["flow", &offer_of(&claim_page(&setup, token)), "EdDSA", "did"]);
    let issued = step(&lines, "credential");
    let credential = &issued["credential"];
    assert_eq!(holder_of(credential), issued["holder"].as_str().unwrap(), "{issued}");
    assert!(holder_of(credential).starts_with("did:key:z6Mk"));
    assert_eq!(step(&lines, "code-again")["error"], "invalid_grant", "{lines:?}");
    let verdict = dcc_verifies(setup.root.path(), "oid4vci-eddsa", credential);
    assert_eq!(verdict["verified"], true, "{verdict}");

    // ES256, key given as a jwk header: bound to its P-256 did:key.
    let lines = wallet(&["flow", &offer_of(&claim_page(&setup, token)), "ES256", "jwk"]);
    let issued = step(&lines, "credential");
    assert_eq!(
        holder_of(&issued["credential"]),
        issued["holder"].as_str().unwrap(),
        "{issued}"
    );
    assert!(holder_of(&issued["credential"]).starts_with("did:key:zDn"));
    let verdict = dcc_verifies(setup.root.path(), "oid4vci-es256", &issued["credential"]);
    assert_eq!(verdict["verified"], true, "{verdict}");

    // A wrong nonce and a proof for another audience are refused; the token still works.
    let lines = wallet(&["refusals", &offer_of(&claim_page(&setup, token)), "EdDSA", "did"]);
    assert_eq!(step(&lines, "wrong-nonce")["error"], "invalid_nonce", "{lines:?}");
    assert_eq!(step(&lines, "wrong-audience")["error"], "invalid_proof", "{lines:?}");
    assert!(step(&lines, "credential")["credential"].is_object(), "{lines:?}");

    // An expired offer: its code is refused, and the offer is gone.
    let http = Http::new(Some(&setup.ca));
    let offer_uri = percent_decode(
        offer_of(&claim_page(&setup, token))
            .split_once("credential_offer_uri=")
            .unwrap()
            .1,
    );
    let offer = http.get_json(&offer_uri);
    let grant = &offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"];
    assert!(grant.get("tx_code").is_none());
    let code = grant["pre-authorized_code"].as_str().unwrap().to_owned();
    let offer_id = offer_uri.rsplit('/').next().unwrap();
    let database = rusqlite::Connection::open(badge_kiosk::datadir::hub_database(&setup.hub.data)).unwrap();
    database.busy_timeout(Duration::from_secs(10)).unwrap();
    // Ten minutes later, as the hub's clock will see it.
    let moved = database
        .execute(
            "UPDATE wallet_offers SET expires_ms = created_ms - 1 WHERE id = ?1",
            [offer_id],
        )
        .unwrap();
    assert_eq!(moved, 1);
    let (status, refused) = http.post_form(
        &format!("{}/oid4vci/token", setup.hub.url),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:pre-authorized_code"),
            ("pre-authorized_code", code.as_str()),
        ],
    );
    assert_eq!((status, &refused["error"]), (400, &json!("invalid_grant")), "{refused}");
    assert_eq!(http.get(&offer_uri).0, 404);

    // The metadata a client written from the specification reads.
    let metadata = http.get_json(&format!("{}/.well-known/openid-credential-issuer", setup.hub.url));
    let configuration = &metadata["credential_configurations_supported"]["OpenBadgeCredential"];
    assert_eq!(configuration["format"], "ldp_vc");
    assert_eq!(
        configuration["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"],
        json!(["EdDSA", "ES256"])
    );
    let server = http.get_json(&format!("{}/.well-known/oauth-authorization-server", setup.hub.url));
    assert_eq!(server["pre-authorized_grant_anonymous_access_supported"], true);
    let status = setup.hub.hub(&["status"]);
    assert!(status.contains("3 badges taken into a wallet"), "{status}");
}

#[test]
fn a_hub_with_its_own_certificate_offers_no_wallet_and_says_why() {
    let root = tempfile::tempdir().unwrap();
    let (event, port) = event(root.path());
    let data = root.path().join("hub");
    let tokens = claim_on_hub(root.path(), &event, &data);
    let hub = ServedHub::start(&event.dir, &data, port, &[]);
    let http = Http::new(None);
    let (_, page) = http.get(&format!("{}/claim/{}", hub.url, tokens[0]));
    assert!(page.contains("/credential.json"), "the claim page itself works: {page}");
    assert!(
        !page.contains("lcw.app") && !page.contains("openid-credential-offer"),
        "{page}"
    );
    assert_eq!(http.post_json(&format!("{}/exchanges/ANY", hub.url), &json!({})).0, 404);
    assert_eq!(
        http.get(&format!("{}/.well-known/openid-credential-issuer", hub.url)).0,
        404
    );
    let status = hub.hub(&["status"]);
    assert!(
        status.contains("wallets: claim pages do not offer wallets: the hub serves its own self-signed certificate"),
        "{status}"
    );
}
