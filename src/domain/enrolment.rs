//! The enrolment code an organiser shows a new kiosk: where the hub is, a one-time token,
//! and the fingerprint of the event key, so the kiosk trusts only the bundle that key
//! signed, whichever network (or rogue access point) answers at that address.
//!
//! It is a URL, `https://HUB/enrol/TOKEN?key=FINGERPRINT&ek=…&tls=…&sig=…`, so a phone
//! that scans it by mistake opens the hub's page explaining what it is for.
//!
//! Version 2 (`ek`, `tls`, `sig`) is signed by the event key: the hub's address, the token
//! and the SHA-256 of the hub's TLS certificate cannot be swapped, and a kiosk checks the
//! signature before it talks to anyone. Kiosks accept only signed codes; the unsigned v1
//! form still parses (to say what is wrong with it).
//!
//! Signed bytes, v2 (DO NOT CHANGE; a new layout gets a new domain string):
//! ENROL_DOMAIN ‖ hub url (u8-len) ‖ token (u8-len) ‖ has pin u8 ‖ pin [32] if any ‖ event key [32].

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use thiserror::Error;

use super::base32;
use super::keys::fingerprint;
use super::wire::{WireError, Writer};

pub const ENROL_PATH_SEGMENT: &str = "/enrol/";
/// Tokens, keys and signatures are short; anything longer is not an enrolment code.
const MAX_ENROL_CODE_LEN: usize = 420;
const ENROL_DOMAIN: &[u8] = b"badge-kiosk/enrolment-code/v2\0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentCode {
    /// The hub's base URL, e.g. `https://192.168.1.10:8787`.
    pub hub_url: String,
    pub token: String,
    /// The event key's fingerprint, as `keys::fingerprint` prints it.
    pub key_fingerprint: String,
    /// Version 2: the event key's signature over the rest.
    pub signed: Option<SignedParts>,
}

/// What a v2 code adds: the event key itself, the hub certificate's pin, the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedParts {
    pub event_key: VerifyingKey,
    /// SHA-256 of the hub's TLS certificate; None for a hub serving plain HTTP.
    pub tls_pin: Option<[u8; 32]>,
    pub signature: Signature,
}

fn signed_message(
    hub_url: &str,
    token: &str,
    tls_pin: Option<&[u8; 32]>,
    event_key: &VerifyingKey,
) -> Result<Vec<u8>, WireError> {
    let mut writer = Writer::new();
    writer.raw(ENROL_DOMAIN);
    writer.short_str("hub url", hub_url)?;
    writer.short_str("token", token)?;
    match tls_pin {
        Some(pin) => writer.u8(1).raw(pin),
        None => writer.u8(0),
    };
    writer.raw(event_key.as_bytes());
    Ok(writer.finish())
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnrolmentCodeError {
    #[error("this is not an enrolment code: show the code from the hub's enrolment page")]
    NotEnrolment,
    #[error("this enrolment code is damaged ({0}): show a new one from the hub")]
    Damaged(&'static str),
    #[error("this enrolment code is not signed by the event key (an older hub, or not the organiser's): make a new one with `badge-kiosk hub enrol-token` on the organiser's hub")]
    Unsigned,
    #[error("this enrolment code's signature does not match its content (the hub address or certificate was changed): make a new one on the organiser's hub")]
    BadSignature,
}

impl EnrolmentCode {
    /// A v2 code, signed by the event key.
    pub fn sign(
        hub_url: &str,
        token: &str,
        tls_pin: Option<[u8; 32]>,
        event_key: &SigningKey,
    ) -> Result<Self, WireError> {
        let hub_url = hub_url.trim_end_matches('/').to_owned();
        let verifying = event_key.verifying_key();
        let signature = event_key.sign(&signed_message(&hub_url, token, tls_pin.as_ref(), &verifying)?);
        Ok(Self {
            hub_url,
            token: token.to_owned(),
            key_fingerprint: fingerprint(&verifying),
            signed: Some(SignedParts {
                event_key: verifying,
                tls_pin,
                signature,
            }),
        })
    }

    /// Checks the event key's signature: returns what it vouches for.
    pub fn verify(&self) -> Result<&SignedParts, EnrolmentCodeError> {
        let parts = self.signed.as_ref().ok_or(EnrolmentCodeError::Unsigned)?;
        let message = signed_message(&self.hub_url, &self.token, parts.tls_pin.as_ref(), &parts.event_key)
            .map_err(|_| EnrolmentCodeError::BadSignature)?;
        if fingerprint(&parts.event_key) != self.key_fingerprint {
            return Err(EnrolmentCodeError::BadSignature);
        }
        parts
            .event_key
            .verify_strict(&message, &parts.signature)
            .map_err(|_| EnrolmentCodeError::BadSignature)?;
        Ok(parts)
    }

    pub fn to_url(&self) -> String {
        let mut url = format!(
            "{}{}{}?key={}",
            self.hub_url.trim_end_matches('/'),
            ENROL_PATH_SEGMENT,
            self.token,
            self.key_fingerprint
        );
        if let Some(parts) = &self.signed {
            url.push_str("&ek=");
            url.push_str(&base32::encode(parts.event_key.as_bytes()));
            if let Some(pin) = &parts.tls_pin {
                url.push_str("&tls=");
                url.push_str(&base32::encode(pin));
            }
            url.push_str("&sig=");
            url.push_str(&base32::encode(&parts.signature.to_bytes()));
        }
        url
    }

    pub fn parse(text: &str) -> Result<Self, EnrolmentCodeError> {
        let text = text.trim();
        if text.len() > MAX_ENROL_CODE_LEN || !(text.starts_with("http://") || text.starts_with("https://")) {
            return Err(EnrolmentCodeError::NotEnrolment);
        }
        let Some(at) = text.rfind(ENROL_PATH_SEGMENT) else {
            return Err(EnrolmentCodeError::NotEnrolment);
        };
        let (hub_url, rest) = text.split_at(at);
        let rest = &rest[ENROL_PATH_SEGMENT.len()..];
        let (token, query) = rest.split_once('?').ok_or(EnrolmentCodeError::Damaged("no key"))?;
        let key_fingerprint = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("key="))
            .ok_or(EnrolmentCodeError::Damaged("no key"))?;
        // The authority (host and port) ends at the first `/`; what follows is a path prefix.
        let host = hub_url.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
        let authority = host.split('/').next().unwrap_or_default();
        if authority.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '#' || c == '?') {
            return Err(EnrolmentCodeError::Damaged("no hub address"));
        }
        if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(EnrolmentCodeError::Damaged("bad token"));
        }
        let significant = key_fingerprint.chars().filter(|c| *c != '-').count();
        if significant != 16 || !key_fingerprint.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(EnrolmentCodeError::Damaged("bad key fingerprint"));
        }
        let field = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
        };
        let decode = |text: &str| base32::decode(text).map_err(|_| EnrolmentCodeError::Damaged("bad signature part"));
        let signed = match (field("ek"), field("sig")) {
            (None, None) => None,
            (Some(key), Some(signature)) => {
                let key: [u8; 32] = decode(key)?
                    .try_into()
                    .map_err(|_| EnrolmentCodeError::Damaged("bad event key"))?;
                let event_key =
                    VerifyingKey::from_bytes(&key).map_err(|_| EnrolmentCodeError::Damaged("bad event key"))?;
                let signature: [u8; 64] = decode(signature)?
                    .try_into()
                    .map_err(|_| EnrolmentCodeError::Damaged("bad signature"))?;
                let tls_pin = match field("tls") {
                    Some(pin) => Some(
                        decode(pin)?
                            .try_into()
                            .map_err(|_| EnrolmentCodeError::Damaged("bad certificate pin"))?,
                    ),
                    None => None,
                };
                Some(SignedParts {
                    event_key,
                    tls_pin,
                    signature: Signature::from_bytes(&signature),
                })
            }
            _ => return Err(EnrolmentCodeError::Damaged("half a signature")),
        };
        Ok(Self {
            hub_url: hub_url.to_owned(),
            token: token.to_owned(),
            key_fingerprint: key_fingerprint.to_owned(),
            signed,
        })
    }

    /// Cheap test the scanner uses to route a code before parsing it.
    pub fn looks_like(text: &str) -> bool {
        let text = text.trim();
        (text.starts_with("http://") || text.starts_with("https://")) && text.contains(ENROL_PATH_SEGMENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let code = EnrolmentCode {
            hub_url: "http://192.168.1.10:8787".into(),
            token: "K3M9PQ2XABCD7EFG".into(),
            key_fingerprint: "7KQ2-M9PD-X4TA-B3CE".into(),
            signed: None,
        };
        let url = code.to_url();
        assert_eq!(
            url,
            "http://192.168.1.10:8787/enrol/K3M9PQ2XABCD7EFG?key=7KQ2-M9PD-X4TA-B3CE"
        );
        assert!(EnrolmentCode::looks_like(&url));
        assert_eq!(EnrolmentCode::parse(&url), Ok(code));
        // A hub behind a path prefix keeps it.
        let prefixed = EnrolmentCode::parse("https://hub.example.org/salon/enrol/ABC?key=7KQ2M9PDX4TAB3CE").unwrap();
        assert_eq!(prefixed.hub_url, "https://hub.example.org/salon");
    }

    #[test]
    fn signed_codes_round_trip_and_cannot_be_altered() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let code = EnrolmentCode::sign("https://10.0.0.2:8787/", "K3M9PQ2XABCD7EFG", Some([9; 32]), &key).unwrap();
        let url = code.to_url();
        assert!(url.len() <= MAX_ENROL_CODE_LEN, "{}", url.len());
        let parsed = EnrolmentCode::parse(&url).unwrap();
        assert_eq!(parsed, code);
        assert_eq!(parsed.verify().unwrap().tls_pin, Some([9; 32]));
        // Another hub address, the same signature: refused.
        let swapped = EnrolmentCode::parse(&url.replace("10.0.0.2", "10.0.0.66")).unwrap();
        assert_eq!(swapped.verify(), Err(EnrolmentCodeError::BadSignature));
        // Another certificate pin: refused.
        let mut repinned = code.clone();
        if let Some(parts) = repinned.signed.as_mut() {
            parts.tls_pin = Some([8; 32]);
        }
        assert_eq!(repinned.verify(), Err(EnrolmentCodeError::BadSignature));
        // Re-signed by another key under the genuine fingerprint: refused.
        let mut forged =
            EnrolmentCode::sign(&code.hub_url, &code.token, None, &SigningKey::from_bytes(&[8; 32])).unwrap();
        forged.key_fingerprint = code.key_fingerprint.clone();
        assert_eq!(forged.verify(), Err(EnrolmentCodeError::BadSignature));
        // The unsigned v1 form parses but is not trusted.
        let mut unsigned = code.clone();
        unsigned.signed = None;
        let unsigned = EnrolmentCode::parse(&unsigned.to_url()).unwrap();
        assert_eq!(unsigned.verify(), Err(EnrolmentCodeError::Unsigned));
    }

    #[test]
    fn refuses_what_is_not_an_enrolment_code() {
        assert_eq!(EnrolmentCode::parse("BKABCDEF"), Err(EnrolmentCodeError::NotEnrolment));
        assert_eq!(
            EnrolmentCode::parse("https://example.org/"),
            Err(EnrolmentCodeError::NotEnrolment)
        );
        assert_eq!(
            EnrolmentCode::parse("http://h/enrol/ABC"),
            Err(EnrolmentCodeError::Damaged("no key"))
        );
        assert_eq!(
            EnrolmentCode::parse("http://h/enrol/A-B?key=7KQ2-M9PD-X4TA-B3CE"),
            Err(EnrolmentCodeError::Damaged("bad token"))
        );
        assert_eq!(
            EnrolmentCode::parse("http://h/enrol/AB?key=7KQ2"),
            Err(EnrolmentCodeError::Damaged("bad key fingerprint"))
        );
        assert_eq!(
            EnrolmentCode::parse("http:///enrol/AB?key=7KQ2-M9PD-X4TA-B3CE"),
            Err(EnrolmentCodeError::Damaged("no hub address"))
        );
        // Issue #8 (fuzzing): slashes are not a hub address. This one parsed, and the URL
        // it printed back (`http:/enrol/…`) did not.
        assert_eq!(
            EnrolmentCode::parse("http:////////enrol/AC?key=7KQ2M9PDX4TAB3CE"),
            Err(EnrolmentCodeError::Damaged("no hub address"))
        );
        assert_eq!(
            EnrolmentCode::parse("https:///salon/enrol/AC?key=7KQ2M9PDX4TAB3CE"),
            Err(EnrolmentCodeError::Damaged("no hub address"))
        );
        assert_eq!(
            EnrolmentCode::parse(&format!("http://h/enrol/{}?key=x", "A".repeat(500))),
            Err(EnrolmentCodeError::NotEnrolment)
        );
    }
}
