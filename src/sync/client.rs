//! The sync executor: carries out the planner's batches against the hub over HTTP.
//! Transient errors (network, timeouts, 5xx, unreadable answers) leave records queued for
//! a later attempt; permanent ones (a record the hub refuses) are kept with their reason.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::enrol::{apply_to_store, fetch_bundle, signed_bundle_request, BundleTarget, BundleUpdate, EnrolError};
pub use super::http::{describe_http_error, http_client, read_capped, with_store, SharedStore, SyncError};
use super::http::{hub_client, REQUEST_TIMEOUT};
use super::plan::{dispositions, plan_batches, Backoff, Batch, Disposition, Pending};
use super::protocol::{UploadRequest, UploadResponse, MAX_ANSWER_BYTES, UPLOAD_PATH};
use crate::domain::award::Recipient;
use crate::domain::clock::{Clock, SystemClock};
use crate::store::{Store, StoredRecord};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    pub sent: usize,
    pub synced: usize,
    pub failed: usize,
    pub remaining: usize,
    pub chain_warnings: Vec<String>,
    /// What the hub's signed bundle brought (revocations, event changes), if fetched.
    pub bundle: Option<BundleUpdate>,
    /// Why the bundle could not be applied; records were synced all the same.
    pub bundle_problem: Option<String>,
    /// Whether a phone link made now works within seconds, from this pass's heartbeat.
    pub claim_address: ClaimAddress,
    /// How the hub said it will email the badges (kept in the queue's settings).
    pub email_delivery: Option<crate::sync::protocol::EmailDelivery>,
}

/// What the last pass says about the event's claim address (where phone links point).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClaimAddress {
    /// This kiosk syncs to the claim address itself, or its hub vouched that what it holds
    /// reaches the claim address within seconds.
    Reached,
    /// The hub does not reach the claim address now (its relay failing or not recently
    /// successful), or it said nothing about it (an older hub, another address).
    #[default]
    NotReached,
}

/// The kiosk's last heartbeat counter (a queue setting): the next is larger.
const HEARTBEAT_SETTING: &str = "sync.heartbeat_counter";

#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub hub_url: String,
    pub event_id: String,
    pub certificate_hex: String,
    pub batch_records: usize,
    pub batch_bytes: usize,
    pub request_timeout: Duration,
    /// Fetch and apply the hub's signed bundle after each pass.
    pub bundle: Option<BundleTarget>,
    /// A private CA (PEM) the hub's HTTPS certificate chains to, for venue hubs.
    pub hub_ca_pem: Option<Vec<u8>>,
    /// SHA-256 of the hub's own TLS certificate, from the signed enrolment code: the only
    /// certificate this kiosk accepts (unless a venue CA is configured).
    pub tls_pin: Option<[u8; 32]>,
    /// The event keys the hub's answers must be signed with.
    pub trusted_keys: Vec<ed25519_dalek::VerifyingKey>,
    /// The kiosk's device key, to sign its bundle requests.
    pub device_key: Option<ed25519_dalek::SigningKey>,
    /// What the kiosk tells the hub's fleet view: its stand, if it has one.
    pub stand: Option<String>,
    /// Where this kiosk's phone links point (`KioskCore::claim_base`); None: the hub's.
    pub claim_base: Option<String>,
}

impl SyncSettings {
    pub fn new(hub_url: &str, event_id: &str, certificate_hex: &str) -> Self {
        Self {
            hub_url: hub_url.trim_end_matches('/').to_owned(),
            event_id: event_id.to_owned(),
            certificate_hex: certificate_hex.to_owned(),
            // Large enough that the hub's batches of signatures and its one commit per upload
            // pay off (about 1.3 MB of JSON for 2,000 version 2 records, within batch_bytes).
            batch_records: 2_000,
            batch_bytes: super::protocol::MAX_UPLOAD_BYTES / 2,
            request_timeout: REQUEST_TIMEOUT,
            bundle: None,
            hub_ca_pem: None,
            tls_pin: None,
            trusted_keys: Vec::new(),
            device_key: None,
            stand: None,
            claim_base: None,
        }
    }

    /// Accept answers signed by these event keys (and no others).
    pub fn trusting(mut self, keys: Vec<ed25519_dalek::VerifyingKey>) -> Self {
        self.trusted_keys = keys;
        self
    }

    /// Sign bundle requests with this device key.
    pub fn signing_with(mut self, device_key: ed25519_dalek::SigningKey) -> Self {
        self.device_key = Some(device_key);
        self
    }

    /// Accept only the hub certificate whose SHA-256 is `pin`.
    pub fn pinned(mut self, pin: Option<[u8; 32]>) -> Self {
        self.tls_pin = pin;
        self
    }

    /// The HTTP client for this hub: the usual timeouts, plus the venue's own CA if any.
    pub fn http_client(&self) -> Result<reqwest::Client, SyncError> {
        hub_client(
            &self.hub_url,
            self.request_timeout,
            self.tls_pin,
            self.hub_ca_pem.as_deref(),
        )
    }
}

async fn upload(
    http: &reqwest::Client,
    settings: &SyncSettings,
    request: &UploadRequest,
) -> Result<UploadResponse, SyncError> {
    let response = http
        .post(format!("{}{UPLOAD_PATH}", settings.hub_url))
        .json(request)
        .send()
        .await
        .map_err(|error| {
            SyncError::Transient(if error.is_timeout() {
                "the hub did not answer in time".into()
            } else {
                format!(
                    "cannot reach the hub at {}: {}",
                    settings.hub_url,
                    describe_http_error(&error)
                )
            })
        })?;
    let status = response.status();
    let body = read_capped(response, MAX_ANSWER_BYTES).await?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|_| SyncError::Transient("the hub answered something unreadable; will retry".into()));
    }
    let reason = serde_json::from_slice::<super::protocol::ErrorBody>(&body)
        .map(|body| body.error)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    match status.as_u16() {
        401 | 403 => Err(SyncError::Blocked(format!(
            "the hub refuses this kiosk ({reason}): enrol it again from the hub"
        ))),
        409 | 422 => Err(SyncError::Blocked(format!(
            "the hub refuses this batch ({reason}): check the event configuration"
        ))),
        _ => Err(SyncError::Transient(format!(
            "the hub had a problem ({reason}); will retry"
        ))),
    }
}

/// The upload of `records` as the hub takes it, from a sync or a USB export: each record's
/// signed bytes, and beside it the typed email the kiosk still holds, when the record
/// signed a hash of one (the hub checks each against that hash).
pub fn upload_request<'a>(
    event_id: &str,
    certificate_hex: &str,
    records: impl IntoIterator<Item = &'a StoredRecord>,
) -> UploadRequest {
    let mut emails = std::collections::BTreeMap::new();
    let records = records
        .into_iter()
        .filter_map(|stored| {
            let bytes = stored.record.to_bytes().ok()?;
            if let (Some(email), Recipient::EmailHash(_)) = (&stored.email, &stored.record.content.recipient) {
                emails.insert(stored.record.sequence, email.clone());
            }
            Some(hex::encode(bytes))
        })
        .collect();
    UploadRequest {
        event_id: event_id.to_owned(),
        certificate: certificate_hex.to_owned(),
        records,
        emails,
        ..UploadRequest::default()
    }
}

/// The uploads for every queued record, in sequence order, per the planner.
pub fn prepare_uploads(
    store: &Store,
    settings: &SyncSettings,
) -> Result<Vec<(Batch, UploadRequest)>, crate::store::StoreError> {
    let pending = store.pending(usize::MAX)?;
    let sizes: Vec<Pending> = pending
        .iter()
        .map(|stored| Pending {
            sequence: stored.record.sequence,
            size: stored.record.to_bytes().map(|b| b.len()).unwrap_or(256),
        })
        .collect();
    let batches = plan_batches(&sizes, settings.batch_records, settings.batch_bytes);
    // Batches are consecutive runs of `pending`, in order.
    let mut records = pending.iter();
    Ok(batches
        .into_iter()
        .map(|batch| {
            let batch_records = records.by_ref().take(batch.sequences.len());
            let request = upload_request(&settings.event_id, &settings.certificate_hex, batch_records);
            (batch, request)
        })
        .collect())
}

/// Applies the hub's answer to one batch: synced, failed with reason, or left queued.
/// Returns (synced, failed).
pub fn apply_response(
    store: &mut Store,
    batch: &Batch,
    response: &UploadResponse,
) -> Result<(usize, usize), crate::store::StoreError> {
    let outcome = dispositions(batch, &response.answers);
    let synced: Vec<u64> = outcome
        .iter()
        .filter(|(_, d)| *d == Disposition::Synced)
        .map(|(s, _)| *s)
        .collect();
    store.mark_synced(&synced, response.hub_time_ms)?;
    // The hub holds these emails now (checked against the signed hashes): forget them here.
    let received: Vec<u64> = response
        .answers
        .iter()
        .filter(|answer| answer.email_received && synced.contains(&answer.sequence))
        .map(|answer| answer.sequence)
        .collect();
    store.forget_emails(&received)?;
    let mut failed = 0;
    for (sequence, disposition) in &outcome {
        match disposition {
            Disposition::Failed(reason) => {
                store.mark_failed(*sequence, reason)?;
                failed += 1;
            }
            Disposition::Retry(reason) => store.note_attempt(*sequence, reason)?,
            Disposition::Synced => {}
        }
    }
    // The hub's clock (signed with the answer, checked by the caller) is a trusted time
    // for boards without a real-time clock, within the event's dates, by a bounded step.
    store.take_hub_time(response.hub_time_ms, SystemClock.now_ms())?;
    Ok((synced.len(), failed))
}

/// One pass: sends every queued record in batches, applying each answer as it comes.
/// `progress(done, total)` is called after each batch.
pub async fn sync_once(
    store: &SharedStore,
    settings: &SyncSettings,
    http: &reqwest::Client,
    mut progress: impl FnMut(usize, usize) + Send,
) -> Result<SyncSummary, SyncError> {
    let prepared_settings = settings.clone();
    let uploads = with_store(store, move |store| prepare_uploads(store, &prepared_settings)).await?;
    let total: usize = uploads.iter().map(|(batch, _)| batch.sequences.len()).sum();
    let mut summary = SyncSummary {
        remaining: total,
        ..SyncSummary::default()
    };
    let mut done = 0;
    progress(0, total);
    let kiosk_id = hex::decode(&settings.certificate_hex)
        .ok()
        .and_then(|bytes| crate::domain::keys::KioskCertificate::from_bytes(&bytes).ok())
        .map(|certificate| certificate.kiosk_id)
        .unwrap_or_default();
    if settings.trusted_keys.is_empty() && total > 0 {
        return Err(SyncError::Blocked(
            "this kiosk knows no event key to check the hub's answers with: enrol it again".into(),
        ));
    }
    for (batch, mut request) in uploads {
        summary.sent += batch.sequences.len();
        let nonce: [u8; 32] = rand::random();
        request.nonce = Some(hex::encode(nonce));
        request.software_version = Some(env!("CARGO_PKG_VERSION").to_owned());
        request.queue_waiting = Some((total - done) as u64);
        request.kiosk_clock_ms = Some(chrono::Utc::now().timestamp_millis());
        request.stand = settings.stand.clone();
        let response = upload(http, settings, &request).await?;
        // A forged or replayed answer changes nothing: records stay queued with their emails.
        response
            .verify(&settings.event_id, &kiosk_id, &nonce, &settings.trusted_keys)
            .map_err(|failure| SyncError::Transient(failure.to_string()))?;
        summary.chain_warnings.extend(response.chain_warnings.iter().cloned());
        let count = batch.sequences.len();
        let delivery = response.email_delivery;
        summary.email_delivery = delivery.or(summary.email_delivery);
        let (synced, failed) = with_store(store, move |store| {
            let applied = apply_response(store, &batch, &response)?;
            // The done screen promises an email only as the hub last said it will send one.
            if let Some(delivery) = delivery {
                store.set_setting(crate::sync::protocol::EmailDelivery::SETTING, delivery.name())?;
            }
            Ok(applied)
        })
        .await?;
        summary.synced += synced;
        summary.failed += failed;
        done += count;
        summary.remaining = total - done;
        progress(done, total);
    }
    // Every pass ends with a heartbeat, records or not: the hub's fleet view gets the
    // queue as it is now, and the answer says whether the claim address is reached.
    let heartbeat = send_heartbeat(http, settings, store, &kiosk_id).await?;
    summary.claim_address = claim_address(settings, heartbeat.claim_reach.as_ref());
    if let Some(target) = &settings.bundle {
        match update_from_hub(http, settings, target, store).await {
            Ok(update) => summary.bundle = Some(update),
            Err(error) => summary.bundle_problem = Some(error.to_string()),
        }
    }
    Ok(summary)
}

/// The pass's last upload: no records, the kiosk's figures after the pass (queue, version,
/// clock, stand) signed with its device key over a counter larger than any before and the
/// upload's nonce. The answer must be signed for this nonce like any other.
async fn send_heartbeat(
    http: &reqwest::Client,
    settings: &SyncSettings,
    store: &SharedStore,
    kiosk_id: &str,
) -> Result<UploadResponse, SyncError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let (waiting, counter) = with_store(store, move |store| {
        let waiting = store.counts()?.queued;
        let last = store
            .setting(HEARTBEAT_SETTING)?
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or(0);
        let counter = u64::try_from(now_ms).unwrap_or(0).max(last.saturating_add(1));
        store.set_setting(HEARTBEAT_SETTING, &counter.to_string())?;
        Ok((waiting, counter))
    })
    .await?;
    let nonce: [u8; 32] = rand::random();
    let mut request = upload_request(&settings.event_id, &settings.certificate_hex, std::iter::empty());
    request.nonce = Some(hex::encode(nonce));
    request.software_version = Some(env!("CARGO_PKG_VERSION").to_owned());
    request.queue_waiting = Some(waiting);
    request.kiosk_clock_ms = Some(now_ms);
    request.stand = settings.stand.clone();
    if let Some(key) = &settings.device_key {
        request.sign_heartbeat(kiosk_id, counter, key);
    }
    let response = upload(http, settings, &request).await?;
    if !settings.trusted_keys.is_empty() {
        response
            .verify(&settings.event_id, kiosk_id, &nonce, &settings.trusted_keys)
            .map_err(|failure| SyncError::Transient(failure.to_string()))?;
    }
    Ok(response)
}

/// Whether a phone link this kiosk makes now works within seconds: it points at the hub
/// this kiosk just reached, or the hub says that what it holds reaches that address.
pub fn claim_address(settings: &SyncSettings, reach: Option<&super::protocol::ClaimReach>) -> ClaimAddress {
    let base = |url: &str| url.trim().trim_end_matches('/').to_owned();
    let claim_base = settings
        .claim_base
        .as_deref()
        .map_or_else(|| base(&settings.hub_url), base);
    if claim_base == base(&settings.hub_url)
        || reach.is_some_and(|reach| reach.reached && base(&reach.claim_url) == claim_base)
    {
        ClaimAddress::Reached
    } else {
        ClaimAddress::NotReached
    }
}

/// Fetches the hub's signed bundle, checks it against the event keys the kiosk trusts, and
/// applies it (revocations, trusted time, the enrolled event's files).
async fn update_from_hub(
    http: &reqwest::Client,
    settings: &SyncSettings,
    target: &BundleTarget,
    store: &SharedStore,
) -> Result<BundleUpdate, EnrolError> {
    let auth = match &settings.device_key {
        Some(key) => signed_bundle_request(
            &target.event_id,
            &settings.certificate_hex,
            key,
            chrono::Utc::now().timestamp_millis(),
        ),
        None => Vec::new(),
    };
    let answer = fetch_bundle(http, &settings.hub_url, &auth).await?;
    let bundle = answer.bundle.verify(&target.trusted_keys, Some(&target.event_id))?;
    let enrolled_dir = target.enrolled_dir.clone();
    let store = std::sync::Arc::clone(store);
    tokio::task::spawn_blocking(move || -> Result<BundleUpdate, EnrolError> {
        let new_revocations = {
            let guard = store.lock().map_err(|_| {
                EnrolError::Hub(SyncError::Blocked("the queue is unavailable: restart the kiosk".into()))
            })?;
            apply_to_store(&guard, &bundle)?
        };
        let event_changed = match &enrolled_dir {
            Some(dir) => crate::eventdir::install_bundle(dir, &bundle)?,
            None => false,
        };
        Ok(BundleUpdate {
            new_revocations,
            event_changed,
        })
    })
    .await
    .map_err(|error| EnrolError::Hub(SyncError::Transient(error.to_string())))?
}

/// What the organiser panel shows about sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStatus {
    pub running: bool,
    pub last_error: Option<String>,
    pub last_summary: Option<SyncSummary>,
    pub progress: Option<(usize, usize)>,
}

/// Commands to the background sync task.
#[derive(Debug)]
pub enum SyncCommand {
    SyncNow,
    /// A new award was saved: sync it within seconds (see `schedule`).
    AwardSaved,
    Shutdown,
}

/// The background task: syncs on a ticker, a few seconds after each new award, and on
/// demand, backing off after failures. When to run is decided by `schedule::next_pass_ms`.
pub async fn run_background(
    store_path: PathBuf,
    settings: SyncSettings,
    policy: super::schedule::SyncPolicy,
    mut commands: tokio::sync::mpsc::Receiver<SyncCommand>,
    status: impl Fn(SyncStatus) + Send + Sync + 'static,
) {
    use super::schedule::{next_pass_ms, SyncTimes};
    let store = match Store::open(&store_path) {
        Ok(store) => Arc::new(Mutex::new(store)),
        Err(error) => {
            status(SyncStatus {
                last_error: Some(error.to_string()),
                ..SyncStatus::default()
            });
            return;
        }
    };
    let http = match settings.http_client() {
        Ok(http) => http,
        Err(error) => {
            status(SyncStatus {
                last_error: Some(error.to_string()),
                ..SyncStatus::default()
            });
            return;
        }
    };
    let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(300));
    let origin = tokio::time::Instant::now();
    let now_ms = move || u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut times = SyncTimes::default();
    loop {
        let next = origin + Duration::from_millis(next_pass_ms(&policy, &times, now_ms()));
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            command = commands.recv() => match command {
                Some(SyncCommand::SyncNow) => backoff.reset(),
                Some(SyncCommand::AwardSaved) => {
                    times.award(now_ms());
                    continue;
                }
                Some(SyncCommand::Shutdown) | None => return,
            },
        }
        times.pass_started();
        status(SyncStatus {
            running: true,
            ..SyncStatus::default()
        });
        let reporter = |done, total| {
            status(SyncStatus {
                running: true,
                progress: Some((done, total)),
                ..SyncStatus::default()
            })
        };
        match sync_once(&store, &settings, &http, reporter).await {
            Ok(summary) => {
                backoff.reset();
                status(SyncStatus {
                    last_summary: Some(summary),
                    ..SyncStatus::default()
                });
                times.pass_ended(now_ms(), policy.interval);
            }
            Err(error) => {
                let delay = backoff.next_delay(rand::random::<f64>());
                status(SyncStatus {
                    last_error: Some(error.to_string()),
                    ..SyncStatus::default()
                });
                times.pass_ended(now_ms(), delay);
            }
        }
    }
}
