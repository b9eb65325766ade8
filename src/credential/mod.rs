//! Open Badges 3.0 credentials, signed offline with the `eddsa-rdfc-2022` Data Integrity
//! cryptosuite and verifiable by any conforming verifier (the DCC one is tested).
//!
//! Signing: the credential JSON and the proof options are each turned into RDF quads by the
//! closed-vocabulary walker in `shape.rs`, canonicalized with RDFC-1.0 (`rdfc.rs`), hashed with
//! SHA-256, and `proofHash ‖ documentHash` is signed with Ed25519. The issuer is the signing
//! key's `did:key`, so a verifier needs no network to find the key.
//!
//! The signed byte layout is fixed by the W3C/1EdTech specifications, not by us; the unit test
//! `reproduces_the_1edtech_vector_step_by_step` pins it.

mod bake;
pub mod didauth;
mod didkey;
mod endorse;
#[cfg(any(test, feature = "bench"))]
pub mod fixtures;
pub mod from_record;
pub mod holder_proof;
mod nquads;
mod rdfc;
mod shape;

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use bake::{bake_png, bake_svg, extract_png, extract_svg};
pub use didkey::{did_key, key_from_did_key};
pub use endorse::{endorse_key, verify_endorsed, EndorsementInput};
pub use shape::CredentialKind;

pub const CRYPTOSUITE: &str = "eddsa-rdfc-2022";
/// `identityType` of a registration reference. OB 3.0 has no enumerated value for an event
/// registration, and extension values must start with `ext:`.
pub const REGISTRATION_IDENTITY_TYPE: &str = "ext:eventRegistration";
/// `identityType` of a hashed claim link (the visitor took the badge on a phone).
pub const CLAIM_LINK_IDENTITY_TYPE: &str = "ext:claimLink";

/// Everything the kiosk knows about one award; plain data, no other badge-kiosk types.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialInput {
    /// Becomes the credential id `urn:uuid:…`.
    pub id: Uuid,
    pub issuer: IssuerProfile,
    /// Written with whole seconds, as `2025-05-01T09:30:00Z`.
    pub valid_from: DateTime<Utc>,
    /// The credential's display name.
    pub name: String,
    pub achievement: Achievement,
    pub subject: SubjectIdentity,
    pub evidence: Vec<Evidence>,
}

/// The issuing organisation as shown to the earner; its `id` is always the signing key's DID.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerProfile {
    pub name: String,
    pub url: String,
    pub email: Option<String>,
    /// An `https:` URL or a base64 `data:` URI.
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Achievement {
    /// An absolute IRI, the same for every award of this badge.
    pub id: String,
    pub name: String,
    pub description: String,
    pub criteria_narrative: String,
    /// An `https:` URL or a base64 `data:` URI.
    pub image: Option<String>,
    /// An OB 3.0 achievement type such as `Achievement` or `Badge`, or an `ext:` value.
    pub achievement_type: String,
}

/// Who earned the badge, without putting personal data in clear into the credential.
#[derive(Debug, Clone, PartialEq)]
pub enum SubjectIdentity {
    /// `identityHash` = `sha256$` + hex(SHA-256(e-mail ‖ salt)); build with [`SubjectIdentity::hashed_email`].
    HashedEmail { identity_hash: String, salt: String },
    /// The visitor's registration reference at the event, in clear.
    Registration { reference: String },
    /// A secret the earner holds (the claim link's token), never in clear: `identityHash` =
    /// `sha256$` + hex(SHA-256(secret ‖ salt)); build with [`SubjectIdentity::hashed_claim_link`].
    HashedClaimLink { identity_hash: String, salt: String },
}

impl SubjectIdentity {
    /// Hashes an e-mail address the OB 3.0 way. The address is trimmed and lower-cased first so
    /// that the earner's backpack, which does the same, finds the match.
    pub fn hashed_email(email: &str, salt: &str) -> Self {
        let normalised = email.trim().to_lowercase();
        let digest = Sha256::new()
            .chain_update(normalised.as_bytes())
            .chain_update(salt.as_bytes())
            .finalize();
        SubjectIdentity::HashedEmail {
            identity_hash: format!("sha256${}", hex::encode(digest)),
            salt: salt.to_owned(),
        }
    }

    /// Hashes a claim link's token: whoever holds the link can show the credential is
    /// theirs, and the credential alone does not reveal the link.
    pub fn hashed_claim_link(token: &str, salt: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(token.trim().as_bytes())
            .chain_update(salt.as_bytes())
            .finalize();
        SubjectIdentity::HashedClaimLink {
            identity_hash: format!("sha256${}", hex::encode(digest)),
            salt: salt.to_owned(),
        }
    }

    fn identity_object(&self) -> Value {
        match self {
            SubjectIdentity::HashedEmail { identity_hash, salt } => json!({
                "type": "IdentityObject",
                "hashed": true,
                "identityHash": identity_hash,
                "identityType": "emailAddress",
                "salt": salt,
            }),
            SubjectIdentity::HashedClaimLink { identity_hash, salt } => json!({
                "type": "IdentityObject",
                "hashed": true,
                "identityHash": identity_hash,
                "identityType": CLAIM_LINK_IDENTITY_TYPE,
                "salt": salt,
            }),
            SubjectIdentity::Registration { reference } => json!({
                "type": "IdentityObject",
                "hashed": false,
                "identityHash": reference,
                "identityType": REGISTRATION_IDENTITY_TYPE,
            }),
        }
    }
}

/// OB 3.0 `Evidence`; for kiosk awards use [`Evidence::award_record`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// An absolute IRI such as `urn:uuid:…`.
    pub id: String,
    pub name: String,
    pub narrative: String,
}

impl Evidence {
    /// Points at the kiosk's signed award record so the hub can match credential and record.
    pub fn award_record(record_id: Uuid, record_signature: &[u8]) -> Self {
        Evidence {
            id: format!("urn:uuid:{record_id}"),
            name: "Kiosk award record".to_owned(),
            narrative: format!(
                "Awarded at the event kiosk; award record signature (base58btc): z{}",
                bs58::encode(record_signature).into_string()
            ),
        }
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub kind: CredentialKind,
    /// The credential's `id`, if it has one.
    pub id: Option<String>,
    /// The issuer's `id` (a `did:key` for kiosk credentials).
    pub issuer: String,
    pub verification_method: String,
    /// The proof's `created` timestamp.
    pub created: Option<DateTime<Utc>>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// `credentialSubject.id`, if the subject has one.
    pub subject_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("the credential has no proof: it was never signed or the proof was removed; ask the issuer for the signed credential")]
    MissingProof,
    #[error("the proof type is {found}, not DataIntegrityProof; only eddsa-rdfc-2022 Data Integrity proofs can be checked here")]
    WrongProofType { found: String },
    #[error("the proof uses cryptosuite {found}; only eddsa-rdfc-2022 can be checked here")]
    WrongCryptosuite { found: String },
    #[error("the proof purpose is {found}, not assertionMethod, so it does not assert this credential")]
    WrongProofPurpose { found: String },
    #[error("cannot use the signing key {verification_method}: {reason}; for an issuer that publishes its key elsewhere, call verify_with_key with that key")]
    UnknownKey {
        verification_method: String,
        reason: String,
    },
    #[error("the proof was made with {verification_method}, which is not a key of the issuer {issuer}: the credential names an issuer that did not sign it")]
    IssuerMismatch {
        issuer: String,
        verification_method: String,
    },
    #[error("the proofValue is malformed ({reason}); the credential was damaged or made by a faulty signer")]
    MalformedProofValue { reason: String },
    #[error("signature mismatch: the credential was changed after it was signed, or {verification_method} did not sign it; do not trust its contents")]
    SignatureMismatch { verification_method: String },
    #[error("unsupported @context {found}; only credentials whose @context is exactly [\"https://www.w3.org/ns/credentials/v2\", \"https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json\"] can be checked offline")]
    UnsupportedContext { found: String },
    #[error("unsupported credential shape at {path}: {reason}; this offline verifier reads the subset of Open Badges 3.0 that kiosks issue")]
    UnsupportedShape { path: String, reason: String },
    #[error("{path} is not an absolute ASCII IRI ({value}); use an https:, urn:, did: or base64 data: IRI, percent-encoding any other character")]
    InvalidIri { path: String, value: String },
    #[error("the credential's blank nodes are too entangled to canonicalize within the work limit; no ordinary issuer makes such a credential")]
    CanonicalizationTooComplex,
    #[error("not a PNG file (the PNG signature is missing); bake into a PNG or SVG badge image")]
    NotPng,
    #[error("the PNG file is damaged ({reason}); export the badge image again")]
    MalformedPng { reason: String },
    #[error("not an SVG document: no <svg> root element was found")]
    NotSvg,
    #[error("the image carries no baked Open Badges credential")]
    NoBakedCredential,
    #[error("the baked credential is not JSON ({reason}); JWT-encoded credentials are not supported")]
    BakedCredentialNotJson { reason: String },
    #[error("the endorsement does not vouch for this credential: {reason}")]
    NotEndorsed { reason: String },
}

/// The unsigned `OpenBadgeCredential` for `input`, issued by `issuer_key`'s `did:key`.
pub fn build_unsigned(input: &CredentialInput, issuer_key: &VerifyingKey) -> Value {
    let mut achievement = json!({
        "id": input.achievement.id,
        "type": ["Achievement"],
        "achievementType": input.achievement.achievement_type,
        "name": input.achievement.name,
        "description": input.achievement.description,
        "criteria": {"narrative": input.achievement.criteria_narrative},
    });
    if let (Some(image), Some(map)) = (&input.achievement.image, achievement.as_object_mut()) {
        map.insert("image".to_owned(), image_object(image));
    }
    let mut credential = json!({
        "@context": [shape::CREDENTIALS_V2_CONTEXT, shape::OB_CONTEXT],
        "id": format!("urn:uuid:{}", input.id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": profile(&input.issuer, issuer_key),
        "validFrom": timestamp(&input.valid_from),
        "name": input.name,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [input.subject.identity_object()],
            "achievement": achievement,
        },
    });
    if !input.evidence.is_empty() {
        let evidence: Vec<Value> = input
            .evidence
            .iter()
            .map(|e| json!({"id": e.id, "type": ["Evidence"], "name": e.name, "narrative": e.narrative}))
            .collect();
        if let Some(map) = credential.as_object_mut() {
            map.insert("evidence".to_owned(), Value::Array(evidence));
        }
    }
    credential
}

/// Builds and signs the credential; `created` is the proof timestamp (the kiosk clock).
pub fn sign(input: &CredentialInput, key: &SigningKey, created: DateTime<Utc>) -> Result<Value, CredentialError> {
    sign_document(build_unsigned(input, &key.verifying_key()), key, created)
}

/// Like [`sign`], for a credential a wallet took: `credentialSubject.id` names the holder's
/// DID (the key the wallet proved it controls), the rest is the same award's credential.
pub fn sign_for_holder(
    input: &CredentialInput,
    key: &SigningKey,
    created: DateTime<Utc>,
    holder: &str,
) -> Result<Value, CredentialError> {
    let mut document = build_unsigned(input, &key.verifying_key());
    if let Some(subject) = document.get_mut("credentialSubject").and_then(Value::as_object_mut) {
        subject.insert("id".to_owned(), Value::String(holder.to_owned()));
    }
    sign_document(document, key, created)
}

/// Checks an `eddsa-rdfc-2022` proof whose verification method is a `did:key` controlled by
/// the credential's issuer.
pub fn verify(credential: &Value) -> Result<Verified, CredentialError> {
    verify_inner(credential, None)
}

/// Like [`verify`], for issuers whose verification method is not a `did:key` (an https URL,
/// `did:web`): the caller supplies the key it obtained and trusts.
pub fn verify_with_key(credential: &Value, key: &VerifyingKey) -> Result<Verified, CredentialError> {
    verify_inner(credential, Some(key))
}

/// The RDFC-1.0 canonical N-Quads of a credential without its proof: what gets hashed. For
/// diagnosing a verifier that disagrees.
pub fn canonical_nquads(credential: &Value) -> Result<String, CredentialError> {
    let document = as_object(credential)?;
    let (_, quads) = shape::credential_quads(document)?;
    rdfc::canonicalize(quads)
}

/// Adds an `eddsa-rdfc-2022` proof made with `key` (verification method: its `did:key`).
fn sign_document(document: Value, key: &SigningKey, created: DateTime<Utc>) -> Result<Value, CredentialError> {
    let method = didkey::verification_method(&key.verifying_key());
    sign_document_as(document, key, &method, created)
}

fn sign_document_as(
    mut document: Value,
    key: &SigningKey,
    verification_method: &str,
    created: DateTime<Utc>,
) -> Result<Value, CredentialError> {
    let mut proof = proof_options(verification_method, &created);
    let (_, data) = data_to_sign(as_object(&document)?, as_object(&proof)?)?;
    let signature = key.sign(&data);
    let proof_value = format!("z{}", bs58::encode(signature.to_bytes()).into_string());
    if let Some(map) = proof.as_object_mut() {
        map.insert("proofValue".to_owned(), Value::String(proof_value));
    }
    if let Some(map) = document.as_object_mut() {
        map.insert("proof".to_owned(), proof);
    }
    Ok(document)
}

fn proof_options(verification_method: &str, created: &DateTime<Utc>) -> Value {
    json!({
        "type": "DataIntegrityProof",
        "created": timestamp(created),
        "verificationMethod": verification_method,
        "cryptosuite": CRYPTOSUITE,
        "proofPurpose": "assertionMethod",
    })
}

/// SHA-256(canonical proof options) ‖ SHA-256(canonical document): the signed bytes
/// (eddsa-rdfc-2022 §3.3.4). The document's `proof` and the proof's `proofValue` are skipped.
fn data_to_sign(
    document: &Map<String, Value>,
    proof: &Map<String, Value>,
) -> Result<(CredentialKind, [u8; 64]), CredentialError> {
    let (kind, document_quads) = shape::credential_quads(document)?;
    let proof_quads = shape::proof_options_quads(proof)?;
    let proof_hash = Sha256::digest(rdfc::canonicalize(proof_quads)?.as_bytes());
    let document_hash = Sha256::digest(rdfc::canonicalize(document_quads)?.as_bytes());
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(&proof_hash);
    data[32..].copy_from_slice(&document_hash);
    Ok((kind, data))
}

fn verify_inner(credential: &Value, explicit_key: Option<&VerifyingKey>) -> Result<Verified, CredentialError> {
    let document = as_object(credential)?;
    let proof = match document.get("proof") {
        None => return Err(CredentialError::MissingProof),
        Some(Value::Object(proof)) => proof,
        Some(_) => return Err(unsupported("credential.proof", "expected exactly one proof object")),
    };
    let field = |name: &str| proof.get(name).and_then(Value::as_str);
    let found = |name: &str| proof.get(name).map_or_else(|| "missing".to_owned(), Value::to_string);
    if field("type") != Some("DataIntegrityProof") {
        return Err(CredentialError::WrongProofType { found: found("type") });
    }
    if field("cryptosuite") != Some(CRYPTOSUITE) {
        return Err(CredentialError::WrongCryptosuite {
            found: found("cryptosuite"),
        });
    }
    if field("proofPurpose") != Some("assertionMethod") {
        return Err(CredentialError::WrongProofPurpose {
            found: found("proofPurpose"),
        });
    }
    let method = field("verificationMethod")
        .ok_or_else(|| unsupported("credential.proof.verificationMethod", "expected a string"))?;
    let key = match (explicit_key, method.starts_with("did:key:")) {
        (Some(key), false) => *key,
        (None, false) => {
            return Err(CredentialError::UnknownKey {
                verification_method: method.to_owned(),
                reason: "it is not a did:key, so its key cannot be found offline".to_owned(),
            })
        }
        (explicit, true) => {
            let named = didkey::key_from_did_key(method)?;
            if explicit.is_some_and(|explicit| *explicit != named) {
                return Err(CredentialError::UnknownKey {
                    verification_method: method.to_owned(),
                    reason: "it names a different key than the one supplied".to_owned(),
                });
            }
            named
        }
    };

    let issuer = document
        .get("issuer")
        .and_then(|issuer| issuer.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(|| unsupported("credential.issuer", "expected an issuer Profile with an id"))?;
    let controller = method.split_once('#').map_or(method, |(controller, _)| controller);
    if controller != issuer {
        return Err(CredentialError::IssuerMismatch {
            issuer: issuer.to_owned(),
            verification_method: method.to_owned(),
        });
    }

    let created = date_time(proof.get("created"), "credential.proof.created")?;
    let valid_from = date_time(document.get("validFrom"), "credential.validFrom")?;
    let valid_until = date_time(document.get("validUntil"), "credential.validUntil")?;
    let signature = decode_proof_value(field("proofValue"))?;
    let (kind, data) = data_to_sign(document, proof)?;
    key.verify_strict(&data, &signature)
        .map_err(|_| CredentialError::SignatureMismatch {
            verification_method: method.to_owned(),
        })?;

    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    Ok(Verified {
        kind,
        id: text(document.get("id")),
        issuer: issuer.to_owned(),
        verification_method: method.to_owned(),
        created,
        valid_from,
        valid_until,
        subject_id: text(document.get("credentialSubject").and_then(|s| s.get("id"))),
    })
}

/// An optional RFC 3339 date-time (the VC data model's `dateTimeStamp`).
fn date_time(value: Option<&Value>, path: &str) -> Result<Option<DateTime<Utc>>, CredentialError> {
    value
        .map(|value| {
            value
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(|time| time.with_timezone(&Utc))
                .ok_or_else(|| unsupported(path, "expected an RFC 3339 date-time such as 2025-05-02T10:15:00Z"))
        })
        .transpose()
}

fn decode_proof_value(proof_value: Option<&str>) -> Result<Signature, CredentialError> {
    let malformed = |reason: &str| CredentialError::MalformedProofValue {
        reason: reason.to_owned(),
    };
    let encoded = proof_value
        .ok_or_else(|| malformed("missing"))?
        .strip_prefix('z')
        .ok_or_else(|| malformed("not base58btc multibase (z…)"))?;
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| malformed("not valid base58"))?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| malformed("an Ed25519 signature has 64 bytes"))?;
    Ok(Signature::from_bytes(&bytes))
}

fn profile(issuer: &IssuerProfile, key: &VerifyingKey) -> Value {
    let mut profile = json!({
        "id": did_key(key),
        "type": ["Profile"],
        "name": issuer.name,
        "url": issuer.url,
    });
    if let Some(map) = profile.as_object_mut() {
        if let Some(email) = &issuer.email {
            map.insert("email".to_owned(), Value::String(email.clone()));
        }
        if let Some(image) = &issuer.image {
            map.insert("image".to_owned(), image_object(image));
        }
    }
    profile
}

fn image_object(image: &str) -> Value {
    json!({"id": image, "type": "Image"})
}

fn timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn as_object(value: &Value) -> Result<&Map<String, Value>, CredentialError> {
    value
        .as_object()
        .ok_or_else(|| unsupported("credential", "expected a JSON object"))
}

fn unsupported(path: &str, reason: &str) -> CredentialError {
    CredentialError::UnsupportedShape {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
