//! `hub recipients`: each award's state with a badge platform.

use std::io::Write;

use anyhow::{bail, Result};

use super::open_hub;
use crate::cli::args::HubRecipientsArgs;
use crate::config::Config;
use crate::hub::issue::{self, IssueState};
use crate::platform::Platform;

pub(super) fn run(config: &Config, args: HubRecipientsArgs) -> Result<()> {
    let HubRecipientsArgs { data, platform, only } = args;
    let (store, _) = open_hub(config, &data)?;
    let platform = Platform::parse(&platform)?;
    let issues = issue::award_issues(store.connection(), platform)?;
    let wanted = |state: &IssueState| match only.as_deref() {
        None => true,
        Some("issued") => matches!(state, IssueState::Confirmed(_)),
        Some("refused") => matches!(state, IssueState::Failed(_)),
        Some("queued") => matches!(state, IssueState::Queued),
        Some("sending") => matches!(state, IssueState::Sending(_)),
        Some(_) => matches!(state, IssueState::NeedsEmail),
    };
    if let Some(other) = only
        .as_deref()
        .filter(|o| !["issued", "refused", "queued", "sending", "needs-email"].contains(o))
    {
        bail!("--only {other:?}: use issued, refused, queued, sending or needs-email");
    }
    let mut out = std::io::stdout().lock();
    for issue in issues.iter().filter(|issue| wanted(&issue.state)) {
        writeln!(
            out,
            "{}\t{}\t{}",
            issue.award_key,
            issue.email.as_deref().unwrap_or("-"),
            issue.state.label()
        )?;
    }
    let counts = issue::counts(&issues);
    writeln!(
        out,
        "{}: {} issued, {} refused, {} queued, {} sent awaiting a check, {} need an email",
        platform.label(),
        counts.confirmed,
        counts.failed,
        counts.queued,
        counts.sending,
        counts.needs_email
    )?;
    if counts.needs_email > 0 {
        writeln!(
            out,
            "awards that need an email: import the ticketing export with `badge-kiosk hub registrations import FILE.csv --data {}`; visitors who took a claim link keep it",
            data.display()
        )?;
    }
    if counts.failed > 0 {
        writeln!(
            out,
            "refused awards: correct the email in the ticketing export, import it again, then run `badge-kiosk hub issue` again"
        )?;
    }
    Ok(())
}
