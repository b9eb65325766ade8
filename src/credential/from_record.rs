//! Turns a signed award record into an Open Badges 3.0 credential, signed on the kiosk
//! with its device key (issuer `did:key`), or on the hub with the event key (claim links).
//! Ed25519 is deterministic, so the same record always gives the same credential: nothing
//! extra needs storing.

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use thiserror::Error;

use crate::credential::{self, Achievement, CredentialInput, Evidence, IssuerProfile, SubjectIdentity};
use crate::domain::award::{AwardRecord, Recipient};
use crate::domain::event::{EventDefinition, Language};
use crate::store::StoredRecord;

#[derive(Debug, Error)]
pub enum IssueError {
    #[error("record #{0} is a pathway step, not an award: only awards have credentials")]
    NotAnAward(u64),
    #[error("the event has no badge {0:?} any more: restore it in event.toml")]
    UnknownBadge(String),
    #[error("the email of record #{0} was erased after the badge was issued: the credential can only be re-issued by the platform")]
    EmailErased(u64),
    #[error(transparent)]
    Credential(#[from] credential::CredentialError),
    #[error(transparent)]
    Record(#[from] crate::domain::award::RecordError),
}

fn https_only(url: &str) -> Option<String> {
    url.starts_with("https://").then(|| url.to_owned())
}

pub fn credential_input(
    event: &EventDefinition,
    stored: &StoredRecord,
    language: Language,
) -> Result<CredentialInput, IssueError> {
    credential_input_for(event, &stored.record, stored.email.as_deref(), language)
}

/// Images to put in a credential, each an `https:` URL or a base64 `data:` URI, for when
/// the event's own are files in its directory (which a wallet cannot open): the hub
/// renders them so that wallets and verifiers show the badge, not a generic icon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialImages {
    pub badge: Option<String>,
    pub issuer: Option<String>,
}

/// The same credential from a bare record, as the hub holds it (with the typed email
/// when the record's recipient is one).
pub fn credential_input_for(
    event: &EventDefinition,
    record: &AwardRecord,
    email: Option<&str>,
    language: Language,
) -> Result<CredentialInput, IssueError> {
    credential_input_with(event, record, email, language, &CredentialImages::default())
}

/// Like [`credential_input_for`], with the badge's and the issuer's images when the
/// event's are files.
pub fn credential_input_with(
    event: &EventDefinition,
    record: &AwardRecord,
    email: Option<&str>,
    language: Language,
    images: &CredentialImages,
) -> Result<CredentialInput, IssueError> {
    if !record.content.kind.is_award() {
        return Err(IssueError::NotAnAward(record.sequence));
    }
    let badge = event
        .badge(&record.content.badge_id)
        .ok_or_else(|| IssueError::UnknownBadge(record.content.badge_id.clone()))?;
    let subject = match &record.content.recipient {
        Recipient::Registration(reference) => SubjectIdentity::Registration {
            reference: reference.clone(),
        },
        Recipient::EmailHash(hash) => {
            let email = email.ok_or(IssueError::EmailErased(record.sequence))?;
            // A per-award salt: the public hash cannot be joined across credentials.
            SubjectIdentity::hashed_email(email, &hex::encode(&hash[..8]))
        }
        // The claim link is the visitor's secret: only its salted hash goes in the
        // credential (per-award salt, as for emails).
        Recipient::ClaimToken(token) => SubjectIdentity::hashed_claim_link(
            &crate::domain::base32::encode(token),
            &hex::encode(&record.signature.to_bytes()[..8]),
        ),
        Recipient::None => SubjectIdentity::Registration {
            reference: format!("code-{}", hex::encode(&record.content.code_id)),
        },
    };
    let valid_from: DateTime<Utc> = DateTime::from_timestamp_millis(record.content.created_at_ms).unwrap_or_default();
    let base = event.issuer.url.trim_end_matches('/');
    // The evidence names the record itself; the credential gets its own id derived from it.
    let record_id = record.award_uuid()?;
    Ok(CredentialInput {
        id: uuid::Uuid::new_v5(&record_id, b"open-badges-3.0-credential"),
        issuer: IssuerProfile {
            name: event.issuer.name.clone(),
            url: event.issuer.url.clone(),
            email: event.issuer.email.clone(),
            image: event
                .issuer
                .image
                .as_deref()
                .and_then(https_only)
                .or_else(|| images.issuer.clone()),
        },
        valid_from,
        name: badge.name.get(language).to_owned(),
        achievement: Achievement {
            id: format!("{base}/badges/{}/{}", event.event.id, badge.id),
            name: badge.name.get(language).to_owned(),
            description: badge.description.get(language).to_owned(),
            criteria_narrative: badge.criteria.get(language).to_owned(),
            image: https_only(&badge.image).or_else(|| images.badge.clone()),
            achievement_type: "Achievement".into(),
        },
        subject,
        evidence: vec![Evidence::award_record(
            record.award_uuid()?,
            &record.signature.to_bytes(),
        )],
    })
}

/// A credential for a record signed by `key`: the kiosk's device key on the kiosk, the
/// event key on the organiser's hub (claim links).
pub fn signed_credential_for(
    event: &EventDefinition,
    record: &AwardRecord,
    email: Option<&str>,
    key: &SigningKey,
    language: Language,
    images: &CredentialImages,
) -> Result<serde_json::Value, IssueError> {
    let input = credential_input_with(event, record, email, language, images)?;
    let created = input.valid_from;
    Ok(credential::sign(&input, key, created)?)
}

/// [`signed_credential_for`] with `credentialSubject.id` = `holder`: the credential a
/// wallet takes, bound to the DID whose key it proved it holds.
pub fn signed_credential_for_holder(
    event: &EventDefinition,
    record: &AwardRecord,
    key: &SigningKey,
    language: Language,
    images: &CredentialImages,
    holder: &str,
) -> Result<serde_json::Value, IssueError> {
    let input = credential_input_with(event, record, None, language, images)?;
    let created = input.valid_from;
    Ok(credential::sign_for_holder(&input, key, created, holder)?)
}

pub fn signed_credential(
    event: &EventDefinition,
    stored: &StoredRecord,
    device_key: &SigningKey,
    language: Language,
) -> Result<serde_json::Value, IssueError> {
    let input = credential_input(event, stored, language)?;
    let created = input.valid_from;
    Ok(credential::sign(&input, device_key, created)?)
}
