//! `tickets FILE.csv`: a ticketing system's barcodes as an allow-list (only hashes kept).

use anyhow::{Context, Result};

use super::args::TicketsArgs;
use crate::app::open_kiosk;
use crate::config::Config;

pub(super) fn run(config: &Config, args: TicketsArgs) -> Result<()> {
    let mut kiosk = open_kiosk(config)?;
    let data = std::fs::read(&args.csv).with_context(|| format!("reading {}", args.csv.display()))?;
    let summary = kiosk.import_allow_list(&data).map_err(anyhow::Error::msg)?;
    println!(
        "imported {} tickets ({} duplicates, {} blank rows skipped); only their hashes are stored",
        summary.tickets.len(),
        summary.duplicates,
        summary.skipped_blank
    );
    Ok(())
}
