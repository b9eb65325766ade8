//! The kiosk ↔ hub wire format (JSON over HTTP). Records travel as the hex of their
//! frozen signed bytes, so the hub verifies exactly what the kiosk signed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::domain::bundle::SignedBundle;

pub const UPLOAD_PATH: &str = "/api/v1/records";
pub const BUNDLE_PATH: &str = "/api/v1/bundle";
pub const ENROL_PATH: &str = "/api/v1/enrol";
pub const HEALTH_PATH: &str = "/api/v1/health";
/// The hub refuses larger bodies; the kiosk never builds one.
pub const MAX_UPLOAD_BYTES: usize = 4 * 1024 * 1024;
/// The kiosk refuses to read larger answers.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default)]
    pub chain_warnings: Vec<String>,
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
}
