//! The kiosk ↔ hub wire format (JSON over HTTP). Records travel as the hex of their
//! frozen signed bytes, so the hub verifies exactly what the kiosk signed.

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
