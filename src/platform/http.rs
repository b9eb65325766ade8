//! What both platform clients share: an HTTP client with timeouts, answers read with a
//! size cap, a bearer-token cache renewed before expiry (and once more after a refusal),
//! and the three kinds of failure the executor must tell apart.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::credentials::Secret;
use super::plan::parse_retry_after;
use crate::http_body::CappedReadError;

/// Why a request did not give a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The platform did not act on it (connection refused, 429, token refused then renewed
    /// but the platform unreachable…): it can be sent again as is.
    NotProcessed {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The platform may have acted on it (timeout, dropped answer, 5xx): an issue call must
    /// be looked up before it is sent again.
    Unknown(String),
    /// Only a person can fix this (credentials, mapping, permissions).
    Blocked(String),
    /// The connection failed (refused, no route, DNS, TLS handshake): no request reached
    /// the platform, so it can be sent again as is, and it used none of the platform's
    /// rate limits.
    Unreachable(String),
}

impl CallError {
    pub fn reason(&self) -> &str {
        match self {
            Self::NotProcessed { reason, .. }
            | Self::Unknown(reason)
            | Self::Blocked(reason)
            | Self::Unreachable(reason) => reason,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// Per request; a 10,000-recipient OBF call needs time.
    pub request_timeout: Duration,
    /// Answers larger than this are refused unread.
    pub max_answer_bytes: usize,
    /// Open Badge Factory allows one new token per ten seconds (API v2 documentation,
    /// "Authentication with OAuth2 Client Credentials", step 2).
    pub min_token_interval: Duration,
}

impl Default for TransportSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(120),
            max_answer_bytes: 8 * 1024 * 1024,
            min_token_interval: Duration::ZERO,
        }
    }
}

/// The platform client (no redirects: one could carry the bearer token to another host);
/// a failure to set it up is kept and given as the reason of every call.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    crate::http_body::client_builder(
        timeout,
        Duration::from_secs(10),
        concat!("badge-kiosk/", env!("CARGO_PKG_VERSION")),
    )
    .build()
    .map_err(|error| format!("cannot set up HTTPS for the platform ({error}): check the machine's TLS set-up"))
}

/// An answer, read in full (within the cap).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text for an error message, shortened.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(200) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }
}

/// Reads at most `limit` bytes: a platform (or anything pretending to be one) cannot make
/// the hub allocate without bound.
pub async fn read_capped(response: reqwest::Response, limit: usize) -> Result<Vec<u8>, CallError> {
    crate::http_body::read_capped(response, limit)
        .await
        .map_err(|error| match error {
            CappedReadError::TooLarge { limit } => CallError::Unknown(format!(
                "the platform's answer is larger than {limit} bytes; it was not read"
            )),
            CappedReadError::Dropped(error) => CallError::Unknown(format!(
                "the connection dropped while reading the platform's answer ({})",
                short_error(&error)
            )),
        })
}

/// Sends one request and reads its answer, sorting transport failures into "not sent"
/// and "maybe acted on".
pub async fn exchange(request: reqwest::RequestBuilder, limit: usize) -> Result<Reply, CallError> {
    let response = request.send().await.map_err(|error| {
        if error.is_connect() {
            CallError::Unreachable(format!("cannot reach {}: {}", origin(&error), connect_cause(&error)))
        } else if error.is_timeout() {
            CallError::Unknown("the platform did not answer in time".into())
        } else if error.is_builder() {
            CallError::Blocked(format!("cannot build the request ({error}): report this as a bug"))
        } else {
            CallError::Unknown(format!("the connection failed mid-request ({})", short_error(&error)))
        }
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, chrono::Utc::now()));
    let body = read_capped(response, limit).await?;
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

/// Where a request went, as a person reads it: scheme, host and port, no path or query.
fn origin(error: &reqwest::Error) -> String {
    match error.url() {
        Some(url) => {
            let mut origin = format!("{}://{}", url.scheme(), url.host_str().unwrap_or("?"));
            if let Some(port) = url.port() {
                origin.push_str(&format!(":{port}"));
            }
            origin
        }
        None => "the platform".into(),
    }
}

/// Why a connection failed, in a few words: the innermost cause ("connection refused",
/// a DNS or TLS error), not reqwest's chain of wrappers.
fn connect_cause(error: &reqwest::Error) -> String {
    let mut innermost: &dyn std::error::Error = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    if let Some(io) = innermost.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
            std::io::ErrorKind::TimedOut => return "the connection timed out".into(),
            std::io::ErrorKind::ConnectionReset => return "the connection was reset".into(),
            _ => {}
        }
    }
    let text = innermost.to_string();
    if text.is_empty() {
        short_error(error)
    } else {
        text
    }
}

/// reqwest's message and its causes, without the URL (not secret, but long).
fn short_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" ({url})"), "");
    }
    crate::http_body::with_causes(text, error)
}

/// Failures common to every endpoint, once the caller has handled the statuses it knows.
pub fn unexpected_status(reply: &Reply, what: &str) -> CallError {
    match reply.status {
        429 => CallError::NotProcessed {
            reason: format!("the platform asks us to slow down ({what})"),
            retry_after: reply.retry_after,
        },
        500..=599 => CallError::Unknown(format!(
            "the platform had a problem with {what} (HTTP {}); will retry",
            reply.status
        )),
        status => CallError::Blocked(format!(
            "the platform refused {what} (HTTP {status}: {})",
            reply.body_excerpt()
        )),
    }
}

/// A bearer token. `Debug` never shows it.
#[derive(Clone)]
pub struct Token {
    pub access: Secret,
    pub refresh: Option<Secret>,
    pub expires_at: Instant,
    pub lifetime: Duration,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access", &self.access)
            .field("refresh", &self.refresh.as_ref().map(|_| "<redacted>"))
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl Token {
    pub fn new(access: String, refresh: Option<String>, expires_in: Option<u64>, default_lifetime: Duration) -> Self {
        let lifetime = expires_in.map(Duration::from_secs).unwrap_or(default_lifetime);
        Self {
            access: Secret::new(access),
            refresh: refresh.filter(|r| !r.is_empty()).map(Secret::new),
            expires_at: Instant::now() + lifetime,
            lifetime,
        }
    }

    /// Renewed a little before it expires, so a request never leaves with a token that
    /// dies on the way: a fifth of its life, at most 60 s.
    fn fresh(&self, now: Instant) -> bool {
        let margin = (self.lifetime / 5).min(Duration::from_secs(60));
        now + margin < self.expires_at
    }
}

/// Obtains tokens for one platform account.
pub trait TokenSource {
    /// A new token; `refresh` is the previous token's refresh token, if the platform gave one.
    fn fetch(
        &self,
        http: &reqwest::Client,
        refresh: Option<&Secret>,
        answer_limit: usize,
    ) -> impl Future<Output = Result<Token, CallError>> + Send;
}

/// Counters for the organiser's summary and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    pub token_fetches: u32,
    /// Renewals forced by the platform refusing a token we thought valid.
    pub renewals_after_refusal: u32,
    pub requests: u32,
}

/// An authenticated connection to one platform.
pub struct Session<A> {
    /// The client, or why it could not be set up (every call then fails with that reason).
    http: Result<reqwest::Client, String>,
    auth: A,
    token: Option<Token>,
    last_fetch: Option<Instant>,
    pub settings: TransportSettings,
    pub stats: SessionStats,
}

impl<A: TokenSource + Sync> Session<A> {
    pub fn new(auth: A, settings: TransportSettings) -> Self {
        Self {
            http: http_client(settings.request_timeout),
            auth,
            token: None,
            last_fetch: None,
            settings,
            stats: SessionStats::default(),
        }
    }

    fn client(&self) -> Result<reqwest::Client, CallError> {
        self.http.clone().map_err(CallError::Blocked)
    }

    async fn fetch_token(&mut self) -> Result<Secret, CallError> {
        if let Some(last) = self.last_fetch {
            let allowed = last + self.settings.min_token_interval;
            if allowed > Instant::now() {
                tokio::time::sleep_until(allowed).await;
            }
        }
        let refresh = self.token.as_ref().and_then(|t| t.refresh.clone());
        self.stats.token_fetches += 1;
        let fetched = self
            .auth
            .fetch(&self.client()?, refresh.as_ref(), self.settings.max_answer_bytes)
            .await;
        // Counted from the answer: the platform's clock started somewhere before it. A
        // request that never reached the platform counts against none of its limits.
        if !matches!(fetched, Err(CallError::Unreachable(_))) {
            self.last_fetch = Some(Instant::now());
        }
        let token = fetched?;
        let access = token.access.clone();
        self.token = Some(token);
        Ok(access)
    }

    /// How long the next request would wait for the platform's token rate limit before it
    /// leaves (zero with a fresh token), so a retry can announce its real delay.
    pub fn token_wait(&self) -> Duration {
        if self.token.as_ref().is_some_and(|token| token.fresh(Instant::now())) {
            return Duration::ZERO;
        }
        self.last_fetch
            .map(|last| (last + self.settings.min_token_interval).saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::ZERO)
    }

    async fn current_token(&mut self) -> Result<Secret, CallError> {
        match &self.token {
            Some(token) if token.fresh(Instant::now()) => Ok(token.access.clone()),
            _ => self.fetch_token().await,
        }
    }

    /// Sends an authenticated request built by `build(http, bearer)`. When the platform
    /// answers with one of `refused_token` (401; OBF answers 403), the token is renewed once
    /// and the request sent again; a second refusal means the credentials are at fault.
    pub async fn send(
        &mut self,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
        refused_token: &[u16],
    ) -> Result<Reply, CallError> {
        let bearer = self.current_token().await?;
        self.stats.requests += 1;
        let reply = exchange(build(&self.client()?, bearer.expose()), self.settings.max_answer_bytes).await?;
        if !refused_token.contains(&reply.status) {
            return Ok(reply);
        }
        // The platform dropped our token early (revoked, restarted, clock skew): renew once.
        self.stats.renewals_after_refusal += 1;
        if let Some(token) = &mut self.token {
            token.expires_at = Instant::now();
        }
        let bearer = self.fetch_token().await?;
        self.stats.requests += 1;
        let reply = exchange(build(&self.client()?, bearer.expose()), self.settings.max_answer_bytes).await?;
        if refused_token.contains(&reply.status) {
            return Err(CallError::Blocked(format!(
                "the platform refused a token it had just issued (HTTP {}): check that the credentials \
                 belong to the organisation or account that owns this badge, then run the issue again",
                reply.status
            )));
        }
        Ok(reply)
    }
}

/// Maps the token endpoint's failures: refusals need the organiser, the rest can wait.
pub fn token_failure(reply: &Reply, platform: &str, fix: &str) -> CallError {
    match reply.status {
        400 | 401 | 403 => CallError::Blocked(format!(
            "{platform} refused the credentials (HTTP {}): {fix}",
            reply.status
        )),
        429 => CallError::NotProcessed {
            reason: format!("{platform} limits token requests"),
            retry_after: reply.retry_after,
        },
        status => CallError::NotProcessed {
            reason: format!("{platform} could not issue a token (HTTP {status}); will retry"),
            retry_after: None,
        },
    }
}

/// The standard OAuth2 token answer (RFC 6749 §5.1), as both platforms document it.
#[derive(Debug, serde::Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl TokenAnswer {
    pub fn parse(reply: &Reply, platform: &str) -> Result<Self, CallError> {
        serde_json::from_slice::<TokenAnswer>(&reply.body)
            .ok()
            .filter(|answer| !answer.access_token.is_empty())
            .ok_or_else(|| CallError::NotProcessed {
                reason: format!("{platform} answered the token request with something unreadable; will retry"),
                retry_after: None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        let token = Token::new("t".into(), None, Some(100), Duration::from_secs(1));
        let now = Instant::now();
        assert!(token.fresh(now));
        assert!(token.fresh(now + Duration::from_secs(79)));
        assert!(!token.fresh(now + Duration::from_secs(81)));
        // Long-lived tokens are renewed at most a minute early.
        let day = Token::new("t".into(), None, Some(86_400), Duration::from_secs(1));
        assert!(day.fresh(now + Duration::from_secs(86_400 - 61)));
        assert!(!day.fresh(now + Duration::from_secs(86_400 - 59)));
    }

    #[test]
    fn token_debug_hides_both_tokens() {
        let token = Token::new(
            "access-s3cret".into(),
            Some("refresh-s3cret".into()),
            None,
            Duration::from_secs(5),
        );
        let printed = format!("{token:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
    }

    #[test]
    fn statuses_map_to_what_the_executor_does() {
        let reply = |status| Reply {
            status,
            retry_after: Some(Duration::from_secs(3)),
            body: b"{\"error\":\"x\"}".to_vec(),
        };
        assert_eq!(
            unexpected_status(&reply(429), "the issue"),
            CallError::NotProcessed {
                reason: "the platform asks us to slow down (the issue)".into(),
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert!(matches!(
            unexpected_status(&reply(502), "the issue"),
            CallError::Unknown(_)
        ));
        assert!(matches!(
            unexpected_status(&reply(405), "the issue"),
            CallError::Blocked(_)
        ));
        assert!(matches!(token_failure(&reply(403), "OBF", "fix"), CallError::Blocked(m) if m.contains("fix")));
        assert!(matches!(
            token_failure(&reply(503), "OBF", "fix"),
            CallError::NotProcessed { .. }
        ));
    }

    #[test]
    fn long_bodies_are_shortened_in_messages() {
        let reply = Reply {
            status: 400,
            retry_after: None,
            body: "é".repeat(500).into_bytes(),
        };
        assert_eq!(reply.body_excerpt().chars().count(), 201);
    }
}
