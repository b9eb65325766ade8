//! `hub issue`: the merged awards handed to the badge platform, saying what it waits for.
//!
//! Every wait is announced on stderr before it starts (what failed, when the next attempt
//! is, that nothing is lost); a quiet platform gets a "still waiting" line every
//! [`HEARTBEAT`]; `--max-wait` bounds the whole run, which then exits with
//! [`EXIT_TRY_AGAIN_LATER`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};

use super::open_hub;
use crate::cli::args::HubIssueArgs;
use crate::cli::runtime;
use crate::config::Config;
use crate::domain::event::Language;
use crate::hub::issue;
use crate::platform::{
    BadgrClient, BadgrSettings, IssueSettings, NoticeFn, ObfClient, ObfSettings, PassControl, Platform, PlatformClient,
    PlatformCredentials, PlatformError, TransportSettings,
};
use crate::plural::count;

/// The exit code of a run that gave up waiting for the platform (the `--max-wait` limit, or
/// every attempt failed): nothing is lost, run it again later. EX_TEMPFAIL in sysexits.h.
pub const EXIT_TRY_AGAIN_LATER: i32 = 75;

/// How long the platform may stay silent before the command says it is still waiting.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// The run stopped before finishing because the platform could not be reached or did not
/// answer in time; the awards are safe. Maps to [`EXIT_TRY_AGAIN_LATER`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TryAgainLater(pub String);

/// Readable durations for people: "3s", "10m", "1h 30m".
fn shown(duration: Duration) -> String {
    let total = duration.as_secs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    let mut parts = Vec::new();
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes}m"));
    }
    if seconds > 0 || parts.is_empty() {
        parts.push(format!("{seconds}s"));
    }
    parts.join(" ")
}

pub(super) fn run(config: &Config, args: HubIssueArgs) -> Result<()> {
    let platform = Platform::parse(&args.platform)?;
    let (store, event) = open_hub(config, &args.data)?;
    if args.dry_run {
        let plan = issue::dry_run(&store, platform)?;
        for (badge, language, recipients) in &plan.calls {
            println!(
                "would send {} of {badge} ({}) to {}",
                count(*recipients, "recipient", "recipients"),
                language.code(),
                platform.label()
            );
        }
        for (award, reason) in &plan.rejected {
            println!("would refuse {award}: {reason}");
        }
        println!(
            "{}; {} sent by an interrupted run would be looked up first; {} already issued, {} refused, {} \
             an email. Nothing was sent.",
            count(plan.calls.len(), "call", "calls"),
            count(plan.in_doubt, "award", "awards"),
            plan.counts.confirmed,
            plan.counts.failed,
            count(plan.counts.needs_email, "needs", "need"),
        );
        return Ok(());
    }
    if let Some(path) = args.credentials.as_deref() {
        if let Some(warning) = crate::platform::credentials::permission_warning(path) {
            eprintln!("warning: {warning}");
        }
    }
    let mut client = platform_client(platform, args.credentials.as_deref(), args.no_email, &event)?;
    let shared = Arc::new(Mutex::new(store));
    let runtime = runtime()?;

    // What was last said, so the heartbeat speaks only when nothing else did.
    let last_said = Arc::new(Mutex::new(std::time::Instant::now()));
    let said = {
        let last_said = Arc::clone(&last_said);
        move || {
            if let Ok(mut last) = last_said.lock() {
                *last = std::time::Instant::now();
            }
        }
    };
    let bar = Arc::new(crate::cli::progress::Progress::new("issued or refused"));
    let progress: issue::ProgressFn = {
        let (said, bar) = (said.clone(), Arc::clone(&bar));
        Arc::new(move |confirmed, failed, total| {
            bar.update((confirmed + failed) as u64, total as u64, &format!("{failed} refused"));
            said();
        })
    };
    let notices: NoticeFn = {
        let (said, bar) = (said.clone(), Arc::clone(&bar));
        Arc::new(move |notice| {
            bar.say(&notice.to_string());
            said();
        })
    };
    let mut settings = IssueSettings::default();
    let control = PassControl {
        notices: Some(notices),
        deadline: args.max_wait.map(|limit| tokio::time::Instant::now() + limit),
    };
    if args.max_wait.is_some() {
        // The time limit bounds the run, not a count of attempts.
        settings.max_attempts = u32::MAX;
    }
    eprintln!(
        "issuing to {} ({}){}…",
        platform.label(),
        client.base_url(),
        args.max_wait
            .map(|limit| format!(", giving up after {}", shown(limit)))
            .unwrap_or_default()
    );
    let started = std::time::Instant::now();
    let report = runtime.block_on(async {
        let pass = issue::issue_from_hub_controlled(&shared, &mut client, &settings, Some(progress), &control);
        tokio::pin!(pass);
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                report = &mut pass => break report,
                _ = heartbeat.tick() => {
                    let quiet = last_said.lock().map(|last| last.elapsed()).unwrap_or_default();
                    if quiet >= HEARTBEAT {
                        bar.say(&format!(
                            "still waiting for {} ({} so far); nothing is lost if you stop now (Ctrl-C) and run \
                             this again later",
                            platform.label(),
                            shown(started.elapsed())
                        ));
                        said();
                    }
                }
            }
        }
    });
    bar.finish();
    let report = report.map_err(|error| anyhow::anyhow!("{error}"))?;
    let summary = &report.summary;
    println!(
        "{}: {} issued now ({} found already recorded after a lost answer), {} refused, {}",
        platform.label(),
        count(summary.confirmed, "award", "awards"),
        summary.found_after_lost_answer,
        summary.failed,
        count(summary.calls, "call", "calls")
    );
    if report.already_held > 0 {
        println!(
            "{} not sent: {} already held that badge for the same email",
            count(report.already_held, "award", "awards"),
            platform.label()
        );
    }
    println!(
        "in total: {} issued, {} refused, {} still queued, {} an email",
        report.counts.confirmed,
        report.counts.failed,
        report.counts.queued + report.counts.sending,
        count(report.counts.needs_email, "needs", "need")
    );
    for (award, reason) in report.failed.iter().take(20) {
        println!("  refused {award}: {reason}");
    }
    if report.failed.len() > 20 {
        println!(
            "  … and {} more: badge-kiosk hub recipients --only refused --platform {}",
            report.failed.len() - 20,
            platform.key()
        );
    }
    if !report.needs_email.is_empty() {
        println!(
            "{} an email: import the ticketing export (`badge-kiosk hub registrations import FILE.csv --data {}`), \
             then run this again",
            count(report.needs_email.len(), "award needs", "awards need"),
            args.data.display()
        );
    }
    match report.stopped {
        None => Ok(()),
        Some(error @ PlatformError::WaitExceeded(_)) => Err(TryAgainLater(format!(
            "gave up after {} (--max-wait): {error}",
            shown(args.max_wait.unwrap_or_default())
        ))
        .into()),
        Some(error @ PlatformError::Transient(_)) => {
            Err(TryAgainLater(format!("the run stopped early: {error}")).into())
        }
        Some(error) => bail!("the run stopped early: {error}"),
    }
}

/// The platform client for `hub issue` and the console's "Issue now".
pub(super) fn platform_client(
    platform: Platform,
    credentials: Option<&std::path::Path>,
    no_email: bool,
    event: &crate::eventdir::EventDir,
) -> Result<PlatformClient> {
    // Who emails the visitor is event.toml's choice ([delivery] email): never both, never
    // neither. "hub": the hub already sends the badge, so the platform never does.
    let no_email = match event.definition.delivery.email {
        crate::domain::event::EmailSender::Hub => true,
        crate::domain::event::EmailSender::Platform if no_email => bail!(
            "event.toml leaves emailing visitors to the platform ([delivery] email = \"platform\"): with \
             --no-email nobody would email them. Drop --no-email, or set email = \"hub\" in event.toml and \
             run `hub serve` with --smtp-url"
        ),
        crate::domain::event::EmailSender::Platform => false,
    };
    let credentials = PlatformCredentials::load_with_process_env(credentials)?;
    Ok(match platform {
        Platform::Obf => {
            let settings = ObfSettings {
                send_email: !no_email,
                event_name: Some(event.definition.event.name.get(Language::Fr).to_owned()),
                ..ObfSettings::default()
            };
            PlatformClient::Obf(ObfClient::new(
                credentials.require_obf()?,
                settings,
                ObfClient::default_transport(),
            ))
        }
        Platform::Badgr => {
            let settings = BadgrSettings {
                notify: !no_email,
                ..BadgrSettings::default()
            };
            PlatformClient::Badgr(BadgrClient::new(
                credentials.require_badgr()?,
                settings,
                TransportSettings::default(),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(shown(Duration::from_secs(3)), "3s");
        assert_eq!(shown(Duration::from_secs(600)), "10m");
        assert_eq!(shown(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(shown(Duration::from_millis(200)), "0s");
    }
}
