//! Event keys, kiosk device keys and the certificate that binds one to the other.
//!
//! Trust model: the organiser's *event key* signs attendance codes and certifies each
//! kiosk's *device key*; kiosks sign award records with their device key. A verifier
//! therefore knows which kiosk signed what, and a stolen kiosk can be revoked without
//! reprinting every ticket. On a stand-alone kiosk (the demo, or an event without a hub)
//! the kiosk holds the event key and certifies its own device key at start-up.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::wire::{Reader, WireError, Writer};

/// A short, human-comparable fingerprint of a public key, e.g. `7KQ2-M9PD-X4TA-B3CE`.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let encoded = super::base32::encode(&digest[..10]);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The 4-byte hint carried in codes so a kiosk can tell "signed by a key I don't know"
/// from "forged" without trying every key.
pub fn key_hint(key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::digest(key.as_bytes());
    [digest[0], digest[1], digest[2], digest[3]]
}

pub fn signing_key_from_bytes(bytes: &[u8]) -> Option<SigningKey> {
    let seed: [u8; 32] = bytes.try_into().ok()?;
    Some(SigningKey::from_bytes(&seed))
}

pub fn generate_signing_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

// --- Kiosk certificate, format v1. DO NOT CHANGE: certificates in the field and the
// hub's verification depend on these exact bytes. Add a v2 instead.
const KIOSK_CERT_DOMAIN: &[u8] = b"badge-kiosk/kiosk-certificate/v1\0";
const KIOSK_CERT_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskCertificate {
    pub event_id: String,
    pub kiosk_id: String,
    pub device_key: VerifyingKey,
    /// Unix seconds when the event key certified the device.
    pub issued_at: i64,
    pub event_key_hint: [u8; 4],
    pub signature: Signature,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("the kiosk certificate is malformed: {0}")]
    Malformed(#[from] WireError),
    #[error("the kiosk certificate has version {0}, this badge-kiosk knows version 1: update badge-kiosk")]
    UnknownVersion(u8),
    #[error("the kiosk certificate was not signed by any key of this event: enrol the kiosk again")]
    BadSignature,
    #[error("the kiosk certificate is for event {found:?}, not {expected:?}: enrol the kiosk for this event")]
    OtherEvent { expected: String, found: String },
}

fn kiosk_cert_payload(
    event_id: &str,
    kiosk_id: &str,
    device_key: &VerifyingKey,
    issued_at: i64,
    event_key_hint: [u8; 4],
) -> Result<Writer, WireError> {
    let mut writer = Writer::new();
    writer.u8(KIOSK_CERT_VERSION);
    writer.short_str("event id", event_id)?;
    writer.short_str("kiosk id", kiosk_id)?;
    writer.raw(device_key.as_bytes());
    writer.i64(issued_at);
    writer.raw(&event_key_hint);
    Ok(writer)
}

impl KioskCertificate {
    pub fn issue(
        event_key: &SigningKey,
        event_id: &str,
        kiosk_id: &str,
        device_key: VerifyingKey,
        issued_at: i64,
    ) -> Result<Self, WireError> {
        let hint = key_hint(&event_key.verifying_key());
        let payload = kiosk_cert_payload(event_id, kiosk_id, &device_key, issued_at, hint)?;
        let signature = event_key.sign(&[KIOSK_CERT_DOMAIN, payload.as_slice()].concat());
        Ok(Self {
            event_id: event_id.to_owned(),
            kiosk_id: kiosk_id.to_owned(),
            device_key,
            issued_at,
            event_key_hint: hint,
            signature,
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut writer = kiosk_cert_payload(
            &self.event_id,
            &self.kiosk_id,
            &self.device_key,
            self.issued_at,
            self.event_key_hint,
        )?;
        writer.raw(&self.signature.to_bytes());
        Ok(writer.finish())
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CertificateError> {
        let mut reader = Reader::new(bytes);
        let version = reader.u8("version")?;
        if version != KIOSK_CERT_VERSION {
            return Err(CertificateError::UnknownVersion(version));
        }
        let event_id = reader.short_str("event id")?.to_owned();
        let kiosk_id = reader.short_str("kiosk id")?.to_owned();
        let device_key =
            VerifyingKey::from_bytes(&reader.array("device key")?).map_err(|_| CertificateError::BadSignature)?;
        let issued_at = reader.i64("issued at")?;
        let event_key_hint = reader.array("event key hint")?;
        let signature = Signature::from_bytes(&reader.array("signature")?);
        reader.finish()?;
        Ok(Self {
            event_id,
            kiosk_id,
            device_key,
            issued_at,
            event_key_hint,
            signature,
        })
    }

    /// Checks the certificate against the event's valid keys (several while keys rotate).
    pub fn verify(&self, event_id: &str, event_keys: &[VerifyingKey]) -> Result<(), CertificateError> {
        if self.event_id != event_id {
            return Err(CertificateError::OtherEvent {
                expected: event_id.to_owned(),
                found: self.event_id.clone(),
            });
        }
        let payload = kiosk_cert_payload(
            &self.event_id,
            &self.kiosk_id,
            &self.device_key,
            self.issued_at,
            self.event_key_hint,
        )?;
        let message = [KIOSK_CERT_DOMAIN, payload.as_slice()].concat();
        let signed_by_event = event_keys
            .iter()
            .any(|key| key.verify_strict(&message, &self.signature).is_ok());
        if signed_by_event {
            Ok(())
        } else {
            Err(CertificateError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn certificate_round_trips_and_verifies() {
        let event = key(1);
        let device = key(2);
        let cert = KioskCertificate::issue(&event, "evt", "kiosk-a", device.verifying_key(), 1_700_000_000).unwrap();
        let parsed = KioskCertificate::from_bytes(&cert.to_bytes().unwrap()).unwrap();
        assert_eq!(parsed, cert);
        parsed.verify("evt", &[event.verifying_key()]).unwrap();
        assert_eq!(
            parsed.verify("evt", &[key(3).verifying_key()]),
            Err(CertificateError::BadSignature)
        );
        assert!(matches!(
            parsed.verify("other", &[event.verifying_key()]),
            Err(CertificateError::OtherEvent { .. })
        ));
    }

    #[test]
    fn certificate_test_vector() {
        // Frozen: if this changes, certificates already issued stop verifying.
        let cert = KioskCertificate::issue(&key(1), "evt", "kiosk-a", key(2).verifying_key(), 1_700_000_000).unwrap();
        let bytes = cert.to_bytes().unwrap();
        assert_eq!(bytes.len(), 1 + 4 + 8 + 32 + 8 + 4 + 64);
        assert_eq!(hex::encode(&bytes[..13]), "0103657674076b696f736b2d61");
    }

    #[test]
    fn fingerprint_is_stable() {
        let fp = fingerprint(&key(1).verifying_key());
        assert_eq!(fp.len(), 19);
        assert_eq!(fp, fingerprint(&key(1).verifying_key()));
        assert_ne!(fp, fingerprint(&key(2).verifying_key()));
    }
}
