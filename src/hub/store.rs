//! The hub's SQLite store and the ingestion of kiosks' records: verify, deduplicate
//! across kiosks, merge pathway steps, all in one transaction per batch so a crash or a
//! lost answer can never half-apply a batch.

mod bundle;

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::domain::award::{email_hash, normalise_email, AwardRecord, Recipient, RecordKind, GENESIS_HASH};
use crate::domain::event::EventDefinition;
use crate::domain::keys::KioskCertificate;
use crate::domain::pathway::PathwayProgress;
use crate::domain::revocations::RevocationsContent;
use crate::hub::signatures::SignatureChecker;
use crate::sync::protocol::{RecordAnswer, RecordStatus, UploadRequest, UploadResponse};
pub use bundle::PinRole;

#[derive(Debug, Error)]
pub enum HubError {
    #[error("the kiosk certificate is not valid for this event: {0}")]
    Unenrolled(String),
    #[error("this upload is for event {found:?}, this hub serves {expected:?}")]
    OtherEvent { expected: String, found: String },
    #[error("kiosk {0} was revoked by the organiser ({1}): its records are no longer accepted; ask the organiser")]
    RevokedKiosk(String, String),
    #[error("hub storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("{0}")]
    BadRequest(String),
    #[error("the hub database was written by a newer badge-kiosk (schema {0}): update badge-kiosk on this machine")]
    NewerSchema(i64),
    #[error("internal hub error: {0}; restart the hub (its data is safe in its database)")]
    Internal(String),
}

/// Why the hub refuses an enrolment.
#[derive(Debug, Error)]
pub enum EnrolRefusal {
    #[error(
        "a kiosk id is 1 to 32 lower-case letters, digits or dashes (e.g. hall-a): choose another with --kiosk-id"
    )]
    BadKioskId,
    #[error("unknown, expired or used-up enrolment code: show a new one from the hub (`badge-kiosk hub enrol-token`)")]
    TokenUsed,
    #[error("kiosk id {0:?} is already enrolled on another device: choose another id (--kiosk-id), or, if this kiosk replaces it, run `badge-kiosk hub kiosk replace {0}` on the hub first")]
    KioskIdTaken(String),
    #[error("kiosk {0:?} was revoked by the organiser ({1}): this device cannot enrol again; enrol a new device after `badge-kiosk hub kiosk replace {0}`")]
    Revoked(String, String),
    #[error("hub storage error: {0}")]
    Storage(#[from] rusqlite::Error),
}

/// Moves a replaced device's records to `ID~FINGERPRINT`, where they stay for review, so
/// the new device's sequence numbers start afresh without looking like a fork.
fn archive_kiosk_records(transaction: &Connection, kiosk_id: &str, old_key: &[u8]) -> Result<(), rusqlite::Error> {
    let archived = format!(
        "{kiosk_id}~{}",
        <[u8; 32]>::try_from(old_key)
            .ok()
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            .map_or_else(|| "old".to_owned(), |key| crate::domain::keys::fingerprint(&key))
    );
    for sql in [
        "UPDATE records SET kiosk_id = ?2 WHERE kiosk_id = ?1",
        "UPDATE awards SET source_kiosk = ?2 WHERE source_kiosk = ?1",
        "UPDATE record_emails SET kiosk_id = ?2 WHERE kiosk_id = ?1",
        "UPDATE chain_warnings SET kiosk_id = ?2 WHERE kiosk_id = ?1",
    ] {
        transaction.execute(sql, params![kiosk_id, archived])?;
    }
    Ok(())
}

/// A known kiosk at upload: device key, certificate issue time, revoked, revocation reason.
type KnownKiosk = (Vec<u8>, Option<i64>, bool, Option<String>);
/// A kiosk's device key and, when revoked, the organiser's reason.
pub type KioskDevice = (Vec<u8>, Option<String>);

/// An award as the hub reports it: (badge, code id hex, kind, recipient, source kiosk).
pub type AwardRow = (String, String, String, String, Option<String>);
/// What a claim link points at: the badge id and, for kiosk awards, the record's bytes.
pub type ClaimedAward = (String, Option<Vec<u8>>);

/// Why and when the organiser revoked a kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub reason: String,
    pub at_ms: i64,
}

/// One kiosk of the fleet, as the hub last heard from it (`hub kiosk list`, the console).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskStatus {
    pub kiosk_id: String,
    /// The device key's fingerprint, as `keys::fingerprint` gives it.
    pub fingerprint: String,
    pub certificate_issued_ms: Option<i64>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Records received from this kiosk.
    pub records: u64,
    /// Records still queued on the kiosk at its last sync.
    pub queue_waiting: Option<u64>,
    /// The kiosk's clock minus the hub's clock at its last sync.
    pub clock_offset_ms: Option<i64>,
    pub software_version: Option<String>,
    pub stand: Option<String>,
    pub revoked: Option<Revocation>,
}

pub struct HubStore {
    connection: Connection,
    pub event: EventDefinition,
    /// Checks uploads' signatures; shared with the server, which checks outside the lock.
    checker: UploadChecker,
    /// Records one kiosk may store on this hub (see [`default_record_quota`]).
    record_quota: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubCounts {
    pub awards_by_badge: Vec<(String, u64)>,
    pub steps_by_stand: Vec<(String, u64)>,
    pub records_by_kiosk: Vec<(String, u64)>,
    /// Visitors (distinct codes) some kiosk recorded again after another kiosk had.
    pub duplicates: u64,
    /// The records behind `duplicates`, kept as evidence.
    pub duplicate_records: u64,
    pub warnings: Vec<(String, String)>,
}

impl HubStore {
    pub fn open(path: &Path, event: EventDefinition) -> Result<Self, HubError> {
        // Emails and claim tokens live in here: 0600 whatever the umask.
        crate::eventdir::ensure_private_file(path)
            .map_err(|error| HubError::Internal(format!("cannot make {} private: {error}", path.display())))?;
        let connection = Connection::open(path)?;
        Self::init(connection, event)
    }

    pub fn open_in_memory(event: EventDefinition) -> Result<Self, HubError> {
        Self::init(Connection::open_in_memory()?, event)
    }

    fn init(connection: Connection, event: EventDefinition) -> Result<Self, HubError> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.query_row("PRAGMA journal_mode=WAL", [], |row| row.get::<_, String>(0))?;
        connection.execute_batch("PRAGMA synchronous=FULL;")?;
        if let Err(found) = super::migrations::apply(&connection)? {
            return Err(HubError::NewerSchema(found));
        }
        let event_keys = event.public_keys();
        let checker = UploadChecker {
            event: std::sync::Arc::new(event.clone()),
            keys: std::sync::Arc::new(event_keys),
            signatures: std::sync::Arc::new(SignatureChecker::default()),
        };
        let record_quota = default_record_quota(&event);
        Ok(Self {
            connection,
            event,
            checker,
            record_quota,
        })
    }

    /// What checks this hub's uploads (signatures, outside the store's lock).
    pub fn upload_checker(&self) -> UploadChecker {
        self.checker.clone()
    }

    /// Checks signatures with `threads` worker threads (tests compare 1 and N).
    pub fn with_signature_threads(mut self, threads: usize) -> Self {
        self.checker.signatures = std::sync::Arc::new(SignatureChecker::new(threads));
        self
    }

    /// Sets how many records one kiosk may store on this hub (`hub serve --kiosk-quota`).
    pub fn set_record_quota(&mut self, quota: u64) {
        self.record_quota = quota.max(1);
    }

    pub fn record_quota(&self) -> u64 {
        self.record_quota
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }

    /// Takes one upload. Idempotent: the same batch delivered twice gives the same answers
    /// and changes nothing the second time.
    pub fn ingest(&mut self, request: &UploadRequest, now_ms: i64) -> Result<UploadResponse, HubError> {
        let checked = self.checker.check(request)?;
        self.write_upload(checked, request, now_ms)
    }

    /// Stores an upload whose signatures `UploadChecker::check` verified, in one transaction.
    pub fn write_upload(
        &mut self,
        checked: CheckedUpload,
        request: &UploadRequest,
        now_ms: i64,
    ) -> Result<UploadResponse, HubError> {
        let CheckedUpload {
            certificate,
            certificate_bytes,
            records,
        } = checked;
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known: Option<KnownKiosk> = transaction
            .query_row(
                "SELECT device_key, certificate_issued_ms, revoked, revoked_reason FROM kiosks WHERE kiosk_id = ?1",
                [&certificate.kiosk_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? != 0, row.get(3)?)),
            )
            .optional()?;
        let issued_ms = certificate.issued_at.saturating_mul(1000);
        // A device the organiser revoked, here or on a venue hub that relayed it.
        let revoked_device: Option<String> = transaction
            .query_row(
                "SELECT reason FROM revoked_devices WHERE device_key = ?1",
                [certificate.device_key.as_bytes().as_slice()],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(reason) = revoked_device {
            return Err(HubError::RevokedKiosk(
                certificate.kiosk_id.clone(),
                if reason.is_empty() {
                    "no reason given".into()
                } else {
                    reason
                },
            ));
        }
        match known {
            Some((_, _, true, reason)) => {
                return Err(HubError::RevokedKiosk(
                    certificate.kiosk_id.clone(),
                    reason.unwrap_or_else(|| "no reason given".into()),
                ))
            }
            Some((key, issued, false, _)) if key != certificate.device_key.as_bytes() => {
                // Another device key for this kiosk id: the newest certificate wins, by
                // the issue time the event key signed, never by arrival.
                if issued.is_some_and(|issued| issued_ms <= issued) {
                    return Err(HubError::Unenrolled(format!(
                        "kiosk {} has a newer certificate on this hub (another device enrolled with this id):                          enrol this kiosk again, or ask the organiser to replace it (`badge-kiosk hub kiosk replace`)",
                        certificate.kiosk_id
                    )));
                }
                archive_kiosk_records(&transaction, &certificate.kiosk_id, &key)?;
                transaction.execute(
                    "UPDATE kiosks SET device_key = ?2, certificate_issued_ms = ?3, head_sequence = 0, head_hash = NULL
                     WHERE kiosk_id = ?1",
                    params![
                        certificate.kiosk_id,
                        certificate.device_key.as_bytes().as_slice(),
                        issued_ms
                    ],
                )?;
            }
            Some((_, issued, false, _)) => {
                if issued.is_none() {
                    transaction.execute(
                        "UPDATE kiosks SET certificate_issued_ms = ?2 WHERE kiosk_id = ?1",
                        params![certificate.kiosk_id, issued_ms],
                    )?;
                }
            }
            None => {
                transaction.execute(
                    "INSERT INTO kiosks (kiosk_id, device_key, first_seen_ms, last_seen_ms, certificate_issued_ms)
                     VALUES (?1, ?2, ?3, ?3, ?4)",
                    params![
                        certificate.kiosk_id,
                        certificate.device_key.as_bytes().as_slice(),
                        now_ms,
                        issued_ms
                    ],
                )?;
            }
        }
        // Kept as sent, so a relay to the public hub replays this kiosk's records verbatim
        // with the certificate of the device key that signed them. The newest certificate of
        // a device key is the one kept: the public hub compares issue times too.
        transaction.execute(
            "INSERT INTO kiosk_certificates (kiosk_id, device_key, certificate, issued_ms, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kiosk_id, device_key) DO UPDATE SET certificate = excluded.certificate,
                     issued_ms = excluded.issued_ms, received_ms = excluded.received_ms
             WHERE excluded.issued_ms > kiosk_certificates.issued_ms",
            params![
                certificate.kiosk_id,
                certificate.device_key.as_bytes().as_slice(),
                certificate_bytes,
                issued_ms,
                now_ms
            ],
        )?;
        // What the kiosk says about itself counts only in a heartbeat its device key signed,
        // with a counter larger than the last one accepted: a certificate alone (found in
        // every USB export) or a replayed heartbeat changes nothing.
        let heartbeat = request
            .verified_heartbeat(&certificate.kiosk_id, &certificate.device_key)
            .and_then(|counter| i64::try_from(counter).ok());
        let printable = |v: &Option<String>| v.as_deref().map(|v| crate::hub::trust::printable(&truncate(v, 64)));
        if let Some(counter) = heartbeat {
            transaction.execute(
                "UPDATE kiosks SET last_seen_ms = ?2, queue_waiting = ?3, clock_offset_ms = ?4, software_version = ?5,
                        stand = ?6, heartbeat_counter = ?7
                 WHERE kiosk_id = ?1 AND device_key = ?8 AND (heartbeat_counter IS NULL OR heartbeat_counter < ?7)",
                params![
                    certificate.kiosk_id,
                    now_ms,
                    request.queue_waiting.and_then(|n| i64::try_from(n).ok()),
                    request.kiosk_clock_ms.map(|clock| clock.saturating_sub(now_ms)),
                    printable(&request.software_version),
                    printable(&request.stand),
                    counter,
                    certificate.device_key.as_bytes().as_slice(),
                ],
            )?;
        }
        let count_records = |transaction: &rusqlite::Transaction<'_>| {
            transaction.query_row(
                "SELECT COUNT(*) FROM records WHERE kiosk_id = ?1",
                [&certificate.kiosk_id],
                |row| row.get::<_, i64>(0),
            )
        };
        let records_before = count_records(&transaction)?;
        let mut answers = Vec::with_capacity(records.len());
        let mut warnings = Vec::new();
        let mut quota = Quota::read(&transaction, &certificate.kiosk_id, self.record_quota)?;
        for (index, checked) in records.into_iter().enumerate() {
            let answer = checked.and_then(|checked| {
                ingest_one(
                    &transaction,
                    &self.event,
                    &certificate,
                    &checked,
                    &request.emails,
                    now_ms,
                    &mut warnings,
                    &mut quota,
                )
            });
            answers.push(match answer {
                Ok(answer) => answer,
                // No answer: the record stays queued on the kiosk (nothing lost) and comes
                // again once the organiser raises the limit; the warning below says why.
                Err(IngestRefusal { reason, .. }) if reason == OVER_QUOTA => continue,
                Err(IngestRefusal { sequence, reason }) => RecordAnswer {
                    sequence: sequence.unwrap_or(index as u64),
                    status: RecordStatus::Rejected,
                    reason: Some(reason),
                    email_received: false,
                },
            });
        }
        if heartbeat.is_none() && count_records(&transaction)? > records_before {
            // New records the device key signed: the kiosk (or a relay of its records) was
            // heard from; its figures wait for its own signed heartbeat.
            transaction.execute(
                "UPDATE kiosks SET last_seen_ms = MAX(last_seen_ms, ?2), stand = COALESCE(?3, stand) WHERE kiosk_id = ?1",
                params![certificate.kiosk_id, now_ms, printable(&request.stand)],
            )?;
        }
        if let Some(warning) = quota.write(&transaction, &certificate.kiosk_id, now_ms)? {
            warnings.insert(0, warning);
        }
        // A kiosk's chain problems are told in a few lines per upload, however many records
        // it sent: a stolen kiosk cannot fill the hub with warnings either.
        if warnings.len() > MAX_WARNINGS_PER_UPLOAD {
            let more = warnings.len() - MAX_WARNINGS_PER_UPLOAD;
            warnings.truncate(MAX_WARNINGS_PER_UPLOAD);
            warnings.push(format!(
                "kiosk {}: {more} more problems in this upload (not listed)",
                certificate.kiosk_id
            ));
        }
        {
            let mut insert = transaction
                .prepare_cached("INSERT INTO chain_warnings (kiosk_id, message, at_ms) VALUES (?1, ?2, ?3)")?;
            for warning in &warnings {
                insert.execute(params![certificate.kiosk_id, warning, now_ms])?;
            }
        }
        transaction.commit()?;
        Ok(UploadResponse {
            answers,
            hub_time_ms: now_ms,
            chain_warnings: warnings,
            signature: None,
            claim_reach: None,
            email_delivery: None,
        })
    }

    pub fn counts(&self) -> Result<HubCounts, HubError> {
        let grouped = |sql: &str| -> Result<Vec<(String, u64)>, HubError> {
            let mut statement = self.connection.prepare(sql)?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                ))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        };
        let mut counts = HubCounts {
            awards_by_badge: grouped("SELECT badge_id, COUNT(*) FROM awards GROUP BY badge_id ORDER BY badge_id")?,
            steps_by_stand: grouped(
                "SELECT stand, COUNT(DISTINCT code_id) FROM records WHERE kind = 'step' GROUP BY stand ORDER BY stand",
            )?,
            records_by_kiosk: grouped("SELECT kiosk_id, COUNT(*) FROM records GROUP BY kiosk_id ORDER BY kiosk_id")?,
            ..HubCounts::default()
        };
        let (visitors, records): (i64, i64) = self.connection.query_row(
            "SELECT COUNT(DISTINCT code_id), COUNT(*) FROM records WHERE outcome = 'duplicate'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        counts.duplicates = u64::try_from(visitors).unwrap_or(0);
        counts.duplicate_records = u64::try_from(records).unwrap_or(0);
        let mut statement = self
            .connection
            .prepare("SELECT kiosk_id, message FROM chain_warnings ORDER BY at_ms DESC LIMIT 50")?;
        counts.warnings = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(counts)
    }

    pub fn award_count(&self) -> Result<u64, HubError> {
        Ok(u64::try_from(
            self.connection
                .query_row("SELECT COUNT(*) FROM awards", [], |row| row.get::<_, i64>(0))?,
        )
        .unwrap_or(0))
    }

    /// Awards as (badge, code id hex, kind, recipient, source kiosk), for reports and tests.
    pub fn awards(&self) -> Result<Vec<AwardRow>, HubError> {
        let mut statement = self.connection.prepare(
            "SELECT badge_id, code_id, kind, recipient, source_kiosk FROM awards ORDER BY badge_id, code_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get(0)?,
                hex::encode(row.get::<_, Vec<u8>>(1)?),
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The award a claim link points at: (badge id, record signed bytes if from a kiosk).
    /// Every token a kiosk gave out for the same badge and code opens that one award, with
    /// the record that carries the token (a duplicate's too: its credential names the
    /// token's own hash); an award inserted with its token alone is found by it.
    pub fn claim(&self, token_base32: &str) -> Result<Option<ClaimedAward>, HubError> {
        let recipient = claim_recipient(token_base32).ok_or_else(|| HubError::BadRequest("not a claim link".into()))?;
        let linked = self
            .connection
            .query_row(
                "SELECT a.badge_id, r.signed_bytes FROM claim_links l
                 JOIN awards a ON a.badge_id = l.badge_id AND a.code_id = l.code_id
                 JOIN records r ON r.record_hash = l.record_hash
                 WHERE l.claim_token = ?1 LIMIT 1",
                [&recipient],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if linked.is_some() {
            return Ok(linked);
        }
        Ok(self
            .connection
            .query_row(
                "SELECT a.badge_id, r.signed_bytes FROM awards a
                 LEFT JOIN records r ON r.kiosk_id = a.source_kiosk AND r.sequence = a.source_sequence
                 WHERE a.recipient = ?1 OR a.email_token = ?1",
                [recipient],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// Imports an exported bundle's records (USB stick path); idempotent like uploads.
    pub fn import_digest_seen(&self, digest: &[u8; 32]) -> Result<bool, HubError> {
        Ok(self
            .connection
            .query_row("SELECT 1 FROM imports WHERE digest = ?1", [digest.as_slice()], |_| {
                Ok(())
            })
            .optional()?
            .is_some())
    }

    pub fn note_import(&self, digest: &[u8; 32], records: usize, now_ms: i64) -> Result<(), HubError> {
        self.connection.execute(
            "INSERT OR IGNORE INTO imports (digest, at_ms, records) VALUES (?1, ?2, ?3)",
            params![digest.as_slice(), now_ms, records as i64],
        )?;
        Ok(())
    }

    /// A one-time-or-few enrolment code: `kiosks` kiosks may use it until `expires_ms`.
    pub fn create_enrol_token(&self, now_ms: i64, kiosks: u32, expires_ms: i64) -> Result<String, HubError> {
        use rand::RngCore;
        let mut bytes = [0u8; 10];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = crate::domain::base32::encode(&bytes);
        self.connection.execute(
            "INSERT INTO enrol_tokens (token, created_ms, expires_ms, uses_left) VALUES (?1, ?2, ?3, ?4)",
            params![token, now_ms, expires_ms, kiosks.max(1)],
        )?;
        Ok(token)
    }

    /// Consumes one use of an enrolment token for the device `device_key` as `kiosk_id`.
    /// A repeat (the answer was lost) is answered only for the same device key, even after
    /// the token expired or ran out. A kiosk id already enrolled with another device key
    /// is refused unless the organiser replaced that kiosk (`hub kiosk replace`); then the
    /// old device's records move to an archive id (`ID~OLDFINGERPRINT`) where they stay
    /// visible. Returns the certificate's issue time (unix seconds) to sign.
    pub fn use_enrol_token(
        &self,
        token: &str,
        kiosk_id: &str,
        device_key: &VerifyingKey,
        now_ms: i64,
    ) -> Result<i64, EnrolRefusal> {
        if !crate::hub::trust::is_valid_kiosk_id(kiosk_id) {
            return Err(EnrolRefusal::BadKioskId);
        }
        let device = device_key.as_bytes().as_slice();
        let transaction = self.connection.unchecked_transaction()?;
        // A revoked device gets nothing, not even the repeat of its own enrolment (#21
        // item 12): no certificate, no bundle.
        let revoked: Option<Option<String>> = transaction
            .query_row(
                "SELECT revoked_reason FROM kiosks WHERE kiosk_id = ?1 AND device_key = ?2 AND revoked <> 0",
                params![kiosk_id, device],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(reason) = revoked {
            return Err(EnrolRefusal::Revoked(kiosk_id.to_owned(), reason.unwrap_or_default()));
        }
        let repeat: Option<Option<Vec<u8>>> = transaction
            .query_row(
                "SELECT device_key FROM enrolled_kiosks WHERE token = ?1 AND kiosk_id = ?2",
                params![token, kiosk_id],
                |row| row.get(0),
            )
            .optional()?;
        let issued_s = now_ms.div_euclid(1000);
        match repeat {
            Some(Some(key)) if key == device => {
                // The same device asks again: certify it again, nothing else changes.
                return Ok(issued_s);
            }
            Some(_) => return Err(EnrolRefusal::TokenUsed),
            None => {}
        }
        let taken = transaction.execute(
            "UPDATE enrol_tokens SET uses_left = uses_left - 1, used_by = ?2
             WHERE token = ?1 AND uses_left > 0 AND (expires_ms IS NULL OR expires_ms > ?3)",
            params![token, kiosk_id, now_ms],
        )?;
        if taken == 0 {
            return Err(EnrolRefusal::TokenUsed);
        }
        let current: Option<(Vec<u8>, bool)> = transaction
            .query_row(
                "SELECT device_key, replace_allowed FROM kiosks WHERE kiosk_id = ?1",
                [kiosk_id],
                |row| Ok((row.get(0)?, row.get::<_, i64>(1)? != 0)),
            )
            .optional()?;
        let other_device_enrolled = transaction
            .query_row(
                "SELECT 1 FROM enrolled_kiosks WHERE kiosk_id = ?1 AND device_key IS NOT NULL AND device_key <> ?2",
                params![kiosk_id, device],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        match current {
            Some((key, _)) if key == device => {
                transaction.execute(
                    "UPDATE kiosks SET certificate_issued_ms = ?2 WHERE kiosk_id = ?1",
                    params![kiosk_id, issued_s * 1000],
                )?;
            }
            Some((old_key, true)) => {
                archive_kiosk_records(&transaction, kiosk_id, &old_key)?;
                transaction.execute(
                    "UPDATE kiosks SET device_key = ?2, certificate_issued_ms = ?3, head_sequence = 0, head_hash = NULL,
                            replace_allowed = 0, revoked = 0, revoked_reason = NULL, revoked_ms = NULL,
                            queue_waiting = NULL, clock_offset_ms = NULL, software_version = NULL
                     WHERE kiosk_id = ?1",
                    params![kiosk_id, device, issued_s * 1000],
                )?;
                transaction.execute(
                    "UPDATE enrolled_kiosks SET device_key = NULL WHERE kiosk_id = ?1",
                    [kiosk_id],
                )?;
            }
            Some((_, false)) => return Err(EnrolRefusal::KioskIdTaken(kiosk_id.to_owned())),
            None if other_device_enrolled => return Err(EnrolRefusal::KioskIdTaken(kiosk_id.to_owned())),
            None => {
                transaction.execute(
                    "INSERT INTO kiosks (kiosk_id, device_key, first_seen_ms, last_seen_ms, certificate_issued_ms)
                     VALUES (?1, ?2, ?3, ?3, ?4)",
                    params![kiosk_id, device, now_ms, issued_s * 1000],
                )?;
            }
        }
        transaction.execute(
            "INSERT INTO enrolled_kiosks (token, kiosk_id, at_ms, device_key) VALUES (?1, ?2, ?3, ?4)",
            params![token, kiosk_id, now_ms, device],
        )?;
        transaction.commit()?;
        Ok(issued_s)
    }

    /// True while `token` may still enrol a kiosk (it lets a kiosk read the event bundle
    /// before it is enrolled, to learn which event it joins).
    pub fn enrol_token_live(&self, token: &str, now_ms: i64) -> Result<bool, HubError> {
        Ok(self
            .connection
            .query_row(
                "SELECT 1 FROM enrol_tokens WHERE token = ?1 AND uses_left > 0 AND (expires_ms IS NULL OR expires_ms > ?2)",
                params![token, now_ms],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The device key the hub knows for `kiosk_id`, and whether it was revoked (reason).
    pub fn kiosk_device(&self, kiosk_id: &str) -> Result<Option<KioskDevice>, HubError> {
        Ok(self
            .connection
            .query_row(
                "SELECT device_key, revoked, revoked_reason FROM kiosks WHERE kiosk_id = ?1",
                [kiosk_id],
                |row| {
                    let revoked = row.get::<_, i64>(1)? != 0;
                    let reason: Option<String> = row.get(2)?;
                    Ok((row.get(0)?, revoked.then(|| reason.unwrap_or_default())))
                },
            )
            .optional()?)
    }

    /// Lets the next enrolment under `kiosk_id` certify another device (a broken or stolen
    /// kiosk replaced by a new one). False when the hub never heard of `kiosk_id`.
    pub fn allow_kiosk_replacement(&self, kiosk_id: &str) -> Result<bool, HubError> {
        Ok(self
            .connection
            .execute("UPDATE kiosks SET replace_allowed = 1 WHERE kiosk_id = ?1", [kiosk_id])?
            > 0)
    }

    /// When a kiosk last reached this hub (its heartbeat, or new records), over the kiosks
    /// not revoked: what the claim page's "on its way" expects from.
    pub fn latest_kiosk_contact_ms(&self) -> Result<Option<i64>, HubError> {
        Ok(self
            .connection
            .query_row("SELECT MAX(last_seen_ms) FROM kiosks WHERE revoked = 0", [], |row| {
                row.get(0)
            })?)
    }

    /// Notes that a claim link's credential was taken (first time only).
    pub fn note_claimed(&self, token_base32: &str, now_ms: i64) -> Result<(), HubError> {
        let Some(recipient) = claim_recipient(token_base32) else {
            return Ok(());
        };
        self.connection.execute(
            "UPDATE awards SET claimed_ms = ?2 WHERE claimed_ms IS NULL AND (recipient = ?1 OR email_token = ?1
                 OR (badge_id, code_id) IN (SELECT badge_id, code_id FROM claim_links WHERE claim_token = ?1))",
            params![recipient, now_ms],
        )?;
        Ok(())
    }

    /// Awards that carry a claim link, and how many of those were taken.
    pub fn claim_rate(&self) -> Result<(u64, u64), HubError> {
        Ok(self.connection.query_row(
            "SELECT COUNT(*), COUNT(claimed_ms) FROM awards WHERE claim_token IS NOT NULL",
            [],
            |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// Revokes a code for every kiosk: it travels in the next bundle each kiosk fetches.
    pub fn revoke_code(&self, code_id: &[u8], reason: &str, now_ms: i64) -> Result<bool, HubError> {
        Ok(self.connection.execute(
            "INSERT OR IGNORE INTO revoked_codes (code_id, reason, at_ms) VALUES (?1, ?2, ?3)",
            params![code_id, reason, now_ms],
        )? > 0)
    }

    pub fn revoked_codes(&self) -> Result<Vec<Vec<u8>>, HubError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT code_id FROM revoked_codes ORDER BY code_id")?;
        let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

impl HubStore {
    /// Every kiosk the hub knows, ordered by id.
    pub fn kiosk_fleet(&self) -> Result<Vec<KioskStatus>, HubError> {
        let mut statement = self.connection.prepare(
            "SELECT k.kiosk_id, k.device_key, k.certificate_issued_ms, k.first_seen_ms, k.last_seen_ms,
                    (SELECT COUNT(*) FROM records r WHERE r.kiosk_id = k.kiosk_id),
                    k.queue_waiting, k.clock_offset_ms, k.software_version, k.stand,
                    k.revoked, k.revoked_reason, k.revoked_ms
             FROM kiosks k ORDER BY k.kiosk_id",
        )?;
        let rows = statement.query_map([], |row| {
            let device_key: Vec<u8> = row.get(1)?;
            let fingerprint = <[u8; 32]>::try_from(device_key.as_slice())
                .ok()
                .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
                .map_or_else(|| "?".to_owned(), |key| crate::domain::keys::fingerprint(&key));
            let revoked = row.get::<_, i64>(10)? != 0;
            Ok(KioskStatus {
                kiosk_id: row.get(0)?,
                fingerprint,
                certificate_issued_ms: row.get(2)?,
                first_seen_ms: row.get(3)?,
                last_seen_ms: row.get(4)?,
                records: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
                queue_waiting: row.get::<_, Option<i64>>(6)?.and_then(|n| u64::try_from(n).ok()),
                clock_offset_ms: row.get(7)?,
                software_version: row.get(8)?,
                stand: row.get(9)?,
                revoked: revoked
                    .then(|| -> Result<Revocation, rusqlite::Error> {
                        Ok(Revocation {
                            reason: row.get::<_, Option<String>>(11)?.unwrap_or_default(),
                            at_ms: row.get::<_, Option<i64>>(12)?.unwrap_or(0),
                        })
                    })
                    .transpose()?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Revokes a kiosk: its later uploads are refused with `reason`; what it sent before
    /// stays. False when the hub never heard of `kiosk_id`. Revoking twice keeps the first
    /// reason and time.
    pub fn revoke_kiosk(&self, kiosk_id: &str, reason: &str, now_ms: i64) -> Result<bool, HubError> {
        let known = self
            .connection
            .query_row("SELECT 1 FROM kiosks WHERE kiosk_id = ?1", [kiosk_id], |_| Ok(()))
            .optional()?
            .is_some();
        if known {
            self.connection.execute(
                "UPDATE kiosks SET revoked = 1, revoked_reason = ?2, revoked_ms = ?3 WHERE kiosk_id = ?1 AND revoked = 0",
                params![kiosk_id, reason, now_ms],
            )?;
            // By device key too: what the relay sends the public hub.
            self.connection.execute(
                "INSERT OR IGNORE INTO revoked_devices (device_key, kiosk_id, reason, at_ms)
                 SELECT device_key, kiosk_id, COALESCE(revoked_reason, ''), COALESCE(revoked_ms, 0)
                 FROM kiosks WHERE kiosk_id = ?1 AND revoked = 1",
                [kiosk_id],
            )?;
        }
        Ok(known)
    }

    /// Every code and kiosk device the organiser revoked on this hub (or that a venue hub
    /// relayed), as the relay sends them to the public hub.
    pub fn revocations(&self) -> Result<RevocationsContent, HubError> {
        use crate::domain::revocations::{RevokedCode, RevokedDevice};
        let mut codes = self
            .connection
            .prepare("SELECT code_id, reason, at_ms FROM revoked_codes ORDER BY at_ms, code_id")?;
        let codes = codes
            .query_map([], |row| {
                Ok(RevokedCode {
                    code_id: hex::encode(row.get::<_, Vec<u8>>(0)?),
                    reason: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    at_ms: row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut devices = self
            .connection
            .prepare("SELECT kiosk_id, device_key, reason, at_ms FROM revoked_devices ORDER BY at_ms, kiosk_id")?;
        let devices = devices
            .query_map([], |row| {
                Ok(RevokedDevice {
                    kiosk_id: row.get(0)?,
                    device_key: hex::encode(row.get::<_, Vec<u8>>(1)?),
                    reason: row.get(2)?,
                    at_ms: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RevocationsContent {
            event_id: self.event.event.id.clone(),
            codes,
            devices,
            signed_at_ms: 0,
        })
    }

    /// Applies revocations a venue hub relayed (their signature checked by the caller):
    /// codes and devices are added, never removed; a known kiosk with a revoked device key is
    /// marked revoked with the reason. Returns (codes, devices) that were new here.
    pub fn apply_revocations(&mut self, content: &RevocationsContent) -> Result<(usize, usize), HubError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut added = (0, 0);
        for code in &content.codes {
            let Ok(code_id) = hex::decode(&code.code_id) else {
                continue;
            };
            added.0 += transaction.execute(
                "INSERT OR IGNORE INTO revoked_codes (code_id, reason, at_ms) VALUES (?1, ?2, ?3)",
                params![
                    code_id,
                    crate::hub::trust::printable(&truncate(&code.reason, 200)),
                    code.at_ms
                ],
            )?;
        }
        for device in &content.devices {
            let Ok(key) = hex::decode(&device.device_key) else {
                continue;
            };
            let reason = crate::hub::trust::printable(&truncate(&device.reason, 200));
            added.1 += transaction.execute(
                "INSERT OR IGNORE INTO revoked_devices (device_key, kiosk_id, reason, at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![
                    key,
                    crate::hub::trust::printable(&truncate(&device.kiosk_id, 64)),
                    reason,
                    device.at_ms
                ],
            )?;
            transaction.execute(
                "UPDATE kiosks SET revoked = 1, revoked_reason = ?3, revoked_ms = ?4
                 WHERE kiosk_id = ?1 AND device_key = ?2 AND revoked = 0",
                params![device.kiosk_id, key, reason, device.at_ms],
            )?;
        }
        transaction.commit()?;
        Ok(added)
    }
}

/// What importing the ticketing allow-list on the hub changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketsImported {
    /// Tickets the hub did not hold before.
    pub added: usize,
    /// Records kept for review until now (their ticket was not on the hub's list) that the
    /// list now proves: awarded, or counted towards their pathway.
    pub promoted: usize,
    /// Records the list cannot prove, with the reason (e.g. another registration).
    pub still_refused: Vec<String>,
}

impl HubStore {
    /// Adds the ticketing allow-list the kiosks use (only the salted hashes, as the kiosks
    /// keep them), then awards the records that were kept for review because no key signs a
    /// plain ticket. Importing the same list again changes nothing; a ticket's registration
    /// can be corrected by importing it again; nothing is ever removed and awards stay.
    pub fn import_tickets(
        &mut self,
        tickets: &[crate::domain::allowlist::AllowedTicket],
        now_ms: i64,
    ) -> Result<TicketsImported, HubError> {
        let event = self.event.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut imported = TicketsImported::default();
        for ticket in tickets {
            let code_id = crate::domain::allowlist::ticket_code_id(&ticket.hash);
            let known = transaction
                .query_row(
                    "SELECT 1 FROM allowed_tickets WHERE code_id = ?1",
                    [code_id.as_slice()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            // A corrected registration replaces the old one; awards already made stay.
            transaction.execute(
                "INSERT INTO allowed_tickets (code_id, registration, imported_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (code_id) DO UPDATE SET registration = excluded.registration, imported_ms = excluded.imported_ms",
                params![code_id.as_slice(), ticket.registration, now_ms],
            )?;
            imported.added += usize::from(!known);
        }
        let waiting: Vec<(String, i64, Vec<u8>)> = transaction
            .prepare(
                "SELECT r.kiosk_id, r.sequence, r.signed_bytes FROM records r
                 JOIN allowed_tickets t ON t.code_id = r.code_id
                 WHERE r.outcome = 'unproven' ORDER BY r.received_ms, r.kiosk_id, r.sequence",
            )?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (kiosk_id, sequence, bytes) in waiting {
            // Verified when it arrived; only its content is read again here.
            let Ok(record) = AwardRecord::from_bytes(&bytes) else {
                continue;
            };
            let ticket = allowed_ticket(&transaction, &record)?;
            match prove_award(&event, &record, ticket, &CodeCheck::Absent) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(reason) => {
                    imported
                        .still_refused
                        .push(format!("kiosk {kiosk_id}, record #{sequence}: {reason}"));
                    continue;
                }
            }
            let content = &record.content;
            let outcome = if content.kind.is_award() && !insert_award(&transaction, &record)? {
                "duplicate"
            } else {
                "accepted"
            };
            transaction.execute(
                "UPDATE records SET outcome = ?3 WHERE kiosk_id = ?1 AND sequence = ?2",
                params![kiosk_id, sequence, outcome],
            )?;
            link_claim(&transaction, &record, &Sha256::digest(&bytes).into())?;
            if content.kind == RecordKind::PathwayStep {
                merge_pathway(
                    &transaction,
                    &event,
                    &content.badge_id,
                    &content.code_id,
                    content.created_at_ms,
                )?;
            }
            imported.promoted += 1;
        }
        transaction.commit()?;
        Ok(imported)
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn claim_recipient(token_base32: &str) -> Option<String> {
    let token = crate::domain::base32::decode(token_base32).ok()?;
    Some(Recipient::ClaimToken(token.try_into().ok()?).describe())
}

#[derive(Debug)]
pub struct IngestRefusal {
    sequence: Option<u64>,
    reason: String,
}

/// How many warnings one upload may add to the console's list.
const MAX_WARNINGS_PER_UPLOAD: usize = 20;

/// The default number of records one kiosk may store on the hub: one record every two seconds,
/// twelve hours a day, over the event's days plus a day of set-up. A kiosk serves one visitor
/// at a time, so a genuine kiosk stays far below it (the demo event's ten days: 237,600), while
/// a stolen one cannot fill the hub's disk. `hub serve --kiosk-quota` changes it.
pub fn default_record_quota(event: &EventDefinition) -> u64 {
    let day = |text: &str| chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
    let days = match (day(&event.event.starts), day(&event.event.ends)) {
        (Some(starts), Some(ends)) => u64::try_from((ends - starts).num_days()).unwrap_or(0) + 1,
        _ => 1,
    };
    (days.min(366) + 1) * 12 * 3600 / 2
}

/// A kiosk's records against its quota during one upload.
struct Quota {
    limit: u64,
    stored: u64,
    refused_now: u64,
}

impl Quota {
    fn read(transaction: &Connection, kiosk_id: &str, limit: u64) -> Result<Self, rusqlite::Error> {
        let stored: i64 = transaction
            .prepare_cached("SELECT COUNT(*) FROM records WHERE kiosk_id = ?1")?
            .query_row([kiosk_id], |row| row.get(0))?;
        Ok(Self {
            limit,
            stored: u64::try_from(stored).unwrap_or(0),
            refused_now: 0,
        })
    }

    /// Room for one more new record?
    fn take(&mut self) -> bool {
        if self.stored >= self.limit {
            self.refused_now += 1;
            false
        } else {
            self.stored += 1;
            true
        }
    }

    fn write(&self, transaction: &Connection, kiosk_id: &str, now_ms: i64) -> Result<Option<String>, rusqlite::Error> {
        if self.refused_now == 0 {
            return Ok(None);
        }
        transaction.execute(
            "UPDATE kiosks SET over_quota = over_quota + ?2, over_quota_ms = ?3 WHERE kiosk_id = ?1",
            params![kiosk_id, i64::try_from(self.refused_now).unwrap_or(i64::MAX), now_ms],
        )?;
        Ok(Some(format!(
            "kiosk {kiosk_id} reached this hub's limit of {} records per kiosk: {} more records were not stored and \
             wait on the kiosk. If this kiosk is genuine, raise the limit (`badge-kiosk hub serve --kiosk-quota N`) \
             and they arrive at its next sync; if it was stolen, revoke it (`badge-kiosk hub kiosk revoke {kiosk_id}`)",
            self.limit, self.refused_now
        )))
    }
}

/// What `UploadChecker::check` found about one record: its bytes, parsed, with a verified
/// signature, and what its attendance code proves.
pub struct CheckedRecord {
    bytes: Vec<u8>,
    record: AwardRecord,
    hash: [u8; 32],
    code: CodeCheck,
}

/// A version 2 record's attendance code, after the batch of signatures.
enum CodeCheck {
    /// No code to check (version 1, or an allow-listed ticket).
    Absent,
    Genuine(crate::domain::code::CodeClaims),
    Refused(String),
}

/// A record read from an upload, before its signatures' results: bytes, record, the index of
/// its own signature job, and its code's claims with the range of its code's jobs.
type ParsedRecord = (
    Vec<u8>,
    AwardRecord,
    usize,
    Result<(crate::domain::code::CodeClaims, std::ops::Range<usize>), String>,
);

/// An upload whose certificate and signatures were checked; `HubStore::write_upload` stores it.
pub struct CheckedUpload {
    certificate: KioskCertificate,
    certificate_bytes: Vec<u8>,
    records: Vec<Result<CheckedRecord, IngestRefusal>>,
}

/// Checks uploads against the event: the certificate, then every record's signature and
/// every attendance code's signature in batches across the cores (`hub::signatures`). Needs
/// no database, so the server runs it before taking the store's lock: kiosks syncing at once
/// verify in parallel and only their writes wait for each other.
#[derive(Clone)]
pub struct UploadChecker {
    event: std::sync::Arc<EventDefinition>,
    keys: std::sync::Arc<Vec<VerifyingKey>>,
    signatures: std::sync::Arc<SignatureChecker>,
}

impl UploadChecker {
    /// The signature checker (its cache remembers what this hub verified).
    pub fn signatures(&self) -> &SignatureChecker {
        &self.signatures
    }

    /// Signatures actually verified so far (each signature is verified once).
    pub fn verifications(&self) -> u64 {
        self.signatures.verifications()
    }

    pub fn check(&self, request: &UploadRequest) -> Result<CheckedUpload, HubError> {
        use crate::domain::code::{event_tag, AttendanceCode, CodeRefusal, CODE_PREFIX};
        use crate::hub::signatures::SignatureJob;
        let event = &*self.event;
        if request.event_id != event.event.id {
            return Err(HubError::OtherEvent {
                expected: event.event.id.clone(),
                found: request.event_id.clone(),
            });
        }
        let certificate_bytes = hex::decode(&request.certificate)
            .map_err(|_| HubError::Unenrolled("the certificate is unreadable".into()))?;
        let certificate = KioskCertificate::from_bytes(&certificate_bytes)
            .map_err(|_| HubError::Unenrolled("the certificate is unreadable".into()))?;
        certificate
            .verify(&event.event.id, &self.keys)
            .map_err(|error| HubError::Unenrolled(error.to_string()))?;
        let tag = event_tag(&event.event.id);
        let refuse = |sequence: Option<u64>, reason: String| IngestRefusal { sequence, reason };
        // First pass: parse, and list the signatures to check (the record's, its code's).
        let mut jobs: Vec<SignatureJob> = Vec::with_capacity(request.records.len() * 2);
        let mut parsed: Vec<Result<ParsedRecord, IngestRefusal>> = Vec::with_capacity(request.records.len());
        for record_hex in &request.records {
            let entry = (|| {
                let bytes = hex::decode(record_hex).map_err(|_| refuse(None, "the record is not hex".into()))?;
                let record = AwardRecord::from_bytes(&bytes).map_err(|error| refuse(None, error.to_string()))?;
                let sequence = record.sequence;
                if record.kiosk_id != certificate.kiosk_id {
                    return Err(refuse(
                        Some(sequence),
                        format!(
                            "record of kiosk {:?} sent with the certificate of {:?}",
                            record.kiosk_id, certificate.kiosk_id
                        ),
                    ));
                }
                let message = record
                    .signed_message()
                    .map_err(|error| refuse(Some(sequence), error.to_string()))?;
                let record_job = jobs.len();
                jobs.push(SignatureJob {
                    key: certificate.device_key,
                    message,
                    signature: record.signature,
                });
                let code = match record.code.as_deref() {
                    Some(code) if !code.is_empty() => (|| {
                        let text = format!("{CODE_PREFIX}{}", crate::domain::base32::encode(code));
                        let not_issued = |refusal: CodeRefusal| {
                            format!("the record's code was not issued by the organiser: {refusal}")
                        };
                        let parsed = AttendanceCode::parse(&text)
                            .map_err(|refusal| format!("the record's code is unreadable: {refusal}"))?;
                        if parsed.event_tag != tag {
                            return Err(not_issued(CodeRefusal::OtherEvent));
                        }
                        let message = parsed.signed_message(&event.event.id).map_err(not_issued)?;
                        let start = jobs.len();
                        for key in self
                            .keys
                            .iter()
                            .filter(|key| crate::domain::keys::key_hint(key) == parsed.key_hint)
                        {
                            jobs.push(SignatureJob {
                                key: *key,
                                message: message.clone(),
                                signature: parsed.signature,
                            });
                        }
                        if jobs.len() == start {
                            return Err(not_issued(CodeRefusal::UnknownKey));
                        }
                        Ok((parsed.claims, start..jobs.len()))
                    })(),
                    _ => Ok((
                        crate::domain::code::CodeClaims {
                            code_id: crate::domain::code::CodeId([0; 10]),
                            role: crate::domain::code::Role::Visitor,
                            holder: None,
                            valid_from: 0,
                            valid_until: 0,
                        },
                        0..0,
                    )),
                };
                Ok((bytes, record, record_job, code))
            })();
            parsed.push(entry);
        }
        // Then every signature at once.
        let genuine = self.signatures.check(&jobs);
        let records = parsed
            .into_iter()
            .map(|entry| {
                let (bytes, record, record_job, code) = entry?;
                let sequence = record.sequence;
                if !genuine.get(record_job).copied().unwrap_or(false) {
                    return Err(refuse(
                        Some(sequence),
                        crate::domain::award::RecordError::BadSignature.to_string(),
                    ));
                }
                if record.content.event_id != event.event.id {
                    return Err(refuse(
                        Some(sequence),
                        format!("record of event {:?}", record.content.event_id),
                    ));
                }
                if event.badge(&record.content.badge_id).is_none() {
                    return Err(refuse(
                        Some(sequence),
                        format!("the event has no badge {:?}", record.content.badge_id),
                    ));
                }
                let code = match code {
                    Ok((_, range)) if range.is_empty() => CodeCheck::Absent,
                    Ok((claims, range)) => {
                        if genuine.get(range).is_some_and(|results| results.iter().any(|ok| *ok)) {
                            CodeCheck::Genuine(claims)
                        } else {
                            CodeCheck::Refused(format!(
                                "the record's code was not issued by the organiser: {}",
                                CodeRefusal::Forged
                            ))
                        }
                    }
                    Err(reason) => CodeCheck::Refused(reason),
                };
                let hash: [u8; 32] = Sha256::digest(&bytes).into();
                Ok(CheckedRecord {
                    bytes,
                    record,
                    hash,
                    code,
                })
            })
            .collect();
        Ok(CheckedUpload {
            certificate,
            certificate_bytes,
            records,
        })
    }
}

/// Ingests one record, then keeps the clear email sent with it (already checked against
/// the record's signed hash) so the hub can issue on the badge platform.
#[allow(clippy::too_many_arguments)]
fn ingest_one(
    transaction: &rusqlite::Transaction<'_>,
    event: &EventDefinition,
    certificate: &KioskCertificate,
    checked: &CheckedRecord,
    emails: &BTreeMap<u64, String>,
    now_ms: i64,
    warnings: &mut Vec<String>,
    quota: &mut Quota,
) -> Result<RecordAnswer, IngestRefusal> {
    let mut answer = ingest_record(transaction, event, checked, emails, now_ms, warnings, quota)?;
    if let Some(email) = emails.get(&answer.sequence) {
        // OR IGNORE: a redelivery never brings back an email the hub already erased.
        transaction
            .prepare_cached(
                "INSERT OR IGNORE INTO record_emails (kiosk_id, sequence, email, received_ms) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    certificate.kiosk_id,
                    i64::try_from(answer.sequence).unwrap_or(i64::MAX),
                    normalise_email(email),
                    now_ms
                ])
            })
            .map_err(|error| IngestRefusal {
                sequence: Some(answer.sequence),
                reason: format!("hub storage error: {error}"),
            })?;
        answer.email_received = true;
    }
    Ok(answer)
}

fn ingest_record(
    transaction: &rusqlite::Transaction<'_>,
    event: &EventDefinition,
    checked: &CheckedRecord,
    emails: &BTreeMap<u64, String>,
    now_ms: i64,
    warnings: &mut Vec<String>,
    quota: &mut Quota,
) -> Result<RecordAnswer, IngestRefusal> {
    let CheckedRecord {
        bytes,
        record,
        hash,
        code,
    } = checked;
    let refuse = |sequence: Option<u64>, reason: String| IngestRefusal { sequence, reason };
    let sequence = record.sequence;
    let storage = |error: rusqlite::Error| refuse(Some(sequence), format!("hub storage error: {error}"));
    let ticket = allowed_ticket(transaction, record).map_err(storage)?;
    let proven = match prove_award(event, record, ticket, code) {
        Ok(proven) => proven,
        Err(reason) => return Err(refuse(Some(sequence), reason)),
    };
    if let Some(email) = emails.get(&sequence) {
        match &record.content.recipient {
            Recipient::EmailHash(hash) if email_hash(&record.content.event_id, email) == *hash => {}
            Recipient::EmailHash(_) => {
                return Err(refuse(
                    Some(sequence),
                    "the email sent with this record does not match the email hash the kiosk signed, so the hub \
                     refuses both: the record stays on the kiosk as failed. Check the kiosk's queue \
                     (`badge-kiosk queue status`) and tell the badge-kiosk developers"
                        .into(),
                ))
            }
            _ => {
                return Err(refuse(
                    Some(sequence),
                    "an email was sent with a record whose recipient is not a typed email: the hub refuses it; \
                     the record stays on the kiosk as failed (check the kiosk's badge-kiosk version)"
                        .into(),
                ))
            }
        }
    }
    let existing: Option<(Vec<u8>, String)> = transaction
        .prepare_cached("SELECT record_hash, outcome FROM records WHERE kiosk_id = ?1 AND sequence = ?2")
        .and_then(|mut select| {
            select
                .query_row(params![record.kiosk_id, sequence as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
        })
        .map_err(storage)?;
    if let Some((existing, outcome)) = existing {
        if existing == hash.as_slice() {
            // Redelivery (the answer to an earlier upload was lost): same answer, no change.
            return Ok(stored_answer(sequence, &outcome));
        }
        warnings.push(format!(
            "kiosk {} sent two different records #{sequence} (a fork)",
            record.kiosk_id
        ));
        return Err(refuse(
            Some(sequence),
            "another record with this sequence number was already received (fork)".into(),
        ));
    }
    if !quota.take() {
        return Err(refuse(Some(sequence), OVER_QUOTA.into()));
    }
    // Chain continuity: report gaps, accept anyway (records are individually signed).
    let (head_sequence, head_hash): (i64, Option<Vec<u8>>) = transaction
        .prepare_cached("SELECT head_sequence, head_hash FROM kiosks WHERE kiosk_id = ?1")
        .and_then(|mut select| select.query_row([&record.kiosk_id], |row| Ok((row.get(0)?, row.get(1)?))))
        .map_err(storage)?;
    let head_sequence = u64::try_from(head_sequence).unwrap_or(0);
    if sequence == head_sequence + 1 {
        let expected = head_hash.unwrap_or_else(|| GENESIS_HASH.to_vec());
        if record.previous_hash.as_slice() != expected.as_slice() {
            warnings.push(format!(
                "kiosk {}: record #{sequence} does not chain onto #{head_sequence}",
                record.kiosk_id
            ));
        }
    } else if sequence > head_sequence + 1 {
        warnings.push(format!(
            "kiosk {}: records #{} to #{} have not arrived yet",
            record.kiosk_id,
            head_sequence + 1,
            sequence - 1
        ));
    }
    if sequence > head_sequence {
        transaction
            .prepare_cached("UPDATE kiosks SET head_sequence = ?2, head_hash = ?3 WHERE kiosk_id = ?1")
            .and_then(|mut update| update.execute(params![record.kiosk_id, sequence as i64, hash.as_slice()]))
            .map_err(storage)?;
    }
    let content = &record.content;
    let revoked = match proven {
        true => revoked_code(transaction, &content.code_id).map_err(storage)?,
        false => None,
    };
    let outcome = if let Some(reason) = &revoked {
        // Kept as evidence with the organiser's reason, never an award.
        warnings.push(format!(
            "kiosk {}: record #{sequence} is for a code the organiser revoked ({reason}): kept for review, not awarded",
            record.kiosk_id
        ));
        "revoked"
    } else if !proven {
        // Kept as evidence for the organiser, never an award (see `prove_award`).
        warnings.push(format!(
            "kiosk {}: record #{sequence} carries no signed attendance code (an older kiosk, or a ticket from an \
             allow-list the hub does not hold: `badge-kiosk hub tickets FILE.csv`; a ticket record from a kiosk \
             older than record version 3 cannot be told from a forgery): kept for review, not awarded",
            record.kiosk_id
        ));
        "unproven"
    } else if content.kind.is_award() && !insert_award(transaction, record).map_err(storage)? {
        "duplicate"
    } else {
        "accepted"
    };
    transaction
        .prepare_cached(
            "INSERT INTO records (kiosk_id, sequence, record_hash, previous_hash, kind, badge_id, code_id, stand, recipient,
                                  created_at_ms, received_ms, outcome, signed_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                record.kiosk_id,
                sequence as i64,
                hash.as_slice(),
                record.previous_hash.as_slice(),
                content.kind.name(),
                content.badge_id,
                content.code_id,
                content.stand,
                content.recipient.describe(),
                content.created_at_ms,
                now_ms,
                outcome,
                bytes,
            ])
        })
        .map_err(storage)?;
    if outcome == "revoked" {
        return Err(refuse(
            Some(sequence),
            revoked_reason(revoked.as_deref().unwrap_or_default()),
        ));
    }
    if outcome != "unproven" {
        link_claim(transaction, record, hash).map_err(storage)?;
    }
    if outcome != "unproven" && content.kind == RecordKind::PathwayStep {
        merge_pathway(
            transaction,
            event,
            &content.badge_id,
            &content.code_id,
            content.created_at_ms,
        )
        .map_err(storage)?;
    }
    Ok(stored_answer(sequence, outcome))
}

/// The answer for a stored record, the same at its first delivery and at every redelivery.
fn stored_answer(sequence: u64, outcome: &str) -> RecordAnswer {
    let (status, reason) = match outcome {
        "duplicate" => (RecordStatus::Duplicate, None),
        "unproven" => (RecordStatus::Accepted, Some(UNPROVEN_REASON.to_owned())),
        "revoked" => (RecordStatus::Rejected, Some(revoked_reason(""))),
        _ => (RecordStatus::Accepted, None),
    };
    RecordAnswer {
        sequence,
        status,
        reason,
        email_received: false,
    }
}

/// Notes the claim link a proven award record carries (accepted or duplicate), so that
/// every token given out for the same badge and code opens the one award.
fn link_claim(
    transaction: &rusqlite::Transaction<'_>,
    record: &AwardRecord,
    hash: &[u8; 32],
) -> Result<(), rusqlite::Error> {
    let content = &record.content;
    if !content.kind.is_award() || !matches!(content.recipient, Recipient::ClaimToken(_)) {
        return Ok(());
    }
    transaction.execute(
        "INSERT OR IGNORE INTO claim_links (claim_token, badge_id, code_id, record_hash) VALUES (?1, ?2, ?3, ?4)",
        params![
            content.recipient.describe(),
            content.badge_id,
            content.code_id,
            hash.as_slice()
        ],
    )?;
    Ok(())
}

/// What a kiosk is told for a record whose code the organiser revoked.
fn revoked_reason(why: &str) -> String {
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({why})")
    };
    format!(
        "the organiser revoked this code{why}: no badge is awarded for it; the hub keeps the record for the \
         organiser's review (ask the organiser if the visitor should get the badge)"
    )
}

/// The organiser's reason when `code_id` was revoked (`hub revoke`), else None.
fn revoked_code(transaction: &rusqlite::Transaction<'_>, code_id: &[u8]) -> Result<Option<String>, rusqlite::Error> {
    transaction
        .prepare_cached("SELECT reason FROM revoked_codes WHERE code_id = ?1")?
        .query_row([code_id], |row| row.get::<_, Option<String>>(0))
        .optional()
        .map(|found| found.map(Option::unwrap_or_default))
}

/// What the hub answers for a record over its kiosk's quota (it is not stored).
pub const OVER_QUOTA: &str = "this hub holds as many records from this kiosk as it accepts from one kiosk: the record \
     was not stored; ask the organiser (the console names the kiosk; `badge-kiosk hub serve --kiosk-quota N` raises \
     the limit)";

/// What the hub answers for a record it keeps without awarding it.
pub const UNPROVEN_REASON: &str = "kept on the hub for the organiser's review, not awarded: the record carries no \
     attendance code signed by the event key (update badge-kiosk on the kiosk)";

/// How far a kiosk's clock may be off when the hub checks a code's validity window.
const VALIDITY_SLACK_S: i64 = 3600;

/// Proves an award at the hub (version 2 records): the code it carries was signed by the
/// event key (checked in the batch, `code`), is this record's code id, is a visitor's code,
/// was valid when the record was made (give or take an hour of kiosk clock), and names the
/// same registration.
/// A version 2 record without a code is an allow-listed ticket: `ticket` is what the hub's
/// copy of the allow-list holds for its code id (`Some(registration)`), and proves it.
/// Ok(false): no code to prove it with (version 1, or a ticket the hub's allow-list does not
/// hold): the hub keeps the record as evidence and awards nothing for it. Err: a code that
/// is not genuine.
fn prove_award(
    event: &EventDefinition,
    record: &AwardRecord,
    ticket: Option<Option<String>>,
    code: &CodeCheck,
) -> Result<bool, String> {
    use crate::domain::allowlist::{ticket_code_id, ticket_hash};
    use crate::domain::code::Role;
    if let Some(text) = record.ticket.as_deref() {
        // Version 3: the barcode's own text, which only its holder had.
        if ticket_code_id(&ticket_hash(&event.event.id, text)).as_slice() != record.content.code_id.as_slice() {
            return Err("the record's ticket is not the ticket of its code id".into());
        }
        let Some(registration) = ticket else {
            return Ok(false);
        };
        if let Recipient::Registration(reference) = &record.content.recipient {
            if registration.as_deref() != Some(reference.as_str()) {
                return Err("the record names a registration its ticket does not carry".into());
            }
        }
        return Ok(true);
    }
    let Some(code_bytes) = record.code.as_deref() else {
        return Ok(false);
    };
    if code_bytes.is_empty() {
        // A version 2 ticket record carries only the code id, which a kiosk holding the
        // list's hashes can make for every ticket: never awarded, kept for review.
        return Ok(false);
    }
    let claims = match code {
        CodeCheck::Genuine(claims) => claims,
        CodeCheck::Refused(reason) => return Err(reason.clone()),
        CodeCheck::Absent => return Err("the record's code was not checked: send it again".into()),
    };
    if claims.code_id.0.as_slice() != record.content.code_id.as_slice() {
        return Err("the record's code id is not the id of the code it carries".into());
    }
    if claims.role != Role::Visitor {
        return Err(format!(
            "the record's code is a {} card, not a visitor's code: no badge is awarded for it",
            claims.role.label()
        ));
    }
    let at_s = record.content.created_at_ms.div_euclid(1000);
    if at_s + VALIDITY_SLACK_S < i64::from(claims.valid_from) || at_s - VALIDITY_SLACK_S > i64::from(claims.valid_until)
    {
        return Err("the record was made outside the code's validity window".into());
    }
    if let Recipient::Registration(reference) = &record.content.recipient {
        if claims.holder.as_deref() != Some(reference.as_str()) {
            return Err("the record names a registration its code does not carry".into());
        }
    }
    Ok(true)
}

/// What the hub's allow-list holds for a version 3 ticket record's code id (other records are
/// never looked up).
fn allowed_ticket(
    transaction: &rusqlite::Transaction<'_>,
    record: &AwardRecord,
) -> Result<Option<Option<String>>, rusqlite::Error> {
    if record.ticket.is_none() {
        return Ok(None);
    }
    transaction
        .query_row(
            "SELECT registration FROM allowed_tickets WHERE code_id = ?1",
            [record.content.code_id.as_slice()],
            |row| row.get(0),
        )
        .optional()
}

/// Awards the badge a proven record carries, once per badge and code: false when another
/// record already holds that award (a duplicate).
fn insert_award(transaction: &rusqlite::Transaction<'_>, record: &AwardRecord) -> Result<bool, rusqlite::Error> {
    let content = &record.content;
    let inserted = transaction.execute(
        "INSERT OR IGNORE INTO awards (badge_id, code_id, kind, recipient, source_kiosk, source_sequence, created_at_ms, claim_token)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            content.badge_id,
            content.code_id,
            content.kind.name(),
            content.recipient.describe(),
            record.kiosk_id,
            i64::try_from(record.sequence).unwrap_or(i64::MAX),
            content.created_at_ms,
            matches!(content.recipient, Recipient::ClaimToken(_)).then(|| content.recipient.describe()),
        ],
    )?;
    Ok(inserted > 0)
}

/// Evaluates a pathway over the steps every kiosk recorded for this code; awards it once.
fn merge_pathway(
    transaction: &rusqlite::Transaction<'_>,
    event: &EventDefinition,
    badge_id: &str,
    code_id: &[u8],
    at_ms: i64,
) -> Result<(), rusqlite::Error> {
    let Some(rule) = event.badge(badge_id).and_then(|badge| badge.pathway.as_ref()) else {
        return Ok(());
    };
    let mut statement = transaction
        .prepare_cached(
            "SELECT DISTINCT stand FROM records WHERE kind = 'step' AND badge_id = ?1 AND code_id = ?2 AND outcome <> 'unproven'",
        )?;
    let stands = statement
        .query_map(params![badge_id, code_id], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if PathwayProgress::evaluate(rule, stands.iter().map(String::as_str)).complete {
        // The recipient of a hub-merged pathway is the registration on any of the steps'
        // codes' awards, if known; otherwise it is resolved at issue time.
        let recipient: String = transaction
            .query_row(
                "SELECT recipient FROM awards WHERE code_id = ?1 AND recipient LIKE 'registration:%' LIMIT 1",
                [code_id],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or_default();
        transaction.execute(
            "INSERT OR IGNORE INTO awards (badge_id, code_id, kind, recipient, source_kiosk, source_sequence, created_at_ms)
             VALUES (?1, ?2, 'pathway', ?3, NULL, NULL, ?4)",
            params![badge_id, code_id, recipient, at_ms],
        )?;
    }
    Ok(())
}

/// A record the venue hub has not yet relayed to a public hub, as its kiosk signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCandidate {
    /// SHA-256 of the signed bytes: the key of its relay state.
    pub record_hash: Vec<u8>,
    pub signed_bytes: Vec<u8>,
    /// The clear email the kiosk sent with it, while the hub still holds it.
    pub email: Option<String>,
    /// The stand the kiosk last said it is set up for, for the public hub's fleet view.
    pub kiosk_stand: Option<String>,
}

/// What the relay learned about one record from the public hub's signed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayMark {
    Relayed,
    Refused(String),
}

/// Where a venue hub's records stand with one public hub (`hub status`, the console).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayCounts {
    pub target: String,
    pub relayed: u64,
    pub refused: u64,
    /// Records not relayed yet (new, or only transient failures so far).
    pub waiting: u64,
    /// The latest refusals: (kiosk id, sequence, reason).
    pub refusals: Vec<(String, u64, String)>,
    pub last_relayed_ms: Option<i64>,
}

impl HubStore {
    /// Every record not yet relayed to `target`, oldest kiosk and sequence first.
    pub fn relay_candidates(&self, target: &str) -> Result<Vec<RelayCandidate>, HubError> {
        let mut statement = self.connection.prepare(
            "SELECT r.record_hash, r.signed_bytes, e.email, k.stand FROM records r
             LEFT JOIN relay_records s ON s.target = ?1 AND s.record_hash = r.record_hash
             LEFT JOIN record_emails e ON e.kiosk_id = r.kiosk_id AND e.sequence = r.sequence
             LEFT JOIN kiosks k ON k.kiosk_id = r.kiosk_id
             WHERE s.record_hash IS NULL
             ORDER BY r.kiosk_id, r.sequence",
        )?;
        let rows = statement.query_map([target], |row| {
            Ok(RelayCandidate {
                record_hash: row.get(0)?,
                signed_bytes: row.get(1)?,
                email: row.get(2)?,
                kiosk_stand: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The frozen bytes of every kiosk certificate this hub accepted an upload with.
    pub fn kiosk_certificates(&self) -> Result<Vec<Vec<u8>>, HubError> {
        let mut statement = self
            .connection
            .prepare("SELECT certificate FROM kiosk_certificates ORDER BY issued_ms, kiosk_id")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Notes the public hub's word on each record (by record hash), all or nothing.
    pub fn mark_relay(&mut self, target: &str, marks: &[(Vec<u8>, RelayMark)], now_ms: i64) -> Result<(), HubError> {
        let transaction = self.connection.transaction()?;
        for (hash, mark) in marks {
            let (state, reason) = match mark {
                RelayMark::Relayed => ("relayed", None),
                RelayMark::Refused(reason) => ("refused", Some(reason.as_str())),
            };
            transaction.execute(
                "INSERT OR REPLACE INTO relay_records (target, record_hash, state, reason, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![target, hash, state, reason, now_ms],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Where the records stand with each public hub this hub ever relayed to.
    pub fn relay_counts(&self) -> Result<Vec<RelayCounts>, HubError> {
        let total = u64::try_from(
            self.connection
                .query_row("SELECT COUNT(*) FROM records", [], |row| row.get::<_, i64>(0))?,
        )
        .unwrap_or(0);
        let mut statement = self.connection.prepare(
            "SELECT target, SUM(state = 'relayed'), SUM(state = 'refused'), MAX(CASE WHEN state = 'relayed' THEN at_ms END)
             FROM relay_records s WHERE EXISTS (SELECT 1 FROM records r WHERE r.record_hash = s.record_hash)
             GROUP BY target ORDER BY target",
        )?;
        let mut counts = statement
            .query_map([], |row| {
                let relayed = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
                let refused = u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
                Ok(RelayCounts {
                    target: row.get(0)?,
                    relayed,
                    refused,
                    waiting: total.saturating_sub(relayed + refused),
                    refusals: Vec::new(),
                    last_relayed_ms: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut refusals = self.connection.prepare(
            "SELECT r.kiosk_id, r.sequence, s.reason FROM relay_records s
             JOIN records r ON r.record_hash = s.record_hash
             WHERE s.target = ?1 AND s.state = 'refused' ORDER BY s.at_ms DESC, r.kiosk_id, r.sequence LIMIT 20",
        )?;
        for count in &mut counts {
            count.refusals = refusals
                .query_map([&count.target], |row| {
                    Ok((
                        row.get(0)?,
                        u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                        row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
        }
        Ok(counts)
    }
}
