//! The kiosk ↔ hub wire format (JSON over HTTP). Records travel as the hex of their
//! frozen signed bytes, so the hub verifies exactly what the kiosk signed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::domain::bundle::SignedBundle;

pub const UPLOAD_PATH: &str = "/api/v1/records";
pub const BUNDLE_PATH: &str = "/api/v1/bundle";
pub const ENROL_PATH: &str = "/api/v1/enrol";
pub const HEALTH_PATH: &str = "/api/v1/health";
/// A venue hub's relay posts the organiser's revocations here (`domain::revocations`).
pub const REVOCATIONS_PATH: &str = "/api/v1/revocations";
/// The hub refuses larger bodies; the kiosk never builds one.
pub const MAX_UPLOAD_BYTES: usize = 4 * 1024 * 1024;
/// The kiosk refuses to read larger answers.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequest {
    pub event_id: String,
    /// The kiosk certificate (hex of its frozen bytes), signed by the event key.
    pub certificate: String,
    /// Hex of each record's signed bytes, in sequence order.
    pub records: Vec<String>,
    /// The clear email typed for a record, by sequence number, for records whose signed
    /// recipient is an email hash. The hub checks each against the signed hash and refuses
    /// the record on a mismatch. Added after v1 without a new path: a hub that predates it
    /// ignores the field and never acknowledges an email (see [`RecordAnswer::email_received`]),
    /// so the kiosk keeps every email it did not see acknowledged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub emails: BTreeMap<u64, String>,
    /// 32 random bytes (hex) the kiosk chose for this upload: the hub's signed answer
    /// repeats them, so an answer cannot be replayed onto another upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// What the kiosk tells the organiser's fleet view (all optional, informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// Records still queued on the kiosk when it sent this upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_waiting: Option<u64>,
    /// The kiosk's system clock when it sent this upload (milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk_clock_ms: Option<i64>,
    /// The stand the kiosk is set up for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stand: Option<String>,
    /// The heartbeat's counter: larger than any the kiosk used before (its clock, made
    /// monotonic). With [`Self::heartbeat_signature`], what makes the four figures above
    /// count: the hub keeps them, and moves "last seen", only for a signed heartbeat whose
    /// counter is larger than the last it accepted from that kiosk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_counter: Option<u64>,
    /// The device key's signature (hex) over [`heartbeat_message`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_signature: Option<String>,
}

// --- Signed heartbeat, v1. DO NOT CHANGE: hubs verify these exact bytes.
// HEARTBEAT_DOMAIN ‖ event id (u8-len) ‖ kiosk id (u8-len) ‖ counter u64 ‖ upload nonce [32] ‖
// kiosk clock i64 ‖ queue waiting u64 ‖ software version (u8-len) ‖ stand present u8 ‖
// stand (u8-len, when present).
const HEARTBEAT_DOMAIN: &[u8] = b"badge-kiosk/heartbeat/v1\0";

/// The bytes a kiosk's device key signs for the heartbeat an upload carries; None when the
/// upload carries no complete heartbeat (counter, nonce, clock, queue and version).
pub fn heartbeat_message(request: &UploadRequest, kiosk_id: &str) -> Option<Vec<u8>> {
    let nonce = parse_nonce(request.nonce.as_deref()?)?;
    let mut writer = crate::domain::wire::Writer::new();
    writer.raw(HEARTBEAT_DOMAIN);
    writer.short_str("event id", &request.event_id).ok()?;
    writer.short_str("kiosk id", kiosk_id).ok()?;
    writer
        .u64(request.heartbeat_counter?)
        .raw(&nonce)
        .i64(request.kiosk_clock_ms?)
        .u64(request.queue_waiting?);
    writer
        .short_str("software version", request.software_version.as_deref()?)
        .ok()?;
    match request.stand.as_deref() {
        Some(stand) => {
            writer.u8(1).short_str("stand", stand).ok()?;
        }
        None => {
            writer.u8(0);
        }
    }
    Some(writer.finish())
}

impl UploadRequest {
    /// Signs this upload's heartbeat (its nonce and figures must be set) with the kiosk's
    /// device key. False when the figures cannot be signed (a field too long).
    pub fn sign_heartbeat(&mut self, kiosk_id: &str, counter: u64, device_key: &ed25519_dalek::SigningKey) -> bool {
        use ed25519_dalek::Signer;
        self.heartbeat_counter = Some(counter);
        let Some(message) = heartbeat_message(self, kiosk_id) else {
            self.heartbeat_counter = None;
            return false;
        };
        self.heartbeat_signature = Some(hex::encode(device_key.sign(&message).to_bytes()));
        true
    }

    /// The heartbeat's counter when `device_key` signed this upload's heartbeat; whether it
    /// is fresh (larger than the last accepted) is the hub's to check.
    pub fn verified_heartbeat(&self, kiosk_id: &str, device_key: &ed25519_dalek::VerifyingKey) -> Option<u64> {
        let signature = self
            .heartbeat_signature
            .as_deref()
            .and_then(|text| hex::decode(text).ok())
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| ed25519_dalek::Signature::from_bytes(&bytes))?;
        let message = heartbeat_message(self, kiosk_id)?;
        device_key.verify_strict(&message, &signature).ok()?;
        self.heartbeat_counter
    }
}

/// What the hub knows of the event's claim address (where kiosks' phone links point), for
/// the done screen's promise: informational, like the chain warnings (the kiosk reads it
/// inside its pinned channel to the hub; it changes only what the screen promises).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimReach {
    /// The claim address this is about: the event's public claim address, else this hub's.
    pub claim_url: String,
    /// A record this hub holds can be claimed there within seconds: this hub is that address,
    /// or its relay to it succeeded recently and has not failed since.
    pub reached: bool,
    /// When this hub's relay last reached it (hub clock), when it relays there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    /// Stored by the hub (also the answer when the very same record arrives again).
    Accepted,
    /// The same badge for the same code was already recorded by another kiosk: kept as
    /// evidence, not awarded twice.
    Duplicate,
    /// Refused for good (bad signature, other event…): `reason` says why.
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAnswer {
    pub sequence: u64,
    pub status: RecordStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The hub holds the clear email sent with this record (checked against its signed
    /// hash): the kiosk may forget it. Absent (false) from hubs that predate emails.
    #[serde(default, skip_serializing_if = "is_false")]
    pub email_received: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    pub answers: Vec<RecordAnswer>,
    /// The hub's clock, a trusted time for kiosks without a real-time clock.
    pub hub_time_ms: i64,
    /// Chain problems the hub noticed for this kiosk (gaps, forks), for the organiser.
    /// Informational: not covered by the signature, the kiosk only shows them.
    #[serde(default)]
    pub chain_warnings: Vec<String>,
    /// The event key's signature (hex) over the answers, the hub time and the upload's
    /// nonce (see [`answer_message`]). A kiosk acts on no answer without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Whether the records this hub holds reach the event's claim address now. Not covered
    /// by the signature (the frozen v1 answer): it changes only what the kiosk promises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_reach: Option<ClaimReach>,
    /// How a visitor who gives an email will get the badge, so the kiosk's done screen
    /// promises only that. Informational (not signed); absent from older hubs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_delivery: Option<EmailDelivery>,
}

/// Who will email a badge to a visitor who typed an address or registered with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailDelivery {
    /// The hub, within minutes of the kiosk's sync (it runs with a mail server).
    Hub,
    /// The badge platform's own email, when the organiser issues the awards.
    Platform,
    /// Nobody yet (no mail server, no platform): the badge waits on the hub.
    None,
}

impl EmailDelivery {
    /// The kiosk keeps the last answer under this setting of its queue.
    pub const SETTING: &'static str = "sync.email_delivery";

    pub fn name(self) -> &'static str {
        match self {
            EmailDelivery::Hub => "hub",
            EmailDelivery::Platform => "platform",
            EmailDelivery::None => "none",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hub" => Some(EmailDelivery::Hub),
            "platform" => Some(EmailDelivery::Platform),
            "none" => Some(EmailDelivery::None),
            _ => None,
        }
    }
}

// --- Signed upload answer, format v1. DO NOT CHANGE: kiosks verify these exact bytes.
// ANSWER_DOMAIN ‖ version u8 = 1 ‖ event id (u8-len) ‖ kiosk id (u8-len) ‖ nonce [32] ‖
// hub time i64 ‖ count u32 ‖ per answer: sequence u64 ‖ status u8 (1 accepted, 2 duplicate,
// 3 rejected) ‖ email received u8 ‖ SHA-256 of the reason (UTF-8, empty when none) [32].
const ANSWER_DOMAIN: &[u8] = b"badge-kiosk/upload-answer/v1\0";

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AnswerError {
    #[error("the hub's answer is not signed by the event key: nothing was marked as synced (is this the organiser's hub, with its event key?)")]
    Unsigned,
    #[error("the hub's answer carries a signature that does not match: nothing was marked as synced (someone may be answering in the hub's place)")]
    BadSignature,
    #[error("the upload cannot be signed: {0}")]
    Malformed(String),
}

/// The bytes the event key signs for an upload's answer.
pub fn answer_message(
    event_id: &str,
    kiosk_id: &str,
    nonce: &[u8; 32],
    response: &UploadResponse,
) -> Result<Vec<u8>, AnswerError> {
    use sha2::Digest;
    let mut writer = crate::domain::wire::Writer::new();
    writer.raw(ANSWER_DOMAIN).u8(1);
    writer
        .short_str("event id", event_id)
        .and_then(|w| w.short_str("kiosk id", kiosk_id))
        .map_err(|error| AnswerError::Malformed(error.to_string()))?;
    writer.raw(nonce).i64(response.hub_time_ms);
    writer.u32(u32::try_from(response.answers.len()).map_err(|_| AnswerError::Malformed("too many answers".into()))?);
    for answer in &response.answers {
        let status = match answer.status {
            RecordStatus::Accepted => 1,
            RecordStatus::Duplicate => 2,
            RecordStatus::Rejected => 3,
        };
        let reason: [u8; 32] = sha2::Sha256::digest(answer.reason.as_deref().unwrap_or("").as_bytes()).into();
        writer
            .u64(answer.sequence)
            .u8(status)
            .u8(u8::from(answer.email_received))
            .raw(&reason);
    }
    Ok(writer.finish())
}

impl UploadResponse {
    /// Signs this answer for the upload that carried `nonce`, from kiosk `kiosk_id`.
    pub fn sign(
        &mut self,
        event_id: &str,
        kiosk_id: &str,
        nonce: &[u8; 32],
        event_key: &ed25519_dalek::SigningKey,
    ) -> Result<(), AnswerError> {
        use ed25519_dalek::Signer;
        let message = answer_message(event_id, kiosk_id, nonce, self)?;
        self.signature = Some(hex::encode(event_key.sign(&message).to_bytes()));
        Ok(())
    }

    /// Checks the answer was signed by one of `event_keys` for this very upload.
    pub fn verify(
        &self,
        event_id: &str,
        kiosk_id: &str,
        nonce: &[u8; 32],
        event_keys: &[ed25519_dalek::VerifyingKey],
    ) -> Result<(), AnswerError> {
        let signature = self
            .signature
            .as_deref()
            .and_then(|text| hex::decode(text).ok())
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| ed25519_dalek::Signature::from_bytes(&bytes))
            .ok_or(AnswerError::Unsigned)?;
        let message = answer_message(event_id, kiosk_id, nonce, self)?;
        if event_keys
            .iter()
            .any(|key| key.verify_strict(&message, &signature).is_ok())
        {
            Ok(())
        } else {
            Err(AnswerError::BadSignature)
        }
    }
}

/// Headers of a bundle request: an enrolled kiosk proves it holds its device key, a kiosk
/// being enrolled shows its (live) enrolment token.
pub const CERTIFICATE_HEADER: &str = "x-badge-kiosk-certificate";
pub const REQUEST_TIME_HEADER: &str = "x-badge-kiosk-time";
pub const REQUEST_SIGNATURE_HEADER: &str = "x-badge-kiosk-signature";
pub const ENROL_TOKEN_HEADER: &str = "x-badge-kiosk-enrol-token";
/// Sent by kiosks that read version 2 bundles (bundle number, PINs) on the bundle and
/// enrolment requests; a hub answers version 1 to kiosks that do not send it.
pub const BUNDLE_VERSION_HEADER: &str = "x-badge-kiosk-bundle-version";

// --- Signed bundle request, v1. DO NOT CHANGE: hubs verify these exact bytes.
// BUNDLE_REQUEST_DOMAIN ‖ event id (u8-len) ‖ kiosk id (u8-len) ‖ kiosk time i64.
const BUNDLE_REQUEST_DOMAIN: &[u8] = b"badge-kiosk/bundle-request/v1\0";

/// The bytes a kiosk's device key signs to ask for the bundle.
pub fn bundle_request_message(event_id: &str, kiosk_id: &str, time_ms: i64) -> Option<Vec<u8>> {
    let mut writer = crate::domain::wire::Writer::new();
    writer.raw(BUNDLE_REQUEST_DOMAIN);
    writer.short_str("event id", event_id).ok()?;
    writer.short_str("kiosk id", kiosk_id).ok()?;
    writer.i64(time_ms);
    Some(writer.finish())
}

/// Parses a nonce as uploads carry it (64 hex digits).
pub fn parse_nonce(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub token: String,
    pub kiosk_id: String,
    /// Hex of the kiosk's device public key.
    pub device_key: String,
}

/// The answer to a bundle request or an enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBundle {
    /// The event, its images and revocations, signed with the event key.
    pub bundle: SignedBundle,
    pub hub_time_ms: i64,
    /// Present in the answer to an enrolment: the kiosk's certificate (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uploads without emails keep the v1 bytes; answers from an older hub still parse.
    #[test]
    fn emails_are_an_optional_addition_to_the_v1_format() {
        let request = UploadRequest {
            event_id: "e".into(),
            certificate: "00".into(),
            records: vec!["01".into()],
            emails: BTreeMap::new(),
            ..UploadRequest::default()
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(json, r#"{"event_id":"e","certificate":"00","records":["01"]}"#);
        let mut with_email = request.clone();
        with_email.emails.insert(7, "ana@example.org".into());
        let json = serde_json::to_string(&with_email).unwrap();
        assert!(json.contains(r#""emails":{"7":"ana@example.org"}"#), "{json}");
        assert_eq!(serde_json::from_str::<UploadRequest>(&json).unwrap(), with_email);
        let old_answer: RecordAnswer = serde_json::from_str(r#"{"sequence":7,"status":"accepted"}"#).unwrap();
        assert!(!old_answer.email_received);
    }

    /// Issue 21 item 13: a heartbeat counts only signed by the kiosk's device key, for its
    /// exact figures, nonce and counter; the signed bytes are frozen.
    #[test]
    fn heartbeats_are_signed_by_the_device_key_over_their_figures() {
        let device = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
        let mut request = UploadRequest {
            event_id: "e".into(),
            certificate: "00".into(),
            nonce: Some(hex::encode([1u8; 32])),
            software_version: Some("1.0.0".into()),
            queue_waiting: Some(7),
            kiosk_clock_ms: Some(1_795_000_000_123),
            stand: Some("cuisine".into()),
            ..UploadRequest::default()
        };
        assert_eq!(request.verified_heartbeat("k", &device.verifying_key()), None);
        assert!(request.sign_heartbeat("k", 1_795_000_000_000, &device));
        assert_eq!(
            request.verified_heartbeat("k", &device.verifying_key()),
            Some(1_795_000_000_000)
        );
        // Another kiosk id, another key, or any figure edited: not a heartbeat.
        assert_eq!(request.verified_heartbeat("other", &device.verifying_key()), None);
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
        assert_eq!(request.verified_heartbeat("k", &stranger), None);
        for edit in [
            |r: &mut UploadRequest| r.queue_waiting = Some(0),
            |r: &mut UploadRequest| r.stand = None,
            |r: &mut UploadRequest| r.heartbeat_counter = Some(1_795_000_000_001),
            |r: &mut UploadRequest| r.nonce = Some(hex::encode([2u8; 32])),
            |r: &mut UploadRequest| r.kiosk_clock_ms = Some(0),
            |r: &mut UploadRequest| r.software_version = Some("6.6.6".into()),
        ] {
            let mut edited = request.clone();
            edit(&mut edited);
            assert_eq!(
                edited.verified_heartbeat("k", &device.verifying_key()),
                None,
                "{edited:?}"
            );
        }
        // Incomplete figures cannot be signed.
        let mut incomplete = request.clone();
        incomplete.queue_waiting = None;
        assert!(!incomplete.sign_heartbeat("k", 1, &device));
        assert_eq!(incomplete.heartbeat_counter, None);
        // Frozen: the signed bytes of this heartbeat.
        let message = heartbeat_message(&request, "k").unwrap();
        assert_eq!(
            hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
                sha2::Sha256::default(),
                &message
            ))),
            include_str!("../domain/testdata/heartbeat_v1.sha256").trim()
        );
    }

    #[test]
    fn answers_are_signed_for_one_upload() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let mut response = UploadResponse {
            answers: vec![RecordAnswer {
                sequence: 1,
                status: RecordStatus::Accepted,
                reason: None,
                email_received: true,
            }],
            hub_time_ms: 1_790_000_000_000,
            chain_warnings: Vec::new(),
            signature: None,
            claim_reach: None,
            email_delivery: None,
        };
        let keys = [key.verifying_key()];
        assert_eq!(response.verify("e", "k", &[1; 32], &keys), Err(AnswerError::Unsigned));
        response.sign("e", "k", &[1; 32], &key).unwrap();
        response.verify("e", "k", &[1; 32], &keys).unwrap();
        // Replayed onto another upload, another kiosk, or edited: refused.
        assert_eq!(
            response.verify("e", "k", &[2; 32], &keys),
            Err(AnswerError::BadSignature)
        );
        assert_eq!(
            response.verify("e", "other", &[1; 32], &keys),
            Err(AnswerError::BadSignature)
        );
        let mut later = response.clone();
        later.hub_time_ms = 2_208_988_800_000;
        assert_eq!(later.verify("e", "k", &[1; 32], &keys), Err(AnswerError::BadSignature));
        let mut rejected = response.clone();
        rejected.answers[0].email_received = false;
        assert_eq!(
            rejected.verify("e", "k", &[1; 32], &keys),
            Err(AnswerError::BadSignature)
        );
        // Frozen: the signed bytes of this answer.
        let message = answer_message("e", "k", &[1; 32], &response).unwrap();
        assert_eq!(
            hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
                sha2::Sha256::default(),
                &message
            ))),
            include_str!("../domain/testdata/upload_answer_v1.sha256").trim()
        );
    }
}
