//! `hub tickets FILE.csv`: the ticketing allow-list on the hub, so plain tickets the kiosks
//! accepted become awards there too.

use anyhow::{Context, Result};

use super::open_hub;
use crate::cli::args::HubTicketsArgs;
use crate::config::Config;
use crate::plural::count;

pub(super) fn run(config: &Config, args: HubTicketsArgs) -> Result<()> {
    let (mut store, _) = open_hub(config, &args.data)?;
    let data = std::fs::read(&args.csv).with_context(|| format!("reading {}", args.csv.display()))?;
    let summary = crate::domain::allowlist::import_csv(&store.event.event.id, &data)
        .with_context(|| format!("{} cannot be imported", args.csv.display()))?;
    let imported = store.import_tickets(&summary.tickets, chrono::Utc::now().timestamp_millis())?;
    println!(
        "{} on the list ({} new); {} now awarded (or counted towards a pathway)",
        count(summary.tickets.len(), "ticket", "tickets"),
        imported.added,
        count(
            imported.promoted,
            "record kept for review is",
            "records kept for review are"
        ),
    );
    for refused in &imported.still_refused {
        println!("  still not awarded: {refused}");
    }
    Ok(())
}
