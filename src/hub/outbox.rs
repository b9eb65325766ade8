//! The claim-email outbox in the hub's SQLite: visitors' requests to have their badge
//! emailed, kept until the mailer sends them (or the server refuses them for good).
//!
//! Privacy: the clear address lives only while a message waits. Once sent or refused it
//! is erased; a SHA-256 of the normalised address and a masked hint (`m…@example.fr`)
//! remain for counts and for the organiser's dashboard. Addresses are never logged.

use rusqlite::{params, OptionalExtension};

use super::store::{HubError, HubStore};
use crate::domain::award::normalise_email;

/// At most this many email requests per claim link in [`RATE_WINDOW_MS`].
pub const MAX_EMAILS_PER_TOKEN: u32 = 3;
pub const RATE_WINDOW_MS: i64 = 60 * 60 * 1000;

/// What became of a visitor's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOutcome {
    /// In the outbox under this id.
    Queued(i64),
    /// Too many requests for this claim link: the next one is possible at this time.
    RateLimited { retry_at_ms: i64 },
    /// The claim link does not point at a badge on this hub (yet).
    UnknownClaim,
}

/// A message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub id: i64,
    pub claim_token: String,
    pub address: String,
    pub hint: String,
    pub language: String,
    pub attempts: u32,
}

/// Where one request stands, for the page the visitor sees after the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailState {
    Waiting { attempts: u32, last_error: Option<String> },
    Sent,
    Failed(String),
}

/// The outbox at a glance, for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
    /// The latest error of a message still waiting (e.g. "connection refused").
    pub last_transient_error: Option<String>,
    /// Refused messages: (address hint, reason, when), newest first.
    pub failures: Vec<(String, String, i64)>,
}

/// `marie.curie@example.fr` → `m…@example.fr`: enough for the organiser to recognise a
/// typo in the domain, not enough to be an address.
pub fn mask_address(address: &str) -> String {
    let address = normalise_email(address);
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_owned(),
    }
}

/// The kept trace of an address: the same domain-separated SHA-256 (salted with the event
/// id) as a kiosk's email recipients, so it cannot be matched across events.
pub fn address_sha256(event_id: &str, address: &str) -> [u8; 32] {
    crate::domain::award::email_hash(event_id, address)
}

impl HubStore {
    /// Queues `address` for the badge behind `claim_token`, unless the link is unknown or
    /// already asked [`MAX_EMAILS_PER_TOKEN`] times within the last hour. The address must
    /// have been validated by the caller.
    pub fn queue_claim_email(
        &mut self,
        claim_token: &str,
        address: &str,
        language: &str,
        now_ms: i64,
    ) -> Result<QueueOutcome, HubError> {
        match self.claim(claim_token) {
            Ok(Some(_)) => {}
            // Not a claim link at all, or one whose kiosk has not synced yet.
            Ok(None) | Err(HubError::BadRequest(_)) => return Ok(QueueOutcome::UnknownClaim),
            Err(failure) => return Err(failure),
        }
        let event_id = self.event.event.id.clone();
        let transaction = self
            .connection_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let since = now_ms - RATE_WINDOW_MS;
        let (recent, oldest): (i64, Option<i64>) = transaction.query_row(
            "SELECT COUNT(*), MIN(requested_ms) FROM claim_emails WHERE claim_token = ?1 AND requested_ms > ?2",
            params![claim_token, since],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if recent >= i64::from(MAX_EMAILS_PER_TOKEN) {
            return Ok(QueueOutcome::RateLimited {
                retry_at_ms: oldest.unwrap_or(now_ms) + RATE_WINDOW_MS,
            });
        }
        transaction.execute(
            "INSERT INTO claim_emails (claim_token, email, email_sha256, email_hint, language, requested_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                claim_token,
                normalise_email(address),
                address_sha256(&event_id, address).as_slice(),
                mask_address(address),
                language,
                now_ms
            ],
        )?;
        let id = transaction.last_insert_rowid();
        transaction.commit()?;
        Ok(QueueOutcome::Queued(id))
    }

    /// Messages to send now, least-tried first (so one address a server keeps deferring
    /// does not hold up the others), then oldest first.
    pub fn due_claim_emails(&self, limit: usize) -> Result<Vec<OutgoingEmail>, HubError> {
        let mut statement = self.connection().prepare_cached(
            "SELECT id, claim_token, email, email_hint, language, attempts FROM claim_emails
             WHERE sent_ms IS NULL AND failed_ms IS NULL AND email IS NOT NULL
             ORDER BY attempts, id LIMIT ?1",
        )?;
        let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok(OutgoingEmail {
                id: row.get(0)?,
                claim_token: row.get(1)?,
                address: row.get(2)?,
                hint: row.get(3)?,
                language: row.get(4)?,
                attempts: u32::try_from(row.get::<_, i64>(5)?).unwrap_or(u32::MAX),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Sent: the clear address is erased, only its hash and hint remain.
    pub fn claim_email_sent(&self, id: i64, now_ms: i64) -> Result<(), HubError> {
        self.erasing(|connection| {
            connection.execute(
                "UPDATE claim_emails SET sent_ms = ?2, email = NULL, last_error = NULL, attempts = attempts + 1 WHERE id = ?1",
                params![id, now_ms],
            )
        })
    }

    /// Runs an update that erases an address so that no copy of it stays on disk: freed
    /// bytes are zeroed (secure_delete) and the write-ahead log, which still holds the
    /// page as it was, is checkpointed and truncated.
    fn erasing(&self, update: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<usize>) -> Result<(), HubError> {
        let connection = self.connection();
        connection.execute_batch("PRAGMA secure_delete = ON;")?;
        update(connection)?;
        // Best effort: a reader in another process may hold the log; the next erase retries.
        let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(())
    }

    /// Not sent this time (server unreachable, 4xx): stays queued with the reason.
    pub fn claim_email_deferred(&self, id: i64, reason: &str) -> Result<(), HubError> {
        self.connection().execute(
            "UPDATE claim_emails SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            params![id, reason],
        )?;
        Ok(())
    }

    /// Refused for good (5xx, bad address): kept with the reason for the organiser; the
    /// clear address is erased since nothing will be sent to it.
    pub fn claim_email_failed(&self, id: i64, reason: &str, now_ms: i64) -> Result<(), HubError> {
        self.erasing(|connection| {
            connection.execute(
                "UPDATE claim_emails SET failed_ms = ?3, email = NULL, attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, reason, now_ms],
            )
        })
    }

    pub fn claim_email_token(&self, id: i64) -> Result<Option<String>, HubError> {
        Ok(self
            .connection()
            .query_row("SELECT claim_token FROM claim_emails WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?)
    }

    pub fn claim_email_state(&self, id: i64) -> Result<Option<EmailState>, HubError> {
        Ok(self
            .connection()
            .query_row(
                "SELECT sent_ms, failed_ms, attempts, last_error FROM claim_emails WHERE id = ?1",
                [id],
                |row| {
                    let sent: Option<i64> = row.get(0)?;
                    let failed: Option<i64> = row.get(1)?;
                    let attempts = u32::try_from(row.get::<_, i64>(2)?).unwrap_or(u32::MAX);
                    let last_error: Option<String> = row.get(3)?;
                    Ok(match (sent, failed) {
                        (Some(_), _) => EmailState::Sent,
                        (None, Some(_)) => EmailState::Failed(last_error.unwrap_or_default()),
                        (None, None) => EmailState::Waiting { attempts, last_error },
                    })
                },
            )
            .optional()?)
    }

    pub fn outbox_counts(&self) -> Result<OutboxCounts, HubError> {
        let connection = self.connection();
        let (queued, sent, failed): (i64, i64, i64) = connection.query_row(
            "SELECT COALESCE(SUM(sent_ms IS NULL AND failed_ms IS NULL), 0),
                    COUNT(sent_ms), COUNT(failed_ms) FROM claim_emails",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let last_transient_error = connection
            .query_row(
                "SELECT last_error FROM claim_emails
                 WHERE sent_ms IS NULL AND failed_ms IS NULL AND last_error IS NOT NULL
                 ORDER BY attempts DESC, id DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let mut statement = connection.prepare(
            "SELECT email_hint, COALESCE(last_error, ''), failed_ms FROM claim_emails
             WHERE failed_ms IS NOT NULL ORDER BY failed_ms DESC, id DESC LIMIT 50",
        )?;
        let failures = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(OutboxCounts {
            queued: count(queued),
            sent: count(sent),
            failed: count(failed),
            last_transient_error,
            failures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::award::Recipient;

    /// A hub with one award behind a claim link; returns the link's token.
    fn hub_with_claim(dir: &std::path::Path) -> (HubStore, String) {
        let event = crate::eventdir::EventDir::demo(dir).unwrap();
        let store = HubStore::open_in_memory(event.definition.clone()).unwrap();
        let token_bytes = [7u8; 16];
        let recipient = Recipient::ClaimToken(token_bytes).describe();
        let badge = event.definition.badges[0].id.clone();
        store
            .connection()
            .execute(
                "INSERT INTO awards (badge_id, code_id, kind, recipient, created_at_ms, claim_token)
                 VALUES (?1, x'01', 'attendance', ?2, 0, ?2)",
                params![badge, recipient],
            )
            .unwrap();
        (store, crate::domain::base32::encode(&token_bytes))
    }

    #[test]
    fn queue_rate_limits_per_claim_link() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, token) = hub_with_claim(dir.path());
        let now = 1_795_000_000_000;
        for n in 0..3 {
            assert!(matches!(
                store
                    .queue_claim_email(&token, "Marie@Example.fr", "fr", now + n)
                    .unwrap(),
                QueueOutcome::Queued(_)
            ));
        }
        assert_eq!(
            store
                .queue_claim_email(&token, "marie@example.fr", "fr", now + 10)
                .unwrap(),
            QueueOutcome::RateLimited {
                retry_at_ms: now + RATE_WINDOW_MS
            }
        );
        assert!(matches!(
            store
                .queue_claim_email(&token, "marie@example.fr", "fr", now + RATE_WINDOW_MS + 1)
                .unwrap(),
            QueueOutcome::Queued(_)
        ));
        let other = crate::domain::base32::encode(&[9u8; 16]);
        assert_eq!(
            store.queue_claim_email(&other, "marie@example.fr", "fr", now).unwrap(),
            QueueOutcome::UnknownClaim
        );
    }

    #[test]
    fn sent_and_failed_messages_keep_no_clear_address() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, token) = hub_with_claim(dir.path());
        let ids: Vec<i64> = (0..3)
            .map(|n| {
                match store
                    .queue_claim_email(&token, &format!("v{n}@example.fr"), "en", n)
                    .unwrap()
                {
                    QueueOutcome::Queued(id) => id,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        store.claim_email_deferred(ids[0], "connection refused").unwrap();
        // The deferred one goes last: least-tried first.
        let due: Vec<i64> = store.due_claim_emails(10).unwrap().iter().map(|e| e.id).collect();
        assert_eq!(due, vec![ids[1], ids[2], ids[0]]);
        assert_eq!(store.due_claim_emails(10).unwrap()[0].address, "v1@example.fr");
        store.claim_email_sent(ids[1], 100).unwrap();
        store.claim_email_failed(ids[2], "550 no such user", 100).unwrap();
        let counts = store.outbox_counts().unwrap();
        assert_eq!((counts.queued, counts.sent, counts.failed), (1, 1, 1));
        assert_eq!(counts.last_transient_error.as_deref(), Some("connection refused"));
        assert_eq!(
            counts.failures,
            vec![("v…@example.fr".to_owned(), "550 no such user".to_owned(), 100)]
        );
        assert_eq!(store.claim_email_state(ids[1]).unwrap(), Some(EmailState::Sent));
        assert_eq!(
            store.claim_email_state(ids[2]).unwrap(),
            Some(EmailState::Failed("550 no such user".into()))
        );
        let clear: i64 = store
            .connection()
            .query_row("SELECT COUNT(email) FROM claim_emails", [], |row| row.get(0))
            .unwrap();
        assert_eq!(clear, 1, "only the waiting message keeps its address");
        let hashed: i64 = store
            .connection()
            .query_row(
                "SELECT COUNT(*) FROM claim_emails WHERE email_sha256 = ?1",
                [address_sha256(&store.event.event.id, "v1@example.fr").as_slice()],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(hashed, 1);
    }

    #[test]
    fn masks_keep_the_domain_only() {
        assert_eq!(mask_address(" Marie.Curie@Example.fr "), "m…@example.fr");
        assert_eq!(mask_address("x"), "…");
        assert_eq!(address_sha256("e", "A@B.fr"), address_sha256("e", " a@b.fr"));
        assert_ne!(address_sha256("e", "a@b.fr"), address_sha256("f", "a@b.fr"));
    }
}
