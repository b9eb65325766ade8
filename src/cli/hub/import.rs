//! `hub import FILE`: a kiosk's USB export ingested through the same idempotent path as a sync.

use anyhow::{Context, Result};

use super::open_hub;
use crate::cli::args::HubImportArgs;
use crate::config::Config;
use crate::sync::protocol::UploadRequest;

pub(super) fn run(config: &Config, args: HubImportArgs) -> Result<()> {
    let HubImportArgs { file, data } = args;
    let (mut store, _) = open_hub(config, &data)?;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let digest: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &bytes)).into();
    let request: UploadRequest =
        serde_json::from_slice(&bytes).context("this file is not a badge-kiosk export bundle")?;
    let already = store.import_digest_seen(&digest)?;
    let response = store.ingest(&request, chrono::Utc::now().timestamp_millis())?;
    store.note_import(&digest, request.records.len(), chrono::Utc::now().timestamp_millis())?;
    store.queue_award_emails(chrono::Utc::now().timestamp_millis())?;
    let count = |status| response.answers.iter().filter(|a| a.status == status).count();
    use crate::sync::protocol::RecordStatus;
    let emails = response.answers.iter().filter(|a| a.email_received).count();
    println!(
        "{}: {} accepted, {} duplicates, {} rejected, {} received{}",
        file.display(),
        count(RecordStatus::Accepted),
        count(RecordStatus::Duplicate),
        count(RecordStatus::Rejected),
        crate::plural::count(emails, "typed email", "typed emails"),
        if already {
            " (this file was imported before: nothing changed)"
        } else {
            ""
        }
    );
    for answer in response.answers.iter().filter(|a| a.status == RecordStatus::Rejected) {
        println!(
            "  rejected #{}: {}",
            answer.sequence,
            answer.reason.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
