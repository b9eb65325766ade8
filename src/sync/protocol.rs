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
