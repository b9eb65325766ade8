//! Canvas Credentials (formerly Badgr) API v2 client.
//!
//! Written from the published contract: the Canvas Credentials developer docs
//! (developerdocs.instructure.com/services/credentials: "Getting Started" for the token and
//! the regional API hosts, "openapi/issuers" and "openapi/assertions" for assertions and
//! `allowDuplicateAwards`), the v2 swagger served by api.badgr.io (`/docs/v2`, Assertion
//! definition), and the open-source badgr-server it is built on (`apps/issuer/api.py`
//! `BatchAssertionsIssue`, `v2_api_urls.py`, `serializers_v2.py`):
//!
//! - `POST /o/token`: `username` + `password` (password grant), or `grant_type=refresh_token`
//!   + `refresh_token`, or a registered app's `client_credentials` → `{access_token,
//!   token_type, expires_in, refresh_token}`.
//! - `POST /v2/badgeclasses/{entityId}/issue`: `{create_notification, assertions: [Assertion]}`
//!   where an Assertion has `recipient {identity, type: "email", hashed}`, `issuedOn`
//!   (ISO 8601, must not be in the future), `notify`, `allowDuplicateAwards` ("If set to
//!   false, the badge won't be awarded if the recipient already has it. HTTP 400 will be
//!   returned."). The batch is validated as a whole: 201 with `{status, result: [Assertion]}`
//!   in request order, or 400 `{status, fieldErrors: [ {…per assertion…} ], …}` and nothing
//!   saved.
//! - `GET /v2/badgeclasses/{entityId}/assertions?recipient=…` → `{status, result:
//!   [Assertion]}`, revoked ones left out by default.
//! - 401 for an expired or unknown token, 429 "Too Many Requests", 500 (the docs' response
//!   list for every assertion endpoint).

use serde::Deserialize;
use serde_json::{json, Value};

use super::credentials::{BadgrAuth, BadgrCredentials, Secret};
use super::http::{
    exchange, token_failure, unexpected_status, CallError, Reply, Session, SessionStats, Token, TokenAnswer,
    TokenSource, TransportSettings,
};
use super::obf::plain_id;
use super::plan::{Answer, CallShape, IssueCall, RecipientAnswer, BADGR_DEFAULT_BATCH};
use super::LookUp;

#[derive(Debug, Clone)]
pub struct BadgrSettings {
    /// Whether Canvas Credentials emails each recipient (per event).
    pub notify: bool,
    /// Assertions per batch call.
    pub batch_size: usize,
    /// Publish the recipient's email hashed in the public assertion (privacy by default).
    pub hash_recipient: bool,
}

impl Default for BadgrSettings {
    fn default() -> Self {
        Self {
            notify: true,
            batch_size: BADGR_DEFAULT_BATCH,
            hash_recipient: true,
        }
    }
}

pub struct BadgrTokens {
    base_url: String,
    auth: BadgrAuth,
}

impl BadgrTokens {
    fn primary_form(&self) -> Vec<(&'static str, String)> {
        match &self.auth {
            BadgrAuth::Password { username, password } => vec![
                ("grant_type", "password".into()),
                ("username", username.clone()),
                ("password", password.expose().to_owned()),
            ],
            BadgrAuth::ClientCredentials {
                client_id,
                client_secret,
            } => vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", client_id.clone()),
                ("client_secret", client_secret.expose().to_owned()),
                ("scope", "rw:issuer".into()),
            ],
        }
    }

    async fn request(&self, http: &reqwest::Client, form: &[(&str, String)], limit: usize) -> Result<Reply, CallError> {
        let request = http.post(format!("{}/o/token", self.base_url)).form(form);
        exchange(request, limit).await.map_err(|error| match error {
            // A token request issues nothing, whatever happened to it.
            CallError::Unknown(reason) => CallError::NotProcessed {
                reason,
                retry_after: None,
            },
            other => other,
        })
    }
}

impl TokenSource for BadgrTokens {
    async fn fetch(&self, http: &reqwest::Client, refresh: Option<&Secret>, limit: usize) -> Result<Token, CallError> {
        if let Some(refresh) = refresh {
            let form = [
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", refresh.expose().to_owned()),
            ];
            let reply = self.request(http, &form, limit).await?;
            if reply.is_success() {
                let answer = TokenAnswer::parse(&reply, "Canvas Credentials")?;
                return Ok(token_of(answer));
            }
            // A used or expired refresh token: fall back to the account's own grant.
            if !matches!(reply.status, 400 | 401) {
                return Err(token_failure(
                    &reply,
                    "Canvas Credentials",
                    "check the [badgr] credentials",
                ));
            }
        }
        let reply = self.request(http, &self.primary_form(), limit).await?;
        if !reply.is_success() {
            return Err(token_failure(
                &reply,
                "Canvas Credentials",
                "check username and password (the account needs a password set, see Getting Started) \
                 or the app's client_id and client_secret, and the region",
            ));
        }
        Ok(token_of(TokenAnswer::parse(&reply, "Canvas Credentials")?))
    }
}

fn token_of(answer: TokenAnswer) -> Token {
    // The documented answer carries expires_in (86400); assume an hour without it.
    Token::new(
        answer.access_token,
        answer.refresh_token,
        answer.expires_in,
        std::time::Duration::from_secs(3600),
    )
}

pub struct BadgrClient {
    session: Session<BadgrTokens>,
    base_url: String,
    settings: BadgrSettings,
    /// Answers of an interrupted look-up (log entry, per recipient), so a retry asks only
    /// about the recipients not answered yet.
    lookup_progress: Option<(String, Vec<Option<Option<String>>>)>,
    /// Look-up answers received so far: lets the executor tell a slow look-up from a stuck one.
    lookup_answers: usize,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Assertion {
    #[serde(rename = "entityId", default)]
    pub(crate) entity_id: Option<String>,
    #[serde(default)]
    pub(crate) revoked: Option<Value>,
}

/// The v2 envelope (`{status, result}`); older answers are bare arrays.
pub(crate) fn assertions_of(body: &[u8]) -> Option<Vec<Assertion>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let list = match &value {
        Value::Array(_) => value,
        Value::Object(object) => object.get("result")?.clone(),
        _ => return None,
    };
    serde_json::from_value(list).ok()
}

pub(crate) fn revoked(assertion: &Assertion) -> bool {
    match &assertion.revoked {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Every message in a DRF error value, flattened.
fn messages(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| messages(item, out)),
        Value::Object(fields) => fields.values().for_each(|item| messages(item, out)),
        _ => {}
    }
}

/// The text badgr-server raises when `allowDuplicateAwards` is false and the recipient
/// already holds the badge (`serializers_v2.py`).
fn is_duplicate_message(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("previous award") || (message.contains("already") && message.contains("award"))
}

/// Reads a 400: one error object per assertion, in request order, when the platform gives them.
pub(crate) fn refusal_of(reply: &Reply, recipients: usize) -> Answer {
    let value: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let per_item = value
        .get("fieldErrors")
        .or_else(|| value.get("field_errors"))
        .and_then(Value::as_array)
        .filter(|items| items.len() == recipients);
    if let Some(items) = per_item {
        let answers = items
            .iter()
            .map(|item| {
                let mut found = Vec::new();
                messages(item, &mut found);
                if found.is_empty() {
                    RecipientAnswer::NotProcessed
                } else if found.iter().any(|m| is_duplicate_message(m)) {
                    RecipientAnswer::AlreadyIssued
                } else {
                    RecipientAnswer::Refused(found.join("; "))
                }
            })
            .collect();
        return Answer::PerRecipient(answers);
    }
    let mut found = Vec::new();
    messages(&value, &mut found);
    found.retain(|m| !m.is_empty() && m != "bad request");
    let reason = if found.is_empty() {
        format!("HTTP {}: {}", reply.status, reply.body_excerpt())
    } else {
        found.join("; ")
    };
    // A single recipient told it already has the badge is a success for us.
    if recipients == 1 && is_duplicate_message(&reason) {
        return Answer::PerRecipient(vec![RecipientAnswer::AlreadyIssued]);
    }
    Answer::CallRefused { reason }
}

impl BadgrClient {
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// See [`super::http::Session::token_wait`].
    pub fn token_wait(&self) -> std::time::Duration {
        self.session.token_wait()
    }

    pub fn new(credentials: &BadgrCredentials, settings: BadgrSettings, transport: TransportSettings) -> Self {
        let tokens = BadgrTokens {
            base_url: credentials.base_url.clone(),
            auth: credentials.auth.clone(),
        };
        Self {
            session: Session::new(tokens, transport),
            base_url: credentials.base_url.clone(),
            settings,
            lookup_progress: None,
            lookup_answers: 0,
        }
    }

    pub fn stats(&self) -> SessionStats {
        self.session.stats
    }

    pub(super) fn lookup_answers(&self) -> usize {
        self.lookup_answers
    }

    pub(super) fn shape(&self) -> CallShape {
        CallShape {
            max_recipients: self.settings.batch_size.max(1),
            split_by_language: false,
        }
    }

    fn issue_body(&self, call: &IssueCall) -> Value {
        let now = chrono::Utc::now();
        let assertions: Vec<Value> = call
            .recipients
            .iter()
            .map(|recipient| {
                // badgr-server refuses issuedOn dates in the future; a kiosk clock may run fast.
                let issued_on = chrono::DateTime::from_timestamp_millis(recipient.issued_on_ms)
                    .filter(|date| *date <= now)
                    .unwrap_or(now);
                json!({
                    "recipient": {
                        "identity": recipient.email,
                        "type": "email",
                        "hashed": self.settings.hash_recipient,
                    },
                    "issuedOn": issued_on.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "notify": self.settings.notify,
                    "allowDuplicateAwards": false,
                })
            })
            .collect();
        json!({
            "create_notification": self.settings.notify,
            "assertions": assertions,
        })
    }

    fn check_badge(call: &IssueCall) -> Result<(), CallError> {
        if plain_id(&call.platform_badge_id) {
            Ok(())
        } else {
            Err(CallError::Blocked(format!(
                "\"{}\" is not a Canvas Credentials badge class id: fix platform.badgr in event.toml",
                call.platform_badge_id
            )))
        }
    }

    pub(super) async fn issue(&mut self, call: &IssueCall) -> Result<Answer, CallError> {
        Self::check_badge(call)?;
        let url = format!("{}/v2/badgeclasses/{}/issue", self.base_url, call.platform_badge_id);
        let body = self.issue_body(call);
        let reply = self
            .session
            .send(|http, bearer| http.post(&url).bearer_auth(bearer).json(&body), &[401])
            .await?;
        match reply.status {
            200..=299 => match assertions_of(&reply.body) {
                Some(list) if list.len() == call.recipients.len() => Ok(Answer::PerRecipient(
                    list.into_iter()
                        .map(|a| match a.entity_id {
                            Some(id) => RecipientAnswer::Issued(id),
                            None => RecipientAnswer::Issued("issued".into()),
                        })
                        .collect(),
                )),
                // 202 (asynchronous batch) or an answer we cannot map to recipients.
                _ => Err(CallError::Unknown(
                    "Canvas Credentials took the batch without listing the awards; they will be looked up".into(),
                )),
            },
            400 | 413 | 422 => Ok(refusal_of(&reply, call.recipients.len())),
            403 => Err(CallError::Blocked(
                "Canvas Credentials says this account may not award this badge: make it staff (or \
                 editor) of the issuer, then run the issue again"
                    .into(),
            )),
            404 => Err(CallError::Blocked(format!(
                "Canvas Credentials has no badge class \"{}\" for this account: fix platform.badgr in \
                 event.toml (the entity id is in the badge's URL)",
                call.platform_badge_id
            ))),
            _ => Err(unexpected_status(&reply, "the batch issue")),
        }
    }

    /// Which recipients of an earlier call already hold the badge (one documented
    /// `recipient` filter per request).
    pub(super) async fn look_up(&mut self, call: &IssueCall) -> Result<LookUp, CallError> {
        Self::check_badge(call)?;
        let url = format!(
            "{}/v2/badgeclasses/{}/assertions",
            self.base_url, call.platform_badge_id
        );
        let mut progress = match self.lookup_progress.take() {
            Some((log_entry, answers)) if log_entry == call.log_entry && answers.len() == call.recipients.len() => {
                answers
            }
            _ => vec![None; call.recipients.len()],
        };
        for (index, recipient) in call.recipients.iter().enumerate() {
            if progress.get(index).is_some_and(Option::is_some) {
                continue;
            }
            let query = [("recipient", recipient.email.as_str())];
            let answer = self
                .session
                .send(|http, bearer| http.get(&url).bearer_auth(bearer).query(&query), &[401])
                .await
                .and_then(|reply| {
                    if !reply.is_success() {
                        return Err(unexpected_status(&reply, "the award look-up"));
                    }
                    assertions_of(&reply.body).ok_or_else(|| {
                        CallError::Unknown(
                            "Canvas Credentials answered the award look-up with something unreadable".into(),
                        )
                    })
                });
            match answer {
                Ok(list) => {
                    self.lookup_answers += 1;
                    let found = list
                        .iter()
                        .find(|a| !revoked(a))
                        .map(|a| a.entity_id.clone().unwrap_or_else(|| "issued".into()));
                    if let Some(slot) = progress.get_mut(index) {
                        *slot = Some(found);
                    }
                }
                Err(error) => {
                    self.lookup_progress = Some((call.log_entry.clone(), progress));
                    return Err(error);
                }
            }
        }
        Ok(LookUp::PerRecipient(
            progress.into_iter().map(Option::flatten).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ledger::{Language, PendingIssue};
    use crate::platform::plan::plan_calls;

    fn client() -> BadgrClient {
        let credentials = BadgrCredentials {
            auth: BadgrAuth::Password {
                username: "o@example.org".into(),
                password: Secret::new("p"),
            },
            base_url: "http://127.0.0.1:9".into(),
        };
        BadgrClient::new(&credentials, BadgrSettings::default(), TransportSettings::default())
    }

    fn call(n: usize, issued_on: i64) -> IssueCall {
        let pending: Vec<PendingIssue> = (0..n)
            .map(|i| PendingIssue {
                award_key: format!("k{i}"),
                platform_badge_id: "K829IK8RS6ercwkpeFOn-Q".into(),
                email: format!("v{i}@example.org"),
                name: None,
                issued_on,
                language: Language::Fr,
                sending: None,
            })
            .collect();
        plan_calls(&pending, client().shape()).calls.remove(0)
    }

    #[test]
    fn batch_body_asks_for_no_duplicates_and_never_dates_the_future() {
        let body = client().issue_body(&call(2, 4_102_444_800_000));
        assert_eq!(body["create_notification"], true);
        let first = &body["assertions"][0];
        assert_eq!(first["allowDuplicateAwards"], false);
        assert_eq!(
            first["recipient"],
            json!({"identity": "v0@example.org", "type": "email", "hashed": true})
        );
        let issued = chrono::DateTime::parse_from_rfc3339(first["issuedOn"].as_str().unwrap()).unwrap();
        assert!(issued.timestamp() <= chrono::Utc::now().timestamp());
        let past = client().issue_body(&call(1, 1_780_000_000_000));
        assert_eq!(past["assertions"][0]["issuedOn"], "2026-05-28T20:26:40Z");
    }

    #[test]
    fn per_assertion_errors_become_per_recipient_answers() {
        let body = json!({
            "status": {"success": false, "description": "bad request"},
            "fieldErrors": [
                {},
                {"non_field_errors": ["A previous award of this badge already exists for this recipient."]},
                {"recipient": {"identity": ["Enter a valid email address."]}}
            ],
            "validationErrors": []
        });
        let reply = Reply {
            status: 400,
            retry_after: None,
            body: body.to_string().into_bytes(),
        };
        assert_eq!(
            refusal_of(&reply, 3),
            Answer::PerRecipient(vec![
                RecipientAnswer::NotProcessed,
                RecipientAnswer::AlreadyIssued,
                RecipientAnswer::Refused("Enter a valid email address.".into()),
            ])
        );
        // Without per-assertion detail the whole call is refused (and gets halved).
        let plain = Reply {
            status: 400,
            retry_after: None,
            body: br#"{"status":{"success":false,"description":"bad request"},"validationErrors":["Invalid batch"]}"#
                .to_vec(),
        };
        assert_eq!(
            refusal_of(&plain, 3),
            Answer::CallRefused {
                reason: "Invalid batch".into()
            }
        );
    }

    #[test]
    fn assertion_lists_are_read_from_the_envelope_or_a_bare_array() {
        let envelope = br#"{"status":{"success":true},"result":[{"entityId":"A1","revoked":false}]}"#;
        assert_eq!(assertions_of(envelope).unwrap()[0].entity_id.as_deref(), Some("A1"));
        let bare = br#"[{"entityId":"A2","revoked":"True"}]"#;
        let list = assertions_of(bare).unwrap();
        assert!(revoked(&list[0]));
        assert!(assertions_of(b"<html>").is_none());
    }
}
