//! Hands the event's awards to the organisation's badge platform — Open Badge Factory
//! (API v2) or Canvas Credentials (formerly Badgr, API v2) — exactly once.
//!
//! - [`plan`] is pure: pending awards → calls with deterministic log entries; answers →
//!   what happens to each award.
//! - [`executor::issue_pending`] carries the plan out through an [`IssueLedger`], which the
//!   hub implements over its database ([`MemoryLedger`] for tests).
//! - [`obf`] and [`badgr`] speak each platform's documented API; [`http`] holds what they
//!   share (token cache, capped reads, error classes).
//! - [`credentials`] loads secrets from a file or the environment, never from event.toml.

pub mod badgr;
pub mod credentials;
pub mod executor;
pub mod http;
pub mod ledger;
pub mod obf;
pub mod plan;

use std::collections::BTreeMap;
use std::time::Duration;

use thiserror::Error;

pub use badgr::{BadgrClient, BadgrSettings};
pub use credentials::{BadgrAuth, BadgrCredentials, BadgrRegion, ObfCredentials, PlatformCredentials, Secret};
pub use executor::{issue_pending, issue_pending_controlled, issue_pending_into, NoticeFn, PassControl, PassNotice};
pub use http::{SessionStats, TransportSettings};
pub use ledger::{IssueLedger, Language, LedgerError, MemoryLedger, PendingIssue};
pub use obf::{EmailMessage, ObfClient, ObfSettings};
pub use plan::LookUp;

use http::CallError;
use plan::{Answer, CallShape, IssueCall};

/// The platforms badge-kiosk issues to; the key is the one used in event.toml
/// (`platform = { obf = "…", badgr = "…" }`) and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Obf,
    Badgr,
}

impl Platform {
    pub fn parse(value: &str) -> Result<Self, PlatformError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "obf" => Ok(Self::Obf),
            "badgr" => Ok(Self::Badgr),
            other => Err(PlatformError::Mapping(format!(
                "unknown platform \"{other}\": use obf (Open Badge Factory) or badgr (Canvas Credentials)"
            ))),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::Obf => "obf",
            Self::Badgr => "badgr",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Obf => "Open Badge Factory",
            Self::Badgr => "Canvas Credentials",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlatformError {
    /// Worth trying again later; every award is settled or still queued.
    #[error("{0}")]
    Transient(String),
    /// Needs the organiser (credentials, mapping, permissions); awards stay queued.
    #[error("{0}")]
    Blocked(String),
    /// The pass reached the deadline it was given ([`executor::PassControl::deadline`]);
    /// every award is settled or still queued.
    #[error("{0}")]
    WaitExceeded(String),
    #[error("{0}")]
    Mapping(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialsError),
}

impl PlatformError {
    pub(crate) fn from_call(error: CallError) -> Self {
        match error {
            CallError::Blocked(reason) => Self::Blocked(reason),
            CallError::NotProcessed { reason, .. } | CallError::Unknown(reason) | CallError::Unreachable(reason) => {
                Self::Transient(format!("{reason}; run it again later"))
            }
        }
    }
}

/// What to tune in the executor; the defaults suit the real platforms.
#[derive(Debug, Clone)]
pub struct IssueSettings {
    /// Attempts per call (sends and look-ups) before the pass stops with `Transient`.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A longer Retry-After stops the pass instead of holding the hub.
    pub max_retry_after: Duration,
    /// Pause before looking up a call whose answer was lost, so that a call the platform is
    /// still recording is not reported missing and sent twice.
    pub settle_before_lookup: Duration,
    /// Whole-call refusals tolerated while halving a call to find a refused recipient.
    pub max_refused_calls: usize,
}

impl Default for IssueSettings {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
            settle_before_lookup: Duration::from_secs(3),
            max_refused_calls: 64,
        }
    }
}

/// What a pass did, for the organiser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueSummary {
    /// Issue calls sent (the first send of each call).
    pub calls: usize,
    pub confirmed: usize,
    pub failed: usize,
    /// Awards confirmed by a look-up after their answer was lost (not sent again).
    pub found_after_lost_answer: usize,
    pub unknown_outcomes: usize,
    pub lookups: usize,
    pub retries: usize,
    /// Still queued after the pass.
    pub remaining: usize,
}

/// Acceptance read back from the platform, for the claim-rate report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimReport {
    /// Issued and not revoked.
    pub issued: usize,
    /// Of those, accepted by the recipient (OBF: received or added to their passport).
    pub accepted: usize,
    /// Of those, not accepted yet.
    pub pending: usize,
    pub revoked: usize,
}

impl ClaimReport {
    /// Accepted share of issued badges, in percent.
    pub fn claim_rate(&self) -> f64 {
        if self.issued == 0 {
            0.0
        } else {
            self.accepted as f64 * 100.0 / self.issued as f64
        }
    }
}

/// A connected platform client.
pub enum PlatformClient {
    Obf(ObfClient),
    Badgr(BadgrClient),
}

impl PlatformClient {
    pub fn platform(&self) -> Platform {
        match self {
            Self::Obf(_) => Platform::Obf,
            Self::Badgr(_) => Platform::Badgr,
        }
    }

    pub fn label(&self) -> &'static str {
        self.platform().label()
    }

    /// The platform's address, as the credentials give it (no secret in it).
    pub fn base_url(&self) -> &str {
        match self {
            Self::Obf(client) => client.base_url(),
            Self::Badgr(client) => client.base_url(),
        }
    }

    pub fn stats(&self) -> SessionStats {
        match self {
            Self::Obf(client) => client.stats(),
            Self::Badgr(client) => client.stats(),
        }
    }

    fn shape(&self) -> CallShape {
        match self {
            Self::Obf(client) => client.shape(),
            Self::Badgr(client) => client.shape(),
        }
    }

    /// The wait the platform's token rate limit imposes on the next request.
    fn token_wait(&self) -> Duration {
        match self {
            Self::Obf(client) => client.token_wait(),
            Self::Badgr(client) => client.token_wait(),
        }
    }

    /// Grows while a look-up makes progress (Badgr asks one request per recipient).
    fn lookup_answers(&self) -> usize {
        match self {
            Self::Obf(_) => 0,
            Self::Badgr(client) => client.lookup_answers(),
        }
    }

    async fn issue(&mut self, call: &IssueCall) -> Result<Answer, CallError> {
        match self {
            Self::Obf(client) => client.issue(call).await,
            Self::Badgr(client) => client.issue(call).await,
        }
    }

    async fn look_up(&mut self, call: &IssueCall) -> Result<LookUp, CallError> {
        match self {
            Self::Obf(client) => client.look_up(call).await,
            Self::Badgr(client) => client.look_up(call).await,
        }
    }
}

/// The platform badge id of every badge class, from event.toml's `platform` tables
/// (`(class id, platform map)` pairs). Fails listing every class without a usable id.
pub fn badge_ids<'a>(
    platform: Platform,
    classes: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
) -> Result<BTreeMap<String, String>, PlatformError> {
    let mut ids = BTreeMap::new();
    let mut missing = Vec::new();
    for (class, map) in classes {
        match map.get(platform.key()).map(|id| id.trim()) {
            Some(id) if obf::plain_id(id) => {
                ids.insert(class.to_owned(), id.to_owned());
            }
            _ => missing.push(class.to_owned()),
        }
    }
    if missing.is_empty() {
        Ok(ids)
    } else {
        Err(PlatformError::Mapping(format!(
            "badge classes without a usable {} id in event.toml: {}. Add platform = {{ {} = \"ID\" }} to each \
             [[badge]], with the badge's id copied from {}",
            platform.label(),
            missing.join(", "),
            platform.key(),
            platform.label()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_ids_come_from_the_event_mapping_and_name_every_gap() {
        let mapped: BTreeMap<String, String> = [
            ("obf".to_string(), "BADGE01".to_string()),
            ("badgr".to_string(), "K829IK8RS6".to_string()),
        ]
        .into();
        let badgr_only: BTreeMap<String, String> = [("badgr".to_string(), "Q1".to_string())].into();
        let typo: BTreeMap<String, String> = [("obf".to_string(), "BAD GE".to_string())].into();
        let classes = [("visit", &mapped), ("pathway", &badgr_only), ("extra", &typo)];
        let badgr = badge_ids(Platform::Badgr, classes.iter().take(2).map(|(c, m)| (*c, *m))).unwrap();
        assert_eq!(badgr["visit"], "K829IK8RS6");
        assert_eq!(badgr["pathway"], "Q1");
        let error = badge_ids(Platform::Obf, classes.iter().map(|(c, m)| (*c, *m))).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("pathway, extra"), "{text}");
        assert!(text.contains("platform = { obf = \"ID\" }"), "{text}");
    }

    #[test]
    fn platform_names_parse() {
        assert_eq!(Platform::parse("OBF").unwrap(), Platform::Obf);
        assert_eq!(Platform::parse("badgr").unwrap(), Platform::Badgr);
        assert!(Platform::parse("credly").unwrap_err().to_string().contains("obf"));
    }

    #[test]
    fn claim_rate_is_a_percentage() {
        let report = ClaimReport {
            issued: 8,
            accepted: 6,
            pending: 2,
            revoked: 1,
        };
        assert_eq!(report.claim_rate(), 75.0);
        assert_eq!(ClaimReport::default().claim_rate(), 0.0);
    }

    /// The hub spawns the pass on its runtime: the future must be `Send`.
    #[test]
    fn issue_pass_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let credentials = ObfCredentials {
            client_id: "X".into(),
            client_secret: Secret::new("s"),
            base_url: "http://127.0.0.1:9".into(),
        };
        let mut client = PlatformClient::Obf(ObfClient::new(
            &credentials,
            ObfSettings::default(),
            TransportSettings::default(),
        ));
        let mut ledger = MemoryLedger::default();
        let settings = IssueSettings::default();
        let future = issue_pending(&mut ledger, &mut client, &settings);
        assert_send(&future);
    }
}
