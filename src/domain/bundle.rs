//! The event bundle: what a hub hands a kiosk at enrolment and at every sync (the event
//! definition, its badge images, the revoked codes, a trusted time), signed with the event
//! key so a kiosk can trust it whatever network carried it, and so it can serve as the
//! trusted time of a board without a real-time clock.
//!
//! Format v1. DO NOT CHANGE the signed message: kiosks in the field verify exactly
//! `BUNDLE_DOMAIN || content`, where `content` is the JSON text as sent (never
//! re-serialised).
//!
//! Format v2 (`BUNDLE_V2_DOMAIN || content`, [`BundleContentV2`]) adds a monotonic bundle
//! number (freshness no longer depends on the hub's clock) and the staff and organiser PIN
//! hashes the organiser set on the hub. DO NOT CHANGE it either: add a v3 domain. The
//! domain tells the versions apart: a v1 signature never verifies as v2 and back.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::code::CodeId;
use super::event::{EventDefinition, EventError};
use super::keys::fingerprint;

const BUNDLE_DOMAIN: &[u8] = b"badge-kiosk/event-bundle/v1\0";
const BUNDLE_V2_DOMAIN: &[u8] = b"badge-kiosk/event-bundle/v2\0";
/// Badge images are small; a bundle this large is not one of ours.
pub const MAX_BUNDLE_BYTES: usize = 4 * 1024 * 1024;

/// What the event key signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleContent {
    pub event_id: String,
    /// The event definition, the same text as `event.toml` on the organiser's machine.
    pub event_toml: String,
    /// Files the definition refers to (badge and issuer images), by relative path, as hex.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Revoked code ids (hex).
    #[serde(default)]
    pub revoked: Vec<String>,
    /// The hub's clock when it signed: a time the kiosk can trust.
    pub signed_at_ms: i64,
}

/// What the event key signs in a version 2 bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleContentV2 {
    pub event_id: String,
    pub event_toml: String,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub revoked: Vec<String>,
    /// Grows whenever what the bundle says changes (the hub's database counts it): a kiosk
    /// refuses a bundle numbered below the one it applied, whatever the clocks say.
    pub number: u64,
    /// The hub's clock when it signed. Trusted only inside the event's dates (see
    /// `domain::clock::HubTimeWindow`), never for freshness.
    pub signed_at_ms: i64,
    /// The PINs the organiser set on the hub, as Argon2 PHC strings (never in clear).
    #[serde(default)]
    pub pins: BundlePins,
}

/// Staff and organiser PIN hashes carried by a v2 bundle; `None`: not set up on the hub.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundlePins {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organiser: Option<String>,
}

/// A bundle as it travels: the content's JSON text and the event key's signature of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBundle {
    pub content: String,
    /// Hex of the Ed25519 signature over `BUNDLE_DOMAIN || content` (v1) or
    /// `BUNDLE_V2_DOMAIN || content` (v2).
    pub signature: String,
}

/// A bundle whose signature and content were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// The fields both versions share (a v2 bundle's are copied here).
    pub content: BundleContent,
    /// The v2 bundle number; `None` for a v1 bundle (an older hub).
    pub number: Option<u64>,
    /// The PIN hashes a v2 bundle carries.
    pub pins: BundlePins,
    pub definition: EventDefinition,
    pub files: Vec<(String, Vec<u8>)>,
    pub revoked: Vec<CodeId>,
    pub signed_by: VerifyingKey,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("the event bundle is too large ({0} bytes): it does not come from a badge-kiosk hub")]
    TooLarge(usize),
    #[error("the event bundle's signature is unreadable: ask the organiser to check the hub's version")]
    BadSignature,
    #[error(
        "the event bundle is not signed by the event key this kiosk trusts: check the hub address, or enrol the kiosk again"
    )]
    UntrustedSigner,
    #[error("the event bundle is unreadable ({0}): ask the organiser to check the hub's version")]
    Malformed(String),
    #[error("the event bundle's event definition is invalid: {0}")]
    Event(String),
    #[error("the event bundle is for event {found:?}, this kiosk belongs to {expected:?}")]
    OtherEvent { expected: String, found: String },
    #[error("the event bundle names an unsafe file path {0:?}: ask the organiser to fix event.toml")]
    UnsafePath(String),
    #[error("the signing key is not listed in the bundle's own event definition")]
    KeyNotListed,
}

impl From<EventError> for BundleError {
    fn from(error: EventError) -> Self {
        Self::Event(error.to_string())
    }
}

pub(crate) fn message(content: &str) -> Vec<u8> {
    domain_message(BUNDLE_DOMAIN, content)
}

fn domain_message(domain: &[u8], content: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(domain.len() + content.len());
    message.extend_from_slice(domain);
    message.extend_from_slice(content.as_bytes());
    message
}

impl SignedBundle {
    pub fn sign(content: &BundleContent, event_key: &SigningKey) -> Result<Self, BundleError> {
        let text = serde_json::to_string(content).map_err(|error| BundleError::Malformed(error.to_string()))?;
        let signature = event_key.sign(&message(&text));
        Ok(Self {
            content: text,
            signature: hex::encode(signature.to_bytes()),
        })
    }

    /// Signs a version 2 bundle.
    pub fn sign_v2(content: &BundleContentV2, event_key: &SigningKey) -> Result<Self, BundleError> {
        let text = serde_json::to_string(content).map_err(|error| BundleError::Malformed(error.to_string()))?;
        let signature = event_key.sign(&domain_message(BUNDLE_V2_DOMAIN, &text));
        Ok(Self {
            content: text,
            signature: hex::encode(signature.to_bytes()),
        })
    }

    /// Verifies the bundle against the keys the kiosk already trusts (at a sync), checks
    /// that it is for `expected_event` and that everything in it is well-formed.
    pub fn verify(
        &self,
        trusted: &[VerifyingKey],
        expected_event: Option<&str>,
    ) -> Result<VerifiedBundle, BundleError> {
        if self.content.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge(self.content.len()));
        }
        let signature = hex::decode(&self.signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or(BundleError::BadSignature)?;
        let signed = |domain: &[u8]| {
            let message = domain_message(domain, &self.content);
            trusted
                .iter()
                .find(|key| key.verify_strict(&message, &signature).is_ok())
                .copied()
        };
        let (signed_by, content, number, pins) = if let Some(key) = signed(BUNDLE_V2_DOMAIN) {
            let v2: BundleContentV2 =
                serde_json::from_str(&self.content).map_err(|error| BundleError::Malformed(error.to_string()))?;
            let content = BundleContent {
                event_id: v2.event_id,
                event_toml: v2.event_toml,
                files: v2.files,
                revoked: v2.revoked,
                signed_at_ms: v2.signed_at_ms,
            };
            (key, content, Some(v2.number), v2.pins)
        } else {
            let key = signed(BUNDLE_DOMAIN).ok_or(BundleError::UntrustedSigner)?;
            let content: BundleContent =
                serde_json::from_str(&self.content).map_err(|error| BundleError::Malformed(error.to_string()))?;
            (key, content, None, BundlePins::default())
        };
        if let Some(expected) = expected_event {
            if content.event_id != expected {
                return Err(BundleError::OtherEvent {
                    expected: expected.to_owned(),
                    found: content.event_id,
                });
            }
        }
        let definition = EventDefinition::parse(&content.event_toml, std::path::Path::new("event.toml (bundle)"))?;
        if definition.event.id != content.event_id {
            return Err(BundleError::OtherEvent {
                expected: content.event_id.clone(),
                found: definition.event.id,
            });
        }
        if !definition.public_keys().contains(&signed_by) {
            return Err(BundleError::KeyNotListed);
        }
        let mut files = Vec::with_capacity(content.files.len());
        for (path, hex_bytes) in &content.files {
            if !is_safe_relative_path(path) {
                return Err(BundleError::UnsafePath(path.clone()));
            }
            let bytes =
                hex::decode(hex_bytes).map_err(|_| BundleError::Malformed(format!("file {path} is not hex")))?;
            files.push((path.clone(), bytes));
        }
        let revoked = content
            .revoked
            .iter()
            .map(|text| {
                CodeId::from_hex(text).ok_or_else(|| BundleError::Malformed(format!("revoked code id {text:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VerifiedBundle {
            content,
            number,
            pins,
            definition,
            files,
            revoked,
            signed_by,
        })
    }

    /// At enrolment the kiosk trusts no key yet: it trusts the one whose fingerprint the
    /// organiser's enrolment code carries, if the bundle's own definition lists it.
    pub fn verify_for_enrolment(&self, key_fingerprint: &str) -> Result<VerifiedBundle, BundleError> {
        /// The two fields both versions share, read before the signer is known.
        #[derive(Deserialize)]
        struct Preview {
            event_id: String,
            event_toml: String,
        }
        let content: Preview =
            serde_json::from_str(&self.content).map_err(|error| BundleError::Malformed(error.to_string()))?;
        let definition = EventDefinition::parse(&content.event_toml, std::path::Path::new("event.toml (bundle)"))?;
        let wanted = normalise_fingerprint(key_fingerprint);
        let candidates: Vec<VerifyingKey> = definition
            .public_keys()
            .into_iter()
            .filter(|key| normalise_fingerprint(&fingerprint(key)) == wanted)
            .collect();
        if candidates.is_empty() {
            return Err(BundleError::UntrustedSigner);
        }
        self.verify(&candidates, Some(&content.event_id))
    }
}

fn normalise_fingerprint(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Relative, no `..`, no hidden or absolute parts: a hostile hub cannot write outside
/// the kiosk's event directory.
pub fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 200
        && !path.starts_with('/')
        && path.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO_TOML: &str = include_str!("../../assets/demo-event/event.toml");

    fn demo_key() -> SigningKey {
        let text = include_str!("../../assets/demo-event/event.key");
        let bytes = hex::decode(text.trim()).unwrap();
        SigningKey::from_bytes(&bytes.try_into().unwrap())
    }

    fn content() -> BundleContent {
        BundleContent {
            event_id: "finales-metiers-2026".into(),
            event_toml: DEMO_TOML.into(),
            files: BTreeMap::from([("badges/attended.svg".into(), hex::encode(b"<svg/>"))]),
            revoked: vec!["00112233445566778899".into()],
            signed_at_ms: 1_790_000_000_000,
        }
    }

    #[test]
    fn signed_bytes_match_the_frozen_v1_vector() {
        let small = BundleContent {
            event_id: "e".into(),
            event_toml: String::new(),
            files: BTreeMap::new(),
            revoked: vec![],
            signed_at_ms: 1,
        };
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let signed = SignedBundle::sign(&small, &key).unwrap();
        assert_eq!(
            signed.content,
            r#"{"event_id":"e","event_toml":"","files":{},"revoked":[],"signed_at_ms":1}"#
        );
        assert_eq!(message("x"), b"badge-kiosk/event-bundle/v1\0x");
        assert_eq!(
            signed.signature,
            include_str!("testdata/bundle_v1_signature.hex").trim()
        );
    }

    fn small_v2() -> BundleContentV2 {
        BundleContentV2 {
            event_id: "e".into(),
            event_toml: String::new(),
            files: BTreeMap::new(),
            revoked: vec![],
            number: 3,
            signed_at_ms: 1,
            pins: BundlePins {
                staff: Some("$argon2id$x".into()),
                organiser: None,
            },
        }
    }

    #[test]
    fn signed_bytes_match_the_frozen_v2_vector() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let signed = SignedBundle::sign_v2(&small_v2(), &key).unwrap();
        assert_eq!(
            signed.content,
            r#"{"event_id":"e","event_toml":"","files":{},"revoked":[],"number":3,"signed_at_ms":1,"pins":{"staff":"$argon2id$x"}}"#
        );
        assert_eq!(domain_message(BUNDLE_V2_DOMAIN, "x"), b"badge-kiosk/event-bundle/v2\0x");
        assert_eq!(
            signed.signature,
            include_str!("testdata/bundle_v2_signature.hex").trim()
        );
    }

    #[test]
    fn v2_bundles_verify_and_carry_their_number_and_pins_while_v1_still_verifies() {
        let key = demo_key();
        let trusted = [key.verifying_key()];
        let mut v2 = small_v2();
        v2.event_id = "finales-metiers-2026".into();
        v2.event_toml = DEMO_TOML.into();
        v2.revoked = vec!["00112233445566778899".into()];
        let signed = SignedBundle::sign_v2(&v2, &key).unwrap();
        let verified = signed.verify(&trusted, Some("finales-metiers-2026")).unwrap();
        assert_eq!(verified.number, Some(3));
        assert_eq!(verified.pins.staff.as_deref(), Some("$argon2id$x"));
        assert_eq!(verified.revoked.len(), 1);
        assert!(signed.verify_for_enrolment(&fingerprint(&key.verifying_key())).is_ok());
        let v1 = SignedBundle::sign(&content(), &key).unwrap();
        let verified = v1.verify(&trusted, None).unwrap();
        assert_eq!((verified.number, verified.pins), (None, BundlePins::default()));
        // A signature is bound to its version's domain: swapping contents never verifies.
        let swapped = SignedBundle {
            content: v1.content.clone(),
            signature: signed.signature.clone(),
        };
        assert_eq!(swapped.verify(&trusted, None), Err(BundleError::UntrustedSigner));
        let mut edited = signed.clone();
        edited.content = edited.content.replace("\"number\":3", "\"number\":4");
        assert_eq!(edited.verify(&trusted, None), Err(BundleError::UntrustedSigner));
    }

    #[test]
    fn a_bundle_signed_by_the_event_key_verifies() {
        let key = demo_key();
        let signed = SignedBundle::sign(&content(), &key).unwrap();
        let verified = signed
            .verify(&[key.verifying_key()], Some("finales-metiers-2026"))
            .unwrap();
        assert_eq!(
            verified.revoked,
            vec![CodeId::from_hex("00112233445566778899").unwrap()]
        );
        assert_eq!(verified.files, vec![("badges/attended.svg".into(), b"<svg/>".to_vec())]);
        let fingerprint = fingerprint(&key.verifying_key());
        assert!(signed.verify_for_enrolment(&fingerprint.to_lowercase()).is_ok());
    }

    #[test]
    fn every_kind_of_tampering_is_refused() {
        let key = demo_key();
        let trusted = [key.verifying_key()];
        let signed = SignedBundle::sign(&content(), &key).unwrap();

        let mut edited = signed.clone();
        edited.content = edited.content.replace("00112233445566778899", "00112233445566778898");
        assert_eq!(edited.verify(&trusted, None), Err(BundleError::UntrustedSigner));

        let other = SigningKey::from_bytes(&[9u8; 32]);
        let foreign = SignedBundle::sign(&content(), &other).unwrap();
        assert_eq!(foreign.verify(&trusted, None), Err(BundleError::UntrustedSigner));
        // Signed by a key the bundle's own definition does not list.
        assert_eq!(
            foreign.verify(&[other.verifying_key()], None),
            Err(BundleError::KeyNotListed)
        );
        assert_eq!(
            foreign.verify_for_enrolment(&fingerprint(&other.verifying_key())),
            Err(BundleError::UntrustedSigner)
        );

        assert!(matches!(
            signed.verify(&trusted, Some("another-event")),
            Err(BundleError::OtherEvent { .. })
        ));
        let mut garbled = signed.clone();
        garbled.signature = "zz".into();
        assert_eq!(garbled.verify(&trusted, None), Err(BundleError::BadSignature));

        let mut hostile = content();
        hostile.files.insert("../../etc/passwd".into(), String::new());
        let hostile = SignedBundle::sign(&hostile, &key).unwrap();
        assert!(matches!(
            hostile.verify(&trusted, None),
            Err(BundleError::UnsafePath(_))
        ));
    }

    #[test]
    fn safe_paths() {
        assert!(is_safe_relative_path("badges/attended.svg"));
        for bad in ["", "/etc/x", "a/../b", "..", "a//b", ".hidden", "a/b c", "a\\b"] {
            assert!(!is_safe_relative_path(bad), "{bad}");
        }
    }
}
