//! Read-only queries behind the organiser console's pages (src/hub/web/console): counts by
//! badge and hour, the claim funnel, pathway progress, stand traffic, the export rows.
//! Pure SQL over the hub's database plus small pure folds, tested on an in-memory hub.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection};

use super::store::HubError;
use crate::domain::award::Recipient;
use crate::domain::event::EventDefinition;
use crate::domain::pathway::PathwayProgress;

/// One hour in milliseconds: the chart's bucket.
pub const HOUR_MS: i64 = 3_600_000;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The claim funnel, counted in visitors (distinct visitor codes) at every stage so each
/// stage is a subset of the one before: a visitor who earned three badges is one visitor
/// who earned a badge, never three (counting badges against codes made "badges claimed"
/// exceed "codes scanned"). Stages: scanned a code → earned at least one badge → has it
/// (delivered: the claim page opened or the badge downloaded, an email the mail server
/// accepted, or an issue the badge platform confirmed) → has one issued on the platform.
/// An email on file is not a delivery: it is counted apart ([`Funnel::email_waiting`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Funnel {
    /// Distinct visitor codes in the records kiosks sent.
    pub scanned: u64,
    /// Of `scanned`: visitors with at least one award.
    pub earned: u64,
    /// The awards those visitors earned (one per badge and code): a detail, not a stage.
    pub badges: u64,
    /// Of `earned`: visitors who have a badge (see [`Funnel`]).
    pub reached: u64,
    /// Of `reached`: visitors who opened a claim link or downloaded the badge.
    pub taken_on_phone: u64,
    /// Of `reached`: visitors with an email the mail server accepted (the hub's own
    /// delivery, or one asked for on the claim page).
    pub emailed: u64,
    /// Of `earned`, not in `reached`: visitors with an email on file (typed, registered or
    /// asked for) and nothing delivered yet.
    pub email_waiting: u64,
    /// Of `taken_on_phone`: visitors who took a badge into a wallet app (issue 25).
    pub taken_into_wallet: u64,
    /// Of `reached`: visitors with at least one award the badge platform confirmed.
    pub issued: u64,
}

/// What one visitor's awards add up to, for the funnel.
#[derive(Default)]
struct VisitorStages {
    taken: bool,
    wallet: bool,
    emailed: bool,
    email_known: bool,
    issued: bool,
}

pub fn funnel(connection: &Connection) -> Result<Funnel, HubError> {
    let scanned: i64 = connection.query_row("SELECT COUNT(DISTINCT code_id) FROM records", [], |row| row.get(0))?;
    // Emails the mail server accepted: asked for on a claim page (by claim token, base32
    // in the outbox, the recipient's description in awards) or the hub's own (by award).
    let mut statement =
        connection.prepare("SELECT DISTINCT claim_token, award_key FROM claim_emails WHERE sent_ms IS NOT NULL")?;
    let mut sent_tokens = BTreeSet::new();
    let mut sent_awards = BTreeSet::new();
    for row in statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
    })? {
        let (token, award) = row?;
        match award {
            Some(award) => sent_awards.insert(award),
            None => claim_description(&token).is_some_and(|token| sent_tokens.insert(token)),
        };
    }
    // Claim-page requests still waiting or refused: an email on file all the same.
    let mut statement = connection.prepare("SELECT DISTINCT claim_token FROM claim_emails WHERE award_key IS NULL")?;
    let asked: BTreeSet<String> = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(|token| claim_description(&token))
        .collect();
    // Claim tokens whose badge a wallet app took.
    let mut statement =
        connection.prepare("SELECT DISTINCT claim_token FROM wallet_offers WHERE taken_ms IS NOT NULL")?;
    let into_wallet: BTreeSet<String> = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(|token| claim_description(&token))
        .collect();
    let mut statement = connection.prepare(
        "SELECT a.code_id, a.claim_token, a.claimed_ms IS NOT NULL,
                (re.email IS NOT NULL OR rg.email IS NOT NULL OR re.kiosk_id IS NOT NULL OR rg.reference IS NOT NULL),
                EXISTS (SELECT 1 FROM platform_issues p
                        WHERE p.state = 'confirmed' AND p.award_key = a.badge_id || '/' || lower(hex(a.code_id))),
                a.badge_id || '/' || lower(hex(a.code_id))
         FROM awards a
         LEFT JOIN record_emails re ON re.kiosk_id = a.source_kiosk AND re.sequence = a.source_sequence
         LEFT JOIN registrations rg ON a.recipient LIKE 'registration:%' AND rg.reference = substr(a.recipient, 14)",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, Vec<u8>>(0)?,
            row.get::<_, Option<String>>(1)?,
            row.get::<_, bool>(2)?,
            row.get::<_, bool>(3)?,
            row.get::<_, bool>(4)?,
            row.get::<_, String>(5)?,
        ))
    })?;
    let mut badges = 0;
    let mut visitors: BTreeMap<Vec<u8>, VisitorStages> = BTreeMap::new();
    for row in rows {
        let (code_id, token, taken, email_known, issued, award_key) = row?;
        badges += 1;
        let visitor = visitors.entry(code_id).or_default();
        visitor.taken |= taken;
        visitor.wallet |= token.as_ref().is_some_and(|token| into_wallet.contains(token));
        visitor.emailed |=
            sent_awards.contains(&award_key) || token.as_ref().is_some_and(|token| sent_tokens.contains(token));
        visitor.email_known |= email_known || token.as_ref().is_some_and(|token| asked.contains(token));
        visitor.issued |= issued;
    }
    let mut funnel = Funnel {
        // Every award comes from a record, so this is never below `earned`; max() keeps
        // the funnel monotone even for a hand-edited database.
        scanned: count(scanned).max(visitors.len() as u64),
        earned: visitors.len() as u64,
        badges,
        ..Funnel::default()
    };
    for visitor in visitors.values() {
        if !(visitor.taken || visitor.emailed || visitor.issued) {
            funnel.email_waiting += u64::from(visitor.email_known);
            continue;
        }
        funnel.reached += 1;
        funnel.taken_on_phone += u64::from(visitor.taken);
        funnel.taken_into_wallet += u64::from(visitor.taken && visitor.wallet);
        funnel.emailed += u64::from(visitor.emailed);
        funnel.issued += u64::from(visitor.issued);
    }
    Ok(funnel)
}

/// `claim-token:HEX` for a claim link's base32 token, as awards record it.
fn claim_description(token_base32: &str) -> Option<String> {
    let token = crate::domain::base32::decode(token_base32).ok()?;
    Some(Recipient::ClaimToken(token.try_into().ok()?).describe())
}

/// Awards per badge and per hour of the kiosk's clock when the visitor claimed it:
/// (hour start in ms since the epoch, badge id, awards), ordered by hour then badge.
pub fn awards_by_hour(connection: &Connection) -> Result<Vec<(i64, String, u64)>, HubError> {
    let mut statement = connection.prepare(
        "SELECT (created_at_ms / ?1) * ?1 AS hour, badge_id, COUNT(*) FROM awards
         GROUP BY hour, badge_id ORDER BY hour, badge_id",
    )?;
    let rows = statement.query_map([HOUR_MS], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, count(row.get(2)?)))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// When each kiosk last synced and how many records it sent, most recent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSync {
    pub kiosk_id: String,
    pub last_seen_ms: i64,
    pub records: u64,
    /// The stand of the kiosk's latest record, if it sent any.
    pub stand: Option<String>,
}

pub fn last_syncs(connection: &Connection) -> Result<Vec<LastSync>, HubError> {
    let mut statement = connection.prepare(
        "SELECT k.kiosk_id, k.last_seen_ms,
                (SELECT COUNT(*) FROM records r WHERE r.kiosk_id = k.kiosk_id),
                (SELECT r.stand FROM records r WHERE r.kiosk_id = k.kiosk_id ORDER BY r.sequence DESC LIMIT 1)
         FROM kiosks k ORDER BY k.last_seen_ms DESC, k.kiosk_id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(LastSync {
            kiosk_id: row.get(0)?,
            last_seen_ms: row.get(1)?,
            records: count(row.get(2)?),
            stand: row.get::<_, Option<String>>(3)?.filter(|stand| !stand.is_empty()),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// How far visitors went on one pathway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathwayReach {
    pub badge_id: String,
    /// `reached[k]`: visitors who visited exactly k + 1 of the pathway's stands (its
    /// required stands included).
    pub reached: Vec<u64>,
    /// Visitors who started it (visited at least one of its stands).
    pub started: u64,
    /// Pathway awards (completed, at one kiosk or merged by the hub across kiosks).
    pub completed: u64,
}

/// For every pathway badge of the event: visitors by number of its stands visited, and
/// how many completed it.
pub fn pathway_reach(connection: &Connection, event: &EventDefinition) -> Result<Vec<PathwayReach>, HubError> {
    let mut reaches = Vec::new();
    for (badge, rule) in event.pathway_badges() {
        let mut statement =
            connection.prepare("SELECT DISTINCT code_id, stand FROM records WHERE kind = 'step' AND badge_id = ?1")?;
        let mut stands_by_code: BTreeMap<Vec<u8>, BTreeSet<String>> = BTreeMap::new();
        let rows = statement.query_map([&badge.id], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (code, stand) = row?;
            if PathwayProgress::relevant(rule, &stand) {
                stands_by_code.entry(code).or_default().insert(stand);
            }
        }
        // Every stand that counts, the required ones included: the true number of distinct
        // stands a visitor went to, not capped at the number needed.
        let most = rule
            .stands
            .iter()
            .chain(&rule.required)
            .collect::<BTreeSet<_>>()
            .len()
            .max(rule.needed)
            .max(1);
        let mut reached = vec![0u64; most];
        for stands in stands_by_code.values() {
            let index = stands.len().clamp(1, most) - 1;
            if let Some(slot) = reached.get_mut(index) {
                *slot += 1;
            }
        }
        let completed: i64 = connection.query_row(
            "SELECT COUNT(*) FROM awards WHERE badge_id = ?1",
            params![badge.id],
            |row| row.get(0),
        )?;
        reaches.push(PathwayReach {
            badge_id: badge.id.clone(),
            reached,
            started: stands_by_code.len() as u64,
            completed: count(completed),
        });
    }
    Ok(reaches)
}

/// Traffic per stand: distinct visitors and records, busiest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandTraffic {
    pub stand: String,
    pub visitors: u64,
    pub records: u64,
}

pub fn stand_traffic(connection: &Connection) -> Result<Vec<StandTraffic>, HubError> {
    let mut statement = connection.prepare(
        "SELECT stand, COUNT(DISTINCT code_id), COUNT(*) FROM records WHERE stand <> ''
         GROUP BY stand ORDER BY 2 DESC, stand",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(StandTraffic {
            stand: row.get(0)?,
            visitors: count(row.get(1)?),
            records: count(row.get(2)?),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Codes the organiser revoked: (code id, reason, when), newest first.
pub fn revoked_codes(connection: &Connection) -> Result<Vec<(Vec<u8>, String, i64)>, HubError> {
    let mut statement =
        connection.prepare("SELECT code_id, reason, at_ms FROM revoked_codes ORDER BY at_ms DESC LIMIT 200")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Why a code typed by the organiser could not be resolved to one code id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeLookup {
    Found(Vec<u8>),
    /// A short id (e.g. `7KQ2-M9PD`) no record carries: the hub cannot know the full id.
    UnknownShortId,
    /// Several codes share this short id.
    Ambiguous(usize),
    /// Neither a code's text, its hex id nor a short id.
    Unreadable(String),
}

/// Resolves what the organiser typed: the code's text (`BK…`), its id in hex, or the
/// short id the kiosk shows (`7KQ2-M9PD`), looked up among the codes kiosks sent.
pub fn resolve_code(connection: &Connection, typed: &str) -> Result<CodeLookup, HubError> {
    use crate::domain::code::{AttendanceCode, CodeId};
    let typed = typed.trim();
    if let Some(id) = CodeId::from_hex(typed) {
        return Ok(CodeLookup::Found(id.0.to_vec()));
    }
    let compact: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    if compact.len() == 8 && compact.bytes().all(|b| b.is_ascii_alphanumeric()) {
        let mut statement = connection.prepare("SELECT DISTINCT code_id FROM records")?;
        let matches: Vec<Vec<u8>> = statement
            .query_map([], |row| row.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|id| {
                <[u8; 10]>::try_from(id.as_slice())
                    .map(|bytes| CodeId(bytes).short().replace('-', "") == compact)
                    .unwrap_or(false)
            })
            .collect();
        return Ok(match matches.len() {
            0 => CodeLookup::UnknownShortId,
            1 => CodeLookup::Found(matches.into_iter().next().unwrap_or_default()),
            n => CodeLookup::Ambiguous(n),
        });
    }
    match AttendanceCode::parse(typed) {
        Ok(code) => Ok(CodeLookup::Found(code.claims.code_id.0.to_vec())),
        Err(refusal) => Ok(CodeLookup::Unreadable(refusal.to_string())),
    }
}

/// One award as the export writes it (CSV and JSON Lines).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportRow {
    pub badge_id: String,
    pub badge_name: String,
    /// The code's short id, as printed on the visitor's ticket (e.g. `7KQ2-M9PD`).
    pub code: String,
    pub kind: String,
    /// How the kiosk recorded the recipient (see [`shown_recipient`]): `registration:R1`,
    /// `email-sha256:…`, `claim-link` (never the token: it opens the visitor's claim page),
    /// or empty for a pathway the hub merged.
    pub recipient: String,
    pub source_kiosk: Option<String>,
    pub stand: Option<String>,
    pub created_at: String,
    pub claimed_on_phone_at: Option<String>,
    /// Per platform (obf, badgr): confirmed, failed, sending.
    pub platform_state: Option<String>,
    pub platform_reference: Option<String>,
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Every award, oldest first, with its badge's name in `language`.
pub fn export_rows(
    connection: &Connection,
    event: &EventDefinition,
    language: crate::domain::event::Language,
) -> Result<Vec<ExportRow>, HubError> {
    let mut statement = connection.prepare(
        "SELECT a.badge_id, a.code_id, a.kind, a.recipient, a.source_kiosk, r.stand, a.created_at_ms,
                a.claimed_ms,
                (SELECT p.platform || ':' || p.state FROM platform_issues p
                 WHERE p.award_key = a.badge_id || '/' || lower(hex(a.code_id)) ORDER BY p.updated_ms DESC LIMIT 1),
                (SELECT COALESCE(p.platform_ref, p.reason) FROM platform_issues p
                 WHERE p.award_key = a.badge_id || '/' || lower(hex(a.code_id)) ORDER BY p.updated_ms DESC LIMIT 1)
         FROM awards a
         LEFT JOIN records r ON r.kiosk_id = a.source_kiosk AND r.sequence = a.source_sequence
         ORDER BY a.created_at_ms, a.badge_id, a.code_id",
    )?;
    let rows = statement.query_map([], |row| {
        let badge_id: String = row.get(0)?;
        Ok(ExportRow {
            badge_name: event
                .badge(&badge_id)
                .map(|badge| badge.name.get(language).to_owned())
                .unwrap_or_else(|| badge_id.clone()),
            badge_id,
            code: short_id(&row.get::<_, Vec<u8>>(1)?),
            kind: row.get(2)?,
            recipient: shown_recipient(&row.get::<_, String>(3)?),
            source_kiosk: row.get(4)?,
            stand: row.get::<_, Option<String>>(5)?.filter(|stand| !stand.is_empty()),
            created_at: iso(row.get(6)?),
            claimed_on_phone_at: row.get::<_, Option<i64>>(7)?.map(iso),
            platform_state: row.get(8)?,
            platform_reference: row.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A code id as the short id printed on tickets (hex if it is not a code id).
pub fn short_id(code_id: &[u8]) -> String {
    <[u8; 10]>::try_from(code_id)
        .map(|bytes| crate::domain::code::CodeId(bytes).short())
        .unwrap_or_else(|_| hex::encode(code_id))
}

/// A recipient as the console's files show it: a claim token is the visitor's secret (it
/// opens their claim page and its email form), so it becomes `claim-link`.
pub fn shown_recipient(recipient: &str) -> String {
    if recipient.starts_with("claim-token:") {
        "claim-link".to_owned()
    } else {
        recipient.to_owned()
    }
}

/// The export as CSV (header line first); a field a spreadsheet would run as a formula is
/// prefixed with an apostrophe.
pub fn export_csv(rows: &[ExportRow]) -> Result<Vec<u8>, HubError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let storage = |failure: csv::Error| HubError::Internal(format!("writing the CSV export: {failure}"));
    writer
        .write_record([
            "badge_id",
            "badge_name",
            "code",
            "kind",
            "recipient",
            "source_kiosk",
            "stand",
            "created_at",
            "claimed_on_phone_at",
            "platform_state",
            "platform_reference",
        ])
        .map_err(storage)?;
    for row in rows {
        let fields = [
            row.badge_id.as_str(),
            row.badge_name.as_str(),
            row.code.as_str(),
            row.kind.as_str(),
            row.recipient.as_str(),
            row.source_kiosk.as_deref().unwrap_or(""),
            row.stand.as_deref().unwrap_or(""),
            row.created_at.as_str(),
            row.claimed_on_phone_at.as_deref().unwrap_or(""),
            row.platform_state.as_deref().unwrap_or(""),
            row.platform_reference.as_deref().unwrap_or(""),
        ];
        writer
            .write_record(fields.iter().map(|field| spreadsheet_safe(field).into_owned()))
            .map_err(storage)?;
    }
    writer
        .into_inner()
        .map_err(|failure| HubError::Internal(format!("writing the CSV export: {failure}")))
}

/// Text a spreadsheet would evaluate (`=`, `+`, `-`, `@` first) gets a leading apostrophe.
pub fn spreadsheet_safe(field: &str) -> std::borrow::Cow<'_, str> {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{field}"))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// The export as JSON Lines: one award per line.
pub fn export_json_lines(rows: &[ExportRow]) -> Result<Vec<u8>, HubError> {
    let mut out = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut out, row)
            .map_err(|failure| HubError::Internal(format!("writing the JSON Lines export: {failure}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::store::HubStore;

    fn store() -> HubStore {
        let dir = tempfile::tempdir().unwrap();
        let event = crate::eventdir::EventDir::demo(dir.path()).unwrap().definition;
        HubStore::open_in_memory(event).unwrap()
    }

    fn record(store: &HubStore, kiosk: &str, sequence: i64, kind: &str, badge: &str, code: u8, stand: &str) {
        store
            .connection()
            .execute(
                "INSERT INTO records (kiosk_id, sequence, record_hash, previous_hash, kind, badge_id, code_id, stand,
                                      recipient, created_at_ms, received_ms, outcome, signed_bytes)
                 VALUES (?1, ?2, x'00', x'00', ?3, ?4, ?5, ?6, '', ?7, 0, 'accepted', x'00')",
                params![
                    kiosk,
                    sequence,
                    kind,
                    badge,
                    vec![code; 10],
                    stand,
                    sequence * HOUR_MS / 2
                ],
            )
            .unwrap();
    }

    fn award(
        store: &HubStore,
        badge: &str,
        code: u8,
        kiosk: &str,
        sequence: i64,
        recipient: &str,
        token: Option<&str>,
    ) {
        store
            .connection()
            .execute(
                "INSERT INTO awards (badge_id, code_id, kind, recipient, source_kiosk, source_sequence, created_at_ms, claim_token)
                 VALUES (?1, ?2, 'attendance', ?3, ?4, ?5, ?6, ?7)",
                params![badge, vec![code; 10], recipient, kiosk, sequence, sequence * HOUR_MS / 2, token],
            )
            .unwrap();
    }

    #[test]
    fn the_funnel_counts_each_stage_once() {
        let store = store();
        let token = [7u8; 16];
        let token_b32 = crate::domain::base32::encode(&token);
        let described = Recipient::ClaimToken(token).describe();
        for code in 1..=4 {
            record(&store, "k1", i64::from(code), "attendance", "attended", code, "accueil");
        }
        // A code scanned twice counts once.
        record(&store, "k2", 1, "attendance", "attended", 1, "accueil");
        award(&store, "attended", 1, "k1", 1, "email-sha256:00", None);
        award(&store, "attended", 2, "k1", 2, "registration:R2", None);
        award(&store, "attended", 3, "k1", 3, &described, Some(&described));
        // Issue #20: an email typed at the kiosk and nothing sent yet is not a delivery.
        award(&store, "attended", 4, "k1", 4, "email-sha256:04", None);
        let connection = store.connection();
        for sequence in [1, 4] {
            connection
                .execute(
                    "INSERT INTO record_emails (kiosk_id, sequence, email, received_ms) VALUES ('k1', ?1, 'a@b.fr', 0)",
                    [sequence],
                )
                .unwrap();
        }
        connection
            .execute(
                "INSERT INTO claim_emails (claim_token, email_sha256, email_hint, requested_ms, sent_ms)
                 VALUES (?1, x'00', 'v…@b.fr', 0, 1)",
                [&token_b32],
            )
            .unwrap();
        connection
            .execute("UPDATE awards SET claimed_ms = 5 WHERE claim_token IS NOT NULL", [])
            .unwrap();
        connection
            .execute(
                "INSERT INTO platform_issues (platform, award_key, state, updated_ms) VALUES ('obf', ?1, 'confirmed', 0)",
                [crate::hub::issue::award_key("attended", &[1; 10])],
            )
            .unwrap();
        let funnel = funnel(connection).unwrap();
        assert_eq!(
            funnel,
            Funnel {
                scanned: 4,
                earned: 4,
                badges: 4,
                // 1 issued on the platform, 3 opened and emailed; R2 is not registered and
                // 4's email waits: neither has it.
                reached: 2,
                taken_on_phone: 1,
                emailed: 1,
                email_waiting: 1,
                taken_into_wallet: 0,
                issued: 1,
            }
        );
    }

    /// Issue #17: a visitor who earns several badges (kiosk badges and a pathway the hub
    /// completed) is one visitor at every stage: no stage exceeds the one before.
    #[test]
    fn regression_issue_17_the_funnel_counts_visitors_and_never_grows() {
        let store = store();
        record(&store, "k1", 1, "attendance", "attended", 1, "accueil");
        record(&store, "k1", 2, "attendance", "attended", 2, "accueil");
        award(&store, "attended", 1, "k1", 1, "email-sha256:00", None);
        award(&store, "other", 1, "k1", 1, "email-sha256:00", None);
        award(&store, "pathway", 1, "k1", 1, "", None);
        let connection = store.connection();
        connection
            .execute(
                "INSERT INTO record_emails (kiosk_id, sequence, email, received_ms) VALUES ('k1', 1, 'a@b.fr', 0)",
                [],
            )
            .unwrap();
        for badge in ["attended", "other"] {
            connection
                .execute(
                    "INSERT INTO platform_issues (platform, award_key, state, updated_ms) VALUES ('obf', ?1, 'confirmed', 0)",
                    [crate::hub::issue::award_key(badge, &[1; 10])],
                )
                .unwrap();
        }
        let funnel = funnel(connection).unwrap();
        assert_eq!((funnel.scanned, funnel.earned, funnel.badges), (2, 1, 3));
        assert_eq!((funnel.reached, funnel.issued), (1, 1));
        let stages = [funnel.scanned, funnel.earned, funnel.reached, funnel.issued];
        assert!(stages.windows(2).all(|pair| pair[0] >= pair[1]), "{funnel:?}");
    }

    /// Issue #20: a visitor at every stand of the pathway and its required stand visited
    /// all of them, one more than the stands that count towards "needed".
    #[test]
    fn regression_issue_20_stands_visited_count_the_required_stand_and_are_not_capped() {
        let store = store();
        let event = store.event.clone();
        let (pathway, rule) = event.pathway_badges().next().unwrap();
        assert!(!rule.required.is_empty());
        let all: Vec<&String> = rule.stands.iter().chain(&rule.required).collect();
        for (sequence, stand) in all.iter().enumerate() {
            record(&store, "k1", sequence as i64 + 1, "step", &pathway.id, 1, stand);
        }
        let reach = pathway_reach(store.connection(), &event).unwrap();
        assert_eq!(reach[0].reached.len(), all.len());
        assert_eq!(reach[0].reached.last(), Some(&1), "{:?}", reach[0].reached);
    }

    #[test]
    fn awards_fall_in_their_hour_and_pathways_count_relevant_stands() {
        let store = store();
        let event = store.event.clone();
        let (pathway, rule) = event.pathway_badges().next().unwrap();
        let stands: Vec<&String> = rule.stands.iter().collect();
        // Visitor 1 at two of the pathway's stands (twice at the first), visitor 2 at one.
        record(&store, "k1", 1, "step", &pathway.id, 1, stands[0]);
        record(&store, "k1", 2, "step", &pathway.id, 1, stands[0]);
        record(&store, "k2", 1, "step", &pathway.id, 1, stands[1]);
        record(&store, "k2", 2, "step", &pathway.id, 2, stands[1]);
        let reach = pathway_reach(store.connection(), &event).unwrap();
        assert_eq!(reach.len(), 1);
        assert_eq!(&reach[0].reached[..2], &[1, 1]);
        assert_eq!((reach[0].started, reach[0].completed), (2, 0));
        let traffic = stand_traffic(store.connection()).unwrap();
        assert_eq!(traffic.iter().map(|t| t.visitors).sum::<u64>(), 3);

        award(&store, "attended", 1, "k1", 1, "", None);
        award(&store, "attended", 2, "k1", 2, "", None);
        award(&store, "attended", 3, "k1", 3, "", None);
        let hours = awards_by_hour(store.connection()).unwrap();
        assert_eq!(hours, vec![(0, "attended".into(), 1), (HOUR_MS, "attended".into(), 2)]);
    }

    #[test]
    fn short_ids_resolve_among_codes_seen_and_exports_quote_formulas() {
        use crate::domain::code::CodeId;
        let store = store();
        record(&store, "k1", 1, "attendance", "attended", 9, "accueil");
        let id = CodeId([9; 10]);
        assert_eq!(
            resolve_code(store.connection(), &id.short()).unwrap(),
            CodeLookup::Found(vec![9; 10])
        );
        assert_eq!(
            resolve_code(store.connection(), &id.short().to_lowercase()).unwrap(),
            CodeLookup::Found(vec![9; 10])
        );
        assert_eq!(
            resolve_code(store.connection(), "ABCD-EFGH").unwrap(),
            CodeLookup::UnknownShortId
        );
        assert_eq!(
            resolve_code(store.connection(), &"0a".repeat(10)).unwrap(),
            CodeLookup::Found(vec![10; 10])
        );
        assert!(matches!(
            resolve_code(store.connection(), "BK-not-a-code").unwrap(),
            CodeLookup::Unreadable(_)
        ));

        award(&store, "attended", 9, "k1", 1, "=HYPERLINK(1)", None);
        let rows = export_rows(store.connection(), &store.event, crate::domain::event::Language::En).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].stand.as_deref(), Some("accueil"));
        let csv = String::from_utf8(export_csv(&rows).unwrap()).unwrap();
        assert!(csv.starts_with("badge_id,badge_name,"), "{csv}");
        assert!(
            csv.contains(",'=HYPERLINK(1),"),
            "a formula is quoted for spreadsheets: {csv}"
        );
        let lines = String::from_utf8(export_json_lines(&rows).unwrap()).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
        assert_eq!(parsed["code"], CodeId([9; 10]).short());
        assert_eq!(shown_recipient("claim-token:00ff"), "claim-link");
        assert_eq!(shown_recipient("registration:R1"), "registration:R1");
        assert_eq!(spreadsheet_safe("=1+1"), "'=1+1");
        assert_eq!(spreadsheet_safe("ok"), "ok");
    }
}
