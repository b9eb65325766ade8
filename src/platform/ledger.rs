//! Where the issuing state of each award lives: the hub implements [`IssueLedger`] over
//! its database; [`MemoryLedger`] serves tests and dry runs.
//!
//! Exactly-once rests on one rule: an award is marked "sending with log entry L" and that
//! mark is durable *before* the call that carries it leaves. After a crash or a lost
//! answer, the mark tells the executor to look L up on the platform before resending.

use std::collections::BTreeMap;
use std::future::Future;

use thiserror::Error;

/// The event's languages: one email message per language on the platform.
pub use crate::domain::event::Language;

/// An award waiting to be issued on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingIssue {
    /// The hub's unique key for the award (e.g. kiosk id + sequence).
    pub award_key: String,
    /// The badge id on the platform, from `platform = { obf = …, badgr = … }` in event.toml.
    pub platform_badge_id: String,
    pub email: String,
    pub name: Option<String>,
    /// When the award was earned (ms since the Unix epoch).
    pub issued_on: i64,
    pub language: Language,
    /// Set when an earlier call carrying this award had no definite answer: the log entry
    /// it was sent with. The executor looks it up before sending the award again.
    pub sending: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the issue ledger failed: {0} (nothing was sent after this; run the issue again)")]
pub struct LedgerError(pub String);

/// The hub's record of what was handed to the platform. Every method must be durable when
/// it returns (committed), since the executor relies on it across crashes.
///
/// The methods are async so that a database-backed ledger can run its SQLite work on a
/// blocking thread (`spawn_blocking`) and never stall the runtime the HTTP calls run on.
pub trait IssueLedger: Send {
    /// Awards not yet confirmed or failed, including those with a `sending` mark.
    fn pending(&self) -> impl Future<Output = Result<Vec<PendingIssue>, LedgerError>> + Send;
    /// Called before the call leaves: these awards are being sent with `log_entry`.
    fn mark_sending(
        &mut self,
        award_keys: &[String],
        log_entry: &str,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// The platform holds these awards (`platform_ref`: OBF event id, Badgr assertion id).
    /// From here on the email may be erased after the retention period.
    fn mark_confirmed(
        &mut self,
        award_keys: &[String],
        platform_ref: &str,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// The platform refused this award for good; `reason` is the platform's, for the organiser.
    fn mark_failed(&mut self, award_key: &str, reason: &str) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwardState {
    Pending,
    Sending(String),
    Confirmed(String),
    Failed(String),
}

/// What happened to the ledger, in order: lets tests check that "sending" always precedes
/// the call and that nothing is confirmed twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEvent {
    Sending {
        award_keys: Vec<String>,
        log_entry: String,
    },
    Confirmed {
        award_keys: Vec<String>,
        platform_ref: String,
    },
    Failed {
        award_key: String,
        reason: String,
    },
}

/// An in-memory ledger for tests and dry runs.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    awards: BTreeMap<String, (PendingIssue, AwardState)>,
    pub events: Vec<LedgerEvent>,
}

impl MemoryLedger {
    pub fn new(awards: impl IntoIterator<Item = PendingIssue>) -> Self {
        let mut ledger = Self::default();
        ledger.add(awards);
        ledger
    }

    pub fn add(&mut self, awards: impl IntoIterator<Item = PendingIssue>) {
        for award in awards {
            let state = match &award.sending {
                Some(log_entry) => AwardState::Sending(log_entry.clone()),
                None => AwardState::Pending,
            };
            self.awards.insert(award.award_key.clone(), (award, state));
        }
    }

    pub fn state(&self, award_key: &str) -> Option<&AwardState> {
        self.awards.get(award_key).map(|(_, state)| state)
    }

    pub fn count(&self, wanted: impl Fn(&AwardState) -> bool) -> usize {
        self.awards.values().filter(|(_, state)| wanted(state)).count()
    }

    pub fn confirmed(&self) -> usize {
        self.count(|s| matches!(s, AwardState::Confirmed(_)))
    }

    pub fn failed(&self) -> Vec<(String, String)> {
        self.awards
            .iter()
            .filter_map(|(key, (_, state))| match state {
                AwardState::Failed(reason) => Some((key.clone(), reason.clone())),
                _ => None,
            })
            .collect()
    }

    fn set(&mut self, award_key: &str, state: AwardState) -> Result<(), LedgerError> {
        let entry = self
            .awards
            .get_mut(award_key)
            .ok_or_else(|| LedgerError(format!("unknown award {award_key}")))?;
        if matches!(entry.1, AwardState::Confirmed(_) | AwardState::Failed(_)) {
            return Err(LedgerError(format!("award {award_key} is already settled")));
        }
        entry.1 = state;
        Ok(())
    }
}

impl IssueLedger for MemoryLedger {
    async fn pending(&self) -> Result<Vec<PendingIssue>, LedgerError> {
        Ok(self
            .awards
            .values()
            .filter_map(|(award, state)| match state {
                AwardState::Pending => Some(PendingIssue {
                    sending: None,
                    ..award.clone()
                }),
                AwardState::Sending(log_entry) => Some(PendingIssue {
                    sending: Some(log_entry.clone()),
                    ..award.clone()
                }),
                AwardState::Confirmed(_) | AwardState::Failed(_) => None,
            })
            .collect())
    }

    async fn mark_sending(&mut self, award_keys: &[String], log_entry: &str) -> Result<(), LedgerError> {
        for key in award_keys {
            self.set(key, AwardState::Sending(log_entry.to_owned()))?;
        }
        self.events.push(LedgerEvent::Sending {
            award_keys: award_keys.to_vec(),
            log_entry: log_entry.to_owned(),
        });
        Ok(())
    }

    async fn mark_confirmed(&mut self, award_keys: &[String], platform_ref: &str) -> Result<(), LedgerError> {
        for key in award_keys {
            self.set(key, AwardState::Confirmed(platform_ref.to_owned()))?;
        }
        self.events.push(LedgerEvent::Confirmed {
            award_keys: award_keys.to_vec(),
            platform_ref: platform_ref.to_owned(),
        });
        Ok(())
    }

    async fn mark_failed(&mut self, award_key: &str, reason: &str) -> Result<(), LedgerError> {
        self.set(award_key, AwardState::Failed(reason.to_owned()))?;
        self.events.push(LedgerEvent::Failed {
            award_key: award_key.to_owned(),
            reason: reason.to_owned(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn award(key: &str) -> PendingIssue {
        PendingIssue {
            award_key: key.into(),
            platform_badge_id: "B".into(),
            email: format!("{key}@example.org"),
            name: None,
            issued_on: 0,
            language: Language::Fr,
            sending: None,
        }
    }

    #[tokio::test]
    async fn sending_marks_survive_in_pending_and_settled_awards_leave() {
        let mut ledger = MemoryLedger::new([award("a"), award("b"), award("c")]);
        ledger
            .mark_sending(&["a".into(), "b".into()], "badge-kiosk:1")
            .await
            .unwrap();
        ledger.mark_confirmed(&["b".into()], "EV1").await.unwrap();
        ledger.mark_failed("c", "refused").await.unwrap();
        let pending = ledger.pending().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].sending.as_deref(), Some("badge-kiosk:1"));
        assert_eq!(ledger.failed(), vec![("c".to_string(), "refused".to_string())]);
        // Settled awards are never settled again: a second confirm is a bug.
        assert!(ledger.mark_confirmed(&["b".into()], "EV2").await.is_err());
    }

    #[test]
    fn language_codes_round_trip() {
        assert_eq!(Language::from_code("EN"), Language::En);
        assert_eq!(Language::from_code("fr"), Language::Fr);
        assert_eq!(Language::from_code("de"), Language::Fr);
        assert_eq!(Language::En.code(), "en");
    }
}
