//! `hub relay` (one pass) and `hub serve --relay-to` (in the background): a venue hub
//! relays its kiosks' records to the organiser's public hub (see `hub::relay`).

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::issue::TryAgainLater;
use crate::cli::args::{RelayArgs, ServeRelayArgs};
use crate::config::Config;
use crate::hub::relay::{relay_once, HttpTransport, RelayError, RelaySettings};
use crate::hub::server::{HubState, SharedHub};
use crate::hub::store::HubStore;

fn settings(to: &str, pin: Option<&str>, insecure_http: bool) -> Result<RelaySettings> {
    let pin = match pin {
        Some(text) => Some(crate::sync::pinning::parse_pin(text).with_context(|| {
            format!(
                "--relay-pin {text:?} is not a SHA-256 (64 hex digits): copy it from the public hub's start message"
            )
        })?),
        None => None,
    };
    let settings = RelaySettings::new(to).pinned(pin).plain_http_allowed(insecure_http);
    // Refuse a bad address or plain HTTP now, not in a background task.
    settings.http_client().map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(settings)
}

/// Starts `hub serve`'s relay, if asked for.
pub(super) fn spawn_for_serve(args: &ServeRelayArgs, hub: &SharedHub) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(to) = &args.relay_to else {
        return Ok(None);
    };
    let settings = settings(to, args.relay_pin.as_deref(), args.relay_insecure_http)?;
    eprintln!(
        "relaying records to the public hub at {} (within seconds of their arrival, and every {})",
        settings.target,
        humantime::format_duration(args.relay_interval)
    );
    let policy = crate::sync::schedule::SyncPolicy::with_interval(args.relay_interval);
    Ok(Some(crate::hub::relay::spawn(Arc::clone(hub), settings, policy)))
}

/// One relay pass from the command line.
pub(super) fn relay(config: &Config, args: RelayArgs) -> Result<()> {
    let settings = settings(&args.to, args.relay_pin.as_deref(), args.insecure_http)?;
    let (store, event): (HubStore, _) = super::open_hub(config, &args.data)?;
    let hub: SharedHub = Arc::new(HubState::new(
        store,
        &event,
        "",
        Box::new(|| chrono::Utc::now().timestamp_millis()),
    )?);
    let transport = HttpTransport::new(&settings).map_err(|error| anyhow::anyhow!("{error}"))?;
    let outcome = crate::cli::runtime()?.block_on(relay_once(&hub, &settings, &transport, |done, total| {
        if total > 0 {
            eprint!("\rrelaying to {}: {done}/{total}", settings.target);
            let _ = std::io::stderr().flush();
        }
    }));
    eprintln!();
    let summary = match outcome {
        Ok(summary) => summary,
        Err(error @ RelayError::Transient(_)) => {
            return Err(TryAgainLater(format!(
                "the relay stopped early: {error}. Nothing relayed is lost or sent twice: run it again later"
            ))
            .into())
        }
        Err(error) => bail!("the relay stopped: {error}"),
    };
    println!(
        "relayed {} ({} the public hub already held from another kiosk), refused {}, waiting {}",
        summary.relayed, summary.duplicates, summary.refused, summary.remaining
    );
    if summary.sent == 0 && summary.without_certificate == 0 {
        println!("nothing new to relay");
    }
    if summary.without_certificate > 0 {
        println!(
            "{} received before this hub kept kiosk certificates: they go once their kiosk syncs again",
            crate::plural::count(summary.without_certificate, "record", "records")
        );
    }
    for problem in &summary.kiosk_problems {
        println!("  {problem}");
    }
    if summary.revocations_sent > 0 {
        println!(
            "{} sent to the public hub",
            crate::plural::count(summary.revocations_sent, "revocation", "revocations")
        );
    }
    if let Some(problem) = &summary.revocations_problem {
        println!("revocations not sent: {problem}");
    }
    if summary.refused > 0 {
        println!("refusals: badge-kiosk hub status --data {}", args.data.display());
    }
    Ok(())
}

/// `hub status`'s lines about the relay.
pub(super) fn print_status(store: &HubStore) -> Result<()> {
    for counts in store.relay_counts()? {
        println!(
            "relayed to {}: {} relayed, {} refused, {} waiting",
            counts.target, counts.relayed, counts.refused, counts.waiting
        );
        for (kiosk, sequence, reason) in &counts.refusals {
            println!(
                "  refused {}#{sequence}: {}",
                crate::hub::trust::printable(kiosk),
                crate::hub::trust::printable(reason)
            );
        }
    }
    Ok(())
}
