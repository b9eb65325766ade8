//! The sync benchmarks: N awards from one kiosk to a hub on loopback, and a fleet of kiosks
//! syncing at once. Each reports, measured in the same run, the floor: the time one core
//! takes to verify the same signatures one by one (`verify_strict`), the way the hub checked
//! them before it batched them across cores.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::domain::award::{AwardContent, Recipient, RecordKind};
use crate::eventdir::EventDir;
use crate::hub::server::{HubState, SharedHub};
use crate::hub::signatures::SignatureJob;
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
    /// Signatures the hub had to check (each record's and each code's).
    pub signatures: usize,
    /// One core verifying those signatures one by one, measured in this run.
    pub floor_seconds: f64,
}

impl SyncBenchReport {
    /// The sync's time over the floor's: below 1 the sync beats one core checking its
    /// signatures one by one.
    pub fn ratio(&self) -> f64 {
        self.sync_seconds / self.floor_seconds
    }
}

/// Fills a kiosk queue with `awards` signed awards (through the real append path), then
/// syncs them to a hub served on 127.0.0.1 and counts what the hub holds; then times the
/// floor on the same signatures.
pub fn bench_sync(awards: usize, dir: &std::path::Path) -> anyhow::Result<SyncBenchReport> {
    let started = Instant::now();
    let filled = FilledKiosk::fill(awards, dir)?;
    let fill_seconds = started.elapsed().as_secs_f64();
    let jobs = filled.signature_jobs()?;
    let started = Instant::now();
    let synced = filled.sync_to_loopback_hub()?;
    let sync_seconds = started.elapsed().as_secs_f64();
    let floor_seconds = one_core_floor(&jobs)?;
    Ok(SyncBenchReport {
        awards,
        fill_seconds,
        sync_seconds,
        awards_per_second: awards as f64 / sync_seconds,
        hub_awards: synced.hub_awards,
        signatures: jobs.len(),
        floor_seconds,
    })
}

/// Verifies every job one by one on this thread with `verify_strict`; the seconds it took.
pub fn one_core_floor(jobs: &[SignatureJob]) -> anyhow::Result<f64> {
    let started = Instant::now();
    for job in jobs {
        job.key
            .verify_strict(&job.message, &job.signature)
            .map_err(|_| anyhow::anyhow!("a benchmark signature does not verify"))?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// A kiosk queue holding signed, not yet synced awards, in `dir`.
pub struct FilledKiosk {
    dir: std::path::PathBuf,
    event: EventDir,
    kiosk_dir: std::path::PathBuf,
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
        Self::fill_kiosk(&event, dir, "bench-kiosk", 0, awards)
    }

    /// A kiosk `kiosk_id` of `event` in `dir/kiosk-ID` with `awards` awards for the codes
    /// numbered from `first_code`.
    fn fill_kiosk(
        event: &EventDir,
        dir: &std::path::Path,
        kiosk_id: &str,
        first_code: u64,
        awards: usize,
    ) -> anyhow::Result<FilledKiosk> {
        let kiosk_dir = dir.join(format!("kiosk-{kiosk_id}"));
        let kiosk = KioskCore::open(
            event.clone(),
            &kiosk_dir,
            Some(kiosk_id),
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
                let number = first_code + index as u64;
                let mut code_id = [0u8; 10];
                code_id[..8].copy_from_slice(&number.to_be_bytes());
                // Version 2 records, as kiosks sign them: the hub checks every code's signature.
                let holder = format!("REG-{number:06}");
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
                    kiosk_id,
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
            event: event.clone(),
            kiosk_dir,
            certificate,
            awards,
        })
    }

    /// Every signature the hub checks for this queue: each record's (device key) and each
    /// code's (event key).
    pub fn signature_jobs(&self) -> anyhow::Result<Vec<SignatureJob>> {
        let store = Store::open(&self.kiosk_dir.join("queue.sqlite"))?;
        let certificate = crate::domain::keys::KioskCertificate::from_bytes(&hex::decode(&self.certificate)?)
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let event_id = &self.event.definition.event.id;
        let event_key = self
            .event
            .event_key
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the demo event has no key"))?
            .verifying_key();
        let mut jobs = Vec::new();
        for stored in store.pending(usize::MAX)? {
            let record = stored.record;
            jobs.push(SignatureJob {
                key: certificate.device_key,
                message: record.signed_message()?,
                signature: record.signature,
            });
            if let Some(code) = record.code.as_deref() {
                let text = format!(
                    "{}{}",
                    crate::domain::code::CODE_PREFIX,
                    crate::domain::base32::encode(code)
                );
                let code = crate::domain::code::AttendanceCode::parse(&text)?;
                jobs.push(SignatureJob {
                    key: event_key,
                    message: code.signed_message(event_id)?,
                    signature: code.signature,
                });
            }
        }
        Ok(jobs)
    }

    /// Serves a hub on 127.0.0.1 and syncs the whole queue to it: once per filled queue, since
    /// a synced award is never sent again.
    pub fn sync_to_loopback_hub(&self) -> anyhow::Result<Synced> {
        let hub_db = self.dir.join("hub.sqlite");
        let runtime = bench_runtime()?;
        let (address, stop) = serve_hub(&runtime, &hub_db, &self.event)?;
        let summary = runtime.block_on(self.sync_to(address))?;
        let _ = stop.send(());
        anyhow::ensure!(
            summary.synced == self.awards,
            "only {} of {} synced",
            summary.synced,
            self.awards
        );
        let hub_awards = HubStore::open(&hub_db, self.event.definition.clone())?.award_count()?;
        Ok(Synced { hub_awards })
    }

    /// The whole queue's sync to the hub at `address`, as a task of its own.
    fn sync_to(
        &self,
        address: std::net::SocketAddr,
    ) -> impl std::future::Future<Output = anyhow::Result<crate::sync::client::SyncSummary>> + Send + 'static {
        let queue = self.kiosk_dir.join("queue.sqlite");
        let settings = SyncSettings::new(
            &format!("http://{address}"),
            &self.event.definition.event.id,
            &self.certificate,
        )
        .trusting(self.event.definition.public_keys());
        async move {
            let store = Arc::new(Mutex::new(Store::open(&queue)?));
            Ok(sync_once(&store, &settings, &http_client(settings.request_timeout)?, |_, _| {}).await?)
        }
    }
}

fn bench_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Serves a hub for `event` with its database at `hub_db` on 127.0.0.1; sending on the
/// returned channel stops it.
fn serve_hub(
    runtime: &tokio::runtime::Runtime,
    hub_db: &std::path::Path,
    event: &EventDir,
) -> anyhow::Result<(std::net::SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let address = listener.local_addr()?;
    let state: SharedHub = Arc::new(HubState::new(
        HubStore::open(hub_db, event.definition.clone())?,
        event,
        &format!("http://{address}"),
        Box::new(|| chrono::Utc::now().timestamp_millis()),
    )?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(crate::hub::server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Ok((address, stop))
}

/// Kiosks with filled queues, all of one event, ready to sync at once.
pub struct FilledFleet {
    dir: std::path::PathBuf,
    event: EventDir,
    kiosks: Vec<FilledKiosk>,
}

#[derive(Debug, Clone)]
pub struct FleetBenchReport {
    pub kiosks: usize,
    pub records_per_kiosk: usize,
    pub fill_seconds: f64,
    /// From the first upload to the last answer.
    pub sync_seconds: f64,
    pub synced: usize,
    /// Records refused or left queued, plus kiosks whose sync failed.
    pub failed: usize,
    pub hub_awards: u64,
    pub signatures: usize,
    pub floor_seconds: f64,
}

impl FleetBenchReport {
    pub fn ratio(&self) -> f64 {
        self.sync_seconds / self.floor_seconds
    }
}

impl FilledFleet {
    /// `kiosks` kiosks of the demo event in `dir`, each with `records` awards of its own codes.
    pub fn fill(kiosks: usize, records: usize, dir: &std::path::Path) -> anyhow::Result<FilledFleet> {
        let event = EventDir::demo(dir)?;
        let kiosks = (0..kiosks)
            .map(|index| {
                FilledKiosk::fill_kiosk(
                    &event,
                    dir,
                    &format!("bench-kiosk-{index}"),
                    (index * records) as u64,
                    records,
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(FilledFleet {
            dir: dir.to_path_buf(),
            event,
            kiosks,
        })
    }

    /// Every kiosk syncs its whole queue to one hub on 127.0.0.1, all at once.
    pub fn sync_at_once(&self) -> anyhow::Result<(f64, usize, usize, u64)> {
        let hub_db = self.dir.join("hub.sqlite");
        let runtime = bench_runtime()?;
        let (address, stop) = serve_hub(&runtime, &hub_db, &self.event)?;
        let started = Instant::now();
        let tasks: Vec<_> = self
            .kiosks
            .iter()
            .map(|kiosk| runtime.spawn(kiosk.sync_to(address)))
            .collect();
        let results: Vec<anyhow::Result<crate::sync::client::SyncSummary>> = runtime.block_on(async {
            let mut results = Vec::with_capacity(tasks.len());
            for task in tasks {
                results.push(task.await.map_err(anyhow::Error::from).and_then(|result| result));
            }
            results
        });
        let seconds = started.elapsed().as_secs_f64();
        let _ = stop.send(());
        let mut synced = 0;
        let mut failed = 0;
        for (kiosk, result) in self.kiosks.iter().zip(results) {
            match result {
                Ok(summary) => {
                    synced += summary.synced;
                    failed += kiosk.awards.saturating_sub(summary.synced);
                }
                Err(_) => failed += kiosk.awards,
            }
        }
        let hub_awards = HubStore::open(&hub_db, self.event.definition.clone())?.award_count()?;
        Ok((seconds, synced, failed, hub_awards))
    }
}

/// `kiosks` kiosks with `records` awards each sync to one hub at once; then the floor for
/// all their signatures.
pub fn bench_fleet(kiosks: usize, records: usize, dir: &std::path::Path) -> anyhow::Result<FleetBenchReport> {
    let started = Instant::now();
    let fleet = FilledFleet::fill(kiosks, records, dir)?;
    let fill_seconds = started.elapsed().as_secs_f64();
    let mut jobs = Vec::new();
    for kiosk in &fleet.kiosks {
        jobs.extend(kiosk.signature_jobs()?);
    }
    let (sync_seconds, synced, failed, hub_awards) = fleet.sync_at_once()?;
    let floor_seconds = one_core_floor(&jobs)?;
    Ok(FleetBenchReport {
        kiosks,
        records_per_kiosk: records,
        fill_seconds,
        sync_seconds,
        synced,
        failed,
        hub_awards,
        signatures: jobs.len(),
        floor_seconds,
    })
}
