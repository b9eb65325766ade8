//! Hub-side issuing: the merged awards of every kiosk handed to the organisation's badge
//! platform exactly once, through the platform executor and an [`IssueLedger`] kept in the
//! hub's SQLite database (`platform_issues`, migration 3).
//!
//! - Each award's email is resolved on the hub: the email typed at the kiosk (sent with its
//!   record and checked against the signed hash), else the registration reference's email
//!   from the imported ticketing export, else — for a pathway the hub merged itself — an
//!   email known for the same visitor code. Awards with none are "needs an email", not
//!   failures; they are issued by a later run once an email is known.
//! - Every SQLite call runs on a blocking thread ([`crate::blocking`]), never on the runtime
//!   threads that carry the HTTP calls.
//! - [`purge_emails`] erases clear emails once the platform confirmed plus the retention.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use thiserror::Error;

use super::store::{HubError, HubStore};
use crate::blocking::BlockingError;
use crate::domain::event::Language;
use crate::domain::registrations::Registration;
use crate::platform::plan::{plan_calls, CallShape, BADGR_DEFAULT_BATCH, OBF_MAX_RECIPIENTS};
use crate::platform::{
    badge_ids, issue_pending_controlled, IssueLedger, IssueSettings, IssueSummary, LedgerError, PassControl,
    PendingIssue, Platform, PlatformClient, PlatformError,
};

/// The hub store shared between the async pass and its blocking database calls.
pub type SharedHubStore = Arc<Mutex<HubStore>>;

/// Called after each settled award: (confirmed so far, failed so far, awards to settle).
pub type ProgressFn = Arc<dyn Fn(usize, usize, usize) + Send + Sync>;

/// How an award's key is computed in SQL; [`award_key`] is the same in Rust.
const AWARD_KEY_SQL: &str = "a.badge_id || '/' || lower(hex(a.code_id))";

pub fn award_key(badge_id: &str, code_id: &[u8]) -> String {
    format!("{badge_id}/{}", hex::encode(code_id))
}

#[derive(Debug, Error)]
pub enum HubIssueError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("hub database: {0} (nothing was sent after this; run the command again)")]
    Storage(#[from] rusqlite::Error),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("{0}")]
    Worker(String),
}

/// Where an award stands with one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueState {
    /// Has an email; not sent yet.
    Queued,
    /// No email known yet: import the registrations, or the visitor claims by link.
    NeedsEmail,
    /// Sent with this log entry, answer not seen: the next run looks it up first.
    Sending(String),
    Confirmed(String),
    Failed(String),
}

impl IssueState {
    pub fn label(&self) -> String {
        match self {
            IssueState::Queued => "queued".into(),
            IssueState::NeedsEmail => "needs an email".into(),
            IssueState::Sending(log_entry) => format!("sent, answer not seen ({log_entry}): checked on the next run"),
            IssueState::Confirmed(platform_ref) => format!("issued ({platform_ref})"),
            IssueState::Failed(reason) => format!("refused: {reason}"),
        }
    }
}

/// One merged award of the hub, its resolved recipient and its platform state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwardIssue {
    pub award_key: String,
    pub badge_id: String,
    pub kind: String,
    /// How the kiosk recorded the recipient (`registration:R1`, `email-sha256:…`, …).
    pub recipient: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub created_at_ms: i64,
    pub state: IssueState,
}

/// Every award with its email (if known) and its state on `platform`, oldest first.
pub fn award_issues(connection: &Connection, platform: Platform) -> Result<Vec<AwardIssue>, rusqlite::Error> {
    let sql = format!(
        "SELECT {AWARD_KEY_SQL}, a.badge_id, a.code_id, a.kind, a.recipient, a.created_at_ms,
                re.email, rg.email, rg.name, p.state, p.log_entry, p.platform_ref, p.reason
         FROM awards a
         LEFT JOIN record_emails re ON re.kiosk_id = a.source_kiosk AND re.sequence = a.source_sequence
         LEFT JOIN registrations rg ON a.recipient LIKE 'registration:%' AND rg.reference = substr(a.recipient, 14)
         LEFT JOIN platform_issues p ON p.platform = ?1 AND p.award_key = {AWARD_KEY_SQL}
         ORDER BY a.created_at_ms, 1"
    );
    let mut statement = connection.prepare(&sql)?;
    struct Row {
        issue: AwardIssue,
        code_id: Vec<u8>,
    }
    let rows = statement
        .query_map([platform.key()], |row| {
            let typed: Option<String> = row.get(6)?;
            let registered: Option<String> = row.get(7)?;
            let state = match row.get::<_, Option<String>>(9)?.as_deref() {
                Some("sending") => IssueState::Sending(row.get::<_, Option<String>>(10)?.unwrap_or_default()),
                Some("confirmed") => IssueState::Confirmed(row.get::<_, Option<String>>(11)?.unwrap_or_default()),
                Some("failed") => IssueState::Failed(row.get::<_, Option<String>>(12)?.unwrap_or_default()),
                _ => IssueState::Queued,
            };
            Ok(Row {
                issue: AwardIssue {
                    award_key: row.get(0)?,
                    badge_id: row.get(1)?,
                    kind: row.get(3)?,
                    recipient: row.get(4)?,
                    email: typed.or(registered),
                    name: row.get(8)?,
                    created_at_ms: row.get(5)?,
                    state,
                },
                code_id: row.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // A pathway the hub merged from several kiosks' steps has no recipient of its own:
    // it goes to the email known for the same visitor code, if any.
    let mut by_code: BTreeMap<Vec<u8>, (String, Option<String>)> = BTreeMap::new();
    for row in &rows {
        if let (Some(email), false) = (&row.issue.email, row.issue.recipient.starts_with("claim-token:")) {
            by_code
                .entry(row.code_id.clone())
                .or_insert_with(|| (email.clone(), row.issue.name.clone()));
        }
    }
    Ok(rows
        .into_iter()
        .map(|mut row| {
            if row.issue.email.is_none() && row.issue.recipient.is_empty() {
                if let Some((email, name)) = by_code.get(&row.code_id) {
                    row.issue.email = Some(email.clone());
                    row.issue.name = name.clone();
                }
            }
            if row.issue.email.is_none() && row.issue.state == IssueState::Queued {
                row.issue.state = IssueState::NeedsEmail;
            }
            row.issue
        })
        .collect())
}

/// Counts of [`award_issues`] by state, for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IssueCounts {
    pub queued: usize,
    pub needs_email: usize,
    pub sending: usize,
    pub confirmed: usize,
    pub failed: usize,
}

pub fn counts(issues: &[AwardIssue]) -> IssueCounts {
    let mut counts = IssueCounts::default();
    for issue in issues {
        match issue.state {
            IssueState::Queued => counts.queued += 1,
            IssueState::NeedsEmail => counts.needs_email += 1,
            IssueState::Sending(_) => counts.sending += 1,
            IssueState::Confirmed(_) => counts.confirmed += 1,
            IssueState::Failed(_) => counts.failed += 1,
        }
    }
    counts
}

/// The awards to hand to the platform now: queued or in doubt, with an email.
fn pending_issues(
    connection: &Connection,
    platform: Platform,
    badge_ids: &BTreeMap<String, String>,
    language: Language,
) -> Result<Vec<PendingIssue>, rusqlite::Error> {
    Ok(award_issues(connection, platform)?
        .into_iter()
        .filter_map(|issue| {
            let sending = match &issue.state {
                IssueState::Queued => None,
                IssueState::Sending(log_entry) => Some(log_entry.clone()),
                _ => return None,
            };
            Some(PendingIssue {
                platform_badge_id: badge_ids.get(&issue.badge_id)?.clone(),
                email: issue.email?,
                name: issue.name,
                issued_on: issue.created_at_ms,
                language,
                sending,
                award_key: issue.award_key,
            })
        })
        .collect())
}

fn write_states(
    connection: &mut Connection,
    platform: Platform,
    award_keys: &[String],
    state: &str,
    text: &str,
    now_ms: i64,
) -> Result<(), rusqlite::Error> {
    let transaction = connection.transaction()?;
    {
        // A confirmed award is never touched again: that is what keeps it issued once.
        let sql = match state {
            "sending" => {
                "INSERT INTO platform_issues (platform, award_key, state, log_entry, updated_ms)
                 VALUES (?1, ?2, 'sending', ?3, ?4)
                 ON CONFLICT (platform, award_key) DO UPDATE
                 SET state = 'sending', log_entry = excluded.log_entry, reason = NULL, updated_ms = excluded.updated_ms
                 WHERE platform_issues.state <> 'confirmed'"
            }
            "confirmed" => {
                "INSERT INTO platform_issues (platform, award_key, state, platform_ref, updated_ms, confirmed_ms)
                 VALUES (?1, ?2, 'confirmed', ?3, ?4, ?4)
                 ON CONFLICT (platform, award_key) DO UPDATE
                 SET state = 'confirmed', platform_ref = excluded.platform_ref, reason = NULL,
                     updated_ms = excluded.updated_ms, confirmed_ms = excluded.confirmed_ms
                 WHERE platform_issues.state <> 'confirmed'"
            }
            _ => {
                "INSERT INTO platform_issues (platform, award_key, state, reason, updated_ms)
                 VALUES (?1, ?2, 'failed', ?3, ?4)
                 ON CONFLICT (platform, award_key) DO UPDATE
                 SET state = 'failed', reason = excluded.reason, updated_ms = excluded.updated_ms
                 WHERE platform_issues.state <> 'confirmed'"
            }
        };
        let mut statement = transaction.prepare_cached(sql)?;
        for key in award_keys {
            statement.execute(params![platform.key(), key, text, now_ms])?;
        }
    }
    transaction.commit()
}

/// Awards whose badge the platform already holds for the same email (through another
/// award: a visitor with two codes, or awards arriving after an earlier run) are confirmed
/// without a call, so no recipient gets the same badge twice across runs. Returns how many.
fn settle_already_held(
    connection: &mut Connection,
    platform: Platform,
    badge_ids: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<usize, rusqlite::Error> {
    let issues = award_issues(connection, platform)?;
    let identity = |issue: &AwardIssue| -> Option<(String, String)> {
        Some((
            badge_ids.get(&issue.badge_id)?.clone(),
            crate::platform::plan::email_key(issue.email.as_deref()?),
        ))
    };
    let mut held: BTreeMap<(String, String), String> = BTreeMap::new();
    for issue in &issues {
        if let (IssueState::Confirmed(_), Some(key)) = (&issue.state, identity(issue)) {
            held.entry(key).or_insert_with(|| issue.award_key.clone());
        }
    }
    let mut settled = 0;
    for issue in &issues {
        if issue.state != IssueState::Queued {
            continue;
        }
        if let Some(first) = identity(issue).and_then(|key| held.get(&key)) {
            let reference = format!("already issued to this email with award {first}");
            write_states(
                connection,
                platform,
                std::slice::from_ref(&issue.award_key),
                "confirmed",
                &reference,
                now_ms,
            )?;
            settled += 1;
        }
    }
    Ok(settled)
}

/// Runs database work on a blocking thread, so the runtime's threads never wait on SQLite.
async fn blocking<T: Send + 'static>(
    store: &SharedHubStore,
    work: impl FnOnce(&mut HubStore) -> Result<T, rusqlite::Error> + Send + 'static,
) -> Result<T, LedgerError> {
    crate::blocking::with_lock(store, work)
        .await
        .map_err(|error| match error {
            BlockingError::Poisoned => LedgerError("the hub database is unavailable after an internal error".into()),
            BlockingError::Stopped(error) => LedgerError(format!("the hub database worker stopped: {error}")),
            BlockingError::Work(error) => LedgerError(format!("hub database: {error}")),
        })
}

/// The [`IssueLedger`] over the hub's database: every mark is committed (WAL,
/// `synchronous=FULL`) before the method returns.
pub struct HubLedger {
    store: SharedHubStore,
    platform: Platform,
    badge_ids: Arc<BTreeMap<String, String>>,
    language: Language,
    clock: fn() -> i64,
    progress: Option<ProgressFn>,
    total: AtomicUsize,
    confirmed: usize,
    failed: usize,
}

impl HubLedger {
    /// Fails, naming every badge class without an id on `platform`, before anything is sent.
    pub fn new(store: SharedHubStore, platform: Platform) -> Result<Self, HubIssueError> {
        let (badge_ids, language) = {
            let guard = store.lock().map_err(|_| {
                HubIssueError::Worker(
                    "the hub database is unavailable after an internal error: run the command again".into(),
                )
            })?;
            let ids = badge_ids(
                platform,
                guard
                    .event
                    .badges
                    .iter()
                    .map(|badge| (badge.id.as_str(), &badge.platform)),
            )?;
            let language = guard.event.event.languages.first().copied().unwrap_or(Language::Fr);
            (ids, language)
        };
        Ok(Self {
            store,
            platform,
            badge_ids: Arc::new(badge_ids),
            language,
            clock: || chrono::Utc::now().timestamp_millis(),
            progress: None,
            total: AtomicUsize::new(0),
            confirmed: 0,
            failed: 0,
        })
    }

    pub fn with_progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    fn report(&self) {
        if let Some(progress) = &self.progress {
            progress(self.confirmed, self.failed, self.total.load(Ordering::Relaxed));
        }
    }

    async fn write(&mut self, award_keys: &[String], state: &'static str, text: &str) -> Result<(), LedgerError> {
        let keys = award_keys.to_vec();
        let text = text.to_owned();
        let platform = self.platform;
        let now = (self.clock)();
        blocking(&self.store, move |store| {
            write_states(store.connection_mut(), platform, &keys, state, &text, now)
        })
        .await
    }
}

impl IssueLedger for HubLedger {
    async fn pending(&self) -> Result<Vec<PendingIssue>, LedgerError> {
        let (platform, ids, language) = (self.platform, Arc::clone(&self.badge_ids), self.language);
        let pending = blocking(&self.store, move |store| {
            pending_issues(store.connection(), platform, &ids, language)
        })
        .await?;
        // The first look at the queue sets the progress total for this pass.
        let _ = self
            .total
            .compare_exchange(0, pending.len(), Ordering::Relaxed, Ordering::Relaxed);
        Ok(pending)
    }

    async fn mark_sending(&mut self, award_keys: &[String], log_entry: &str) -> Result<(), LedgerError> {
        self.write(award_keys, "sending", log_entry).await
    }

    async fn mark_confirmed(&mut self, award_keys: &[String], platform_ref: &str) -> Result<(), LedgerError> {
        self.write(award_keys, "confirmed", platform_ref).await?;
        self.confirmed += award_keys.len();
        self.report();
        Ok(())
    }

    async fn mark_failed(&mut self, award_key: &str, reason: &str) -> Result<(), LedgerError> {
        self.write(&[award_key.to_owned()], "failed", reason).await?;
        self.failed += 1;
        self.report();
        Ok(())
    }
}

/// What `hub issue` did, for the organiser.
#[derive(Debug, Clone, Default)]
pub struct HubIssueReport {
    pub summary: IssueSummary,
    /// Why the pass stopped early, if it did; awards are settled or still queued.
    pub stopped: Option<PlatformError>,
    /// State of every award afterwards.
    pub counts: IssueCounts,
    /// Refused awards and the platform's reasons (this run's and earlier ones).
    pub failed: Vec<(String, String)>,
    /// Awards without an email yet.
    pub needs_email: Vec<String>,
    /// Awards confirmed without a call: the platform already held that badge for that
    /// email through another award.
    pub already_held: usize,
}

/// One issue pass from the hub: every award with an email that the platform does not hold
/// yet is issued once; awards left "sending" by an interrupted run are looked up first.
pub async fn issue_from_hub(
    store: &SharedHubStore,
    client: &mut PlatformClient,
    settings: &IssueSettings,
    progress: Option<ProgressFn>,
) -> Result<HubIssueReport, HubIssueError> {
    issue_from_hub_controlled(store, client, settings, progress, &PassControl::default()).await
}

/// As [`issue_from_hub`], telling `control` what failed and when the next attempt is before
/// every wait, and stopping at its deadline: the report's `stopped` is then
/// [`PlatformError::WaitExceeded`], and every award is settled or still queued.
pub async fn issue_from_hub_controlled(
    store: &SharedHubStore,
    client: &mut PlatformClient,
    settings: &IssueSettings,
    progress: Option<ProgressFn>,
    control: &PassControl,
) -> Result<HubIssueReport, HubIssueError> {
    let platform = client.platform();
    let mut ledger = HubLedger::new(Arc::clone(store), platform)?;
    if let Some(progress) = progress {
        ledger = ledger.with_progress(progress);
    }
    let mut report = HubIssueReport::default();
    let ids = Arc::clone(&ledger.badge_ids);
    let now = (ledger.clock)();
    report.already_held = blocking(store, move |store| {
        settle_already_held(store.connection_mut(), platform, &ids, now)
    })
    .await
    .map_err(|error| HubIssueError::Worker(error.to_string()))?;
    if let Err(error) = issue_pending_controlled(&mut ledger, client, settings, control, &mut report.summary).await {
        if let PlatformError::Ledger(ledger_error) = error {
            return Err(HubIssueError::Worker(ledger_error.to_string()));
        }
        report.stopped = Some(error);
    }
    let issues = blocking(store, move |store| award_issues(store.connection(), platform))
        .await
        .map_err(|error| HubIssueError::Worker(error.to_string()))?;
    report.counts = counts(&issues);
    for issue in issues {
        match issue.state {
            IssueState::Failed(reason) => report.failed.push((issue.award_key, reason)),
            IssueState::NeedsEmail => report.needs_email.push(issue.award_key),
            _ => {}
        }
    }
    Ok(report)
}

/// What a run would send, without contacting the platform (`hub issue --dry-run`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DryRun {
    /// (platform badge id, language, recipients) per call.
    pub calls: Vec<(String, Language, usize)>,
    /// Awards left "sending" by an interrupted run: looked up before anything is sent.
    pub in_doubt: usize,
    /// Awards whose email the platform would refuse anyway, with the reason.
    pub rejected: Vec<(String, String)>,
    pub counts: IssueCounts,
}

pub fn dry_run(store: &HubStore, platform: Platform) -> Result<DryRun, HubIssueError> {
    let ids = badge_ids(
        platform,
        store
            .event
            .badges
            .iter()
            .map(|badge| (badge.id.as_str(), &badge.platform)),
    )?;
    let language = store.event.event.languages.first().copied().unwrap_or(Language::Fr);
    let pending = pending_issues(store.connection(), platform, &ids, language)?;
    let shape = match platform {
        Platform::Obf => CallShape {
            max_recipients: OBF_MAX_RECIPIENTS,
            split_by_language: true,
        },
        Platform::Badgr => CallShape {
            max_recipients: BADGR_DEFAULT_BATCH,
            split_by_language: false,
        },
    };
    let in_doubt = pending.iter().filter(|p| p.sending.is_some()).count();
    let plan = plan_calls(&pending, shape);
    Ok(DryRun {
        calls: plan
            .calls
            .iter()
            .map(|call| (call.platform_badge_id.clone(), call.language, call.recipients.len()))
            .collect(),
        in_doubt,
        rejected: plan.rejected,
        counts: counts(&award_issues(store.connection(), platform)?),
    })
}

/// What importing a registrations file changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportedRegistrations {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Refused awards of a registration whose email changed: queued again.
    pub requeued: usize,
}

/// Stores the registrations (idempotent: importing the same file twice changes nothing).
/// A changed email puts that registration's refused awards back in the queue.
pub fn import_registrations(
    store: &mut HubStore,
    registrations: &[Registration],
    now_ms: i64,
) -> Result<ImportedRegistrations, HubIssueError> {
    let transaction = store.connection_mut().transaction()?;
    let mut outcome = ImportedRegistrations::default();
    for registration in registrations {
        let existing: Option<(Option<String>, Option<String>)> = transaction
            .query_row(
                "SELECT email, name FROM registrations WHERE reference = ?1",
                [&registration.reference],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match existing {
            Some((email, name))
                if email.as_deref() == Some(registration.email.as_str()) && name == registration.name =>
            {
                outcome.unchanged += 1;
                continue;
            }
            Some((email, _)) => {
                outcome.updated += 1;
                if email.as_deref() != Some(registration.email.as_str()) {
                    outcome.requeued += transaction.execute(
                        &format!(
                            "DELETE FROM platform_issues WHERE state = 'failed' AND award_key IN
                             (SELECT {AWARD_KEY_SQL} FROM awards a WHERE a.recipient = 'registration:' || ?1)"
                        ),
                        [&registration.reference],
                    )?;
                }
            }
            None => outcome.added += 1,
        }
        transaction.execute(
            "INSERT INTO registrations (reference, email, name, imported_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (reference) DO UPDATE
             SET email = excluded.email, name = excluded.name, imported_ms = excluded.imported_ms, erased_ms = NULL",
            params![registration.reference, registration.email, registration.name, now_ms],
        )?;
    }
    transaction.commit()?;
    Ok(outcome)
}

/// What `hub purge` erased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Typed emails (sent by kiosks) erased.
    pub typed: usize,
    /// Registration emails (and names) erased.
    pub registrations: usize,
    /// Emails still held: awards not confirmed yet, or confirmed within the retention.
    pub kept: usize,
}

/// Erases the clear emails of awards the platform confirmed before `confirmed_before_ms`,
/// then rewrites the database file so no erased email lingers in free pages or the WAL.
pub fn purge_emails(store: &mut HubStore, confirmed_before_ms: i64, now_ms: i64) -> Result<Purged, HubIssueError> {
    let connection = store.connection_mut();
    let transaction = connection.transaction()?;
    // A typed email goes once the award of its record's badge and code is confirmed (on
    // any platform), whichever kiosk's record the hub kept as the award.
    let typed = transaction.execute(
        &format!(
            "UPDATE record_emails SET email = NULL, erased_ms = ?2
             WHERE email IS NOT NULL AND EXISTS (
                 SELECT 1 FROM records r
                 JOIN awards a ON a.badge_id = r.badge_id AND a.code_id = r.code_id
                 JOIN platform_issues p ON p.award_key = {AWARD_KEY_SQL}
                 WHERE r.kiosk_id = record_emails.kiosk_id AND r.sequence = record_emails.sequence
                   AND p.state = 'confirmed' AND p.confirmed_ms <= ?1)"
        ),
        params![confirmed_before_ms, now_ms],
    )?;
    // A registration's email goes once every award it received is confirmed.
    let registrations = transaction.execute(
        &format!(
            "UPDATE registrations SET email = NULL, name = NULL, erased_ms = ?2
             WHERE email IS NOT NULL
               AND EXISTS (SELECT 1 FROM awards a WHERE a.recipient = 'registration:' || registrations.reference)
               AND NOT EXISTS (
                 SELECT 1 FROM awards a
                 WHERE a.recipient = 'registration:' || registrations.reference
                   AND NOT EXISTS (SELECT 1 FROM platform_issues p
                                   WHERE p.award_key = {AWARD_KEY_SQL} AND p.state = 'confirmed'
                                     AND p.confirmed_ms <= ?1))"
        ),
        params![confirmed_before_ms, now_ms],
    )?;
    // The hub's own email of such an award, not sent yet: its clear copy goes too (kept
    // as not sent, with the reason).
    transaction.execute(
        "UPDATE claim_emails SET email = NULL, failed_ms = ?2,
                last_error = 'erased by hub purge before it was sent: the badge platform holds the badge'
         WHERE email IS NOT NULL AND award_key IN
             (SELECT award_key FROM platform_issues WHERE state = 'confirmed' AND confirmed_ms <= ?1)",
        params![confirmed_before_ms, now_ms],
    )?;
    // Its masked hint names the address's domain: gone too once the platform holds it.
    transaction.execute(
        "UPDATE claim_emails SET email_hint = '…' WHERE email_hint <> '…' AND award_key IN
             (SELECT award_key FROM platform_issues WHERE state = 'confirmed' AND confirmed_ms <= ?1)",
        params![confirmed_before_ms],
    )?;
    let kept: i64 = transaction.query_row(
        "SELECT (SELECT COUNT(*) FROM record_emails WHERE email IS NOT NULL)
              + (SELECT COUNT(*) FROM registrations WHERE email IS NOT NULL)",
        [],
        |row| row.get(0),
    )?;
    transaction.commit()?;
    // UPDATE leaves the old values in freed pages and the WAL: checkpoint, rewrite the
    // file, checkpoint again (VACUUM itself goes through the WAL in WAL mode).
    connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(Purged {
        typed,
        registrations,
        kept: usize::try_from(kept).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> crate::domain::event::EventDefinition {
        let dir = tempfile::tempdir().unwrap();
        let mut event = crate::eventdir::EventDir::demo(dir.path()).unwrap().definition;
        for badge in &mut event.badges {
            badge.platform.insert("obf".into(), format!("OBF{}", badge.id.len()));
        }
        event
    }

    fn add_award(store: &HubStore, badge: &str, code: u8, recipient: &str, source: Option<(&str, i64)>) {
        store
            .connection()
            .execute(
                "INSERT INTO awards (badge_id, code_id, kind, recipient, source_kiosk, source_sequence, created_at_ms)
                 VALUES (?1, ?2, 'attendance', ?3, ?4, ?5, ?6)",
                params![
                    badge,
                    vec![code; 16],
                    recipient,
                    source.map(|s| s.0),
                    source.map(|s| s.1),
                    i64::from(code)
                ],
            )
            .unwrap();
    }

    #[test]
    fn emails_resolve_from_typed_records_registrations_and_same_code_pathways() {
        let mut store = HubStore::open_in_memory(event()).unwrap();
        add_award(&store, "attended", 1, "email-sha256:00", Some(("k1", 1)));
        add_award(&store, "attended", 2, "registration:R2", Some(("k1", 2)));
        add_award(&store, "attended", 3, "registration:R3", Some(("k1", 3)));
        add_award(&store, "food-pathway", 2, "", None);
        add_award(&store, "food-pathway", 4, "claim-token:ab", Some(("k1", 4)));
        store
            .connection()
            .execute(
                "INSERT INTO record_emails (kiosk_id, sequence, email, received_ms) VALUES ('k1', 1, 'typed@example.org', 0)",
                [],
            )
            .unwrap();
        let registrations = [Registration {
            reference: "R2".into(),
            email: "reg@example.org".into(),
            name: Some("Reg Istered".into()),
        }];
        let imported = import_registrations(&mut store, &registrations, 5).unwrap();
        assert_eq!(imported.added, 1);
        assert_eq!(
            import_registrations(&mut store, &registrations, 6).unwrap().unchanged,
            1,
            "importing again changes nothing"
        );
        let issues = award_issues(store.connection(), Platform::Obf).unwrap();
        let email_of = |key: &str| {
            issues
                .iter()
                .find(|i| i.award_key == key)
                .map(|i| (i.email.clone(), i.state.clone()))
                .unwrap()
        };
        let key = |badge: &str, code: u8| award_key(badge, &[code; 16]);
        assert_eq!(email_of(&key("attended", 1)).0.as_deref(), Some("typed@example.org"));
        assert_eq!(email_of(&key("attended", 2)).0.as_deref(), Some("reg@example.org"));
        assert_eq!(email_of(&key("attended", 3)), (None, IssueState::NeedsEmail));
        assert_eq!(email_of(&key("food-pathway", 2)).0.as_deref(), Some("reg@example.org"));
        assert_eq!(email_of(&key("food-pathway", 4)), (None, IssueState::NeedsEmail));
        let counts = counts(&issues);
        assert_eq!((counts.queued, counts.needs_email), (3, 2));
    }

    #[tokio::test]
    async fn the_ledger_survives_a_reopen_and_never_unconfirms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite");
        let store = HubStore::open(&path, event()).unwrap();
        add_award(&store, "attended", 1, "email-sha256:00", Some(("k1", 1)));
        add_award(&store, "attended", 2, "email-sha256:01", Some(("k1", 2)));
        for sequence in 1..=2 {
            store
                .connection()
                .execute(
                    "INSERT INTO record_emails (kiosk_id, sequence, email, received_ms) VALUES ('k1', ?1, ?2, 0)",
                    params![sequence, format!("v{sequence}@example.org")],
                )
                .unwrap();
        }
        let shared = Arc::new(Mutex::new(store));
        let mut ledger = HubLedger::new(Arc::clone(&shared), Platform::Obf).unwrap();
        let pending = ledger.pending().await.unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].platform_badge_id, "OBF8");
        let keys: Vec<String> = pending.iter().map(|p| p.award_key.clone()).collect();
        ledger.mark_sending(&keys, "badge-kiosk:abc").await.unwrap();
        ledger.mark_confirmed(&keys[..1], "EV1").await.unwrap();
        drop(ledger);
        drop(shared);

        let reopened = Arc::new(Mutex::new(HubStore::open(&path, event()).unwrap()));
        let mut ledger = HubLedger::new(Arc::clone(&reopened), Platform::Obf).unwrap();
        let pending = ledger.pending().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].sending.as_deref(), Some("badge-kiosk:abc"));
        // A confirmed award stays confirmed whatever comes later.
        ledger.mark_failed(&keys[0], "late refusal").await.unwrap();
        let issues = award_issues(reopened.lock().unwrap().connection(), Platform::Obf).unwrap();
        assert_eq!(issues[0].state, IssueState::Confirmed("EV1".into()));
        // Other platforms keep their own state.
        assert_eq!(
            award_issues(reopened.lock().unwrap().connection(), Platform::Badgr).unwrap()[0].state,
            IssueState::Queued
        );
    }
}
