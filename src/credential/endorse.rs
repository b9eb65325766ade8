//! Trust chain: the organisation's long-lived key endorses an event kiosk's key.
//!
//! Each kiosk signs with its own key (a stolen kiosk exposes one event, not the organisation).
//! The organisation issues an OB 3.0 `EndorsementCredential` whose subject is the kiosk's
//! `did:key`, optionally limited in time; a verifier that trusts the organisation's DID
//! accepts a badge when the badge's issuer is an endorsed kiosk and the badge falls within the
//! endorsement's period.

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    did_key, profile, sign_document, timestamp, verify, CredentialError, CredentialKind, IssuerProfile, Verified,
};

/// The organisation's statement about one kiosk key.
#[derive(Debug, Clone, PartialEq)]
pub struct EndorsementInput {
    pub id: Uuid,
    /// The organisation; its `id` becomes the organisation key's DID.
    pub organisation: IssuerProfile,
    pub valid_from: DateTime<Utc>,
    /// After this, badges signed by the kiosk are no longer vouched for.
    pub valid_until: Option<DateTime<Utc>>,
    /// e.g. "Kiosk key, Open Data Day 2025, stand 4".
    pub name: String,
    pub comment: String,
}

/// Signs an `EndorsementCredential` by `organisation_key` about `kiosk_key`.
pub fn endorse_key(
    input: &EndorsementInput,
    kiosk_key: &VerifyingKey,
    organisation_key: &SigningKey,
    created: DateTime<Utc>,
) -> Result<Value, CredentialError> {
    let mut endorsement = json!({
        "@context": [super::shape::CREDENTIALS_V2_CONTEXT, super::shape::OB_CONTEXT],
        "id": format!("urn:uuid:{}", input.id),
        "type": ["VerifiableCredential", "EndorsementCredential"],
        "issuer": profile(&input.organisation, &organisation_key.verifying_key()),
        "validFrom": timestamp(&input.valid_from),
        "name": input.name,
        "credentialSubject": {
            "id": did_key(kiosk_key),
            "type": ["EndorsementSubject"],
            "endorsementComment": input.comment,
        },
    });
    if let (Some(until), Some(map)) = (&input.valid_until, endorsement.as_object_mut()) {
        map.insert("validUntil".to_owned(), Value::String(timestamp(until)));
    }
    sign_document(endorsement, organisation_key, created)
}

/// Verifies `credential` and that `endorsement`, signed by `trusted_organisation` (a
/// `did:key`), vouches for the credential's issuer at the credential's `validFrom`.
pub fn verify_endorsed(
    credential: &Value,
    endorsement: &Value,
    trusted_organisation: &str,
) -> Result<Verified, CredentialError> {
    let not_endorsed = |reason: String| CredentialError::NotEndorsed { reason };
    let vouch = verify(endorsement)?;
    if vouch.kind != CredentialKind::Endorsement {
        return Err(not_endorsed(
            "the second document is not an EndorsementCredential".to_owned(),
        ));
    }
    if vouch.issuer != trusted_organisation {
        return Err(not_endorsed(format!(
            "it was issued by {}, not by the trusted organisation {trusted_organisation}",
            vouch.issuer
        )));
    }
    let badge = verify(credential)?;
    if vouch.subject_id.as_deref() != Some(badge.issuer.as_str()) {
        return Err(not_endorsed(format!(
            "it endorses {}, but the credential was issued by {}",
            vouch.subject_id.as_deref().unwrap_or("nobody"),
            badge.issuer
        )));
    }
    let missing = |what: &str| not_endorsed(format!("{what} has no validFrom"));
    let issued = badge.valid_from.ok_or_else(|| missing("the credential"))?;
    let from = vouch.valid_from.ok_or_else(|| missing("the endorsement"))?;
    let until = vouch.valid_until;
    if issued < from || until.is_some_and(|until| issued > until) {
        return Err(not_endorsed(format!(
            "the credential is dated {issued}, outside the endorsement's period starting {from}{}",
            until.map(|u| format!(" and ending {u}")).unwrap_or_default()
        )));
    }
    Ok(badge)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::fixtures::sample_input;
    use super::super::sign;
    use super::*;

    fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, 9, 0, 0)
            .single()
            .unwrap_or_default()
    }

    struct Chain {
        organisation: SigningKey,
        badge: Value,
        endorsement: Value,
    }

    fn chain() -> Chain {
        let organisation = SigningKey::from_bytes(&[1; 32]);
        let kiosk = SigningKey::from_bytes(&[2; 32]);
        let input = EndorsementInput {
            id: Uuid::from_u128(0xe4d0),
            organisation: IssuerProfile {
                name: "Fondation Écluse".to_owned(),
                url: "https://ecluse.example".to_owned(),
                email: None,
                image: None,
            },
            valid_from: at(2025, 5, 1),
            valid_until: Some(at(2025, 5, 3)),
            name: "Kiosk key, stand 4".to_owned(),
            comment: "Kiosk operated by our staff at the \"Open Data\" days.".to_owned(),
        };
        let endorsement = endorse_key(&input, &kiosk.verifying_key(), &organisation, at(2025, 4, 30)).expect("signs");
        let mut award = sample_input();
        award.valid_from = at(2025, 5, 2);
        let badge = sign(&award, &kiosk, at(2025, 5, 2)).expect("signs");
        Chain {
            organisation,
            badge,
            endorsement,
        }
    }

    #[test]
    fn an_endorsed_kiosk_badge_verifies() {
        let chain = chain();
        let trusted = did_key(&chain.organisation.verifying_key());
        let verified = verify_endorsed(&chain.badge, &chain.endorsement, &trusted).expect("chain holds");
        assert_eq!(
            verified.issuer,
            did_key(&SigningKey::from_bytes(&[2; 32]).verifying_key())
        );
    }

    #[test]
    fn another_organisation_or_kiosk_or_period_is_refused() {
        let chain = chain();
        let stranger = did_key(&SigningKey::from_bytes(&[9; 32]).verifying_key());
        let message = verify_endorsed(&chain.badge, &chain.endorsement, &stranger)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(message.contains("not by the trusted organisation"), "{message}");

        let trusted = did_key(&chain.organisation.verifying_key());
        let other_kiosk_badge =
            sign(&sample_input(), &SigningKey::from_bytes(&[3; 32]), at(2025, 5, 2)).expect("signs");
        let message = verify_endorsed(&other_kiosk_badge, &chain.endorsement, &trusted)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(message.contains("but the credential was issued by"), "{message}");

        let mut late = sample_input();
        late.valid_from = at(2025, 6, 1);
        let late_badge = sign(&late, &SigningKey::from_bytes(&[2; 32]), at(2025, 6, 1)).expect("signs");
        let message = verify_endorsed(&late_badge, &chain.endorsement, &trusted)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(message.contains("outside the endorsement's period"), "{message}");
    }

    #[test]
    fn a_tampered_endorsement_is_refused() {
        let chain = chain();
        let trusted = did_key(&chain.organisation.verifying_key());
        let mut forged = chain.endorsement.clone();
        forged["validUntil"] = json!("2099-01-01T00:00:00Z");
        assert!(matches!(
            verify_endorsed(&chain.badge, &forged, &trusted),
            Err(CredentialError::SignatureMismatch { .. })
        ));
        // A badge is not an endorsement, even when signed by the trusted key.
        let organisation_badge = sign(&sample_input(), &chain.organisation, at(2025, 5, 2)).expect("signs");
        assert!(matches!(
            verify_endorsed(&chain.badge, &organisation_badge, &trusted),
            Err(CredentialError::NotEndorsed { .. })
        ));
    }
}
