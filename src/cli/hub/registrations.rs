//! `hub registrations import FILE.csv`: the ticketing tool's references, emails and names.

use anyhow::{Context, Result};

use super::open_hub;
use crate::cli::args::RegistrationsCommand;
use crate::config::Config;
use crate::hub::issue;
use crate::plural::count;

pub(super) fn run(config: &Config, command: RegistrationsCommand) -> Result<()> {
    let RegistrationsCommand::Import { file, data } = command;
    let (mut store, _) = open_hub(config, &data)?;
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "reading {} (export it from the ticketing tool as CSV, UTF-8)",
            file.display()
        )
    })?;
    let parsed = crate::domain::registrations::parse_registrations(&text)
        .with_context(|| format!("importing {}", file.display()))?;
    let outcome =
        issue::import_registrations(&mut store, &parsed.registrations, chrono::Utc::now().timestamp_millis())?;
    store.queue_award_emails(chrono::Utc::now().timestamp_millis())?;
    for error in &parsed.errors {
        println!("{}:{}: {}", file.display(), error.line, error.message);
    }
    println!(
        "{}: {} new, {} updated, {} unchanged {}, {} skipped",
        file.display(),
        outcome.added,
        outcome.updated,
        outcome.unchanged,
        crate::plural::english(
            outcome.added + outcome.updated + outcome.unchanged == 1,
            "registration",
            "registrations"
        ),
        count(parsed.errors.len(), "line", "lines")
    );
    if outcome.requeued > 0 {
        println!(
            "{} a new email and {} queued again: run `badge-kiosk hub issue`",
            count(outcome.requeued, "refused award has", "refused awards have"),
            crate::plural::english(outcome.requeued == 1, "is", "are")
        );
    }
    if !parsed.errors.is_empty() {
        println!("fix the lines above in the file and import it again (importing twice is safe)");
    }
    Ok(())
}
