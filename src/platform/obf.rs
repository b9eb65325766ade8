//! Open Badge Factory API v2 client.
//!
//! Written from the published contract: the API v2 page (openbadgefactory.com/obf-api-v2,
//! "Authentication with OAuth2 Client Credentials") for the token, and OBF's OpenAPI spec
//! "OBF public API V2" as implemented by Open Badge Factory Oy's own spec-derived mock and
//! client in moodle-local_obf (`tests/behat/mock_obf_api.php`, `classes/client.php`) for:
//!
//! - `POST /v2/client/oauth2/token`: form `grant_type=client_credentials`, `client_id`,
//!   `client_secret` → `{access_token, token_type, expires_in}`; bad credentials → 403.
//! - `POST /v2/event/{client_id}/{badge_id}/issue`: JSON `recipient` (1–10,000 of
//!   `{email, name}`), `issued_on` (Unix seconds), `api_consumer_id` (required),
//!   `send_email`, `log_entry` (an object), `email_message` `{subject, body, link_text,
//!   footer}`, `event_name` → OperationResult `{success, message, resource_type,
//!   resource_id, count}` where `resource_id` is the event id. Any invalid recipient makes
//!   the whole call fail with 400 ErrorResult `{timestamp, status, error, message, path}`.
//! - `GET /v2/event/{client_id}?log_entry=key:value[,key:value]` (+ `limit` ≤ 1000,
//!   `offset`, `order_by`) → `{result: [EventListElement], total}`; each element's
//!   `log_entry` comes back as a JSON *string*.
//! - `GET /v2/event/{client_id}/recipient?event_id=…` (+ paging) → `{result:
//!   [EventRecipient {email, received, in_passport, pdf_downloaded, revoked, …}], total}`.
//! - A rejected or foreign token → 403 with a plain-text body (the mock notes the spec
//!   documents no error responses and records what the real API answered).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::credentials::{ObfCredentials, Secret};
use super::http::{
    token_failure, unexpected_status, CallError, Reply, Session, SessionStats, Token, TokenAnswer, TokenSource,
    TransportSettings,
};
use super::ledger::Language;
use super::plan::{Answer, CallShape, IssueCall, OBF_MAX_RECIPIENTS};
use super::{ClaimReport, LookUp, PlatformError};

/// The key under which our call hash travels in OBF's `log_entry` object.
pub const LOG_ENTRY_KEY: &str = "badge_kiosk";

/// Award keys are listed in `log_entry` only up to this many characters, so the log entry
/// stays small for 10,000-recipient calls; the hash identifies the call either way.
const LOG_ENTRY_AWARDS_MAX_CHARS: usize = 2_000;

/// OBF's list endpoints accept `limit` from 1 to 1000.
const PAGE: usize = 1_000;

/// The message OBF emails to recipients, in one language (OBF's EmailMessage schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    pub subject: String,
    pub body: String,
    #[serde(default)]
    pub link_text: String,
    #[serde(default)]
    pub footer: String,
}

#[derive(Debug, Clone)]
pub struct ObfSettings {
    /// Required by the issue endpoint; identifies the software that issued the event.
    pub api_consumer_id: String,
    /// Whether OBF emails recipients (on by default: that is how they claim the badge).
    pub send_email: bool,
    /// Shown as the event name in OBF's issuing log.
    pub event_name: Option<String>,
    /// Per-language messages; without one, OBF uses the badge's own message.
    pub email_messages: BTreeMap<Language, EmailMessage>,
    /// At most 10,000 (OBF's limit).
    pub max_recipients: usize,
}

impl Default for ObfSettings {
    fn default() -> Self {
        Self {
            api_consumer_id: "badge-kiosk".into(),
            send_email: true,
            event_name: None,
            email_messages: BTreeMap::new(),
            max_recipients: OBF_MAX_RECIPIENTS,
        }
    }
}

pub struct ObfAuth {
    base_url: String,
    client_id: String,
    client_secret: Secret,
}

impl TokenSource for ObfAuth {
    async fn fetch(
        &self,
        http: &reqwest::Client,
        _refresh: Option<&Secret>,
        answer_limit: usize,
    ) -> Result<Token, CallError> {
        // Client credentials as POST body parameters (the page allows body or Basic auth).
        let request = http.post(format!("{}/v2/client/oauth2/token", self.base_url)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
        ]);
        let reply = super::http::exchange(request, answer_limit)
            .await
            .map_err(|error| match error {
                // Nothing was issued by a token request, whatever happened to it.
                CallError::Unknown(reason) => CallError::NotProcessed {
                    reason,
                    retry_after: None,
                },
                other => other,
            })?;
        if !reply.is_success() {
            return Err(token_failure(
                &reply,
                "Open Badge Factory",
                "check client_id and client_secret, or generate a new secret in OBF under Admin tools > API",
            ));
        }
        let answer = TokenAnswer::parse(&reply, "Open Badge Factory")?;
        // "Expiration time is short": without expires_in, assume a minute.
        Ok(Token::new(
            answer.access_token,
            None,
            answer.expires_in,
            std::time::Duration::from_secs(60),
        ))
    }
}

pub struct ObfClient {
    session: Session<ObfAuth>,
    base_url: String,
    client_id: String,
    settings: ObfSettings,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OperationResult {
    #[serde(default)]
    pub(crate) success: Option<bool>,
    #[serde(default)]
    pub(crate) resource_id: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ErrorResult {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default = "Vec::new")]
    pub(crate) result: Vec<T>,
    #[serde(default)]
    pub(crate) total: Option<usize>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventListElement {
    pub(crate) id: Value,
    #[serde(default)]
    pub(crate) log_entry: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventRecipient {
    #[serde(default)]
    pub(crate) received: bool,
    #[serde(default)]
    pub(crate) in_passport: bool,
    #[serde(default)]
    pub(crate) revoked: bool,
}

pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

pub(crate) fn error_reason(reply: &Reply) -> String {
    serde_json::from_slice::<ErrorResult>(&reply.body)
        .ok()
        .and_then(|e| e.message.filter(|m| !m.is_empty()).or(e.error))
        .unwrap_or_else(|| format!("HTTP {}: {}", reply.status, reply.body_excerpt()))
}

/// Path segments we build must be plain ids: a mapping typo must not reach another URL.
pub(super) fn plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl ObfClient {
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// See [`super::http::Session::token_wait`].
    pub fn token_wait(&self) -> std::time::Duration {
        self.session.token_wait()
    }

    pub fn new(credentials: &ObfCredentials, settings: ObfSettings, transport: TransportSettings) -> Self {
        let auth = ObfAuth {
            base_url: credentials.base_url.clone(),
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.clone(),
        };
        Self {
            session: Session::new(auth, transport),
            base_url: credentials.base_url.clone(),
            client_id: credentials.client_id.clone(),
            settings,
        }
    }

    /// The production transport: OBF allows one new token per ten seconds.
    pub fn default_transport() -> TransportSettings {
        TransportSettings {
            min_token_interval: std::time::Duration::from_secs(10),
            ..TransportSettings::default()
        }
    }

    pub fn stats(&self) -> SessionStats {
        self.session.stats
    }

    pub(super) fn shape(&self) -> CallShape {
        CallShape {
            max_recipients: self.settings.max_recipients.clamp(1, OBF_MAX_RECIPIENTS),
            split_by_language: true,
        }
    }

    /// The documented test request (`GET /v2/client/{client_id}/ping`): checks the
    /// credentials before any award is touched.
    pub async fn ping(&mut self) -> Result<(), PlatformError> {
        let url = format!("{}/v2/client/{}/ping", self.base_url, self.client_id);
        let reply = self
            .session
            .send(|http, bearer| http.get(&url).bearer_auth(bearer), &[401, 403])
            .await
            .map_err(PlatformError::from_call)?;
        if reply.is_success() {
            Ok(())
        } else {
            Err(PlatformError::from_call(unexpected_status(
                &reply,
                "the connection test",
            )))
        }
    }

    fn issue_body(&self, call: &IssueCall) -> Value {
        let recipients: Vec<Value> = call
            .recipients
            .iter()
            // `name` is required by the spec; an empty one is what OBF's own plugin sends.
            .map(|r| json!({ "email": r.email, "name": r.name.clone().unwrap_or_default() }))
            .collect();
        let awards = call.award_keys().join(" ");
        let mut log_entry = json!({
            LOG_ENTRY_KEY: call.log_entry_hash(),
            "award_count": call.award_keys().len().to_string(),
        });
        if awards.len() <= LOG_ENTRY_AWARDS_MAX_CHARS {
            log_entry["awards"] = Value::String(awards);
        }
        let now = chrono::Utc::now().timestamp();
        let mut body = json!({
            "recipient": recipients,
            // One date per event: the earliest award of the call, never in the future.
            "issued_on": (call.issued_on_ms() / 1000).min(now),
            "api_consumer_id": self.settings.api_consumer_id,
            "send_email": self.settings.send_email,
            "log_entry": log_entry,
        });
        if let Some(message) = self.settings.email_messages.get(&call.language) {
            body["email_message"] = json!(message);
        }
        if let Some(name) = &self.settings.event_name {
            body["event_name"] = Value::String(name.clone());
        }
        body
    }

    pub(super) async fn issue(&mut self, call: &IssueCall) -> Result<Answer, CallError> {
        if !plain_id(&call.platform_badge_id) {
            return Err(CallError::Blocked(format!(
                "\"{}\" is not an Open Badge Factory badge id: fix platform.obf in event.toml",
                call.platform_badge_id
            )));
        }
        let url = format!(
            "{}/v2/event/{}/{}/issue",
            self.base_url, self.client_id, call.platform_badge_id
        );
        let body = self.issue_body(call);
        let reply = self
            .session
            .send(
                |http, bearer| http.post(&url).bearer_auth(bearer).json(&body),
                &[401, 403],
            )
            .await?;
        match reply.status {
            200..=299 => {
                let result = serde_json::from_slice::<OperationResult>(&reply.body).ok();
                match result.and_then(|r| if r.success == Some(false) { None } else { r.resource_id }) {
                    Some(id) => match id_text(&id) {
                        Some(event_id) => Ok(Answer::Recorded { platform_ref: event_id }),
                        None => Err(CallError::Unknown("OBF accepted the issue without an event id".into())),
                    },
                    None => Err(CallError::Unknown(
                        "OBF answered the issue with something unreadable; it will be looked up".into(),
                    )),
                }
            }
            400 | 413 | 422 => Ok(Answer::CallRefused {
                reason: error_reason(&reply),
            }),
            404 => Err(CallError::Blocked(format!(
                "Open Badge Factory has no badge \"{}\" for this organisation ({}): fix platform.obf in \
                 event.toml, or publish the badge in OBF",
                call.platform_badge_id,
                error_reason(&reply)
            ))),
            _ => Err(unexpected_status(&reply, "the issue")),
        }
    }

    /// Finds the event an earlier call created, by its log entry.
    pub(super) async fn look_up(&mut self, call: &IssueCall) -> Result<LookUp, CallError> {
        let url = format!("{}/v2/event/{}", self.base_url, self.client_id);
        let filter = format!("{LOG_ENTRY_KEY}:{}", call.log_entry_hash());
        let mut offset = 0;
        loop {
            let query = [
                ("log_entry", filter.clone()),
                ("limit", PAGE.to_string()),
                ("offset", offset.to_string()),
            ];
            let reply = self
                .session
                .send(
                    |http, bearer| http.get(&url).bearer_auth(bearer).query(&query),
                    &[401, 403],
                )
                .await?;
            if !reply.is_success() {
                return Err(unexpected_status(&reply, "the event look-up"));
            }
            let page: Page<EventListElement> = serde_json::from_slice(&reply.body)
                .map_err(|_| CallError::Unknown("OBF answered the event look-up with something unreadable".into()))?;
            // Checked here too: were the filter ignored, a foreign event must not confirm ours.
            let found = page
                .result
                .iter()
                .find(|event| log_entry_matches(event.log_entry.as_ref(), call.log_entry_hash()));
            if let Some(event) = found {
                if let Some(event_id) = id_text(&event.id) {
                    return Ok(LookUp::Found(event_id));
                }
            }
            offset += page.result.len();
            let more = page.total.is_some_and(|total| offset < total) && page.result.len() == PAGE;
            if !more {
                return Ok(LookUp::NotFound);
            }
        }
    }

    /// Acceptance read back for the claim-rate report, over the given events.
    pub async fn claim_report(&mut self, event_ids: &[String]) -> Result<ClaimReport, PlatformError> {
        let url = format!("{}/v2/event/{}/recipient", self.base_url, self.client_id);
        let mut report = ClaimReport::default();
        let mut seen = std::collections::BTreeSet::new();
        for event_id in event_ids {
            if !seen.insert(event_id) || !plain_id(event_id) {
                continue;
            }
            let mut offset = 0;
            loop {
                let query = [
                    ("event_id", event_id.clone()),
                    ("limit", PAGE.to_string()),
                    ("offset", offset.to_string()),
                ];
                let reply = self
                    .session
                    .send(
                        |http, bearer| http.get(&url).bearer_auth(bearer).query(&query),
                        &[401, 403],
                    )
                    .await
                    .map_err(PlatformError::from_call)?;
                if !reply.is_success() {
                    return Err(PlatformError::from_call(unexpected_status(
                        &reply,
                        "the recipient list",
                    )));
                }
                let page: Page<EventRecipient> = serde_json::from_slice(&reply.body).map_err(|_| {
                    PlatformError::Transient("OBF answered the recipient list with something unreadable".into())
                })?;
                for recipient in &page.result {
                    if recipient.revoked {
                        report.revoked += 1;
                    } else if recipient.received || recipient.in_passport {
                        report.issued += 1;
                        report.accepted += 1;
                    } else {
                        report.issued += 1;
                        report.pending += 1;
                    }
                }
                offset += page.result.len();
                if page.result.len() < PAGE || page.total.is_some_and(|total| offset >= total) {
                    break;
                }
            }
        }
        Ok(report)
    }
}

/// OBF returns `log_entry` as a JSON string holding the object we sent; accept the object
/// itself too.
pub(crate) fn log_entry_matches(log_entry: Option<&Value>, hash: &str) -> bool {
    let object = match log_entry {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok(),
        Some(value @ Value::Object(_)) => Some(value.clone()),
        _ => None,
    };
    object
        .as_ref()
        .and_then(|o| o.get(LOG_ENTRY_KEY))
        .and_then(Value::as_str)
        .is_some_and(|value| value == hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ledger::PendingIssue;
    use crate::platform::plan::plan_calls;

    fn client(settings: ObfSettings) -> ObfClient {
        let credentials = ObfCredentials {
            client_id: "XYZ1234".into(),
            client_secret: Secret::new("s"),
            base_url: "http://127.0.0.1:9".into(),
        };
        ObfClient::new(&credentials, settings, TransportSettings::default())
    }

    fn call(language: Language, keys: &[&str]) -> IssueCall {
        let pending: Vec<PendingIssue> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| PendingIssue {
                award_key: key.to_string(),
                platform_badge_id: "BADGE01".into(),
                email: format!("v{i}@example.org"),
                name: (i == 0).then(|| "Ana Lopez".to_string()),
                issued_on: 1_780_000_000_000 + i as i64 * 1000,
                language,
                sending: None,
            })
            .collect();
        plan_calls(&pending, client(ObfSettings::default()).shape())
            .calls
            .remove(0)
    }

    #[test]
    fn issue_body_follows_the_spec() {
        let mut settings = ObfSettings::default();
        settings.email_messages.insert(
            Language::En,
            EmailMessage {
                subject: "Your badge".into(),
                body: "Claim it".into(),
                link_text: "Claim".into(),
                footer: String::new(),
            },
        );
        settings.event_name = Some("Forum des métiers".into());
        let obf = client(settings);
        let english = call(Language::En, &["k1", "k2"]);
        let body = obf.issue_body(&english);
        assert_eq!(
            body["recipient"][0],
            json!({"email": "v0@example.org", "name": "Ana Lopez"})
        );
        assert_eq!(body["recipient"][1]["name"], "");
        assert_eq!(body["issued_on"], 1_780_000_000);
        assert_eq!(body["api_consumer_id"], "badge-kiosk");
        assert_eq!(body["send_email"], true);
        assert_eq!(body["log_entry"][LOG_ENTRY_KEY], english.log_entry_hash());
        assert_eq!(body["log_entry"]["awards"], "k1 k2");
        assert_eq!(body["email_message"]["subject"], "Your badge");
        assert_eq!(body["event_name"], "Forum des métiers");
        // No French message configured: OBF's default message is used.
        let french = obf.issue_body(&call(Language::Fr, &["k9"]));
        assert!(french.get("email_message").is_none());
    }

    #[test]
    fn large_calls_keep_only_the_hash_in_the_log_entry() {
        let keys: Vec<String> = (0..500).map(|i| format!("kiosk-a:{i:06}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let obf = client(ObfSettings::default());
        let body = obf.issue_body(&call(Language::Fr, &refs));
        assert!(body["log_entry"].get("awards").is_none());
        assert_eq!(body["log_entry"]["award_count"], "500");
    }

    #[test]
    fn log_entry_matches_string_or_object_and_nothing_else() {
        let hash = "00ff";
        assert!(log_entry_matches(Some(&json!("{\"badge_kiosk\":\"00ff\"}")), hash));
        assert!(log_entry_matches(Some(&json!({"badge_kiosk": "00ff"})), hash));
        assert!(!log_entry_matches(Some(&json!("{\"badge_kiosk\":\"00fe\"}")), hash));
        assert!(!log_entry_matches(Some(&json!("{\"wwwroot\":\"x\"}")), hash));
        assert!(!log_entry_matches(None, hash));
    }

    #[test]
    fn only_plain_ids_reach_a_url() {
        assert!(plain_id("BADGE01"));
        assert!(plain_id("K829IK8RS6ercwkpeFOn-Q"));
        assert!(!plain_id("a/../b"));
        assert!(!plain_id(""));
        assert!(!plain_id("a?b"));
    }
}
