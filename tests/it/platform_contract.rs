//! Local contract servers for the two badge platforms, written from their published
//! contracts (the real platforms are out of reach from tests):
//!
//! - Open Badge Factory API v2: the API v2 page (openbadgefactory.com/obf-api-v2) for the
//!   OAuth2 client-credentials token and its short expiry, and OBF's OpenAPI spec "OBF
//!   public API V2" as implemented by OBF's own mock in moodle-local_obf
//!   (`tests/behat/mock_obf_api.php`): issue, event list with the `log_entry` filter
//!   ("key:value,…", every pair must match), event recipients, OperationResult and
//!   ErrorResult bodies, 403 for a refused token.
//! - Canvas Credentials (Badgr) API v2: "Getting Started" (`POST /o/token`, password grant,
//!   `expires_in`, `refresh_token`), the v2 swagger (Assertion, `allowDuplicateAwards`:
//!   "HTTP 400 will be returned"), badgr-server `BatchAssertionsIssue` (the batch is
//!   validated as a whole; 400 with one error object per assertion in `fieldErrors`, or 201
//!   with the v2 envelope `{status, result}`), 401 for a bad token, 429 and 500 as listed for
//!   every assertion endpoint in the Canvas Credentials docs.
//!
//! Both servers take fault knobs (a scripted list per endpoint, or seeded random faults)
//! and answer inspection questions (how many times each email got each badge).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The endpoints faults can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Token,
    Issue,
    LookUp,
    Recipients,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// 500 before anything is recorded.
    Error500,
    /// 429 with `Retry-After: n` (seconds), before anything is recorded.
    RateLimit(u64),
    /// The presented token is dropped server-side first (an early expiry): 401/403.
    ExpireToken,
    /// Recorded, then the connection is cut mid-answer.
    LoseAnswer,
    /// Recorded, then no answer until long after the client gave up.
    Stall,
    /// Recorded, then 502 (a gateway failing after the platform committed).
    RecordThen502,
}

impl Fault {
    fn after_recording(self) -> bool {
        matches!(self, Fault::LoseAnswer | Fault::Stall | Fault::RecordThen502)
    }
}

/// Probabilities of random faults on issue and look-up requests (tokens get 500s only).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomFaults {
    pub error_500: f64,
    pub rate_limit: f64,
    pub expire_token: f64,
    pub lose_answer: f64,
    pub stall: f64,
    pub record_then_502: f64,
}

impl RandomFaults {
    /// The mix the "10,000 awards under random faults" tests use: about a quarter of the
    /// issue and look-up calls fail, half of those after the platform recorded the issue.
    pub fn venue_mix() -> Self {
        Self {
            error_500: 0.06,
            rate_limit: 0.04,
            expire_token: 0.03,
            lose_answer: 0.06,
            stall: 0.02,
            record_then_502: 0.04,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `expires_in` of new tokens; the server enforces it to the millisecond.
    pub token_lifetime: Duration,
    /// OBF allows one new token per ten seconds; 429 when asked sooner (zero: no limit).
    pub min_token_interval: Duration,
    /// How long a stalled answer waits (longer than the client's timeout).
    pub stall: Duration,
    /// Status for a refused token: OBF's real API answers 403, Badgr 401.
    pub refused_token_status: u16,
    /// Recipients at these domains are refused by the platform (bounces it knows about).
    pub refused_domains: Vec<String>,
}

impl ServerConfig {
    pub fn obf() -> Self {
        Self {
            token_lifetime: Duration::from_secs(3600),
            min_token_interval: Duration::ZERO,
            stall: Duration::from_secs(2),
            refused_token_status: 403,
            refused_domains: vec!["bounce.invalid".into()],
        }
    }

    pub fn badgr() -> Self {
        Self {
            refused_token_status: 401,
            ..Self::obf()
        }
    }

    /// Tokens that expire every 2 s and are refused with 401, and short stalls: with
    /// `RandomFaults::venue_mix`, every renewal and look-up path runs many times.
    pub fn flaky(self) -> Self {
        Self {
            token_lifetime: Duration::from_secs(2),
            stall: Duration::from_millis(700),
            refused_token_status: 401,
            ..self
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub endpoint: Endpoint,
    pub status: u16,
    pub fault: Option<Fault>,
}

#[derive(Debug, Clone)]
struct Award {
    badge: String,
    email: String,
    name: String,
    event: String,
    accepted: bool,
    revoked: bool,
    notified: bool,
}

#[derive(Debug, Clone)]
struct Event {
    id: String,
    badge: String,
    log_entry: Option<String>,
    issued_on: i64,
    recipient_count: usize,
    api_consumer_id: String,
    email_subject: Option<String>,
    ctime: u64,
}

#[derive(Default)]
struct PlatformState {
    tokens: HashMap<String, Instant>,
    refresh_tokens: HashMap<String, ()>,
    last_token_at: Option<Instant>,
    awards: Vec<Award>,
    events: Vec<Event>,
    scripted: BTreeMap<Endpoint, VecDeque<Fault>>,
    random: Option<(StdRng, RandomFaults)>,
    log: Vec<Logged>,
    issue_bodies: Vec<Value>,
    sequence: u64,
}

struct Shared {
    /// Connections whose next write fails: the answer is lost after the platform acted.
    cuts: Arc<Mutex<HashSet<SocketAddr>>>,
    config: Mutex<ServerConfig>,
    state: Mutex<PlatformState>,
    client_id: String,
    client_secret: String,
    badges: Vec<String>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, PlatformState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn config(&self) -> ServerConfig {
        self.config.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn next_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut state = self.state();
        if let Some(fault) = state.scripted.get_mut(&endpoint).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        let (rng, odds) = state.random.as_mut()?;
        let roll: f64 = rng.gen();
        let choices: Vec<(f64, Fault)> = if endpoint == Endpoint::Token {
            vec![(odds.error_500, Fault::Error500)]
        } else {
            let mut list = vec![
                (odds.error_500, Fault::Error500),
                (odds.rate_limit, Fault::RateLimit(0)),
                (odds.expire_token, Fault::ExpireToken),
            ];
            if endpoint == Endpoint::Issue {
                list.extend([
                    (odds.lose_answer, Fault::LoseAnswer),
                    (odds.stall, Fault::Stall),
                    (odds.record_then_502, Fault::RecordThen502),
                ]);
            }
            list
        };
        let mut edge = 0.0;
        for (odds, fault) in choices {
            edge += odds;
            if roll < edge {
                return Some(fault);
            }
        }
        None
    }

    fn log(&self, endpoint: Endpoint, status: u16, fault: Option<Fault>) {
        self.state().log.push(Logged {
            at: Instant::now(),
            endpoint,
            status,
            fault,
        });
    }

    fn new_token(&self) -> (String, String) {
        let mut state = self.state();
        state.sequence += 1;
        let token = format!("tok-{}-{}", state.sequence, rand::random::<u64>());
        let refresh = format!("ref-{}-{}", state.sequence, rand::random::<u64>());
        let expires = Instant::now() + self.config().token_lifetime;
        state.tokens.insert(token.clone(), expires);
        state.refresh_tokens.insert(refresh.clone(), ());
        state.last_token_at = Some(Instant::now());
        (token, refresh)
    }

    fn bearer(headers: &HeaderMap) -> Option<String> {
        headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")
            .map(str::to_owned)
    }

    fn token_valid(&self, headers: &HeaderMap) -> bool {
        let Some(token) = Self::bearer(headers) else {
            return false;
        };
        let state = self.state();
        state
            .tokens
            .get(&token)
            .is_some_and(|expires| *expires > Instant::now())
    }

    fn drop_token(&self, headers: &HeaderMap) {
        if let Some(token) = Self::bearer(headers) {
            self.state().tokens.remove(&token);
        }
    }

    fn refused_domain(&self, email: &str) -> bool {
        let domain = email.rsplit('@').next().unwrap_or_default().to_lowercase();
        self.config().refused_domains.contains(&domain)
    }
}

/// A running contract server and its knobs.
#[derive(Clone)]
pub struct ContractServer {
    shared: Arc<Shared>,
    pub address: SocketAddr,
}

impl ContractServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// Faults for the next requests to `endpoint`, in order (before any random fault).
    pub fn script(&self, endpoint: Endpoint, faults: impl IntoIterator<Item = Fault>) {
        self.shared.state().scripted.entry(endpoint).or_default().extend(faults);
    }

    pub fn random_faults(&self, seed: u64, odds: RandomFaults) {
        self.shared.state().random = Some((StdRng::seed_from_u64(seed), odds));
    }

    /// Every token handed out so far stops working now (server-side early expiry).
    pub fn expire_all_tokens(&self) {
        self.shared.state().tokens.clear();
    }

    /// How many times `email` (any case) got `badge`, revoked ones included.
    pub fn issued_count(&self, badge: &str, email: &str) -> usize {
        let email = email.trim().to_lowercase();
        self.shared
            .state()
            .awards
            .iter()
            .filter(|a| a.badge == badge && a.email.to_lowercase() == email)
            .count()
    }

    /// (badge, email, times) for every recipient issued a badge more than once.
    pub fn duplicates(&self) -> Vec<(String, String, usize)> {
        let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for award in &self.shared.state().awards {
            *counts
                .entry((award.badge.clone(), award.email.to_lowercase()))
                .or_default() += 1;
        }
        counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|((badge, email), n)| (badge, email, n))
            .collect()
    }

    pub fn total_issued(&self) -> usize {
        self.shared.state().awards.len()
    }

    pub fn distinct_recipients(&self) -> usize {
        let state = self.shared.state();
        let set: std::collections::BTreeSet<(String, String)> = state
            .awards
            .iter()
            .map(|a| (a.badge.clone(), a.email.to_lowercase()))
            .collect();
        set.len()
    }

    pub fn notified(&self) -> usize {
        self.shared.state().awards.iter().filter(|a| a.notified).count()
    }

    pub fn events(&self) -> usize {
        self.shared.state().events.len()
    }

    /// The email subjects OBF was asked to send, per event.
    pub fn email_subjects(&self) -> Vec<Option<String>> {
        self.shared
            .state()
            .events
            .iter()
            .map(|e| e.email_subject.clone())
            .collect()
    }

    pub fn api_consumer_ids(&self) -> Vec<String> {
        self.shared
            .state()
            .events
            .iter()
            .map(|e| e.api_consumer_id.clone())
            .collect()
    }

    pub fn issue_bodies(&self) -> Vec<Value> {
        self.shared.state().issue_bodies.clone()
    }

    /// The recipient opened the badge (OBF `received`; Badgr `acceptance: Accepted`).
    pub fn accept(&self, email: &str) {
        let email = email.to_lowercase();
        for award in self.shared.state().awards.iter_mut() {
            if award.email.to_lowercase() == email {
                award.accepted = true;
            }
        }
    }

    pub fn revoke(&self, email: &str) {
        let email = email.to_lowercase();
        for award in self.shared.state().awards.iter_mut() {
            if award.email.to_lowercase() == email {
                award.revoked = true;
            }
        }
    }

    pub fn log(&self) -> Vec<Logged> {
        self.shared.state().log.clone()
    }

    pub fn requests(&self, endpoint: Endpoint) -> usize {
        self.log().iter().filter(|l| l.endpoint == endpoint).count()
    }

    pub fn answered(&self, endpoint: Endpoint, status: u16) -> usize {
        self.log()
            .iter()
            .filter(|l| l.endpoint == endpoint && l.status == status)
            .count()
    }

    pub fn faults(&self) -> BTreeMap<Fault, usize> {
        let mut counts = BTreeMap::new();
        for entry in self.log() {
            if let Some(fault) = entry.fault {
                let key = match fault {
                    Fault::RateLimit(_) => Fault::RateLimit(0),
                    other => other,
                };
                *counts.entry(key).or_default() += 1;
            }
        }
        counts
    }

    async fn start(router: Router, shared: Arc<Shared>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let listener = CuttingListener {
            inner: listener,
            cuts: shared.cuts.clone(),
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, router.into_make_service_with_connect_info::<Peer>()).await;
        });
        Self { shared, address }
    }

    fn shared(client_id: &str, client_secret: &str, badges: &[&str], config: ServerConfig) -> Arc<Shared> {
        Arc::new(Shared {
            cuts: Arc::default(),
            config: Mutex::new(config),
            state: Mutex::new(PlatformState::default()),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            badges: badges.iter().map(|b| b.to_string()).collect(),
        })
    }

    /// An Open Badge Factory organisation with client `XYZ1234` and these badges.
    pub async fn obf(badges: &[&str], config: ServerConfig) -> Self {
        let shared = Self::shared("XYZ1234", "obf-client-secret", badges, config);
        let router = Router::new()
            .route("/v2/client/oauth2/token", post(obf_token))
            .route("/v2/client/{client_id}/ping", get(obf_ping))
            .route("/v2/event/{client_id}/{badge_id}/issue", post(obf_issue))
            .route("/v2/event/{client_id}", get(obf_events))
            .route("/v2/event/{client_id}/recipient", get(obf_recipients))
            .with_state(shared.clone());
        Self::start(router, shared).await
    }

    /// A Canvas Credentials account (`organiser@example.org`) staff on these badge classes.
    pub async fn badgr(badges: &[&str], config: ServerConfig) -> Self {
        let shared = Self::shared("organiser@example.org", "badgr-password", badges, config);
        let router = Router::new()
            .route("/o/token", post(badgr_token))
            .route("/v2/badgeclasses/{entity_id}/issue", post(badgr_issue))
            .route("/v2/badgeclasses/{entity_id}/assertions", get(badgr_assertions))
            .with_state(shared.clone());
        Self::start(router, shared).await
    }
}

// ---------------------------------------------------------------------------------------
// Shared pieces

/// The client's address, to find its connection when its answer must be lost.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

struct CuttingListener {
    inner: tokio::net::TcpListener,
    cuts: Arc<Mutex<HashSet<SocketAddr>>>,
}

impl axum::serve::Listener for CuttingListener {
    type Io = CuttableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok((stream, peer)) = self.inner.accept().await {
                let io = CuttableStream {
                    inner: stream,
                    peer,
                    cuts: self.cuts.clone(),
                };
                return (io, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<axum::serve::IncomingStream<'_, CuttingListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, CuttingListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A connection whose answer can be made to vanish: once cut, its next write fails and the
/// server drops it, so the client sees the connection close without an answer.
struct CuttableStream {
    inner: tokio::net::TcpStream,
    peer: SocketAddr,
    cuts: Arc<Mutex<HashSet<SocketAddr>>>,
}

impl CuttableStream {
    fn take_cut(&self) -> bool {
        self.cuts.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.peer)
    }
}

impl tokio::io::AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CuttableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if self.take_cut() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "answer lost on purpose",
            )));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

fn rate_limited(seconds: u64) -> Response {
    let mut response = json_response(429, json!({"detail": "Request was throttled."}));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Applies a post-recording fault to a finished answer.
async fn deliver(
    shared: &Shared,
    peer: Peer,
    endpoint: Endpoint,
    fault: Option<Fault>,
    status: u16,
    body: Value,
) -> Response {
    match fault {
        Some(Fault::LoseAnswer) => {
            shared.log(endpoint, 0, fault);
            shared.cuts.lock().unwrap_or_else(|p| p.into_inner()).insert(peer.0);
            json_response(status, body)
        }
        Some(Fault::Stall) => {
            shared.log(endpoint, 0, fault);
            tokio::time::sleep(shared.config().stall).await;
            json_response(status, body)
        }
        Some(Fault::RecordThen502) => {
            shared.log(endpoint, 502, fault);
            json_response(502, json!({"error": "Bad Gateway"}))
        }
        _ => {
            shared.log(endpoint, status, fault);
            json_response(status, body)
        }
    }
}

/// Faults that strike before the request is processed; `Some(response)` ends it.
fn early_fault(shared: &Shared, endpoint: Endpoint, fault: Option<Fault>, headers: &HeaderMap) -> Option<Response> {
    match fault {
        Some(Fault::Error500) => {
            shared.log(endpoint, 500, fault);
            Some(json_response(500, json!({"error": "Internal Server Error"})))
        }
        Some(Fault::RateLimit(seconds)) => {
            shared.log(endpoint, 429, fault);
            Some(rate_limited(seconds))
        }
        Some(Fault::ExpireToken) => {
            shared.drop_token(headers);
            None
        }
        _ => None,
    }
}

fn form_or_json(headers: &HeaderMap, body: &Bytes) -> HashMap<String, String> {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json_body {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        return value
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    url_decode_pairs(&String::from_utf8_lossy(body))
}

fn url_decode_pairs(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// HTTP Basic credentials (`client_id:client_secret`), which OBF accepts for the token.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64_decode(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|a| *a == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// The recipient email pattern of OBF's spec: `^[^@<]{1,64}@[^@>]{1,255}$`.
fn obf_email_valid(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    (1..=64).contains(&local.chars().count())
        && !local.contains('<')
        && (1..=255).contains(&domain.chars().count())
        && !domain.contains(['@', '>'])
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Open Badge Factory

fn obf_error(status: u16, message: &str, path: &str) -> Response {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Error",
    };
    json_response(
        status,
        json!({"timestamp": chrono::Utc::now().to_rfc3339(), "status": status, "error": reason,
               "message": message, "path": path}),
    )
}

/// The real API answers a refused or foreign token with 403 and a plain-text body.
fn obf_refused(shared: &Shared, endpoint: Endpoint, fault: Option<Fault>) -> Response {
    let status = shared.config().refused_token_status;
    shared.log(endpoint, status, fault);
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    (code, format!("{status} {}", code.canonical_reason().unwrap_or(""))).into_response()
}

fn obf_authorised(shared: &Shared, headers: &HeaderMap, client_id: &str) -> bool {
    shared.token_valid(headers) && client_id == shared.client_id
}

async fn obf_token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = shared.next_fault(Endpoint::Token);
    if let Some(response) = early_fault(&shared, Endpoint::Token, fault, &headers) {
        return response;
    }
    let config = shared.config();
    // Copied out first: the guard must not live on while the answer is logged.
    let last_token_at = shared.state().last_token_at;
    if let Some(last) = last_token_at {
        let ready = last + config.min_token_interval;
        if ready > Instant::now() {
            shared.log(Endpoint::Token, 429, None);
            return rate_limited((ready - Instant::now()).as_secs_f64().ceil() as u64);
        }
    }
    let params = form_or_json(&headers, &body);
    let (id, secret) = basic_credentials(&headers).unwrap_or_else(|| {
        (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned().unwrap_or_default(),
        )
    });
    if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
        shared.log(Endpoint::Token, 400, fault);
        return obf_error(
            400,
            "grant_type must be \"client_credentials\"",
            "/v2/client/oauth2/token",
        );
    }
    if id != shared.client_id || secret != shared.client_secret {
        shared.log(Endpoint::Token, 403, fault);
        // Real API: 403, ErrorResult without "message".
        return json_response(
            403,
            json!({"timestamp": chrono::Utc::now().to_rfc3339(), "status": 403, "error": "Forbidden",
                   "path": "/v2/client/oauth2/token"}),
        );
    }
    let (token, _) = shared.new_token();
    shared.log(Endpoint::Token, 200, fault);
    json_response(
        200,
        json!({"access_token": token, "token_type": "bearer", "expires_in": config.token_lifetime.as_secs()}),
    )
}

async fn obf_ping(State(shared): State<Arc<Shared>>, Path(client_id): Path<String>, headers: HeaderMap) -> Response {
    if !obf_authorised(&shared, &headers, &client_id) {
        return obf_refused(&shared, Endpoint::LookUp, None);
    }
    json_response(200, json!({"success": true}))
}

async fn obf_issue(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path((client_id, badge_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v2/event/{client_id}/{badge_id}/issue");
    let fault = shared.next_fault(Endpoint::Issue);
    if let Some(response) = early_fault(&shared, Endpoint::Issue, fault, &headers) {
        return response;
    }
    if !obf_authorised(&shared, &headers, &client_id) {
        return obf_refused(&shared, Endpoint::Issue, fault);
    }
    let refuse = |status: u16, message: &str| {
        shared.log(Endpoint::Issue, status, fault.filter(|f| !f.after_recording()));
        obf_error(status, message, &path)
    };
    if !shared.badges.contains(&badge_id) {
        return refuse(404, "Badge not found");
    }
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        return refuse(400, "Request body must be JSON");
    };
    if params.get("api_consumer_id").is_none() {
        return refuse(400, "Missing required field api_consumer_id");
    }
    let Some(recipients) = params.get("recipient").and_then(Value::as_array) else {
        return refuse(400, "recipient must have 1-10000 items");
    };
    if recipients.is_empty() || recipients.len() > 10_000 {
        return refuse(400, "recipient must have 1-10000 items");
    }
    let mut list = Vec::new();
    for recipient in recipients {
        let (Some(email), Some(name)) = (
            recipient.get("email").and_then(Value::as_str),
            recipient.get("name").and_then(Value::as_str),
        ) else {
            return refuse(400, "Each recipient requires email and name");
        };
        if !obf_email_valid(email) {
            return refuse(400, "Invalid recipient email");
        }
        if shared.refused_domain(email) {
            return refuse(400, &format!("Invalid recipient email: {email} does not accept mail"));
        }
        list.push((email.to_owned(), name.to_owned()));
    }
    let event_id = {
        let mut state = shared.state();
        state.issue_bodies.push(params.clone());
        let id = format!("EVENT{:04}", state.events.len() + 1);
        state.events.push(Event {
            id: id.clone(),
            badge: badge_id.clone(),
            // Stored as OBF does: the object, JSON-encoded.
            log_entry: params.get("log_entry").map(Value::to_string),
            issued_on: params
                .get("issued_on")
                .and_then(Value::as_i64)
                .unwrap_or(now_secs() as i64),
            recipient_count: list.len(),
            api_consumer_id: params["api_consumer_id"].as_str().unwrap_or_default().to_owned(),
            email_subject: params
                .pointer("/email_message/subject")
                .and_then(Value::as_str)
                .map(str::to_owned),
            ctime: now_secs(),
        });
        let notified = params.get("send_email").and_then(Value::as_bool).unwrap_or(true);
        for (email, name) in list.iter() {
            state.awards.push(Award {
                badge: badge_id.clone(),
                email: email.clone(),
                name: name.clone(),
                event: id.clone(),
                accepted: false,
                revoked: false,
                notified,
            });
        }
        id
    };
    let result = json!({"success": true, "message": "", "resource_type": "event", "resource_id": event_id,
                        "count": list.len()});
    deliver(&shared, peer, Endpoint::Issue, fault, 200, result).await
}

/// `limit` (1 to 1000) and `offset`, or the spec's message for a bad limit.
fn paging(params: &HashMap<String, String>) -> Result<(usize, usize), &'static str> {
    let limit = params
        .get("limit")
        .map(|v| v.parse::<usize>().unwrap_or(0))
        .unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err("limit must be between 1 and 1000");
    }
    let offset = params
        .get("offset")
        .map(|v| v.parse::<usize>().unwrap_or(0))
        .unwrap_or(0);
    Ok((limit, offset))
}

/// The `log_entry` filter: "key:value,other:value", every pair must match.
fn log_entry_filter(event: &Event, filter: &str) -> bool {
    let stored: Value = event
        .log_entry
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    filter.split(',').all(|pair| {
        let (key, value) = pair.split_once(':').unwrap_or((pair, ""));
        stored.get(key).and_then(Value::as_str) == Some(value)
    })
}

async fn obf_events(
    State(shared): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v2/event/{client_id}");
    let fault = shared.next_fault(Endpoint::LookUp);
    if let Some(response) = early_fault(&shared, Endpoint::LookUp, fault, &headers) {
        return response;
    }
    if !obf_authorised(&shared, &headers, &client_id) {
        return obf_refused(&shared, Endpoint::LookUp, fault);
    }
    let (limit, offset) = match paging(&params) {
        Ok(paging) => paging,
        Err(message) => {
            shared.log(Endpoint::LookUp, 400, fault);
            return obf_error(400, message, &path);
        }
    };
    let events: Vec<Value> = {
        let state = shared.state();
        state
            .events
            .iter()
            .filter(|e| params.get("badge_id").is_none_or(|b| *b == e.badge))
            .filter(|e| params.get("log_entry").is_none_or(|f| log_entry_filter(e, f)))
            .map(|e| {
                json!({"id": e.id, "name": "", "client_alias_id": null, "badge_id": e.badge, "expires_on": null,
                       "issued_on": e.issued_on, "recipient_count": e.recipient_count,
                       "api_consumer_id": e.api_consumer_id, "earnable_application_id": null,
                       "log_entry": e.log_entry, "ctime": e.ctime, "mtime": e.ctime})
            })
            .collect()
    };
    let total = events.len();
    let page: Vec<Value> = events.into_iter().skip(offset).take(limit).collect();
    shared.log(Endpoint::LookUp, 200, fault);
    json_response(200, json!({"result": page, "total": total}))
}

async fn obf_recipients(
    State(shared): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v2/event/{client_id}/recipient");
    let fault = shared.next_fault(Endpoint::Recipients);
    if let Some(response) = early_fault(&shared, Endpoint::Recipients, fault, &headers) {
        return response;
    }
    if !obf_authorised(&shared, &headers, &client_id) {
        return obf_refused(&shared, Endpoint::Recipients, fault);
    }
    let (limit, offset) = match paging(&params) {
        Ok(paging) => paging,
        Err(message) => {
            shared.log(Endpoint::Recipients, 400, fault);
            return obf_error(400, message, &path);
        }
    };
    let recipients: Vec<Value> = {
        let state = shared.state();
        state
            .awards
            .iter()
            .filter(|a| params.get("event_id").is_none_or(|e| *e == a.event))
            .filter(|a| params.get("email").is_none_or(|m| m.eq_ignore_ascii_case(&a.email)))
            .map(|a| {
                let assertion = hex::encode(&Sha256::digest(format!("{}{}", a.event, a.email).as_bytes())[..10]);
                json!({"event_id": a.event, "badge_id": a.badge, "client_alias_id": null, "assertion_id": assertion,
                       "email": a.email, "name": a.name, "receive_url": format!("http://example.com/receive/{assertion}"),
                       "received": a.accepted, "in_passport": false, "pdf_downloaded": false,
                       "issued_on": 0, "expires_on": null, "revoked": a.revoked})
            })
            .collect()
    };
    let total = recipients.len();
    let page: Vec<Value> = recipients.into_iter().skip(offset).take(limit).collect();
    shared.log(Endpoint::Recipients, 200, fault);
    json_response(200, json!({"result": page, "total": total}))
}

// ---------------------------------------------------------------------------------------
// Canvas Credentials (Badgr)

fn badgr_refused(shared: &Shared, endpoint: Endpoint, fault: Option<Fault>) -> Response {
    let status = shared.config().refused_token_status;
    shared.log(endpoint, status, fault);
    json_response(
        status,
        json!({"detail": "Authentication credentials were not provided."}),
    )
}

fn envelope(result: Value) -> Value {
    json!({"status": {"success": true, "description": "ok"}, "result": result})
}

async fn badgr_token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = shared.next_fault(Endpoint::Token);
    if let Some(response) = early_fault(&shared, Endpoint::Token, fault, &headers) {
        return response;
    }
    let params = form_or_json(&headers, &body);
    let grant = params.get("grant_type").map(String::as_str).unwrap_or("password");
    let invalid = |shared: &Shared| {
        shared.log(Endpoint::Token, 400, fault);
        json_response(
            400,
            json!({"error": "invalid_grant", "error_description": "Invalid credentials given."}),
        )
    };
    let accepted = match grant {
        "password" => {
            params.get("username").map(String::as_str) == Some(shared.client_id.as_str())
                && params.get("password").map(String::as_str) == Some(shared.client_secret.as_str())
        }
        // Refresh tokens are single-use: the answer brings a new one.
        "refresh_token" => params
            .get("refresh_token")
            .is_some_and(|r| shared.state().refresh_tokens.remove(r).is_some()),
        _ => false,
    };
    if !accepted {
        return invalid(&shared);
    }
    let (token, refresh) = shared.new_token();
    shared.log(Endpoint::Token, 200, fault);
    json_response(
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": shared.config().token_lifetime.as_secs(),
               "refresh_token": refresh, "scope": "rw:profile rw:issuer rw:backpack"}),
    )
}

fn assertion_json(award: &Award, entity_id: &str, hashed: bool) -> Value {
    let identity = if hashed {
        format!(
            "sha256${}",
            hex::encode(Sha256::digest(award.email.to_lowercase().as_bytes()))
        )
    } else {
        award.email.clone()
    };
    json!({"entityType": "Assertion", "entityId": entity_id, "badgeclass": award.badge,
           "recipient": {"identity": identity, "hashed": hashed, "type": "email", "plaintextIdentity": award.email},
           "revoked": award.revoked, "acceptance": if award.accepted { "Accepted" } else { "Unaccepted" }})
}

async fn badgr_issue(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path(entity_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = shared.next_fault(Endpoint::Issue);
    if let Some(response) = early_fault(&shared, Endpoint::Issue, fault, &headers) {
        return response;
    }
    if !shared.token_valid(&headers) {
        return badgr_refused(&shared, Endpoint::Issue, fault);
    }
    let pre = fault.filter(|f| !f.after_recording());
    if !shared.badges.contains(&entity_id) {
        shared.log(Endpoint::Issue, 404, pre);
        return json_response(404, json!({"status": {"success": false, "description": "not found"}}));
    }
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        shared.log(Endpoint::Issue, 400, pre);
        return json_response(400, json!({"status": {"success": false, "description": "bad request"}}));
    };
    let Some(assertions) = params.get("assertions").and_then(Value::as_array) else {
        shared.log(Endpoint::Issue, 400, pre);
        return json_response(400, json!({"status": {"success": false, "description": "bad request"}}));
    };
    let create_notification = params
        .get("create_notification")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let now = chrono::Utc::now();
    // Validate every assertion first, as the many=True serializer does; save none on error.
    let errors: Vec<Value> = {
        let state = shared.state();
        assertions
            .iter()
            .map(|assertion| {
                let email = assertion.pointer("/recipient/identity").and_then(Value::as_str).unwrap_or("");
                if !obf_email_valid(email) || shared.refused_domain(email) {
                    return json!({"recipient": {"identity": ["Enter a valid email address."]}});
                }
                if let Some(issued) = assertion.get("issuedOn").and_then(Value::as_str) {
                    match chrono::DateTime::parse_from_rfc3339(issued) {
                        Ok(date) if date <= now => {}
                        Ok(_) => return json!({"issuedOn": ["Only issuedOn dates in the past are acceptable."]}),
                        Err(_) => return json!({"issuedOn": ["Datetime has wrong format."]}),
                    }
                }
                let allow_duplicates = assertion.get("allowDuplicateAwards").and_then(Value::as_bool).unwrap_or(true);
                let held = state.awards.iter().any(|a| {
                    a.badge == entity_id && !a.revoked && a.email.eq_ignore_ascii_case(email)
                });
                if !allow_duplicates && held {
                    return json!({"non_field_errors": ["A previous award of this badge already exists for this recipient."]});
                }
                json!({})
            })
            .collect()
    };
    if errors.iter().any(|e| e.as_object().is_some_and(|o| !o.is_empty())) {
        shared.log(Endpoint::Issue, 400, pre);
        return json_response(
            400,
            json!({"status": {"success": false, "description": "bad request"}, "fieldErrors": errors,
                   "validationErrors": []}),
        );
    }
    let result: Vec<Value> = {
        let mut state = shared.state();
        state.issue_bodies.push(params.clone());
        assertions
            .iter()
            .map(|assertion| {
                state.sequence += 1;
                let id = format!("AS{:06}", state.sequence);
                let award = Award {
                    badge: entity_id.clone(),
                    email: assertion
                        .pointer("/recipient/identity")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    name: String::new(),
                    event: id.clone(),
                    accepted: false,
                    revoked: false,
                    notified: create_notification || assertion.get("notify").and_then(Value::as_bool).unwrap_or(false),
                };
                let hashed = assertion
                    .pointer("/recipient/hashed")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let json = assertion_json(&award, &id, hashed);
                state.awards.push(award);
                json
            })
            .collect()
    };
    deliver(
        &shared,
        peer,
        Endpoint::Issue,
        fault,
        201,
        envelope(Value::Array(result)),
    )
    .await
}

async fn badgr_assertions(
    State(shared): State<Arc<Shared>>,
    Path(entity_id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let fault = shared.next_fault(Endpoint::LookUp);
    if let Some(response) = early_fault(&shared, Endpoint::LookUp, fault, &headers) {
        return response;
    }
    if !shared.token_valid(&headers) {
        return badgr_refused(&shared, Endpoint::LookUp, fault);
    }
    if !shared.badges.contains(&entity_id) {
        shared.log(Endpoint::LookUp, 404, fault);
        return json_response(404, json!({"status": {"success": false, "description": "not found"}}));
    }
    let recipients: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "recipient")
        .map(|(_, v)| v.to_lowercase())
        .collect();
    let include_revoked = params
        .iter()
        .any(|(k, v)| k == "include_revoked" && matches!(v.as_str(), "1" | "true"));
    let result: Vec<Value> = shared
        .state()
        .awards
        .iter()
        .filter(|a| a.badge == entity_id)
        .filter(|a| recipients.is_empty() || recipients.contains(&a.email.to_lowercase()))
        .filter(|a| include_revoked || !a.revoked)
        .map(|a| assertion_json(a, &a.event, true))
        .collect();
    shared.log(Endpoint::LookUp, 200, fault);
    json_response(200, envelope(Value::Array(result)))
}
