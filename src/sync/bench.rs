//! The sync benchmark: N awards from one kiosk to a hub on loopback.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::domain::award::{AwardContent, Recipient, RecordKind};
use crate::eventdir::EventDir;
use crate::hub::server::{HubState, SharedHub};
use crate::hub::store::HubStore;
use crate::kiosk::KioskCore;
use crate::store::{Durability, Store};
use crate::sync::client::{http_client, sync_once, SyncSettings};

#[derive(Debug, Clone)]
pub struct SyncBenchReport {
    pub awards: usize,
    pub fill_seconds: f64,
    pub sync_seconds: f64,
    pub awards_per_second: f64,
    pub hub_awards: u64,
}

/// Fills a kiosk queue with `awards` signed awards (through the real append path), then
/// syncs them to a hub served on 127.0.0.1 and counts what the hub holds.
pub fn bench_sync(awards: usize, dir: &std::path::Path) -> anyhow::Result<SyncBenchReport> {
    let started = Instant::now();
    let filled = FilledKiosk::fill(awards, dir)?;
    let fill_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let synced = filled.sync_to_loopback_hub()?;
    let sync_seconds = started.elapsed().as_secs_f64();
    Ok(SyncBenchReport {
        awards,
        fill_seconds,
        sync_seconds,
        awards_per_second: awards as f64 / sync_seconds,
        hub_awards: synced.hub_awards,
    })
}

/// A kiosk queue holding signed, not yet synced awards, in `dir`.
pub struct FilledKiosk {
    dir: std::path::PathBuf,
    event: EventDir,
    certificate: String,
    awards: usize,
}

/// What the hub held after one sync.
#[derive(Debug, Clone, Copy)]
pub struct Synced {
    pub hub_awards: u64,
}

impl FilledKiosk {
    /// Makes the demo event and a kiosk in `dir`, then appends `awards` awards.
    pub fn fill(awards: usize, dir: &std::path::Path) -> anyhow::Result<FilledKiosk> {
        let event = EventDir::demo(dir)?;
        let kiosk_dir = dir.join("kiosk");
        let kiosk = KioskCore::open(
            event.clone(),
            &kiosk_dir,
            Some("bench-kiosk"),
            Box::new(crate::domain::clock::SystemClock),
        )?;
        let certificate = hex::encode(kiosk.certificate().to_bytes().map_err(|e| anyhow::anyhow!("{e}"))?);
        let device_key = kiosk.device_key().clone();
        drop(kiosk);
        // Filling uses synchronous=NORMAL: the benchmark measures sync, not 45,000 fsyncs.
        {
            let mut store = Store::open_with(&kiosk_dir.join("queue.sqlite"), Durability::Normal)?;
            let now = chrono::Utc::now().timestamp_millis();
            let event_key = event
                .event_key
                .clone()
                .ok_or_else(|| anyhow::anyhow!("the demo event has no key"))?;
            for index in 0..awards {
                let mut code_id = [0u8; 10];
                code_id[..8].copy_from_slice(&(index as u64).to_be_bytes());
                // Version 2 records, as kiosks sign them: the hub checks every code's signature.
                let holder = format!("REG-{index:06}");
                let code = crate::domain::code::AttendanceCode::sign(
                    &event.definition.event.id,
                    &event_key,
                    crate::domain::code::CodeClaims {
                        code_id: crate::domain::code::CodeId(code_id),
                        role: crate::domain::code::Role::Visitor,
                        holder: Some(holder.clone()),
                        valid_from: 0,
                        valid_until: u32::MAX,
                    },
                )?;
                let code_bytes = crate::domain::base32::decode(
                    code.to_text()
                        .strip_prefix(crate::domain::code::CODE_PREFIX)
                        .unwrap_or_default(),
                )?;
                store.append_with_code(
                    &device_key,
                    "bench-kiosk",
                    AwardContent {
                        event_id: event.definition.event.id.clone(),
                        badge_id: "attended".into(),
                        code_id: code_id.to_vec(),
                        kind: RecordKind::AttendanceAward,
                        stand: String::new(),
                        recipient: Recipient::Registration(holder),
                        created_at_ms: now + index as i64,
                    },
                    None,
                    Some(code_bytes),
                )?;
            }
        }
        Ok(FilledKiosk {
            dir: dir.to_path_buf(),
            event,
            certificate,
            awards,
        })
    }

    /// Serves a hub on 127.0.0.1 and syncs the whole queue to it: once per filled queue, since
    /// a synced award is never sent again.
    pub fn sync_to_loopback_hub(&self) -> anyhow::Result<Synced> {
        let (dir, event, certificate, awards) = (&self.dir, &self.event, &self.certificate, self.awards);
        let kiosk_dir = dir.join("kiosk");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let hub_db = dir.join("hub.sqlite");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?;
        let state: SharedHub = Arc::new(HubState::new(
            HubStore::open(&hub_db, event.definition.clone())?,
            event,
            &format!("http://{address}"),
            Box::new(|| chrono::Utc::now().timestamp_millis()),
        )?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(crate::hub::server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let store = Arc::new(Mutex::new(Store::open(&kiosk_dir.join("queue.sqlite"))?));
        let settings = SyncSettings::new(&format!("http://{address}"), &event.definition.event.id, certificate)
            .trusting(event.definition.public_keys());
        let summary = runtime.block_on(sync_once(
            &store,
            &settings,
            &http_client(settings.request_timeout)?,
            |_, _| {},
        ))?;
        let _ = stop.send(());
        anyhow::ensure!(summary.synced == awards, "only {} of {awards} synced", summary.synced);
        let hub_awards = HubStore::open(&hub_db, event.definition.clone())?.award_count()?;
        Ok(Synced { hub_awards })
    }
}
