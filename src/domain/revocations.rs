//! Revocations a venue hub relays to the public hub (format v1): the codes and the kiosk
//! devices the organiser revoked, signed by the event key, so that a kiosk revoked on the
//! venue hub is refused by the public hub too, even when it uploads there directly.
//!
//! DO NOT CHANGE the signed message: `REVOCATIONS_DOMAIN || content`, where `content` is
//! the JSON text as sent (never re-serialised). Add a v2 domain instead. Revocations only
//! ever add: replaying an old list revokes nothing new, so no freshness is needed.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const REVOCATIONS_DOMAIN: &[u8] = b"badge-kiosk/revocations/v1\0";
/// Far more than any event revokes; a larger list is not one of ours.
pub const MAX_REVOCATIONS_BYTES: usize = 4 * 1024 * 1024;

/// A code the organiser revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedCode {
    /// The code id, hex (10 bytes).
    pub code_id: String,
    pub reason: String,
    pub at_ms: i64,
}

/// A kiosk device the organiser revoked: its id and the device key it was enrolled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedDevice {
    pub kiosk_id: String,
    /// The device's public key, hex (32 bytes).
    pub device_key: String,
    pub reason: String,
    pub at_ms: i64,
}

/// What the event key signs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationsContent {
    pub event_id: String,
    #[serde(default)]
    pub codes: Vec<RevokedCode>,
    #[serde(default)]
    pub devices: Vec<RevokedDevice>,
    pub signed_at_ms: i64,
}

/// Revocations as they travel: the content's JSON text and the event key's signature of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRevocations {
    pub content: String,
    /// Hex of the Ed25519 signature over `REVOCATIONS_DOMAIN || content`.
    pub signature: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RevocationsError {
    #[error("the revocations are not signed by this event's key: send them from the organiser's hub")]
    UntrustedSigner,
    #[error("the revocations are for event {found:?}, this hub serves {expected:?}")]
    OtherEvent { expected: String, found: String },
    #[error("the revocations are unreadable ({0}): update badge-kiosk on the venue hub")]
    Malformed(String),
}

fn message(content: &str) -> Vec<u8> {
    [REVOCATIONS_DOMAIN, content.as_bytes()].concat()
}

impl SignedRevocations {
    pub fn sign(content: &RevocationsContent, event_key: &SigningKey) -> Result<Self, RevocationsError> {
        let text = serde_json::to_string(content).map_err(|error| RevocationsError::Malformed(error.to_string()))?;
        let signature = event_key.sign(&message(&text));
        Ok(Self {
            content: text,
            signature: hex::encode(signature.to_bytes()),
        })
    }

    /// Checks the signature against the event's keys and that every entry is well-formed.
    pub fn verify(&self, trusted: &[VerifyingKey], event_id: &str) -> Result<RevocationsContent, RevocationsError> {
        if self.content.len() > MAX_REVOCATIONS_BYTES {
            return Err(RevocationsError::Malformed("too large".into()));
        }
        let signature = hex::decode(&self.signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or(RevocationsError::UntrustedSigner)?;
        let message = message(&self.content);
        if !trusted
            .iter()
            .any(|key| key.verify_strict(&message, &signature).is_ok())
        {
            return Err(RevocationsError::UntrustedSigner);
        }
        let content: RevocationsContent =
            serde_json::from_str(&self.content).map_err(|error| RevocationsError::Malformed(error.to_string()))?;
        if content.event_id != event_id {
            return Err(RevocationsError::OtherEvent {
                expected: event_id.to_owned(),
                found: content.event_id,
            });
        }
        for code in &content.codes {
            if hex::decode(&code.code_id).map_or(true, |bytes| bytes.len() != 10) {
                return Err(RevocationsError::Malformed(format!("code id {:?}", code.code_id)));
            }
        }
        for device in &content.devices {
            if hex::decode(&device.device_key).map_or(true, |bytes| bytes.len() != 32) {
                return Err(RevocationsError::Malformed(format!(
                    "device key of {:?}",
                    device.kiosk_id
                )));
            }
        }
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> RevocationsContent {
        RevocationsContent {
            event_id: "demo-event".into(),
            codes: vec![RevokedCode {
                code_id: "01010101010101010101".into(),
                reason: "lost ticket".into(),
                at_ms: 1_790_000_000_000,
            }],
            devices: vec![RevokedDevice {
                kiosk_id: "hall-a".into(),
                device_key: hex::encode([9u8; 32]),
                reason: "stolen".into(),
                at_ms: 1_790_000_000_001,
            }],
            signed_at_ms: 1_790_000_000_002,
        }
    }

    #[test]
    fn signed_by_the_event_key_only() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let signed = SignedRevocations::sign(&content(), &key).unwrap();
        assert_eq!(signed.verify(&[key.verifying_key()], "demo-event").unwrap(), content());
        let other = SigningKey::from_bytes(&[2; 32]);
        assert_eq!(
            signed.verify(&[other.verifying_key()], "demo-event"),
            Err(RevocationsError::UntrustedSigner)
        );
        assert!(matches!(
            signed.verify(&[key.verifying_key()], "other-event"),
            Err(RevocationsError::OtherEvent { .. })
        ));
        let mut tampered = signed.clone();
        tampered.content = tampered.content.replace("stolen", "fine");
        assert_eq!(
            tampered.verify(&[key.verifying_key()], "demo-event"),
            Err(RevocationsError::UntrustedSigner)
        );
        // Another format's signature over the same text (a bundle's domain) does not verify.
        let forged = SignedRevocations {
            content: signed.content.clone(),
            signature: hex::encode(
                key.sign(&[b"badge-kiosk/event-bundle/v1\0".as_slice(), signed.content.as_bytes()].concat())
                    .to_bytes(),
            ),
        };
        assert_eq!(
            forged.verify(&[key.verifying_key()], "demo-event"),
            Err(RevocationsError::UntrustedSigner)
        );
    }
}
