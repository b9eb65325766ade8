//! `queue list|verify|export|purge|status`: the signed award queue.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::args::{ExportFormat, QueueCommand};
use crate::app::open_kiosk;
use crate::config::Config;
use crate::domain::code::CodeId;
use crate::kiosk::KioskCore;

/// The columns of `queue export`, in order: the CSV header and the JSON Lines keys.
const EXPORT_COLUMNS: [&str; 12] = [
    "sequence",
    "kiosk",
    "kind",
    "event",
    "badge",
    "stand",
    "code_id",
    "recipient",
    "created_at",
    "sync_state",
    "record_hash",
    "signed_bytes",
];

pub(super) fn run(config: &Config, command: QueueCommand) -> Result<()> {
    let mut kiosk = open_kiosk(config)?;
    match command {
        QueueCommand::List { limit } => list(&kiosk, limit),
        QueueCommand::Verify => verify(&kiosk),
        QueueCommand::Export { format, out } => export(&kiosk, format, out),
        QueueCommand::Purge { retention_days } => purge(config, &mut kiosk, retention_days),
        QueueCommand::Status => status(&kiosk),
    }
}

/// The newest `limit` records with their sync state.
fn list(kiosk: &KioskCore, limit: usize) -> Result<()> {
    let records = kiosk.store().records(0, usize::MAX)?;
    let skip = records.len().saturating_sub(limit);
    println!(
        "{:>6}  {:<10}  {:<14}  {:<12}  {:<11}  {:<8}  created",
        "#", "kind", "badge", "stand", "code", "state"
    );
    for stored in records.iter().skip(skip) {
        let record = &stored.record;
        let code = <[u8; 10]>::try_from(record.content.code_id.as_slice())
            .map(|id| CodeId(id).short())
            .unwrap_or_default();
        let created = chrono::DateTime::from_timestamp_millis(record.content.created_at_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{:>6}  {:<10}  {:<14}  {:<12}  {:<11}  {:<8}  {created}",
            record.sequence,
            record.content.kind.name(),
            record.content.badge_id,
            record.content.stand,
            code,
            stored.sync_state.label()
        );
    }
    Ok(())
}

/// Every signature and the hash chain recomputed, and SQLite's own integrity check.
fn verify(kiosk: &KioskCore) -> Result<()> {
    let key = kiosk.certificate().device_key;
    let audit = kiosk.store().audit(&key)?;
    let integrity = kiosk.store().integrity_check()?;
    if integrity != "ok" {
        println!("SQLite integrity check: {integrity}");
    }
    if audit.faults.is_empty() && integrity == "ok" {
        println!(
            "ok: {} records, every signature and the hash chain verify (kiosk {})",
            audit.records,
            kiosk.kiosk_id()
        );
        Ok(())
    } else {
        for fault in &audit.faults {
            println!("FAULT: {fault}");
        }
        bail!(
            "the queue has {}: it was altered outside badge-kiosk",
            crate::plural::count(audit.faults.len(), "fault", "faults")
        )
    }
}

/// Every record, signed bytes included, as CSV or JSON Lines.
fn export(kiosk: &KioskCore, format: ExportFormat, out: Option<PathBuf>) -> Result<()> {
    let mut output: Box<dyn Write> = match &out {
        // Claim tokens (each opens a visitor's badge): 0600 whatever the umask.
        Some(path) => {
            Box::new(crate::eventdir::create_private(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let records = kiosk.store().records(0, usize::MAX)?;
    let mut csv = matches!(format, ExportFormat::Csv).then(|| csv::Writer::from_writer(Vec::new()));
    if let Some(writer) = csv.as_mut() {
        writer.write_record(EXPORT_COLUMNS)?;
    }
    for stored in &records {
        let record = &stored.record;
        let created = chrono::DateTime::from_timestamp_millis(record.content.created_at_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let fields = [
            record.sequence.to_string(),
            record.kiosk_id.clone(),
            record.content.kind.name().to_string(),
            record.content.event_id.clone(),
            record.content.badge_id.clone(),
            record.content.stand.clone(),
            hex::encode(&record.content.code_id),
            record.content.recipient.describe(),
            created,
            stored.sync_state.label().to_string(),
            hex::encode(stored.hash),
            hex::encode(record.to_bytes()?),
        ];
        match csv.as_mut() {
            Some(writer) => writer.write_record(&fields)?,
            None => {
                let object: serde_json::Map<String, serde_json::Value> = EXPORT_COLUMNS
                    .iter()
                    .zip(fields)
                    .map(|(name, value)| (name.to_string(), json!(value)))
                    .collect();
                writeln!(output, "{}", serde_json::Value::Object(object))?;
            }
        }
    }
    if let Some(writer) = csv {
        output.write_all(&writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    }
    output.flush()?;
    if let Some(path) = out {
        eprintln!("exported {} records to {}", records.len(), path.display());
    }
    Ok(())
}

/// Typed emails erased once confirmed issued longer ago than the retention.
fn purge(config: &Config, kiosk: &mut KioskCore, retention_days: Option<u64>) -> Result<()> {
    let days = retention_days.unwrap_or(config.email_retention_days);
    let cutoff = chrono::Utc::now().timestamp_millis() - i64::try_from(days).unwrap_or(0) * 86_400_000;
    let erased = kiosk.store_mut().purge_emails(cutoff)?;
    println!(
        "erased {} confirmed issued more than {} ago",
        crate::plural::count(erased, "email address", "email addresses"),
        crate::plural::count(days, "day", "days")
    );
    Ok(())
}

/// Queued, synced and failed counts, with the failures' reasons.
fn status(kiosk: &KioskCore) -> Result<()> {
    let counts = kiosk.store().counts()?;
    println!(
        "queued {}, synced {}, failed {}",
        counts.queued, counts.synced, counts.failed
    );
    for (badge, n) in &counts.awards_by_badge {
        println!("  awards {badge}: {n}");
    }
    for (stand, n) in &counts.steps_by_stand {
        println!("  steps at {stand}: {n}");
    }
    for (sequence, reason) in &counts.failures {
        println!("  failed #{sequence}: {reason}");
    }
    Ok(())
}
