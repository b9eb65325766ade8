//! What to send to the badge platform, decided purely from the ledger's pending awards;
//! and what each answer means for each award. The executor only carries these out.
//!
//! The unit of work is an [`IssueCall`]: one badge class, a list of distinct recipients,
//! and a `log_entry` derived from the award keys it carries. The same award keys always
//! give the same `log_entry`, so a call whose answer was lost can be found again on the
//! platform (Open Badge Factory keeps it with the issuing event) before anything is resent.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::ledger::{Language, PendingIssue};

/// Prefix of every log entry this program writes, so an organiser browsing the platform's
/// issuing log can tell kiosk issues apart from manual ones.
pub const LOG_ENTRY_PREFIX: &str = "badge-kiosk:";

/// Open Badge Factory API v2 accepts 1 to 10,000 recipients per issue call (the
/// `recipient` array limits in its OpenAPI spec, as enforced by OBF's own mock in
/// moodle-local_obf `tests/behat/mock_obf_api.php`).
pub const OBF_MAX_RECIPIENTS: usize = 10_000;

/// Canvas Credentials documents no size limit for `POST /v2/badgeclasses/{entityId}/issue`.
/// The open-source badgr-server validates and saves a batch in one request, so a batch
/// must stay small enough to finish within the gateway timeout; 100 is the largest list
/// size the Canvas Credentials API documents anywhere (`ids`, max 100, on
/// `/v2/assertions/creation-methods`), so we use it as a conservative default.
pub const BADGR_DEFAULT_BATCH: usize = 100;

/// One recipient of a call: every award key that gives this email this badge. Awards for
/// the same badge and the same email travel together so the platform issues it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The email as typed (trimmed); platforms compare case-insensitively.
    pub email: String,
    pub name: Option<String>,
    pub award_keys: Vec<String>,
    pub issued_on_ms: i64,
    pub language: Language,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCall {
    pub platform_badge_id: String,
    /// The language of the email message (Open Badge Factory sends one message per call).
    pub language: Language,
    pub recipients: Vec<Recipient>,
    /// `badge-kiosk:` + 32 hex digits of SHA-256 over the sorted award keys.
    pub log_entry: String,
}

impl IssueCall {
    fn new(platform_badge_id: String, language: Language, recipients: Vec<Recipient>) -> Self {
        let log_entry = log_entry_for(recipients.iter().flat_map(|r| r.award_keys.iter().map(String::as_str)));
        Self {
            platform_badge_id,
            language,
            recipients,
            log_entry,
        }
    }

    pub fn award_keys(&self) -> Vec<String> {
        self.recipients
            .iter()
            .flat_map(|r| r.award_keys.iter().cloned())
            .collect()
    }

    /// The earliest award time of the call: OBF records one `issued_on` per event.
    pub fn issued_on_ms(&self) -> i64 {
        self.recipients.iter().map(|r| r.issued_on_ms).min().unwrap_or(0)
    }

    /// The hash part of the log entry, which is what OBF's `log_entry` filter matches.
    pub fn log_entry_hash(&self) -> &str {
        self.log_entry.strip_prefix(LOG_ENTRY_PREFIX).unwrap_or(&self.log_entry)
    }
}

/// The deterministic log entry of a set of award keys (order does not matter).
pub fn log_entry_for<'a>(award_keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut keys: Vec<&str> = award_keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut hasher = Sha256::new();
    for key in keys {
        // Length-prefixed so ["ab", "c"] and ["a", "bc"] differ.
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key.as_bytes());
    }
    let digest = hex::encode(hasher.finalize());
    format!("{LOG_ENTRY_PREFIX}{}", &digest[..32])
}

/// How calls are cut for one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallShape {
    pub max_recipients: usize,
    /// OBF sends one email message per call, so calls are split by language.
    pub split_by_language: bool,
}

/// The case-insensitive identity of a recipient for one badge.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A light check matching what Open Badge Factory's spec accepts
/// (`^[^@<]{1,64}@[^@>]{1,255}$`) plus a dot in the domain; the platform has the last word.
pub fn email_acceptable(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.chars().count()) && !local.contains('<');
    let domain_ok = (1..=255).contains(&domain.chars().count())
        && !domain.contains(['@', '>'])
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.');
    local_ok && domain_ok && !email.chars().any(char::is_whitespace)
}

/// The plan of one pass: calls to make, and awards refused before sending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub calls: Vec<IssueCall>,
    /// (award key, reason): no platform would accept them; kept as failed.
    pub rejected: Vec<(String, String)>,
}

/// Groups pending awards into calls: per platform badge id (and language when the
/// platform sends one message per call), one recipient per distinct email, at most
/// `shape.max_recipients` recipients per call. Deterministic: the same pending awards
/// always give the same calls, in the same order, with the same log entries.
pub fn plan_calls(pending: &[PendingIssue], shape: CallShape) -> Plan {
    let mut rejected = Vec::new();
    // badge id -> email key -> recipient (first award wins name and language)
    let mut by_badge: BTreeMap<&str, BTreeMap<String, Recipient>> = BTreeMap::new();
    let mut sorted: Vec<&PendingIssue> = pending.iter().collect();
    sorted.sort_by(|a, b| (a.issued_on, &a.award_key).cmp(&(b.issued_on, &b.award_key)));
    for award in sorted {
        if !email_acceptable(&award.email) {
            rejected.push((
                award.award_key.clone(),
                format!(
                    "\"{}\" is not an email address the platform can send to: correct it, then issue again",
                    award.email.trim()
                ),
            ));
            continue;
        }
        let recipients = by_badge.entry(award.platform_badge_id.as_str()).or_default();
        let recipient = recipients.entry(email_key(&award.email)).or_insert_with(|| Recipient {
            email: award.email.trim().to_owned(),
            name: award.name.clone().filter(|n| !n.trim().is_empty()),
            award_keys: Vec::new(),
            issued_on_ms: award.issued_on,
            language: award.language,
        });
        if !recipient.award_keys.contains(&award.award_key) {
            recipient.award_keys.push(award.award_key.clone());
        }
    }
    let max = shape.max_recipients.max(1);
    let mut calls = Vec::new();
    for (badge, recipients) in by_badge {
        let mut groups: BTreeMap<Language, Vec<Recipient>> = BTreeMap::new();
        for (_, recipient) in recipients {
            let language = if shape.split_by_language {
                recipient.language
            } else {
                Language::Fr
            };
            groups.entry(language).or_default().push(recipient);
        }
        for (language, mut recipients) in groups {
            // Oldest first, so a partial pass issues the earliest awards first.
            recipients.sort_by(|a, b| (a.issued_on_ms, &a.email).cmp(&(b.issued_on_ms, &b.email)));
            for chunk in recipients.chunks(max) {
                let call_language = chunk.first().map(|r| r.language).unwrap_or(language);
                calls.push(IssueCall::new(badge.to_owned(), call_language, chunk.to_vec()));
            }
        }
    }
    Plan { calls, rejected }
}

/// Awards whose earlier call has an unknown outcome, grouped by the log entry they were
/// sent with: each group must be looked up on the platform before anything is resent.
pub fn in_doubt_groups(pending: &[PendingIssue]) -> BTreeMap<String, Vec<PendingIssue>> {
    let mut groups: BTreeMap<String, Vec<PendingIssue>> = BTreeMap::new();
    for award in pending {
        if let Some(log_entry) = &award.sending {
            groups.entry(log_entry.clone()).or_default().push(award.clone());
        }
    }
    groups
}

/// Rebuilds the call an in-doubt group was sent as, keeping its recorded log entry.
pub fn recovery_call(log_entry: &str, awards: &[PendingIssue]) -> Option<IssueCall> {
    let badge = awards.first()?.platform_badge_id.clone();
    let shape = CallShape {
        max_recipients: usize::MAX,
        split_by_language: false,
    };
    let plan = plan_calls(awards, shape);
    let recipients: Vec<Recipient> = plan.calls.into_iter().flat_map(|call| call.recipients).collect();
    let language = recipients.first().map(|r| r.language).unwrap_or(Language::Fr);
    Some(IssueCall {
        platform_badge_id: badge,
        language,
        recipients,
        log_entry: log_entry.to_owned(),
    })
}

/// Halves a call the platform refused as a whole, to find the recipient it objects to.
/// None for a single-recipient call: that recipient is the one refused.
pub fn split_call(call: &IssueCall) -> Option<(IssueCall, IssueCall)> {
    if call.recipients.len() < 2 {
        return None;
    }
    let middle = call.recipients.len() / 2;
    let (left, right) = call.recipients.split_at(middle);
    Some((
        IssueCall::new(call.platform_badge_id.clone(), call.language, left.to_vec()),
        IssueCall::new(call.platform_badge_id.clone(), call.language, right.to_vec()),
    ))
}

/// A call rebuilt from some of its recipients (indices into `call.recipients`).
pub fn subset_call(call: &IssueCall, indices: &[usize]) -> Option<IssueCall> {
    let recipients: Vec<Recipient> = indices
        .iter()
        .filter_map(|&i| call.recipients.get(i).cloned())
        .collect();
    if recipients.is_empty() {
        return None;
    }
    Some(IssueCall::new(
        call.platform_badge_id.clone(),
        call.language,
        recipients,
    ))
}

/// What the platform said about one recipient of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientAnswer {
    /// Issued now; the platform's id for it.
    Issued(String),
    /// The platform already holds this badge for this email (duplicate refused).
    AlreadyIssued,
    /// Refused for good, with the platform's reason.
    Refused(String),
    /// The platform said nothing about it and recorded nothing: send again.
    NotProcessed,
}

/// The platform's definite answer to an issue call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Every recipient was issued as one record (OBF event id).
    Recorded { platform_ref: String },
    /// One answer per recipient, in the call's order (Badgr batch).
    PerRecipient(Vec<RecipientAnswer>),
    /// Nothing was recorded and the whole call was refused; the reason may concern one
    /// recipient only (OBF validates the whole list).
    CallRefused { reason: String },
}

/// What the executor does next with the awards of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Confirm {
        award_keys: Vec<String>,
        platform_ref: String,
    },
    Fail {
        award_key: String,
        reason: String,
    },
    /// Send these recipients again in a new call (new log entry).
    Send(IssueCall),
}

/// Maps a definite answer onto the awards of the call.
pub fn steps_for(call: &IssueCall, answer: &Answer) -> Vec<Step> {
    match answer {
        Answer::Recorded { platform_ref } => vec![Step::Confirm {
            award_keys: call.award_keys(),
            platform_ref: platform_ref.clone(),
        }],
        Answer::CallRefused { reason } => match split_call(call) {
            Some((left, right)) => vec![Step::Send(left), Step::Send(right)],
            None => fail_all(call, reason),
        },
        Answer::PerRecipient(answers) => {
            let mut steps = Vec::new();
            let mut resend = Vec::new();
            for (index, recipient) in call.recipients.iter().enumerate() {
                match answers.get(index) {
                    Some(RecipientAnswer::Issued(platform_ref)) => steps.push(Step::Confirm {
                        award_keys: recipient.award_keys.clone(),
                        platform_ref: platform_ref.clone(),
                    }),
                    Some(RecipientAnswer::AlreadyIssued) => steps.push(Step::Confirm {
                        award_keys: recipient.award_keys.clone(),
                        platform_ref: "already issued on the platform".into(),
                    }),
                    Some(RecipientAnswer::Refused(reason)) => {
                        for key in &recipient.award_keys {
                            steps.push(Step::Fail {
                                award_key: key.clone(),
                                reason: reason.clone(),
                            });
                        }
                    }
                    Some(RecipientAnswer::NotProcessed) | None => resend.push(index),
                }
            }
            if let Some(again) = subset_call(call, &resend) {
                steps.push(Step::Send(again));
            }
            steps
        }
    }
}

fn fail_all(call: &IssueCall, reason: &str) -> Vec<Step> {
    call.award_keys()
        .into_iter()
        .map(|award_key| Step::Fail {
            award_key,
            reason: reason.to_owned(),
        })
        .collect()
}

/// What a look-up found of an earlier call whose answer was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookUp {
    /// The whole call is on the platform (OBF event id).
    Found(String),
    /// Per recipient, in the call's order: the platform's id when it holds the badge.
    PerRecipient(Vec<Option<String>>),
    NotFound,
}

impl LookUp {
    pub fn found_nothing(&self) -> bool {
        match self {
            LookUp::Found(_) => false,
            LookUp::PerRecipient(found) => found.iter().all(Option::is_none),
            LookUp::NotFound => true,
        }
    }
}

/// Confirms what a look-up found; what it did not find is sent again.
pub fn steps_for_lookup(call: &IssueCall, lookup: &LookUp) -> Vec<Step> {
    match lookup {
        LookUp::Found(platform_ref) => vec![Step::Confirm {
            award_keys: call.award_keys(),
            platform_ref: platform_ref.clone(),
        }],
        LookUp::NotFound => vec![Step::Send(call.clone())],
        LookUp::PerRecipient(found) => {
            let mut steps = Vec::new();
            let mut missing = Vec::new();
            for (index, recipient) in call.recipients.iter().enumerate() {
                match found.get(index).cloned().flatten() {
                    Some(platform_ref) => steps.push(Step::Confirm {
                        award_keys: recipient.award_keys.clone(),
                        platform_ref,
                    }),
                    None => missing.push(index),
                }
            }
            if missing.len() == call.recipients.len() {
                steps.push(Step::Send(call.clone()));
            } else if let Some(again) = subset_call(call, &missing) {
                steps.push(Step::Send(again));
            }
            steps
        }
    }
}

/// Parses `Retry-After` (RFC 9110: delay-seconds or an HTTP-date) against `now`.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// The same backoff schedule as the hub sync.
pub use crate::backoff::Backoff;

#[cfg(test)]
mod tests {
    use super::*;

    fn award(key: &str, badge: &str, email: &str, language: Language, issued_on: i64) -> PendingIssue {
        PendingIssue {
            award_key: key.into(),
            platform_badge_id: badge.into(),
            email: email.into(),
            name: None,
            issued_on,
            language,
            sending: None,
        }
    }

    fn obf() -> CallShape {
        CallShape {
            max_recipients: OBF_MAX_RECIPIENTS,
            split_by_language: true,
        }
    }

    #[test]
    fn log_entry_ignores_order_and_changes_with_content() {
        let a = log_entry_for(["k2", "k1", "k3"]);
        assert_eq!(a, log_entry_for(["k1", "k3", "k2"]));
        assert_ne!(a, log_entry_for(["k1", "k2"]));
        assert_ne!(log_entry_for(["ab", "c"]), log_entry_for(["a", "bc"]));
        assert!(a.starts_with(LOG_ENTRY_PREFIX));
        assert_eq!(a.len(), LOG_ENTRY_PREFIX.len() + 32);
    }

    #[test]
    fn ten_thousand_and_one_recipients_make_two_obf_calls() {
        let pending: Vec<PendingIssue> = (0..10_001)
            .map(|i| award(&format!("a{i:05}"), "B1", &format!("v{i}@example.org"), Language::Fr, i))
            .collect();
        let plan = plan_calls(&pending, obf());
        let sizes: Vec<usize> = plan.calls.iter().map(|c| c.recipients.len()).collect();
        assert_eq!(sizes, vec![10_000, 1]);
        // Deterministic: the same input gives the same log entries.
        let again = plan_calls(&pending, obf());
        assert_eq!(plan.calls[0].log_entry, again.calls[0].log_entry);
        assert_ne!(plan.calls[0].log_entry, plan.calls[1].log_entry);
    }

    #[test]
    fn same_email_same_badge_is_one_recipient_even_across_languages() {
        let pending = vec![
            award("a1", "B1", "Ana@Example.org", Language::Fr, 10),
            award("a2", "B1", " ana@example.org ", Language::En, 20),
            award("a3", "B2", "ana@example.org", Language::En, 30),
        ];
        let plan = plan_calls(&pending, obf());
        assert_eq!(plan.calls.len(), 2);
        let b1 = &plan.calls[0];
        assert_eq!(b1.platform_badge_id, "B1");
        assert_eq!(b1.recipients.len(), 1);
        assert_eq!(b1.recipients[0].award_keys, vec!["a1".to_string(), "a2".to_string()]);
        assert_eq!(b1.language, Language::Fr);
        assert_eq!(plan.calls[1].platform_badge_id, "B2");
    }

    #[test]
    fn obf_calls_split_by_language_badgr_calls_do_not() {
        let pending = vec![
            award("a1", "B1", "a@example.org", Language::Fr, 1),
            award("a2", "B1", "b@example.org", Language::En, 2),
        ];
        assert_eq!(plan_calls(&pending, obf()).calls.len(), 2);
        let badgr = CallShape {
            max_recipients: BADGR_DEFAULT_BATCH,
            split_by_language: false,
        };
        assert_eq!(plan_calls(&pending, badgr).calls.len(), 1);
    }

    #[test]
    fn unusable_emails_are_rejected_before_sending() {
        let pending = vec![
            award("a1", "B1", "not-an-email", Language::Fr, 1),
            award("a2", "B1", "a@example.org", Language::Fr, 2),
            award("a3", "B1", "x y@example.org", Language::Fr, 3),
        ];
        let plan = plan_calls(&pending, obf());
        assert_eq!(plan.calls.len(), 1);
        let keys: Vec<&str> = plan.rejected.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["a1", "a3"]);
        assert!(plan.rejected[0].1.contains("correct it"));
    }

    #[test]
    fn email_check_follows_the_obf_pattern() {
        assert!(email_acceptable("ana.lopez+kiosk@lycee.example.fr"));
        assert!(!email_acceptable("@example.org"));
        assert!(!email_acceptable("a@b"));
        assert!(!email_acceptable("a<b@example.org"));
        assert!(!email_acceptable(&format!("{}@example.org", "x".repeat(65))));
    }

    #[test]
    fn refused_call_is_halved_until_the_culprit_is_alone() {
        let pending: Vec<PendingIssue> = (0..5)
            .map(|i| award(&format!("a{i}"), "B1", &format!("v{i}@example.org"), Language::Fr, i))
            .collect();
        let call = plan_calls(&pending, obf()).calls.remove(0);
        let refused = Answer::CallRefused {
            reason: "Invalid recipient email".into(),
        };
        let steps = steps_for(&call, &refused);
        let sizes: Vec<usize> = steps
            .iter()
            .map(|s| match s {
                Step::Send(c) => c.recipients.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(sizes, vec![2, 3]);
        let single = subset_call(&call, &[4]).unwrap();
        assert_eq!(
            steps_for(&single, &refused),
            vec![Step::Fail {
                award_key: "a4".into(),
                reason: "Invalid recipient email".into()
            }]
        );
    }

    #[test]
    fn per_recipient_answers_confirm_fail_and_resend() {
        let pending: Vec<PendingIssue> = (0..4)
            .map(|i| award(&format!("a{i}"), "B1", &format!("v{i}@example.org"), Language::Fr, i))
            .collect();
        let call = plan_calls(&pending, obf()).calls.remove(0);
        let answer = Answer::PerRecipient(vec![
            RecipientAnswer::Issued("X1".into()),
            RecipientAnswer::AlreadyIssued,
            RecipientAnswer::Refused("Enter a valid email address.".into()),
        ]);
        let steps = steps_for(&call, &answer);
        assert_eq!(steps.len(), 4);
        assert!(matches!(&steps[0], Step::Confirm { platform_ref, .. } if platform_ref == "X1"));
        assert!(matches!(&steps[1], Step::Confirm { award_keys, .. } if award_keys == &vec!["a1".to_string()]));
        assert!(matches!(&steps[2], Step::Fail { award_key, .. } if award_key == "a2"));
        match &steps[3] {
            Step::Send(again) => {
                assert_eq!(again.award_keys(), vec!["a3".to_string()]);
                assert_ne!(again.log_entry, call.log_entry);
            }
            other => panic!("expected a resend, got {other:?}"),
        }
    }

    #[test]
    fn in_doubt_awards_are_recovered_with_their_recorded_log_entry() {
        let mut a = award("a1", "B1", "a@example.org", Language::En, 1);
        a.sending = Some("badge-kiosk:feed".into());
        let mut b = award("a2", "B1", "b@example.org", Language::Fr, 2);
        b.sending = Some("badge-kiosk:feed".into());
        let c = award("a3", "B1", "c@example.org", Language::Fr, 3);
        let groups = in_doubt_groups(&[a, b, c]);
        assert_eq!(groups.len(), 1);
        let call = recovery_call("badge-kiosk:feed", &groups["badge-kiosk:feed"]).unwrap();
        assert_eq!(call.log_entry, "badge-kiosk:feed");
        assert_eq!(call.log_entry_hash(), "feed");
        assert_eq!(call.recipients.len(), 2);
    }

    #[test]
    fn lookups_confirm_what_was_found_and_resend_the_rest() {
        let pending: Vec<PendingIssue> = (0..3)
            .map(|i| award(&format!("a{i}"), "B1", &format!("v{i}@example.org"), Language::Fr, i))
            .collect();
        let call = plan_calls(&pending, obf()).calls.remove(0);
        assert_eq!(
            steps_for_lookup(&call, &LookUp::Found("EV7".into())),
            vec![Step::Confirm {
                award_keys: call.award_keys(),
                platform_ref: "EV7".into()
            }]
        );
        // Nothing found: the very same call (same log entry) goes again.
        assert_eq!(
            steps_for_lookup(&call, &LookUp::NotFound),
            vec![Step::Send(call.clone())]
        );
        let partial = LookUp::PerRecipient(vec![None, Some("AS1".into()), None]);
        assert!(!partial.found_nothing());
        let steps = steps_for_lookup(&call, &partial);
        assert!(matches!(&steps[0], Step::Confirm { award_keys, .. } if award_keys == &vec!["a1".to_string()]));
        assert!(
            matches!(&steps[1], Step::Send(again) if again.award_keys() == vec!["a0".to_string(), "a2".to_string()])
        );
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Fri, 01 May 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Fri, 01 May 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..6).map(|_| backoff.next_delay(1.0)).collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[3], Duration::from_millis(800));
        assert_eq!(delays[5], Duration::from_secs(1));
        backoff.reset();
        assert_eq!(backoff.next_delay(0.0), Duration::from_millis(50));
    }
}
