//! `hub purge`: clear emails erased once the platform confirmed the award plus the retention.

use anyhow::Result;

use super::open_hub;
use crate::cli::args::HubPurgeArgs;
use crate::config::Config;
use crate::hub::issue;
use crate::plural::count;

pub(super) fn run(config: &Config, args: HubPurgeArgs) -> Result<()> {
    let HubPurgeArgs { data, retention_days } = args;
    let (mut store, _) = open_hub(config, &data)?;
    let days = retention_days.unwrap_or(config.email_retention_days);
    let now = chrono::Utc::now().timestamp_millis();
    let cutoff = now.saturating_sub(i64::try_from(days).unwrap_or(i64::MAX).saturating_mul(86_400_000));
    let purged = issue::purge_emails(&mut store, cutoff, now)?;
    println!(
        "erased {} and {} confirmed issued more than {} ago; {} kept (not confirmed yet, or within the retention)",
        count(purged.typed, "typed email", "typed emails"),
        count(purged.registrations, "registration email", "registration emails"),
        count(days, "day", "days"),
        count(purged.kept, "email", "emails")
    );
    Ok(())
}
