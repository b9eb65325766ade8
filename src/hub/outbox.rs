//! The claim-email outbox in the hub's SQLite: visitors' requests to have their badge
//! emailed, kept until the mailer sends them (or the server refuses them for good).
//!
//! Privacy: the clear address lives only while a message waits. Once sent or refused it
//! is erased; a SHA-256 of the normalised address and a masked hint (`m…@example.fr`)
//! remain for counts and for the organiser's dashboard. Addresses are never logged.

use rusqlite::{params, OptionalExtension};

use super::store::{HubError, HubStore};
use crate::domain::award::{normalise_email, Recipient};
use crate::domain::event::EmailSender;

/// The unique part of a new message's `Message-ID` (128 random bits, hex).
fn new_message_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// At most this many email requests per claim link in [`RATE_WINDOW_MS`].
pub const MAX_EMAILS_PER_TOKEN: u32 = 3;
/// At most this many claim-page requests to one address in [`RATE_WINDOW_MS`], whatever
/// the links: several links cannot be turned on one victim's mailbox.
pub const MAX_EMAILS_PER_ADDRESS: u32 = 3;
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
    /// The unique part of the message's `Message-ID`, fixed when it was queued.
    pub message_id: Option<String>,
    /// Set when this is the hub's own delivery of an award (`badge/hex code id`).
    pub award_key: Option<String>,
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
        // The same limit per recipient address across every link (the hub's own award
        // deliveries, one per award, do not count).
        let hash = address_sha256(&event_id, address);
        let (to_address, oldest_to_address): (i64, Option<i64>) = transaction.query_row(
            "SELECT COUNT(*), MIN(requested_ms) FROM claim_emails
             WHERE email_sha256 = ?1 AND requested_ms > ?2 AND award_key IS NULL",
            params![hash.as_slice(), since],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if to_address >= i64::from(MAX_EMAILS_PER_ADDRESS) {
            return Ok(QueueOutcome::RateLimited {
                retry_at_ms: oldest_to_address.unwrap_or(now_ms) + RATE_WINDOW_MS,
            });
        }
        transaction.execute(
            "INSERT INTO claim_emails (claim_token, email, email_sha256, email_hint, language, requested_ms, message_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                claim_token,
                normalise_email(address),
                hash.as_slice(),
                mask_address(address),
                language,
                now_ms,
                new_message_id(),
            ],
        )?;
        let id = transaction.last_insert_rowid();
        transaction.commit()?;
        Ok(QueueOutcome::Queued(id))
    }

    /// Queues the hub's own email of every award that has an address (typed at a kiosk,
    /// or the registration's) and none queued yet, when event.toml leaves emailing to the
    /// hub (`[delivery] email = "hub"`, the default). Idempotent: one outbox row per award
    /// (a unique index), so running it after every upload, import and mailer pass never
    /// queues a badge twice. Each award gets a claim link of its own, which the message
    /// carries. Awards the hub merged itself (a pathway over several kiosks' steps) have no
    /// kiosk record to make a credential from and are left to the platform. Returns how many
    /// were queued.
    pub fn queue_award_emails(&mut self, now_ms: i64) -> Result<usize, HubError> {
        if self.event.delivery.email != EmailSender::Hub {
            return Ok(0);
        }
        let event_id = self.event.event.id.clone();
        let transaction = self
            .connection_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        type Waiting = (String, Option<String>, String, String, Vec<u8>);
        let waiting: Vec<Waiting> = {
            let mut statement = transaction.prepare(
                "SELECT a.badge_id || '/' || lower(hex(a.code_id)), a.email_token, COALESCE(re.email, rg.email),
                        a.badge_id, a.code_id
                 FROM awards a
                 LEFT JOIN record_emails re ON re.kiosk_id = a.source_kiosk AND re.sequence = a.source_sequence
                 LEFT JOIN registrations rg ON a.recipient LIKE 'registration:%' AND rg.reference = substr(a.recipient, 14)
                 WHERE a.source_kiosk IS NOT NULL AND COALESCE(re.email, rg.email) IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM claim_emails c
                                   WHERE c.award_key = a.badge_id || '/' || lower(hex(a.code_id)))",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (award_key, token, address, badge_id, code_id) in &waiting {
            let token = match token
                .as_deref()
                .and_then(|described| described.strip_prefix("claim-token:"))
            {
                Some(hex_token) => hex::decode(hex_token)
                    .map_err(|_| HubError::Internal(format!("unreadable claim link of award {award_key}")))?,
                None => {
                    let fresh: [u8; 16] = rand::random();
                    transaction.execute(
                        "UPDATE awards SET email_token = ?3 WHERE badge_id = ?1 AND code_id = ?2",
                        params![badge_id, code_id, Recipient::ClaimToken(fresh).describe()],
                    )?;
                    fresh.to_vec()
                }
            };
            transaction.execute(
                "INSERT OR IGNORE INTO claim_emails
                     (claim_token, email, email_sha256, email_hint, language, requested_ms, message_id, award_key)
                 VALUES (?1, ?2, ?3, ?4, 'fr', ?5, ?6, ?7)",
                params![
                    crate::domain::base32::encode(&token),
                    normalise_email(address),
                    address_sha256(&event_id, address).as_slice(),
                    mask_address(address),
                    now_ms,
                    new_message_id(),
                    award_key,
                ],
            )?;
        }
        transaction.commit()?;
        Ok(waiting.len())
    }

    /// The address typed at the kiosk for the award behind a claim link (the hub's own
    /// delivery of an award by email), if the hub still holds it.
    pub fn typed_email_of_claim(&self, token_base32: &str) -> Result<Option<String>, HubError> {
        let Some(token) = crate::domain::base32::decode(token_base32)
            .ok()
            .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        else {
            return Ok(None);
        };
        let described = Recipient::ClaimToken(token).describe();
        Ok(self
            .connection()
            .query_row(
                "SELECT re.email FROM awards a
                 JOIN record_emails re ON re.kiosk_id = a.source_kiosk AND re.sequence = a.source_sequence
                 WHERE a.email_token = ?1",
                [described],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Messages to send now, least-tried first (so one address a server keeps deferring
    /// does not hold up the others), then oldest first.
    pub fn due_claim_emails(&self, limit: usize) -> Result<Vec<OutgoingEmail>, HubError> {
        let mut statement = self.connection().prepare_cached(
            "SELECT id, claim_token, email, email_hint, language, attempts, message_id, award_key FROM claim_emails
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
                message_id: row.get(6)?,
                award_key: row.get(7)?,
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
pub(super) mod tests {
    use super::*;

    /// A hub with one award behind a claim link; returns the link's token (the wallet
    /// offers' tests use it too).
    pub(in crate::hub) fn hub_with_claim(dir: &std::path::Path) -> (HubStore, String) {
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

    /// Issue #20: an award with an address (typed, or the registration's) is queued once,
    /// with a claim link of its own and a fixed Message-ID; nothing without an address or
    /// when event.toml leaves emailing to the platform.
    #[test]
    fn awards_with_an_address_are_queued_once() {
        let dir = tempfile::tempdir().unwrap();
        let event = crate::eventdir::EventDir::demo(dir.path()).unwrap();
        let mut store = HubStore::open_in_memory(event.definition.clone()).unwrap();
        let badge = event.definition.badges[0].id.clone();
        for (code, recipient, kiosk) in [
            (1u8, "email-sha256:01", Some("k1")),
            (2, "registration:R2", Some("k1")),
            (3, "registration:R3", Some("k1")),
            (4, "", None),
        ] {
            store
                .connection()
                .execute(
                    "INSERT INTO awards (badge_id, code_id, kind, recipient, source_kiosk, source_sequence, created_at_ms)
                     VALUES (?1, ?2, 'attendance', ?3, ?4, ?5, 0)",
                    params![badge, vec![code; 10], recipient, kiosk, i64::from(code)],
                )
                .unwrap();
        }
        store
            .connection()
            .execute_batch(
                "INSERT INTO record_emails (kiosk_id, sequence, email, received_ms) VALUES ('k1', 1, 'typed@example.org', 0);
                 INSERT INTO registrations (reference, email, imported_ms) VALUES ('R2', 'registered@example.org', 0);",
            )
            .unwrap();
        assert_eq!(
            store.queue_award_emails(5).unwrap(),
            2,
            "R3 has no address, 4 no record"
        );
        assert_eq!(store.queue_award_emails(6).unwrap(), 0, "queued once");
        let due = store.due_claim_emails(10).unwrap();
        let mut addresses: Vec<&str> = due.iter().map(|email| email.address.as_str()).collect();
        addresses.sort_unstable();
        assert_eq!(addresses, ["registered@example.org", "typed@example.org"]);
        for email in &due {
            assert!(email.award_key.is_some() && email.message_id.as_ref().is_some_and(|id| id.len() == 32));
            // The claim link the message carries opens the award.
            assert_eq!(
                store.claim(&email.claim_token).unwrap().map(|found| found.0),
                Some(badge.clone())
            );
        }
        // Sent: the outbox remembers the award, a later pass queues nothing again.
        store.claim_email_sent(due[0].id, 7).unwrap();
        assert_eq!(store.queue_award_emails(8).unwrap(), 0);

        let mut platform = event.definition.clone();
        platform.delivery.email = crate::domain::event::EmailSender::Platform;
        let mut other = HubStore::open_in_memory(platform).unwrap();
        assert_eq!(other.queue_award_emails(5).unwrap(), 0);
    }

    /// Issue #21, finding 10: three links aimed at one address give three messages an hour.
    #[test]
    fn queue_rate_limits_per_recipient_address() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, first) = hub_with_claim(dir.path());
        let badge = store.event.badges[0].id.clone();
        let mut tokens = vec![first];
        for n in 2..=3u8 {
            let token = [n; 16];
            let recipient = Recipient::ClaimToken(token).describe();
            store
                .connection()
                .execute(
                    "INSERT INTO awards (badge_id, code_id, kind, recipient, created_at_ms, claim_token)
                     VALUES (?1, ?2, 'attendance', ?3, 0, ?3)",
                    params![badge, vec![n; 10], recipient],
                )
                .unwrap();
            tokens.push(crate::domain::base32::encode(&token));
        }
        let now = 1_795_000_000_000;
        let mut queued = 0;
        for token in &tokens {
            for spelling in ["victim@example.org", "Victim@Example.org ", "VICTIM@example.org"] {
                if let QueueOutcome::Queued(_) = store.queue_claim_email(token, spelling, "en", now).unwrap() {
                    queued += 1;
                }
            }
        }
        assert_eq!(queued, 3);
        assert!(matches!(
            store
                .queue_claim_email(&tokens[2], "other@example.org", "en", now)
                .unwrap(),
            QueueOutcome::Queued(_)
        ));
        assert!(matches!(
            store
                .queue_claim_email(&tokens[2], "victim@example.org", "en", now + RATE_WINDOW_MS + 1)
                .unwrap(),
            QueueOutcome::Queued(_)
        ));
    }

    #[test]
    fn masks_keep_the_domain_only() {
        assert_eq!(mask_address(" Marie.Curie@Example.fr "), "m…@example.fr");
        assert_eq!(mask_address("x"), "…");
        assert_eq!(address_sha256("e", "A@B.fr"), address_sha256("e", " a@b.fr"));
        assert_ne!(address_sha256("e", "a@b.fr"), address_sha256("f", "a@b.fr"));
    }
}
