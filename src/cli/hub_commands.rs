//! `sync`, `export` and `hub …`: moving records from kiosks to the organiser.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};

use super::args::{ExportArgs, HubCommand, SyncArgs};
use super::commands::{open_event, open_kiosk};
use crate::config::Config;
use crate::hub::server::{HubState, SharedHub};
use crate::hub::store::HubStore;
use crate::store::Store;
use crate::sync::client::{http_client, sync_once, SyncSettings};
use crate::sync::protocol::UploadRequest;

const HUB_DB: &str = "hub.sqlite";

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn sync(config: &Config, args: SyncArgs) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let Some(hub) = args.hub.or_else(|| kiosk.definition().sync.hub.clone()) else {
        bail!("no hub to sync to: give --hub URL or set `hub` under [sync] in event.toml (or use `badge-kiosk export` for a USB stick)");
    };
    let certificate = hex::encode(kiosk.certificate().to_bytes().map_err(|e| anyhow::anyhow!("{e}"))?);
    let settings = SyncSettings::new(&hub, &kiosk.definition().event.id, &certificate);
    let store_path = config.data_dir.join(&kiosk.definition().event.id).join("queue.sqlite");
    drop(kiosk);
    let store = Arc::new(Mutex::new(Store::open(&store_path)?));
    let summary = runtime()?.block_on(async {
        let http = http_client(settings.request_timeout);
        sync_once(&store, &settings, &http, |done, total| {
            let width = 30;
            if let Some(filled) = (done * width).checked_div(total) {
                eprint!(
                    "\r[{}{}] {done}/{total}",
                    "#".repeat(filled),
                    " ".repeat(width - filled)
                );
                let _ = std::io::stderr().flush();
            }
        })
        .await
    });
    eprintln!();
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
    if summary.failed > 0 {
        println!("see the reasons with `badge-kiosk queue status`");
    }
    Ok(())
}

pub fn export(config: &Config, args: ExportArgs) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let (path, count) = write_export(&kiosk, &args.to)?;
    println!("wrote {count} records to {}", path.display());
    println!(
        "each record is signed by this kiosk; on the hub: badge-kiosk hub import {}",
        path.display()
    );
    Ok(())
}

/// Writes every record to a signed bundle file in `dir`; returns its path and the record
/// count. The organiser panel's "export to USB" calls this too.
pub fn write_export(kiosk: &crate::kiosk::KioskCore, dir: &std::path::Path) -> Result<(std::path::PathBuf, usize)> {
    let records = kiosk.records_for_export()?;
    let request = UploadRequest {
        event_id: kiosk.definition().event.id.clone(),
        certificate: hex::encode(kiosk.certificate().to_bytes().map_err(|e| anyhow::anyhow!("{e}"))?),
        records: records
            .iter()
            .filter_map(|record| record.to_bytes().ok())
            .map(hex::encode)
            .collect(),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!(
        "{}-{}-{}.badges.json",
        request.event_id,
        kiosk.kiosk_id(),
        chrono::Utc::now().format("%Y%m%dT%H%M%S")
    ));
    let temporary = path.with_extension("partial");
    let bytes = serde_json::to_vec(&request)?;
    {
        let mut file = std::fs::File::create(&temporary).with_context(|| format!("writing {}", temporary.display()))?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, &path)?;
    Ok((path, request.records.len()))
}

fn open_hub(config: &Config, data: &std::path::Path) -> Result<(HubStore, crate::eventdir::EventDir)> {
    let event = open_event(config)?;
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let store = HubStore::open(&data.join(HUB_DB), event.definition.clone())?;
    Ok((store, event))
}

pub fn hub(config: &Config, command: HubCommand) -> Result<()> {
    match command {
        HubCommand::Serve { listen, data } => {
            let (store, event) = open_hub(config, &data)?;
            let event_toml = std::fs::read_to_string(event.dir.join(crate::eventdir::EVENT_FILE))?;
            let state: SharedHub = Arc::new(HubState {
                store: Mutex::new(store),
                event_toml,
                event_key: event.event_key.clone(),
                clock: Box::new(|| chrono::Utc::now().timestamp_millis()),
            });
            runtime()?.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("listening on {listen}"))?;
                eprintln!(
                    "hub for event {} listening on http://{}",
                    event.definition.event.id,
                    listener.local_addr()?
                );
                crate::hub::server::serve(listener, state, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
                Ok(())
            })
        }
        HubCommand::Import { file, data } => {
            let (mut store, _) = open_hub(config, &data)?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let digest: [u8; 32] =
                sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &bytes)).into();
            let request: UploadRequest =
                serde_json::from_slice(&bytes).context("this file is not a badge-kiosk export bundle")?;
            let already = store.import_digest_seen(&digest)?;
            let response = store.ingest(&request, chrono::Utc::now().timestamp_millis())?;
            store.note_import(&digest, request.records.len(), chrono::Utc::now().timestamp_millis())?;
            let count = |status| response.answers.iter().filter(|a| a.status == status).count();
            use crate::sync::protocol::RecordStatus;
            println!(
                "{}: {} accepted, {} duplicates, {} rejected{}",
                file.display(),
                count(RecordStatus::Accepted),
                count(RecordStatus::Duplicate),
                count(RecordStatus::Rejected),
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
        HubCommand::EnrolToken { data } => {
            let (store, _) = open_hub(config, &data)?;
            let token = store.create_enrol_token(chrono::Utc::now().timestamp_millis())?;
            println!("{token}");
            Ok(())
        }
        HubCommand::Status { data } => {
            let (store, _) = open_hub(config, &data)?;
            let counts = store.counts()?;
            for (badge, n) in counts.awards_by_badge {
                println!("awards {badge}: {n}");
            }
            for (stand, n) in counts.steps_by_stand {
                println!("visitors at {stand}: {n}");
            }
            for (kiosk, n) in counts.records_by_kiosk {
                println!("records from {kiosk}: {n}");
            }
            println!("cross-kiosk duplicates: {}", counts.duplicates);
            Ok(())
        }
    }
}
