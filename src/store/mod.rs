//! The durable signed queue (SQLite): award records, settings, allow-list, revocations.
//!
//! Durability: WAL with `synchronous=FULL`, so a record is on disk before the screen
//! says "saved". Every append is one IMMEDIATE transaction that reads the chain head,
//! signs the next record and inserts it, so two writers can never fork the chain.

pub mod identity;
mod migrations;

use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use thiserror::Error;

use crate::domain::award::{
    verify_chain, AwardContent, AwardRecord, ChainFault, RecordError, RecordHash, RecordKind, GENESIS_HASH,
};
use crate::domain::clock::HubTimeWindow;

const HEAD_SEQUENCE: &str = "chain.head_sequence";
/// The time the hubs gave (see `Store::take_hub_time`).
const HUB_FLOOR: &str = "clock.trusted_floor_ms";
/// The event's dates, as the window a hub's time is believed in.
const HUB_WINDOW: &str = "clock.hub_window_ms";
/// The newest record's position when the organiser last reset the clock.
const RESET_POSITION: &str = "clock.reset_after_position";
const HEAD_HASH: &str = "chain.head_hash";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the disk is full: the badge was not saved. Free some space or ask staff (SQLite: {0})")]
    DiskFull(String),
    #[error("the queue database could not be written: the badge was not saved. Ask staff to check the storage ({0})")]
    Io(String),
    #[error("the queue database is damaged or not a badge-kiosk queue ({0}): restore it from a backup or start a new data directory")]
    Corrupt(String),
    #[error("the queue database is busy: try again")]
    Busy,
    #[error("this queue was made by a newer badge-kiosk (schema {found}, this one knows {known}): update badge-kiosk")]
    NewerSchema { found: i64, known: i64 },
    #[error("a record could not be built: {0}")]
    Record(#[from] RecordError),
    #[error("database error: {0}")]
    Other(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match &error {
            rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
                ErrorCode::DiskFull => StoreError::DiskFull(error.to_string()),
                ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::ReadOnly
                | ErrorCode::PermissionDenied => StoreError::Io(error.to_string()),
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreError::Corrupt(error.to_string()),
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy,
                _ => StoreError::Other(error.to_string()),
            },
            _ => StoreError::Other(error.to_string()),
        }
    }
}

/// A record as stored, with its sync state.
/// The most a hub's signed time may move a kiosk's trusted clock forward in one sync.
pub const MAX_CLOCK_STEP_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub record: AwardRecord,
    pub hash: RecordHash,
    pub email: Option<String>,
    pub sync_state: SyncState,
    pub sync_error: Option<String>,
    pub sync_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    Queued,
    Synced,
    Failed,
}

impl SyncState {
    fn as_str(self) -> &'static str {
        match self {
            SyncState::Queued => "queued",
            SyncState::Synced => "synced",
            SyncState::Failed => "failed",
        }
    }
    fn parse(text: &str) -> Self {
        match text {
            "synced" => SyncState::Synced,
            "failed" => SyncState::Failed,
            _ => SyncState::Queued,
        }
    }
}

// One per claim, consumed at once: the size difference costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended(AwardRecord),
    /// The same badge (or step) was already recorded for this code: a no-op.
    AlreadyRecorded {
        sequence: u64,
        created_at_ms: i64,
    },
}

/// Counts for the organiser panel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub queued: u64,
    pub synced: u64,
    pub failed: u64,
    /// (badge id, awards) over all time.
    pub awards_by_badge: Vec<(String, u64)>,
    /// (stand id, steps).
    pub steps_by_stand: Vec<(String, u64)>,
    pub failures: Vec<(u64, String)>,
}

/// The result of `queue verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueAudit {
    pub records: usize,
    pub faults: Vec<String>,
}

/// Durability level; FULL is the product default, NORMAL exists so the power-cut
/// harness can prove it detects a loss when one is possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    #[default]
    Full,
    Normal,
}

pub struct Store {
    connection: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Durability::Full)
    }

    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        // Visitors' emails wait in here: 0600 whatever the umask.
        if let Err(error) = crate::eventdir::ensure_private_file(path) {
            tracing::warn!("cannot make {} private: {error}", path.display());
        }
        let connection = Connection::open(path)?;
        let store = Self { connection };
        store.configure(durability)?;
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Self, StoreError> {
        let store = Self {
            connection: Connection::open_in_memory()?,
        };
        store.configure(Durability::Full)?;
        Ok(store)
    }

    fn configure(&self, durability: Durability) -> Result<(), StoreError> {
        self.connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // A file that is not SQLite fails here with NotADatabase.
        self.connection
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get::<_, String>(0))?;
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        self.connection
            .execute_batch(&format!("PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON;"))?;
        migrations::apply(&self.connection)
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .connection
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| row.get(0))
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Raises the floor the hubs gave (never lowers it) and returns the floor now in force.
    pub fn raise_trusted_time(&self, now_ms: i64) -> Result<i64, StoreError> {
        if now_ms > self.hub_time_floor()? {
            self.set_setting(HUB_FLOOR, &now_ms.to_string())?;
        }
        self.trusted_time_floor()
    }

    /// Takes a time the event key signed (an upload answer's, a bundle's) as the floor the
    /// hub gives, within three limits, so that no wrong or hostile hub can make this kiosk
    /// refuse valid codes for long:
    ///
    /// - outside the event's dates ([`Store::set_hub_time_window`]) the hub's clock is
    ///   wrong: ignored;
    /// - it moves the floor at most [`MAX_CLOCK_STEP_MS`] past what the kiosk trusts (the
    ///   floor or its own clock, whichever is later) per answer;
    /// - it *replaces* the previous hub time, even when earlier: once the organiser fixes the
    ///   hub's clock, its next answer brings every kiosk back at once. (A hub time only
    ///   ever raises the time the kiosk uses above its own clock; an earlier one cannot
    ///   make it refuse anything.)
    ///
    /// Returns the floor now in force.
    pub fn take_hub_time(&self, hub_ms: i64, system_now_ms: i64) -> Result<i64, StoreError> {
        if !self.hub_time_window()?.is_some_and(|window| window.contains(hub_ms)) {
            tracing::warn!(
                hub_ms,
                "the hub's clock is outside the event's dates: its time is ignored"
            );
            return self.trusted_time_floor();
        }
        let given = self.hub_time_floor()?;
        let target = if given <= 0 {
            hub_ms
        } else {
            hub_ms.min(given.max(system_now_ms).saturating_add(MAX_CLOCK_STEP_MS))
        };
        self.set_setting(HUB_FLOOR, &target.to_string())?;
        self.trusted_time_floor()
    }

    /// The organiser's reset (organiser panel, `badge-kiosk clock reset`): forgets every
    /// time this kiosk trusted so far (the hubs' and bundles', its certificate's issue
    /// time, and its own records' times, which a clock pushed ahead once may have put in
    /// the future); from now on only newer records and the next hub answer count. Returns
    /// the floor now in force (none: 0).
    pub fn reset_trusted_time(&self) -> Result<i64, StoreError> {
        let newest: i64 = self
            .connection
            .query_row("SELECT COALESCE(MAX(position), 0) FROM records", [], |row| row.get(0))?;
        self.connection
            .execute("DELETE FROM settings WHERE key = ?1", [HUB_FLOOR])?;
        self.set_setting(RESET_POSITION, &newest.to_string())?;
        self.trusted_time_floor()
    }

    /// Remembers the event's dates as the times a hub's clock may be believed at (set when
    /// the kiosk opens its event and when a bundle arrives).
    pub fn set_hub_time_window(&self, window: Option<HubTimeWindow>) -> Result<(), StoreError> {
        match window {
            Some(window) => self.set_setting(HUB_WINDOW, &format!("{},{}", window.from_ms, window.until_ms)),
            None => {
                self.connection
                    .execute("DELETE FROM settings WHERE key = ?1", [HUB_WINDOW])?;
                Ok(())
            }
        }
    }

    pub fn hub_time_window(&self) -> Result<Option<HubTimeWindow>, StoreError> {
        Ok(self.setting(HUB_WINDOW)?.and_then(|text| {
            let (from, until) = text.split_once(',')?;
            Some(HubTimeWindow {
                from_ms: from.parse().ok()?,
                until_ms: until.parse().ok()?,
            })
        }))
    }

    /// True once the organiser reset the clock: the certificate's issue time no longer counts.
    pub fn clock_was_reset(&self) -> Result<bool, StoreError> {
        Ok(self.setting(RESET_POSITION)?.is_some())
    }

    fn hub_time_floor(&self) -> Result<i64, StoreError> {
        Ok(self
            .setting(HUB_FLOOR)?
            .and_then(|value| value.parse().ok())
            .unwrap_or(0))
    }

    /// The latest time this kiosk trusts: the hub's last signed time (within the event's
    /// dates), or the time of its own latest record since the last reset (so a board that
    /// lost its clock never signs a record earlier than the one before).
    pub fn trusted_time_floor(&self) -> Result<i64, StoreError> {
        let given = self.hub_time_floor()?;
        let reset_position: i64 = self
            .setting(RESET_POSITION)?
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        // The newest row (by primary key, so no scan): records are signed in time order.
        let latest_record: Option<i64> = self
            .connection
            .query_row(
                "SELECT created_at_ms FROM records WHERE position > ?1 ORDER BY position DESC LIMIT 1",
                [reset_position],
                |row| row.get(0),
            )
            .optional()?;
        Ok(given.max(latest_record.unwrap_or(0)))
    }

    /// Signs and appends a version 1 record (no code proof), unless the same award (or
    /// step) already exists. Kiosks sign version 2 with [`Store::append_with_code`].
    pub fn append(
        &mut self,
        device_key: &SigningKey,
        kiosk_id: &str,
        content: AwardContent,
        email: Option<&str>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_with_code(device_key, kiosk_id, content, email, None)
    }

    /// Signs and appends a record carrying `code` (the attendance code's bytes: a version
    /// 2 record the hub can prove), unless the same award (or step) already exists.
    pub fn append_with_code(
        &mut self,
        device_key: &SigningKey,
        kiosk_id: &str,
        content: AwardContent,
        email: Option<&str>,
        code: Option<Vec<u8>>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_signed(content, email, |sequence, previous, content| {
            AwardRecord::sign_with_code(device_key, kiosk_id, sequence, previous, content, code)
        })
    }

    /// Signs and appends a version 3 record for an allow-listed ticket (its scanned text,
    /// which the hub checks against its own copy of the list), unless the same award (or
    /// step) already exists.
    pub fn append_with_ticket(
        &mut self,
        device_key: &SigningKey,
        kiosk_id: &str,
        content: AwardContent,
        email: Option<&str>,
        ticket: &str,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_signed(content, email, |sequence, previous, content| {
            AwardRecord::sign_with_ticket(device_key, kiosk_id, sequence, previous, content, ticket)
        })
    }

    fn append_signed(
        &mut self,
        content: AwardContent,
        email: Option<&str>,
        sign: impl FnOnce(u64, RecordHash, AwardContent) -> Result<AwardRecord, RecordError>,
    ) -> Result<AppendOutcome, StoreError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Two statements, each matching one partial unique index exactly, so the check
        // is an index look-up and appends stay O(log n) however long the queue grows.
        let existing = if content.kind == RecordKind::PathwayStep {
            transaction
                .prepare_cached(
                    "SELECT sequence, created_at_ms FROM records
                     WHERE event_id = ?1 AND badge_id = ?2 AND code_id = ?3 AND stand = ?4 AND kind = 'step'",
                )?
                .query_row(
                    params![content.event_id, content.badge_id, content.code_id, content.stand],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
                )
                .optional()?
        } else {
            transaction
                .prepare_cached(
                    "SELECT sequence, created_at_ms FROM records
                     WHERE event_id = ?1 AND badge_id = ?2 AND code_id = ?3 AND kind <> 'step'",
                )?
                .query_row(params![content.event_id, content.badge_id, content.code_id], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
                })
                .optional()?
        };
        if let Some((sequence, created_at_ms)) = existing {
            return Ok(AppendOutcome::AlreadyRecorded {
                sequence: u64::try_from(sequence).unwrap_or_default(),
                created_at_ms,
            });
        }
        let (head_sequence, head_hash) = read_head(&transaction)?;
        let record = sign(head_sequence + 1, head_hash, content)?;
        let hash = record.hash()?;
        transaction.execute(
            "INSERT INTO records (sequence, kind, event_id, badge_id, code_id, stand, recipient,
                                  created_at_ms, record_hash, signed_bytes, email)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                i64::try_from(record.sequence).unwrap_or(i64::MAX),
                record.content.kind.name(),
                record.content.event_id,
                record.content.badge_id,
                record.content.code_id,
                record.content.stand,
                record.content.recipient.describe(),
                record.content.created_at_ms,
                hash.as_slice(),
                record.to_bytes()?,
                email,
            ],
        )?;
        // The time of a saved record is trusted from now on: `trusted_time_floor` reads it
        // from the records themselves (same transaction, same fsync).
        write_head(&transaction, record.sequence, &hash)?;
        transaction.commit()?;
        Ok(AppendOutcome::Appended(record))
    }

    /// Stands already recorded for this code on this pathway badge.
    pub fn steps_for(&self, event_id: &str, badge_id: &str, code_id: &[u8]) -> Result<Vec<String>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT stand FROM records WHERE kind = 'step' AND event_id = ?1 AND badge_id = ?2 AND code_id = ?3",
        )?;
        let stands = statement
            .query_map(params![event_id, badge_id, code_id], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(stands)
    }

    pub fn has_award(&self, event_id: &str, badge_id: &str, code_id: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .connection
            .query_row(
                "SELECT 1 FROM records WHERE kind <> 'step' AND event_id = ?1 AND badge_id = ?2 AND code_id = ?3",
                params![event_id, badge_id, code_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records in append order, from `after_sequence` (exclusive), at most `limit`.
    pub fn records(&self, after_sequence: u64, limit: usize) -> Result<Vec<StoredRecord>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT signed_bytes, record_hash, email, sync_state, sync_error, sync_attempts
             FROM records WHERE sequence > ?1 ORDER BY position LIMIT ?2",
        )?;
        let rows = statement.query_map(
            params![
                i64::try_from(after_sequence).unwrap_or(i64::MAX),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            stored_row,
        )?;
        collect_records(rows)
    }

    pub fn record(&self, sequence: u64) -> Result<Option<StoredRecord>, StoreError> {
        let row = self
            .connection
            .query_row(
                "SELECT signed_bytes, record_hash, email, sync_state, sync_error, sync_attempts
                 FROM records WHERE sequence = ?1",
                [i64::try_from(sequence).unwrap_or(i64::MAX)],
                stored_row,
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some(raw) => Ok(Some(raw.into_record()?)),
        }
    }

    /// Queued records, oldest first: what the sync planner works from.
    pub fn pending(&self, limit: usize) -> Result<Vec<StoredRecord>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT signed_bytes, record_hash, email, sync_state, sync_error, sync_attempts
             FROM records WHERE sync_state = 'queued' ORDER BY sequence LIMIT ?1",
        )?;
        let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], stored_row)?;
        collect_records(rows)
    }

    pub fn mark_synced(&mut self, sequences: &[u64], at_ms: i64) -> Result<(), StoreError> {
        let transaction = self.connection.transaction()?;
        {
            let mut statement = transaction.prepare_cached(
                "UPDATE records SET sync_state = 'synced', sync_error = NULL, synced_at_ms = ?2,
                        sync_attempts = sync_attempts + 1 WHERE sequence = ?1",
            )?;
            for sequence in sequences {
                statement.execute(params![i64::try_from(*sequence).unwrap_or(i64::MAX), at_ms])?;
            }
        }
        transaction.commit()?;
        self.set_setting("sync.last_success_ms", &at_ms.to_string())
    }

    /// A permanent failure: kept, with its reason, for the organiser.
    pub fn mark_failed(&mut self, sequence: u64, reason: &str) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE records SET sync_state = 'failed', sync_error = ?2, sync_attempts = sync_attempts + 1
             WHERE sequence = ?1",
            params![i64::try_from(sequence).unwrap_or(i64::MAX), reason],
        )?;
        Ok(())
    }

    /// A transient failure: stays queued, the attempt and reason are noted.
    pub fn note_attempt(&mut self, sequence: u64, reason: &str) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE records SET sync_error = ?2, sync_attempts = sync_attempts + 1 WHERE sequence = ?1",
            params![i64::try_from(sequence).unwrap_or(i64::MAX), reason],
        )?;
        Ok(())
    }

    /// Puts failed records back in the queue (after the organiser fixed the cause).
    pub fn retry_failed(&mut self) -> Result<usize, StoreError> {
        Ok(self.connection.execute(
            "UPDATE records SET sync_state = 'queued' WHERE sync_state = 'failed'",
            [],
        )?)
    }

    pub fn counts(&self) -> Result<QueueCounts, StoreError> {
        let mut counts = QueueCounts::default();
        {
            let mut statement = self
                .connection
                .prepare("SELECT sync_state, COUNT(*) FROM records GROUP BY sync_state")?;
            let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
            for row in rows {
                let (state, count) = row?;
                let count = u64::try_from(count).unwrap_or_default();
                match SyncState::parse(&state) {
                    SyncState::Queued => counts.queued = count,
                    SyncState::Synced => counts.synced = count,
                    SyncState::Failed => counts.failed = count,
                }
            }
        }
        let grouped = |sql: &str| -> Result<Vec<(String, u64)>, StoreError> {
            let mut statement = self.connection.prepare(sql)?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
                ))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        };
        counts.awards_by_badge =
            grouped("SELECT badge_id, COUNT(*) FROM records WHERE kind <> 'step' GROUP BY badge_id ORDER BY badge_id")?;
        counts.steps_by_stand =
            grouped("SELECT stand, COUNT(*) FROM records WHERE kind = 'step' GROUP BY stand ORDER BY stand")?;
        let mut statement = self.connection.prepare(
            "SELECT sequence, COALESCE(sync_error, '') FROM records WHERE sync_state = 'failed' ORDER BY sequence LIMIT 50",
        )?;
        counts.failures = statement
            .query_map([], |row| {
                Ok((
                    u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default(),
                    row.get::<_, String>(1)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(counts)
    }

    /// Forgets the clear emails the hub acknowledged holding (records already synced); the
    /// signed hash stays. `queue purge` later vacuums the freed pages.
    pub fn forget_emails(&mut self, sequences: &[u64]) -> Result<usize, StoreError> {
        if sequences.is_empty() {
            return Ok(0);
        }
        let transaction = self.connection.transaction()?;
        let mut forgotten = 0;
        {
            let mut statement = transaction.prepare_cached(
                "UPDATE records SET email = NULL WHERE sequence = ?1 AND email IS NOT NULL AND sync_state = 'synced'",
            )?;
            for sequence in sequences {
                forgotten += statement.execute([i64::try_from(*sequence).unwrap_or(i64::MAX)])?;
            }
        }
        transaction.commit()?;
        Ok(forgotten)
    }

    /// Erases clear emails of records synced before `synced_before_ms`. Returns how many.
    pub fn purge_emails(&mut self, synced_before_ms: i64) -> Result<usize, StoreError> {
        let erased = self.connection.execute(
            "UPDATE records SET email = NULL
             WHERE email IS NOT NULL AND sync_state = 'synced' AND synced_at_ms <= ?1",
            [synced_before_ms],
        )?;
        // The erased emails must not linger in freed pages or in the WAL: VACUUM writes
        // through the WAL in WAL mode, so checkpoint before and after it.
        self.connection
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(erased)
    }

    pub fn replace_allow_list(
        &mut self,
        tickets: &[crate::domain::allowlist::AllowedTicket],
    ) -> Result<(), StoreError> {
        let transaction = self.connection.transaction()?;
        transaction.execute("DELETE FROM allowed_tickets", [])?;
        {
            let mut statement =
                transaction.prepare("INSERT OR IGNORE INTO allowed_tickets (hash, registration) VALUES (?1, ?2)")?;
            for ticket in tickets {
                statement.execute(params![ticket.hash.as_slice(), ticket.registration])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// `Some(registration)` when the ticket hash is on the allow-list.
    pub fn allowed_ticket(&self, hash: &[u8; 32]) -> Result<Option<Option<String>>, StoreError> {
        Ok(self
            .connection
            .query_row(
                "SELECT registration FROM allowed_tickets WHERE hash = ?1",
                [hash.as_slice()],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()?)
    }

    pub fn revoke(&self, code_id: &[u8]) -> Result<(), StoreError> {
        self.connection
            .execute("INSERT OR IGNORE INTO revoked_codes (code_id) VALUES (?1)", [code_id])?;
        Ok(())
    }

    pub fn is_revoked(&self, code_id: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .connection
            .query_row("SELECT 1 FROM revoked_codes WHERE code_id = ?1", [code_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn revoked(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut statement = self.connection.prepare("SELECT code_id FROM revoked_codes")?;
        let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Recomputes every signature and the hash chain; names each edited, deleted or
    /// reordered row, and rows whose columns no longer match their signed bytes.
    pub fn audit(&self, device_key: &VerifyingKey) -> Result<QueueAudit, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT position, sequence, kind, event_id, badge_id, code_id, stand, created_at_ms, record_hash, signed_bytes
             FROM records ORDER BY position",
        )?;
        let mut rows = statement.query([])?;
        let mut audit = QueueAudit::default();
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            use rusqlite::types::Value;
            audit.records += 1;
            // Read every column as a plain value: a row edited by hand may hold any type.
            let column = |index: usize| row.get::<_, Value>(index).unwrap_or(Value::Null);
            let position = match column(0) {
                Value::Integer(position) => position,
                _ => 0,
            };
            let sequence = column(1);
            let sequence_label = match &sequence {
                Value::Integer(sequence) => sequence.to_string(),
                other => format!("{other:?}"),
            };
            let Value::Blob(bytes) = column(9) else {
                audit.faults.push(format!(
                    "row {position} (record #{sequence_label}) was edited: its signed bytes are no longer bytes"
                ));
                continue;
            };
            match AwardRecord::from_bytes(&bytes) {
                Err(error) => audit.faults.push(format!(
                    "row {position} (record #{sequence_label}) is unreadable: {error}"
                )),
                Ok(record) => {
                    let text = |value: &str| Value::Text(value.to_owned());
                    let columns_match = i64::try_from(record.sequence).ok().map(Value::Integer) == Some(sequence)
                        && column(2) == text(record.content.kind.name())
                        && column(3) == text(&record.content.event_id)
                        && column(4) == text(&record.content.badge_id)
                        && column(5) == Value::Blob(record.content.code_id.clone())
                        && column(6) == text(&record.content.stand)
                        && column(7) == Value::Integer(record.content.created_at_ms)
                        && record.hash().ok().map(|hash| Value::Blob(hash.to_vec())) == Some(column(8));
                    if !columns_match {
                        audit.faults.push(format!(
                            "row {position} (record #{sequence_label}) was edited: its columns no longer match its signed bytes"
                        ));
                    }
                    records.push(record);
                }
            }
        }
        audit.faults.extend(
            verify_chain(&records, device_key, 1, GENESIS_HASH)
                .iter()
                .map(ChainFault::to_string),
        );
        drop(rows);
        let (head_sequence, head_hash) = read_head(&self.connection)?;
        let last = records.iter().map(|record| record.sequence).max().unwrap_or(0);
        if head_sequence > last {
            audit.faults.push(if head_sequence == last + 1 {
                format!("record #{head_sequence} (the newest) was deleted")
            } else {
                format!("records #{} to #{head_sequence} (the newest) were deleted", last + 1)
            });
        } else if let Some(newest) = records.iter().find(|record| record.sequence == head_sequence) {
            if newest.hash().ok() != Some(head_hash) {
                audit
                    .faults
                    .push(format!("record #{head_sequence} (the newest) was replaced"));
            }
        }
        Ok(audit)
    }

    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .connection
            .query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))?)
    }

    /// Direct access for the hub and tests that need their own SQL.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

fn read_head(connection: &Connection) -> Result<(u64, RecordHash), StoreError> {
    let sequence = connection
        .query_row("SELECT value FROM settings WHERE key = ?1", [HEAD_SEQUENCE], |row| {
            row.get::<_, String>(0)
        })
        .optional()?
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    let hash = connection
        .query_row("SELECT value FROM settings WHERE key = ?1", [HEAD_HASH], |row| {
            row.get::<_, String>(0)
        })
        .optional()?
        .and_then(|value| hex::decode(value).ok())
        .and_then(|bytes| RecordHash::try_from(bytes).ok())
        .unwrap_or(GENESIS_HASH);
    Ok((sequence, hash))
}

fn write_head(connection: &Connection, sequence: u64, hash: &RecordHash) -> Result<(), StoreError> {
    for (key, value) in [(HEAD_SEQUENCE, sequence.to_string()), (HEAD_HASH, hex::encode(hash))] {
        connection.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
    }
    Ok(())
}

struct RawRow {
    bytes: Vec<u8>,
    hash: Vec<u8>,
    email: Option<String>,
    state: String,
    error: Option<String>,
    attempts: i64,
}

impl RawRow {
    fn into_record(self) -> Result<StoredRecord, StoreError> {
        let record = AwardRecord::from_bytes(&self.bytes)?;
        Ok(StoredRecord {
            record,
            hash: RecordHash::try_from(self.hash).unwrap_or(GENESIS_HASH),
            email: self.email,
            sync_state: SyncState::parse(&self.state),
            sync_error: self.error,
            sync_attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
        })
    }
}

fn stored_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        bytes: row.get(0)?,
        hash: row.get(1)?,
        email: row.get(2)?,
        state: row.get(3)?,
        error: row.get(4)?,
        attempts: row.get(5)?,
    })
}

fn collect_records(rows: impl Iterator<Item = rusqlite::Result<RawRow>>) -> Result<Vec<StoredRecord>, StoreError> {
    rows.map(|row| row.map_err(StoreError::from).and_then(RawRow::into_record))
        .collect()
}

impl SyncState {
    pub fn label(self) -> &'static str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests;
