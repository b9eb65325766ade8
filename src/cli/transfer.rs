//! `sync`, `enrol` and `export`: a kiosk's records on their way to the organiser's hub.

use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};

use super::args::{EnrolArgs, ExportArgs, SyncArgs};
use super::runtime;
use crate::app::{open_kiosk, write_export};
use crate::config::Config;
use crate::plural::count;
use crate::store::Store;
use crate::sync::client::sync_once;

pub(super) fn sync(config: &Config, args: SyncArgs) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let Some(settings) = crate::app::sync_settings(config, &kiosk, args.hub)? else {
        bail!("no hub to sync to: give --hub URL, enrol the kiosk, or set `hub` under [sync] in event.toml (or use `badge-kiosk export` for a USB stick)");
    };
    let store_path = crate::app::queue_path(config, &kiosk);
    drop(kiosk);
    let store = Arc::new(Mutex::new(Store::open(&store_path)?));
    let http = settings.http_client()?;
    let progress = super::progress::Progress::new("synced");
    let summary = runtime()?.block_on(async {
        sync_once(&store, &settings, &http, |done, total| {
            progress.update(done as u64, total as u64, "");
        })
        .await
    });
    progress.finish();
    let summary = summary.map_err(|error| {
        anyhow::anyhow!("sync stopped: {error}. Queued records are kept; run `badge-kiosk sync` again")
    })?;
    println!(
        "sent {}, synced {}, failed {}, still queued {}",
        summary.sent, summary.synced, summary.failed, summary.remaining
    );
    for warning in summary.chain_warnings {
        println!("hub warning: {warning}");
    }
    if let Some(update) = &summary.bundle {
        println!(
            "event bundle: {}{}",
            crate::plural::count(update.new_revocations, "new revoked code", "new revoked codes"),
            if update.event_changed { ", event updated" } else { "" }
        );
    }
    if let Some(problem) = &summary.bundle_problem {
        println!("event bundle not applied: {problem}");
    }
    if summary.failed > 0 {
        println!("see the reasons with `badge-kiosk queue status`");
    }
    Ok(())
}

pub(super) fn enrol(config: &Config, args: EnrolArgs) -> Result<()> {
    let code = crate::domain::enrolment::EnrolmentCode::parse(&args.code)?;
    let hub_ca_pem = match &config.hub_ca {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading the hub CA certificate {}", path.display()))?)
        }
        None => None,
    };
    let enrolled = runtime()?.block_on(crate::sync::enrol::enrol(
        hub_ca_pem,
        &code,
        &config.data_dir,
        config.kiosk_id.as_deref(),
    ))?;
    println!(
        "enrolled as {} for {} ({}); the event is in {}",
        enrolled.kiosk_id,
        enrolled.event_name,
        enrolled.event_id,
        enrolled.event_dir.display()
    );
    println!(
        "start the kiosk (or restart its service): it syncs with {} from now on",
        code.hub_url
    );
    Ok(())
}

pub(super) fn export(config: &Config, args: ExportArgs) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let export = write_export(&kiosk, &args.to)?;
    let path = &export.path;
    println!(
        "wrote {} to {}",
        count(export.records, "record", "records"),
        path.display()
    );
    if export.emails > 0 {
        println!(
            "the file holds {} in clear: delete it once the hub has imported it",
            count(export.emails, "typed email address", "typed email addresses")
        );
    }
    println!(
        "each record is signed by this kiosk; on the hub: badge-kiosk hub import {}",
        path.display()
    );
    Ok(())
}
