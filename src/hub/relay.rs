//! A venue hub relays its kiosks' records to the organiser's public hub (the one that
//! serves the event's claim pages), over the kiosks' own upload protocol: each record goes
//! verbatim, with the certificate of the device key that signed it and the clear email the
//! venue hub still holds, so the public hub checks exactly what the kiosk signed and
//! recomputes everything else (pathways included) itself.
//!
//! Exactly once, like a kiosk's sync: a pure plan decides what to send; the executor sends
//! each upload with a fresh nonce and marks records only on the public hub's answer signed
//! with the event key for that very upload. A lost answer, or a crash between the answer
//! and the mark, leaves records unmarked; sending them again is answered "accepted" by the
//! public hub without storing anything twice (its ingestion is idempotent).
//!
//! Trust: the public hub is the organiser's (it holds the event key). An answer that is not
//! signed by the event key marks nothing; an error status (unsigned) marks nothing either,
//! so an impostor can only delay the relay, never make the venue hub forget a record.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use thiserror::Error;

use super::state::{with_store, SharedHub};
use super::store::{RelayCandidate, RelayMark};
use crate::domain::award::{AwardRecord, Recipient};
use crate::domain::keys::KioskCertificate;
use crate::domain::revocations::SignedRevocations;
use crate::hub::signatures::{SignatureChecker, SignatureJob};
use crate::sync::client::{describe_http_error, read_capped};
use crate::sync::plan::{dispositions, plan_batches, Backoff, Batch, Disposition, Pending};
use crate::sync::protocol::{
    ErrorBody, UploadRequest, UploadResponse, MAX_ANSWER_BYTES, REVOCATIONS_PATH, UPLOAD_PATH,
};
use crate::sync::schedule::{next_pass_ms, SyncPolicy, SyncTimes};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RelayError {
    /// Worth retrying later (network, timeouts, 5xx, unsigned or mis-signed answers):
    /// nothing was marked.
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help until the organiser acts (wrong address, event, TLS
    /// settings): nothing was marked.
    #[error("{0}")]
    Blocked(String),
    /// The public hub refuses one kiosk's certificate (revoked there, or a newer device
    /// under its id): that kiosk's records wait, the others go on. Unsigned, so nothing
    /// is marked refused for good on its word.
    #[error("{0}")]
    KioskRefused(String),
}

/// How the relay reaches the public hub.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The public hub's address (https://…), without a trailing slash.
    pub target: String,
    /// SHA-256 of the public hub's own TLS certificate, for a self-signed one; without
    /// it the certificate must chain to a public root (webpki roots).
    pub pin: Option<[u8; 32]>,
    /// Allow an http:// target: records, visitors' emails and claim tokens then cross
    /// the network in clear.
    pub allow_plain_http: bool,
    pub request_timeout: Duration,
    pub batch_records: usize,
    pub batch_bytes: usize,
    /// How long a successful pass vouches for the public hub (kiosks' "ready now"): two
    /// periodic passes, at least ten minutes.
    pub fresh_for_ms: i64,
}

impl RelaySettings {
    pub fn new(target: &str) -> Self {
        Self {
            target: target.trim().trim_end_matches('/').to_owned(),
            pin: None,
            allow_plain_http: false,
            request_timeout: Duration::from_secs(30),
            batch_records: 500,
            batch_bytes: crate::sync::protocol::MAX_UPLOAD_BYTES / 2,
            fresh_for_ms: 600_000,
        }
    }

    pub fn pinned(mut self, pin: Option<[u8; 32]>) -> Self {
        self.pin = pin;
        self
    }

    pub fn plain_http_allowed(mut self, allowed: bool) -> Self {
        self.allow_plain_http = allowed;
        self
    }

    /// The HTTPS client for the public hub: public roots, or only the pinned certificate.
    pub fn http_client(&self) -> Result<reqwest::Client, RelayError> {
        if self.target.starts_with("http://") {
            if !self.allow_plain_http {
                return Err(RelayError::Blocked(format!(
                    "{} is plain HTTP: records, visitors' emails and claim links would cross the network in clear. \
                     Give the public hub's https:// address, or add --relay-insecure-http (--insecure-http for \
                     `hub relay`) if it sits behind a TLS proxy on this machine",
                    self.target
                )));
            }
            tracing::warn!("relaying to {} over plain HTTP", self.target);
        } else if !self.target.starts_with("https://") {
            return Err(RelayError::Blocked(format!(
                "{:?} is not a hub address: give the public hub's https:// address",
                self.target
            )));
        }
        // No redirects (see `http_body::client_builder`): records and emails go to this
        // address or nowhere.
        let mut builder = crate::http_body::client_builder(
            self.request_timeout,
            Duration::from_secs(10),
            concat!("badge-kiosk-relay/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(pin) = self.pin {
            builder = builder.use_preconfigured_tls(crate::sync::pinning::pinned_client_config(pin));
        }
        builder
            .build()
            .map_err(|error| RelayError::Blocked(format!("cannot set up HTTPS: {error}")))
    }
}

/// One upload of the plan: records of one device, in sequence order, and their hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayUpload {
    pub kiosk_id: String,
    /// Without its nonce: the executor draws a fresh one for every attempt.
    pub request: UploadRequest,
    pub batch: Batch,
    /// The record hash of each sequence in `batch`.
    pub hashes: BTreeMap<u64, Vec<u8>>,
}

/// What a pass will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayPlan {
    pub uploads: Vec<RelayUpload>,
    /// Records whose device certificate this hub never kept (received before it kept
    /// certificates): they go once their kiosk uploads anything again. (kiosk id, sequence)
    pub without_certificate: Vec<(String, u64)>,
    /// Records this hub cannot read back (never expected): kept, never sent.
    pub unreadable: usize,
    /// Records left for a later pass because another record of the same device has the
    /// same sequence number (a fork kept for review): an answer names only the sequence.
    pub deferred: usize,
}

impl RelayPlan {
    pub fn records(&self) -> usize {
        self.uploads.iter().map(|upload| upload.batch.sequences.len()).sum()
    }
}

/// Groups the records not yet relayed per device certificate (oldest certificate first,
/// so a replaced device's records reach the public hub before its successor's, as they
/// reached this hub), in sequence order, into uploads within the hub's limits.
pub fn plan_relay(
    event_id: &str,
    candidates: &[RelayCandidate],
    certificates: &[Vec<u8>],
    max_records: usize,
    max_bytes: usize,
) -> RelayPlan {
    plan_relay_with(
        event_id,
        candidates,
        certificates,
        max_records,
        max_bytes,
        &SignatureChecker::default(),
    )
}

/// [`plan_relay`], checking which certificate signed each record with `checker`: the hub's
/// own, which verified these records at upload, so none is verified again.
pub fn plan_relay_with(
    event_id: &str,
    candidates: &[RelayCandidate],
    certificates: &[Vec<u8>],
    max_records: usize,
    max_bytes: usize,
    checker: &SignatureChecker,
) -> RelayPlan {
    let certificates: Vec<(KioskCertificate, &Vec<u8>)> = certificates
        .iter()
        .filter_map(|bytes| Some((KioskCertificate::from_bytes(bytes).ok()?, bytes)))
        .collect();
    let mut plan = RelayPlan::default();
    // Certificate index → (sequence → record); BTreeMaps keep both orders.
    let mut groups: BTreeMap<usize, BTreeMap<u64, (AwardRecord, &RelayCandidate)>> = BTreeMap::new();
    // Every (record, certificate of its kiosk id) pair, checked in one batch.
    let mut parsed = Vec::with_capacity(candidates.len());
    let mut jobs = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let Ok(record) = AwardRecord::from_bytes(&candidate.signed_bytes) else {
            plan.unreadable += 1;
            continue;
        };
        let first_job = jobs.len();
        if let Ok(message) = record.signed_message() {
            for (index, (certificate, _)) in certificates.iter().enumerate() {
                if certificate.kiosk_id == record.kiosk_id {
                    jobs.push((
                        index,
                        SignatureJob {
                            key: certificate.device_key,
                            message: message.clone(),
                            signature: record.signature,
                        },
                    ));
                }
            }
        }
        parsed.push((record, candidate, first_job..jobs.len()));
    }
    let genuine = checker.check(&jobs.iter().map(|(_, job)| job.clone()).collect::<Vec<_>>());
    for (record, candidate, range) in parsed {
        let certificate = range
            .clone()
            .find(|&job| genuine.get(job).copied().unwrap_or(false))
            .and_then(|job| jobs.get(job).map(|(index, _)| *index));
        let Some(index) = certificate else {
            plan.without_certificate
                .push((record.kiosk_id.clone(), record.sequence));
            continue;
        };
        let group = groups.entry(index).or_default();
        if group.contains_key(&record.sequence) {
            plan.deferred += 1;
            continue;
        }
        group.insert(record.sequence, (record, candidate));
    }
    let mut order: Vec<usize> = groups.keys().copied().collect();
    order.sort_by_key(|index| {
        let (certificate, _) = &certificates[*index];
        (certificate.issued_at, certificate.kiosk_id.clone())
    });
    for index in order {
        let (certificate, certificate_bytes) = &certificates[index];
        let Some(records) = groups.remove(&index) else {
            continue;
        };
        let pending: Vec<Pending> = records
            .values()
            .map(|(record, candidate)| Pending {
                sequence: record.sequence,
                size: candidate.signed_bytes.len(),
            })
            .collect();
        for batch in plan_batches(&pending, max_records, max_bytes) {
            let mut request = UploadRequest {
                event_id: event_id.to_owned(),
                certificate: hex::encode(certificate_bytes),
                ..UploadRequest::default()
            };
            let mut hashes = BTreeMap::new();
            for sequence in &batch.sequences {
                let Some((record, candidate)) = records.get(sequence) else {
                    continue;
                };
                request.records.push(hex::encode(&candidate.signed_bytes));
                // Only beside a record that signed an email's hash: the public hub refuses
                // an email sent with any other record.
                if let (Some(email), Recipient::EmailHash(_)) = (&candidate.email, &record.content.recipient) {
                    request.emails.insert(*sequence, email.clone());
                }
                if request.stand.is_none() {
                    request.stand.clone_from(&candidate.kiosk_stand);
                }
                hashes.insert(*sequence, candidate.record_hash.clone());
            }
            plan.uploads.push(RelayUpload {
                kiosk_id: certificate.kiosk_id.clone(),
                request,
                batch,
                hashes,
            });
        }
    }
    plan
}

/// What the public hub's answer means for each record of one upload.
pub fn relay_marks(upload: &RelayUpload, response: &UploadResponse) -> Vec<(Vec<u8>, RelayMark)> {
    dispositions(&upload.batch, &response.answers)
        .into_iter()
        .filter_map(|(sequence, disposition)| {
            let hash = upload.hashes.get(&sequence)?.clone();
            match disposition {
                Disposition::Synced => Some((hash, RelayMark::Relayed)),
                Disposition::Failed(reason) => Some((hash, RelayMark::Refused(reason))),
                Disposition::Retry(_) => None,
            }
        })
        .collect()
}

/// Sends one upload to the public hub and returns its answer (not yet verified).
pub trait RelayTransport: Send + Sync {
    fn upload(&self, request: &UploadRequest) -> impl Future<Output = Result<UploadResponse, RelayError>> + Send;

    /// Sends the organiser's revocations (signed by the event key). A transport that cannot
    /// says so: the relay reports it and its records still go.
    fn revocations(&self, signed: &SignedRevocations) -> impl Future<Output = Result<(), RelayError>> + Send {
        let _ = signed;
        async {
            Err(RelayError::Blocked(
                "this relay transport cannot send revocations".into(),
            ))
        }
    }
}

/// The real transport: HTTPS to the public hub's upload path.
pub struct HttpTransport {
    client: reqwest::Client,
    target: String,
}

impl HttpTransport {
    pub fn new(settings: &RelaySettings) -> Result<Self, RelayError> {
        Ok(Self {
            client: settings.http_client()?,
            target: settings.target.clone(),
        })
    }
}

impl RelayTransport for HttpTransport {
    async fn revocations(&self, signed: &SignedRevocations) -> Result<(), RelayError> {
        let response = self
            .client
            .post(format!("{}{REVOCATIONS_PATH}", self.target))
            .json(signed)
            .send()
            .await
            .map_err(|error| {
                RelayError::Transient(format!(
                    "cannot reach the public hub at {}: {}",
                    self.target,
                    describe_http_error(&error)
                ))
            })?;
        let status = response.status();
        let body = read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|error| RelayError::Transient(error.to_string()))?;
        if status.is_success() {
            return Ok(());
        }
        let reason = serde_json::from_slice::<ErrorBody>(&body)
            .map(|body| body.error)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        Err(match status.as_u16() {
            404 | 405 => RelayError::Blocked(format!(
                "the public hub at {} does not take revocations ({reason}): update badge-kiosk there",
                self.target
            )),
            400..=499 => RelayError::Blocked(format!("the public hub refuses the revocations ({reason})")),
            _ => RelayError::Transient(format!("the public hub had a problem ({reason}); will retry")),
        })
    }

    async fn upload(&self, request: &UploadRequest) -> Result<UploadResponse, RelayError> {
        let response = self
            .client
            .post(format!("{}{UPLOAD_PATH}", self.target))
            .json(request)
            .send()
            .await
            .map_err(|error| {
                RelayError::Transient(if error.is_timeout() {
                    format!("the public hub at {} did not answer in time", self.target)
                } else {
                    format!(
                        "cannot reach the public hub at {}: {}",
                        self.target,
                        describe_http_error(&error)
                    )
                })
            })?;
        let status = response.status();
        let body = read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|error| RelayError::Transient(error.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|_| {
                RelayError::Transient(format!(
                    "{} answered something that is not a hub's answer: is it the public hub's address?",
                    self.target
                ))
            });
        }
        let reason = serde_json::from_slice::<ErrorBody>(&body)
            .map(|body| body.error)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        Err(match status.as_u16() {
            401 | 403 => RelayError::KioskRefused(reason),
            404 | 405 => RelayError::Blocked(format!(
                "{} has no hub upload path ({reason}): check the public hub's address",
                self.target
            )),
            409 | 422 => RelayError::Blocked(format!(
                "the public hub refuses the upload ({reason}): does it serve the same event as this hub?"
            )),
            _ => RelayError::Transient(format!("the public hub had a problem ({reason}); will retry")),
        })
    }
}

/// The figures of one relay pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelaySummary {
    /// Records sent (each attempt of a pass counts once).
    pub sent: usize,
    /// The public hub holds them now (stored, or already held from an earlier attempt).
    pub relayed: usize,
    /// Of the relayed: the public hub already held that badge for that code from another
    /// kiosk (kept there as evidence, not awarded twice).
    pub duplicates: usize,
    /// Refused for good by the public hub (signed answer), with the reason kept.
    pub refused: usize,
    /// Records waiting for a later pass (no answer for them, or a kiosk refused).
    pub remaining: usize,
    /// Records without a kept certificate: they go after their kiosk's next upload.
    pub without_certificate: usize,
    /// Why some kiosks' records wait (the public hub refuses their certificate).
    pub kiosk_problems: Vec<String>,
    /// Revoked codes and kiosk devices the public hub was sent this pass (all of them, each
    /// pass: applying them again changes nothing there).
    pub revocations_sent: usize,
    /// Why the revocations did not reach the public hub this pass.
    pub revocations_problem: Option<String>,
}

/// One pass: every record not yet relayed goes, each upload marked on its signed answer.
/// `progress(done, total)` is called after each upload. How it ended is noted in the hub's
/// state (`RelaySignal::note_pass`), for the kiosks' "ready now".
pub async fn relay_once(
    hub: &SharedHub,
    settings: &RelaySettings,
    transport: &impl RelayTransport,
    progress: impl FnMut(usize, usize) + Send,
) -> Result<RelaySummary, RelayError> {
    let outcome = relay_pass(hub, settings, transport, progress).await;
    // A pass that reached no one (no record to send, no certificate to probe with) proves
    // nothing about the public hub: it is not noted.
    if !matches!(outcome, Ok((_, false))) {
        hub.relay
            .note_pass(&settings.target, outcome.is_ok(), settings.fresh_for_ms, (hub.clock)());
    }
    outcome.map(|(summary, _)| summary)
}

/// Proves the public hub is there and the organiser's when there is nothing to relay: an
/// upload without records (with a kiosk's certificate, which changes nothing there), whose
/// answer must be signed by the event key for its nonce.
async fn probe(
    settings: &RelaySettings,
    transport: &impl RelayTransport,
    event_id: &str,
    event_keys: &[ed25519_dalek::VerifyingKey],
    certificates: &[Vec<u8>],
) -> Result<bool, RelayError> {
    let mut last = Ok(false);
    for bytes in certificates {
        let Ok(certificate) = KioskCertificate::from_bytes(bytes) else {
            continue;
        };
        let nonce: [u8; 32] = rand::random();
        let request = UploadRequest {
            event_id: event_id.to_owned(),
            certificate: hex::encode(bytes),
            nonce: Some(hex::encode(nonce)),
            ..UploadRequest::default()
        };
        match transport.upload(&request).await {
            Ok(response) => {
                return response
                    .verify(event_id, &certificate.kiosk_id, &nonce, event_keys)
                    .map(|()| true)
                    .map_err(|failure| {
                        RelayError::Transient(format!(
                            "{failure}: the answer from {} is not the organiser's public hub's",
                            settings.target
                        ))
                    })
            }
            // That kiosk is refused there; another certificate may do.
            Err(RelayError::KioskRefused(reason)) => last = Err(RelayError::Transient(reason)),
            Err(error) => return Err(error),
        }
    }
    last
}

async fn relay_pass(
    hub: &SharedHub,
    settings: &RelaySettings,
    transport: &impl RelayTransport,
    mut progress: impl FnMut(usize, usize) + Send,
) -> Result<(RelaySummary, bool), RelayError> {
    let target = settings.target.clone();
    let (batch_records, batch_bytes) = (settings.batch_records, settings.batch_bytes);
    let (plan, event_id, event_keys, certificates) = with_store(hub, move |store, _| {
        let candidates = store.relay_candidates(&target)?;
        let certificates = store.kiosk_certificates()?;
        let event_id = store.event.event.id.clone();
        let checker = store.upload_checker();
        let plan = plan_relay_with(
            &event_id,
            &candidates,
            &certificates,
            batch_records,
            batch_bytes,
            checker.signatures(),
        );
        Ok((plan, event_id, store.event.public_keys(), certificates))
    })
    .await
    .map_err(|error| RelayError::Transient(error.to_string()))?;
    // Revocations first, on every pass (even one with no records to send): a kiosk or a code
    // revoked here must be refused there before anything else.
    let event_key = hub.event_key.clone();
    let revocations = with_store(hub, move |store, now| {
        let mut content = store.revocations()?;
        if content.codes.is_empty() && content.devices.is_empty() {
            return Ok(None);
        }
        let Some(event_key) = event_key else {
            return Err(super::store::HubError::BadRequest(
                "this hub has no event key to sign its revocations with: revoke on the public hub too \
                 (`badge-kiosk hub revoke`, `badge-kiosk hub kiosk revoke`)"
                    .into(),
            ));
        };
        content.signed_at_ms = now;
        let count = content.codes.len() + content.devices.len();
        SignedRevocations::sign(&content, &event_key)
            .map(|signed| Some((signed, count)))
            .map_err(|failure| super::store::HubError::Internal(failure.to_string()))
    })
    .await;
    let (revocations_sent, revocations_problem) = match revocations {
        Ok(Some((signed, count))) => match transport.revocations(&signed).await {
            Ok(()) => (count, None),
            Err(failure) => (0, Some(failure.to_string())),
        },
        Ok(None) => (0, None),
        Err(failure) => (0, Some(failure.to_string())),
    };
    if plan.uploads.is_empty() {
        let contacted = probe(settings, transport, &event_id, &event_keys, &certificates).await?;
        return Ok((
            RelaySummary {
                without_certificate: plan.without_certificate.len(),
                revocations_sent,
                revocations_problem,
                ..RelaySummary::default()
            },
            contacted,
        ));
    }
    let total = plan.records();
    let mut summary = RelaySummary {
        remaining: total,
        without_certificate: plan.without_certificate.len(),
        revocations_sent,
        revocations_problem,
        ..RelaySummary::default()
    };
    progress(0, total);
    let mut refused_kiosks = BTreeSet::new();
    let mut done = 0;
    for mut upload in plan.uploads {
        let count = upload.batch.sequences.len();
        if refused_kiosks.contains(&upload.request.certificate) {
            done += count;
            progress(done, total);
            continue;
        }
        let nonce: [u8; 32] = rand::random();
        // No software version, queue or clock: those describe the kiosk, and the relay is
        // not the kiosk (the public hub keeps what it knew of them).
        upload.request.nonce = Some(hex::encode(nonce));
        summary.sent += count;
        let response = match transport.upload(&upload.request).await {
            Ok(response) => response,
            Err(RelayError::KioskRefused(reason)) => {
                summary.kiosk_problems.push(format!(
                    "the public hub refuses kiosk {}'s certificate ({reason}): its records wait here",
                    crate::hub::trust::printable(&upload.kiosk_id)
                ));
                refused_kiosks.insert(upload.request.certificate.clone());
                done += count;
                progress(done, total);
                continue;
            }
            Err(error) => return Err(error),
        };
        // Only the organiser's hub, answering this very upload, may mark anything.
        response
            .verify(&event_id, &upload.kiosk_id, &nonce, &event_keys)
            .map_err(|failure| {
                RelayError::Transient(format!(
                    "{}: the answer from {} is not the organiser's public hub's (nothing was marked as relayed)",
                    failure, settings.target
                ))
            })?;
        let marks = relay_marks(&upload, &response);
        summary.relayed += marks.iter().filter(|(_, mark)| *mark == RelayMark::Relayed).count();
        summary.refused += marks.iter().filter(|(_, mark)| *mark != RelayMark::Relayed).count();
        summary.duplicates += response
            .answers
            .iter()
            .filter(|answer| {
                answer.status == crate::sync::protocol::RecordStatus::Duplicate
                    && upload.hashes.contains_key(&answer.sequence)
            })
            .count();
        let target = settings.target.clone();
        with_store(hub, move |store, now| store.mark_relay(&target, &marks, now))
            .await
            .map_err(|error| RelayError::Transient(error.to_string()))?;
        done += count;
        progress(done, total);
    }
    summary.remaining = total.saturating_sub(summary.relayed + summary.refused);
    Ok((summary, true))
}

/// The relay of `hub serve --relay-to`: a pass shortly after new records arrive
/// (debounced, as a kiosk's sync after an award), a periodic pass, and retries with
/// backoff after a failure. Runs until aborted.
pub fn spawn(hub: SharedHub, mut settings: RelaySettings, policy: SyncPolicy) -> tokio::task::JoinHandle<()> {
    settings.fresh_for_ms = i64::try_from(policy.interval.saturating_mul(2).as_millis())
        .unwrap_or(i64::MAX)
        .max(settings.fresh_for_ms);
    tokio::spawn(async move {
        let transport = match HttpTransport::new(&settings) {
            Ok(transport) => transport,
            Err(error) => {
                tracing::error!("relay to {} not started: {error}", settings.target);
                eprintln!("relay to {} not started: {error}", settings.target);
                return;
            }
        };
        let started = tokio::time::Instant::now();
        let now_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut times = SyncTimes::default();
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(300));
        loop {
            let next = next_pass_ms(&policy, &times, now_ms());
            let sleep = tokio::time::sleep_until(started + Duration::from_millis(next));
            tokio::select! {
                () = sleep => {}
                () = hub.relay.wake.notified() => {
                    times.award(now_ms());
                    continue;
                }
            }
            times.pass_started();
            match relay_once(&hub, &settings, &transport, |_, _| {}).await {
                Ok(summary) => {
                    backoff.reset();
                    if summary.sent > 0 || !summary.kiosk_problems.is_empty() {
                        tracing::info!(
                            "relay to {}: {} relayed, {} refused, {} waiting",
                            settings.target,
                            summary.relayed,
                            summary.refused,
                            summary.remaining
                        );
                    }
                    for problem in &summary.kiosk_problems {
                        tracing::warn!("relay to {}: {problem}", settings.target);
                    }
                    times.pass_ended(now_ms(), policy.interval);
                }
                Err(error) => {
                    let delay = match error {
                        RelayError::Blocked(_) => policy.interval,
                        _ => backoff.next_delay(rand::random::<f64>()),
                    };
                    tracing::warn!(
                        "relay to {} failed (next try in {} s): {error}",
                        settings.target,
                        delay.as_secs()
                    );
                    times.pass_ended(now_ms(), delay);
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::award::{AwardContent, RecordKind, GENESIS_HASH};
    use crate::sync::protocol::{RecordAnswer, RecordStatus};
    use ed25519_dalek::SigningKey;

    fn certificate(kiosk: &str, device: &SigningKey, issued_at: i64) -> Vec<u8> {
        let event_key = SigningKey::from_bytes(&[9; 32]);
        KioskCertificate::issue(&event_key, "ev", kiosk, device.verifying_key(), issued_at)
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn record(kiosk: &str, device: &SigningKey, sequence: u64, recipient: Recipient) -> RelayCandidate {
        let content = AwardContent {
            kind: RecordKind::AttendanceAward,
            event_id: "ev".into(),
            badge_id: "b".into(),
            code_id: vec![sequence as u8; 10],
            stand: "s".into(),
            recipient,
            created_at_ms: 1,
        };
        let record = AwardRecord::sign(device, kiosk, sequence, GENESIS_HASH, content).unwrap();
        let bytes = record.to_bytes().unwrap();
        RelayCandidate {
            record_hash: sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &bytes)).to_vec(),
            signed_bytes: bytes,
            email: Some("ana@example.org".into()),
            kiosk_stand: Some("stand-a".into()),
        }
    }

    #[test]
    fn records_go_with_the_certificate_of_the_key_that_signed_them_oldest_device_first() {
        let (old, new, other) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
            SigningKey::from_bytes(&[3; 32]),
        );
        let certificates = vec![
            certificate("hall-a", &new, 2_000),
            certificate("hall-a", &old, 1_000),
            certificate("hall-b", &other, 1_500),
        ];
        let email = Recipient::EmailHash(crate::domain::award::email_hash("ev", "ana@example.org"));
        let candidates = vec![
            record("hall-a", &new, 2, Recipient::ClaimToken([7; 16])),
            record("hall-a", &new, 1, email.clone()),
            record("hall-a", &old, 1, Recipient::ClaimToken([8; 16])),
            record("hall-b", &other, 1, email),
            // Signed by a device this hub has no certificate for.
            record(
                "hall-c",
                &SigningKey::from_bytes(&[4; 32]),
                5,
                Recipient::ClaimToken([9; 16]),
            ),
        ];
        let plan = plan_relay("ev", &candidates, &certificates, 500, usize::MAX);
        let shape: Vec<(String, Vec<u64>)> = plan
            .uploads
            .iter()
            .map(|upload| (upload.request.certificate.clone(), upload.batch.sequences.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (hex::encode(&certificates[1]), vec![1]),
                (hex::encode(&certificates[2]), vec![1]),
                (hex::encode(&certificates[0]), vec![1, 2]),
            ]
        );
        assert_eq!(plan.without_certificate, vec![("hall-c".to_owned(), 5)]);
        // Verbatim bytes, in sequence order; the email only beside the record that hashed it.
        let newest = &plan.uploads[2];
        assert_eq!(
            newest.request.records,
            vec![
                hex::encode(&candidates[1].signed_bytes),
                hex::encode(&candidates[0].signed_bytes)
            ]
        );
        assert_eq!(newest.request.emails.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert!(plan.uploads[0].request.emails.is_empty());
        assert_eq!(newest.request.stand.as_deref(), Some("stand-a"));
        assert!(plan.uploads.iter().all(|upload| upload.request.nonce.is_none()));
        assert_eq!(plan.records(), 4);
    }

    #[test]
    fn uploads_respect_the_hub_limits_and_an_empty_queue_sends_nothing() {
        let device = SigningKey::from_bytes(&[1; 32]);
        let certificates = vec![certificate("k", &device, 1)];
        let candidates: Vec<RelayCandidate> = (1..=7)
            .map(|sequence| record("k", &device, sequence, Recipient::ClaimToken([sequence as u8; 16])))
            .collect();
        let plan = plan_relay("ev", &candidates, &certificates, 3, usize::MAX);
        assert_eq!(
            plan.uploads
                .iter()
                .map(|upload| upload.batch.sequences.len())
                .collect::<Vec<_>>(),
            vec![3, 3, 1]
        );
        assert_eq!(
            plan_relay("ev", &[], &certificates, 3, usize::MAX),
            RelayPlan::default()
        );
    }

    #[test]
    fn only_the_public_hubs_explicit_answers_mark_records() {
        let device = SigningKey::from_bytes(&[1; 32]);
        let certificates = vec![certificate("k", &device, 1)];
        let candidates: Vec<RelayCandidate> = (1..=3)
            .map(|sequence| record("k", &device, sequence, Recipient::ClaimToken([sequence as u8; 16])))
            .collect();
        let plan = plan_relay("ev", &candidates, &certificates, 500, usize::MAX);
        let answer = |sequence, status, reason: Option<&str>| RecordAnswer {
            sequence,
            status,
            reason: reason.map(str::to_owned),
            email_received: false,
        };
        let response = UploadResponse {
            answers: vec![
                answer(1, RecordStatus::Accepted, None),
                answer(2, RecordStatus::Rejected, Some("kiosk revoked")),
            ],
            hub_time_ms: 0,
            chain_warnings: Vec::new(),
            signature: None,
            claim_reach: None,
            email_delivery: None,
        };
        let marks = relay_marks(&plan.uploads[0], &response);
        assert_eq!(
            marks,
            vec![
                (candidates[0].record_hash.clone(), RelayMark::Relayed),
                (
                    candidates[1].record_hash.clone(),
                    RelayMark::Refused("kiosk revoked".into())
                ),
            ]
        );
    }

    struct At(i64);
    impl crate::domain::clock::Clock for At {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    /// A kiosk (self-certified at `at_ms`) that made one phone claim, and its upload.
    fn kiosk_upload(event: &crate::eventdir::EventDir, dir: &std::path::Path, at_ms: i64) -> UploadRequest {
        use crate::domain::code::{AttendanceCode, CodeClaims, CodeId, Role};
        let mut core = crate::kiosk::KioskCore::open(event.clone(), dir, Some("hall-a"), Box::new(At(at_ms))).unwrap();
        let claims = CodeClaims {
            code_id: CodeId::random(),
            role: Role::Visitor,
            holder: None,
            valid_from: 0,
            valid_until: u32::MAX,
        };
        let key = event.event_key.as_ref().unwrap();
        let code = AttendanceCode::sign(&event.definition.event.id, key, claims)
            .unwrap()
            .to_text();
        let visitor = core.identify(&code).unwrap();
        core.claim(&visitor, None, crate::kiosk::Delivery::Phone).unwrap();
        let store = crate::store::Store::open(&dir.join("queue.sqlite")).unwrap();
        let pending = store.pending(usize::MAX).unwrap();
        crate::sync::client::upload_request(
            &event.definition.event.id,
            &hex::encode(core.certificate().to_bytes().unwrap()),
            &pending,
        )
    }

    /// A kiosk replaced by a new device under the same id: the venue hub moved the old
    /// device's records to an archive id; relayed, each goes with its own device's
    /// certificate, the old one first, and the public hub ends up holding what the venue
    /// hub holds.
    #[test]
    fn a_replaced_devices_records_are_relayed_with_their_own_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let event = crate::eventdir::EventDir::demo(dir.path()).unwrap();
        let now = 1_795_000_000_000;
        let old = kiosk_upload(&event, &dir.path().join("old"), now);
        let new = kiosk_upload(&event, &dir.path().join("new"), now + 60_000);
        let mut venue = crate::hub::store::HubStore::open_in_memory(event.definition.clone()).unwrap();
        venue.ingest(&old, now).unwrap();
        venue.ingest(&new, now + 60_000).unwrap();
        let kiosks = |store: &crate::hub::store::HubStore| -> Vec<String> {
            let mut rows: Vec<String> = store
                .counts()
                .unwrap()
                .records_by_kiosk
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            rows.sort();
            rows
        };
        assert_eq!(kiosks(&venue).len(), 2, "the old device's record is archived");

        let plan = plan_relay(
            &event.definition.event.id,
            &venue.relay_candidates("https://public").unwrap(),
            &venue.kiosk_certificates().unwrap(),
            500,
            usize::MAX,
        );
        assert_eq!(
            plan.uploads
                .iter()
                .map(|upload| upload.request.certificate.clone())
                .collect::<Vec<_>>(),
            vec![old.certificate.clone(), new.certificate.clone()]
        );
        assert_eq!(plan.uploads[0].request.records, old.records);
        let mut public = crate::hub::store::HubStore::open_in_memory(event.definition.clone()).unwrap();
        for upload in &plan.uploads {
            let response = public.ingest(&upload.request, now + 120_000).unwrap();
            assert!(
                response
                    .answers
                    .iter()
                    .all(|answer| answer.status == RecordStatus::Accepted),
                "{response:?}"
            );
        }
        assert_eq!(kiosks(&public), kiosks(&venue));
        assert_eq!(public.awards().unwrap().len(), venue.awards().unwrap().len());
    }

    #[test]
    fn plain_http_needs_the_explicit_flag() {
        assert!(matches!(
            RelaySettings::new("http://hub.example.org").http_client(),
            Err(RelayError::Blocked(_))
        ));
        assert!(matches!(
            RelaySettings::new("hub.example.org").http_client(),
            Err(RelayError::Blocked(_))
        ));
        assert!(RelaySettings::new("http://127.0.0.1:1")
            .plain_http_allowed(true)
            .http_client()
            .is_ok());
        assert_eq!(
            RelaySettings::new(" https://hub.example.org/ ").target,
            "https://hub.example.org"
        );
    }
}
