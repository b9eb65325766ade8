//! Attendance codes, format v1: what is printed on tickets, wristbands and staff cards.
//!
//! Text form: `BK` + base32(bytes). Bytes (big-endian):
//!
//! | field        | size        | notes                                            |
//! |--------------|-------------|--------------------------------------------------|
//! | version      | 1           | `1`                                              |
//! | event tag    | 4           | SHA-256("badge-kiosk/event-tag/v1\0" ‖ event id) |
//! | key hint     | 4           | SHA-256(event public key)[..4]                   |
//! | code id      | 10          | random, 80 bits                                  |
//! | role         | 1 (+ str)   | 0 visitor, 1 staff + stand id, 2 organiser        |
//! | valid from   | 4           | unix seconds                                     |
//! | valid until  | 4           | unix seconds                                     |
//! | holder       | 1 + ≤ 32    | registration reference, empty if none            |
//! | signature    | 64          | Ed25519 over DOMAIN ‖ event id ‖ all bytes above |
//!
//! DO NOT CHANGE this layout or the domain string: printed codes in visitors' hands
//! depend on them. A new layout gets a new version byte and keeps decoding v1.

use std::collections::HashSet;
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::base32;
use super::keys::key_hint;
use super::wire::{Reader, WireError, Writer};

pub const CODE_PREFIX: &str = "BK";
const CODE_VERSION: u8 = 1;
const CODE_DOMAIN: &[u8] = b"badge-kiosk/attendance-code/v1\0";
const EVENT_TAG_DOMAIN: &[u8] = b"badge-kiosk/event-tag/v1\0";
pub const MAX_HOLDER_LEN: usize = 16;
pub const MAX_STAND_LEN: usize = 16;
/// QR version 7 at level M holds 178 characters in one alphanumeric segment: the largest
/// code a phone-sized print or a 720p camera still reads reliably.
pub const MAX_CODE_TEXT_LEN: usize = 178;

/// The random identity of one printed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeId(pub [u8; 10]);

impl CodeId {
    pub fn random() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 10];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
    /// What people read on a label and say to a help desk: `7KQ2-M9PD`.
    pub fn short(&self) -> String {
        let encoded = base32::encode(&self.0[..5]);
        format!("{}-{}", &encoded[..4], &encoded[4..8])
    }
}

impl fmt::Display for CodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    Visitor,
    Staff { stand: String },
    Organiser,
}

impl Role {
    pub fn label(&self) -> String {
        match self {
            Role::Visitor => "visitor".into(),
            Role::Staff { stand } => format!("staff:{stand}"),
            Role::Organiser => "organiser".into(),
        }
    }
}

pub fn event_tag(event_id: &str) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(EVENT_TAG_DOMAIN)
        .chain_update(event_id.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The content of a code, before or after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeClaims {
    pub code_id: CodeId,
    pub role: Role,
    pub holder: Option<String>,
    pub valid_from: u32,
    pub valid_until: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceCode {
    pub event_tag: [u8; 4],
    pub key_hint: [u8; 4],
    pub claims: CodeClaims,
    pub signature: Signature,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodeError {
    #[error(transparent)]
    Field(#[from] WireError),
    #[error("the holder reference is longer than {MAX_HOLDER_LEN} bytes: use a shorter registration id")]
    HolderTooLong,
    #[error("the stand id is longer than {MAX_STAND_LEN} bytes: use a shorter id in event.toml")]
    StandTooLong,
    #[error("a holder reference must be a registration id, never an email address")]
    HolderIsEmail,
    #[error("the validity window ends before it starts")]
    EmptyWindow,
    #[error("the code would be {0} characters, more than fit a version-7 QR code: shorten the holder reference or the stand id")]
    TooLong(usize),
}

fn payload(event_tag: [u8; 4], key_hint: [u8; 4], claims: &CodeClaims) -> Result<Writer, WireError> {
    let mut writer = Writer::new();
    writer
        .u8(CODE_VERSION)
        .raw(&event_tag)
        .raw(&key_hint)
        .raw(&claims.code_id.0);
    match &claims.role {
        Role::Visitor => {
            writer.u8(0);
        }
        Role::Staff { stand } => {
            writer.u8(1).short_str("stand", stand)?;
        }
        Role::Organiser => {
            writer.u8(2);
        }
    }
    writer.u32(claims.valid_from).u32(claims.valid_until);
    writer.short_str("holder", claims.holder.as_deref().unwrap_or(""))?;
    Ok(writer)
}

fn signed_message(event_id: &str, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(CODE_DOMAIN.len() + 1 + event_id.len() + payload.len());
    message.extend_from_slice(CODE_DOMAIN);
    // Length-prefixed so that event id and payload cannot be re-split differently.
    message.push(u8::try_from(event_id.len()).unwrap_or(u8::MAX));
    message.extend_from_slice(event_id.as_bytes());
    message.extend_from_slice(payload);
    message
}

impl AttendanceCode {
    pub fn sign(event_id: &str, key: &SigningKey, claims: CodeClaims) -> Result<Self, CodeError> {
        if let Some(holder) = &claims.holder {
            if holder.len() > MAX_HOLDER_LEN {
                return Err(CodeError::HolderTooLong);
            }
            if holder.contains('@') {
                return Err(CodeError::HolderIsEmail);
            }
        }
        if let Role::Staff { stand } = &claims.role {
            if stand.len() > MAX_STAND_LEN {
                return Err(CodeError::StandTooLong);
            }
        }
        if claims.valid_until < claims.valid_from {
            return Err(CodeError::EmptyWindow);
        }
        let tag = event_tag(event_id);
        let hint = key_hint(&key.verifying_key());
        let payload = payload(tag, hint, &claims)?;
        let signature = key.sign(&signed_message(event_id, payload.as_slice()));
        let code = Self {
            event_tag: tag,
            key_hint: hint,
            claims,
            signature,
        };
        let length = code.to_text().len();
        if length > MAX_CODE_TEXT_LEN {
            return Err(CodeError::TooLong(length));
        }
        Ok(code)
    }

    pub fn to_text(&self) -> String {
        // Cannot fail: lengths were checked in `sign` / `parse`.
        let bytes = payload(self.event_tag, self.key_hint, &self.claims)
            .map(|mut writer| {
                writer.raw(&self.signature.to_bytes());
                writer.finish()
            })
            .unwrap_or_default();
        format!("{CODE_PREFIX}{}", base32::encode(&bytes))
    }

    /// The bytes the event key signed for this code (domain, event id, every field): what a
    /// verifier checks `signature` against, e.g. the hub's batch of signatures.
    pub fn signed_message(&self, event_id: &str) -> Result<Vec<u8>, CodeRefusal> {
        let payload = payload(self.event_tag, self.key_hint, &self.claims).map_err(|_| CodeRefusal::Malformed)?;
        Ok(signed_message(event_id, payload.as_slice()))
    }

    /// Parses the text form without checking the signature.
    pub fn parse(text: &str) -> Result<Self, CodeRefusal> {
        let body = text.trim().strip_prefix(CODE_PREFIX).ok_or(CodeRefusal::NotACode)?;
        let bytes = base32::decode(body).map_err(|_| CodeRefusal::NotACode)?;
        let mut reader = Reader::new(&bytes);
        let version = reader.u8("version").map_err(|_| CodeRefusal::NotACode)?;
        if version != CODE_VERSION {
            return Err(CodeRefusal::UnknownVersion(version));
        }
        let malformed = |_: WireError| CodeRefusal::Malformed;
        let event_tag = reader.array("event tag").map_err(malformed)?;
        let key_hint = reader.array("key hint").map_err(malformed)?;
        let code_id = CodeId(reader.array("code id").map_err(malformed)?);
        let role = match reader.u8("role").map_err(malformed)? {
            0 => Role::Visitor,
            1 => {
                let stand = reader.short_str("stand").map_err(malformed)?;
                if stand.is_empty() || stand.len() > MAX_STAND_LEN {
                    return Err(CodeRefusal::Malformed);
                }
                Role::Staff {
                    stand: stand.to_owned(),
                }
            }
            2 => Role::Organiser,
            _ => return Err(CodeRefusal::Malformed),
        };
        let valid_from = reader.u32("valid from").map_err(malformed)?;
        let valid_until = reader.u32("valid until").map_err(malformed)?;
        let holder = reader.short_str("holder").map_err(malformed)?;
        if holder.len() > MAX_HOLDER_LEN {
            return Err(CodeRefusal::Malformed);
        }
        let holder = (!holder.is_empty()).then(|| holder.to_owned());
        let signature = Signature::from_bytes(&reader.array("signature").map_err(malformed)?);
        reader.finish().map_err(malformed)?;
        Ok(Self {
            event_tag,
            key_hint,
            claims: CodeClaims {
                code_id,
                role,
                holder,
                valid_from,
                valid_until,
            },
            signature,
        })
    }
}

/// Why a scanned text was refused. Each reason maps to its own visitor-facing message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodeRefusal {
    /// Not one of our codes at all (camera noise, another QR code). Shown quietly.
    #[error("this is not a badge-kiosk attendance code")]
    NotACode,
    #[error("this code was made by a newer badge-kiosk (format {0}): update the kiosk")]
    UnknownVersion(u8),
    #[error("this code is damaged or incomplete: print it again")]
    Malformed,
    #[error("this code belongs to another event")]
    OtherEvent,
    #[error("this code was signed with a key this kiosk does not know: sync the kiosk or ask the organiser")]
    UnknownKey,
    #[error("this code's signature is wrong: it was altered or forged")]
    Forged,
    #[error("this code has been cancelled by the organiser")]
    Revoked,
    #[error("this code is not valid yet")]
    NotYetValid,
    #[error("this code has expired")]
    Expired,
    #[error("this ticket is not on the event's list of tickets")]
    UnknownTicket,
    #[error("a {found} code cannot be used here (expected {expected})")]
    RoleNotAllowed { expected: String, found: String },
    #[error("this staff card is for stand {card_stand:?}, this kiosk is at stand {kiosk_stand:?}")]
    WrongStand { card_stand: String, kiosk_stand: String },
}

/// What a kiosk knows to check codes: the event, its valid keys, revocations.
#[derive(Debug, Clone)]
pub struct CodeVerifier {
    pub event_id: String,
    event_tag: [u8; 4],
    keys: Vec<VerifyingKey>,
    revoked: HashSet<CodeId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCode {
    pub claims: CodeClaims,
    pub key_hint: [u8; 4],
}

impl CodeVerifier {
    pub fn new(event_id: &str, keys: Vec<VerifyingKey>, revoked: HashSet<CodeId>) -> Self {
        Self {
            event_id: event_id.to_owned(),
            event_tag: event_tag(event_id),
            keys,
            revoked,
        }
    }

    pub fn revoke(&mut self, code: CodeId) {
        self.revoked.insert(code);
    }

    /// Verification order (each step has its own refusal): decode → event → signature
    /// against the event's valid keys → revocation → validity window at `trusted_now`
    /// (the caller passes a clock that never runs backwards past a trusted time).
    pub fn verify(&self, text: &str, trusted_now: i64) -> Result<VerifiedCode, CodeRefusal> {
        let code = AttendanceCode::parse(text)?;
        if code.event_tag != self.event_tag {
            return Err(CodeRefusal::OtherEvent);
        }
        let payload = payload(code.event_tag, code.key_hint, &code.claims).map_err(|_| CodeRefusal::Malformed)?;
        let message = signed_message(&self.event_id, payload.as_slice());
        let candidates: Vec<&VerifyingKey> = self.keys.iter().filter(|key| key_hint(key) == code.key_hint).collect();
        if candidates.is_empty() {
            return Err(CodeRefusal::UnknownKey);
        }
        // One check per signature: `verify_strict` refuses everything `verify` refuses
        // (same cofactorless equation on encodings, plus small-order keys and R).
        let genuine = candidates
            .iter()
            .any(|key| key.verify_strict(&message, &code.signature).is_ok());
        if !genuine {
            return Err(CodeRefusal::Forged);
        }
        if self.revoked.contains(&code.claims.code_id) {
            return Err(CodeRefusal::Revoked);
        }
        if trusted_now < i64::from(code.claims.valid_from) {
            return Err(CodeRefusal::NotYetValid);
        }
        if trusted_now > i64::from(code.claims.valid_until) {
            return Err(CodeRefusal::Expired);
        }
        Ok(VerifiedCode {
            claims: code.claims,
            key_hint: code.key_hint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_790_000_000;

    fn event_key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn claims(role: Role, holder: Option<&str>) -> CodeClaims {
        CodeClaims {
            code_id: CodeId([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            role,
            holder: holder.map(str::to_owned),
            valid_from: 1_780_000_000,
            valid_until: 1_800_000_000,
        }
    }

    fn verifier() -> CodeVerifier {
        CodeVerifier::new("demo-event", vec![event_key().verifying_key()], HashSet::new())
    }

    #[test]
    fn test_vector_visitor_code() {
        // Frozen contract: this exact string is what a v1 printer produces for these
        // inputs. If this test fails, printed codes in the field would stop verifying.
        let code = AttendanceCode::sign("demo-event", &event_key(), claims(Role::Visitor, Some("REG-0042"))).unwrap();
        let text = code.to_text();
        assert_eq!(text, include_str!("testdata/code_v1_visitor.txt").trim());
        assert_eq!(verifier().verify(&text, NOW).unwrap().claims, code.claims);
    }

    #[test]
    fn test_vector_staff_code() {
        let code = AttendanceCode::sign(
            "demo-event",
            &event_key(),
            claims(
                Role::Staff {
                    stand: "boulangerie".into(),
                },
                None,
            ),
        )
        .unwrap();
        assert_eq!(code.to_text(), include_str!("testdata/code_v1_staff.txt").trim());
    }

    #[test]
    fn codes_fit_qr_version_7_alphanumeric() {
        let sign = |role: Role, holder: Option<String>| {
            AttendanceCode::sign(
                "demo-event",
                &event_key(),
                CodeClaims {
                    role,
                    holder,
                    ..claims(Role::Visitor, None)
                },
            )
        };
        let visitor = sign(Role::Visitor, Some("R".repeat(MAX_HOLDER_LEN))).unwrap();
        assert!(visitor.to_text().len() <= MAX_CODE_TEXT_LEN);
        let staff = sign(
            Role::Staff {
                stand: "x".repeat(MAX_STAND_LEN),
            },
            None,
        )
        .unwrap();
        assert!(staff.to_text().len() <= MAX_CODE_TEXT_LEN);
        assert!(matches!(
            sign(
                Role::Staff {
                    stand: "x".repeat(MAX_STAND_LEN)
                },
                Some("R".repeat(MAX_HOLDER_LEN))
            ),
            Err(CodeError::TooLong(_))
        ));
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let text = AttendanceCode::sign("demo-event", &event_key(), claims(Role::Visitor, Some("REG-0042")))
            .unwrap()
            .to_text();
        let bytes = base32::decode(&text[2..]).unwrap();
        let verifier = verifier();
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let forged = format!("BK{}", base32::encode(&flipped));
            assert!(verifier.verify(&forged, NOW).is_err(), "bit {bit} accepted");
        }
    }

    #[test]
    fn one_changed_character_is_refused() {
        let text = AttendanceCode::sign("demo-event", &event_key(), claims(Role::Visitor, None))
            .unwrap()
            .to_text();
        for position in 2..text.len() {
            let mut chars: Vec<char> = text.chars().collect();
            chars[position] = if chars[position] == 'A' { 'B' } else { 'A' };
            let changed: String = chars.into_iter().collect();
            assert!(verifier().verify(&changed, NOW).is_err(), "position {position}");
        }
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let key = event_key();
        let sign = |event: &str, key: &SigningKey, claims: CodeClaims| {
            AttendanceCode::sign(event, key, claims).unwrap().to_text()
        };
        let verifier = verifier();
        let good = claims(Role::Visitor, None);
        assert_eq!(verifier.verify("hello", NOW), Err(CodeRefusal::NotACode));
        assert_eq!(verifier.verify("https://example.org", NOW), Err(CodeRefusal::NotACode));
        assert_eq!(
            verifier.verify(&sign("other-event", &key, good.clone()), NOW),
            Err(CodeRefusal::OtherEvent)
        );
        let stranger = SigningKey::from_bytes(&[9u8; 32]);
        assert_eq!(
            verifier.verify(&sign("demo-event", &stranger, good.clone()), NOW),
            Err(CodeRefusal::UnknownKey)
        );
        let text = sign("demo-event", &key, good.clone());
        assert_eq!(verifier.verify(&text, 1_700_000_000), Err(CodeRefusal::NotYetValid));
        assert_eq!(verifier.verify(&text, 1_900_000_000), Err(CodeRefusal::Expired));
        let mut revoking = verifier.clone();
        revoking.revoke(good.code_id);
        assert_eq!(revoking.verify(&text, NOW), Err(CodeRefusal::Revoked));
        // A truncated code.
        assert!(matches!(
            verifier.verify(&text[..text.len() - 8], NOW),
            Err(CodeRefusal::Malformed | CodeRefusal::NotACode)
        ));
    }

    #[test]
    fn rotated_keys_both_verify() {
        let old = event_key();
        let new = SigningKey::from_bytes(&[8u8; 32]);
        let verifier = CodeVerifier::new(
            "demo-event",
            vec![old.verifying_key(), new.verifying_key()],
            HashSet::new(),
        );
        for key in [&old, &new] {
            let text = AttendanceCode::sign("demo-event", key, claims(Role::Organiser, None))
                .unwrap()
                .to_text();
            assert!(verifier.verify(&text, NOW).is_ok());
        }
    }

    #[test]
    fn refuses_email_as_holder() {
        assert_eq!(
            AttendanceCode::sign("demo-event", &event_key(), claims(Role::Visitor, Some("a@b.fr"))),
            Err(CodeError::HolderIsEmail)
        );
    }

    proptest! {
        #[test]
        fn round_trip(id in any::<[u8; 10]>(), from in 0u32..2_000_000_000, len in 0u32..100_000_000,
                      holder in proptest::option::of("[A-Z0-9-]{1,16}"), stand in "[a-z-]{1,16}", role in 0u8..3) {
            let (role, holder) = match role { 0 => (Role::Visitor, holder), 1 => (Role::Staff { stand }, None), _ => (Role::Organiser, holder) };
            let claims = CodeClaims { code_id: CodeId(id), role, holder, valid_from: from, valid_until: from.saturating_add(len) };
            let text = AttendanceCode::sign("demo-event", &event_key(), claims.clone()).unwrap().to_text();
            prop_assert!(text.len() <= MAX_CODE_TEXT_LEN);
            let verified = verifier().verify(&text, i64::from(from)).unwrap();
            prop_assert_eq!(verified.claims, claims);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = verifier().verify(&text, NOW);
        }

        #[test]
        fn arbitrary_base32_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = verifier().verify(&format!("BK{}", base32::encode(&bytes)), NOW);
        }
    }
}
