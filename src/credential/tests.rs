//! Unit tests of the public credential API: the 1EdTech vector, round trips and tampering.
//! The cross-check against the DCC verifier and jsonld.js lives in tests/credential_dcc.rs.

use chrono::TimeZone;
use ed25519_dalek::Signer;
use proptest::prelude::*;

use super::fixtures::sample_input;
use super::*;

/// The 1EdTech files live in the shared folder next to the repository.
const VECTOR_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/ob3/");

fn shared_file(name: &str) -> String {
    let path = format!("{VECTOR_DIR}{name}");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (the shared/ folder must sit beside the crate)"))
}

fn vector_key() -> SigningKey {
    let seed = hex::decode("6241a409e6707bb640a0140a8a32bc3d193c33a661747284d6adfa4ed4180be4").unwrap_or_default();
    SigningKey::from_bytes(&seed.try_into().unwrap_or([0; 32]))
}

const VECTOR_METHOD: &str = "https://example.edu/issuers/565049#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi";

fn vector_credential() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
        "id": "http://example.com/credentials/3527",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "https://example.edu/issuers/565049", "type": ["Profile"], "url": "https://www.imsglobal.org", "name": "Example Corp"},
        "validFrom": "2010-01-01T00:00:00Z",
        "name": "Teamwork Badge",
        "credentialSubject": {
            "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://example.com/achievements/21st-century-skills/teamwork",
                "type": ["Achievement"],
                "criteria": {"narrative": "Team members are nominated for this badge by their peers and recognized upon review by Example Corp management."},
                "description": "This badge recognizes the development of the capacity to collaborate within a group environment.",
                "name": "Teamwork"
            }
        }
    })
}

fn vector_created() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2010, 1, 1, 19, 23, 24)
        .single()
        .unwrap_or_default()
}

const VECTOR_PROOF_VALUE: &str =
    "z5x9aCBYovW3CQCbKdNyhEm7ffYSw1YpEdPywQJoNbzDD2gkzQDKJ1sYKJaWvqZtkMtSbz35HcbgXVEDYHxCzgkCr";

#[test]
fn reproduces_the_1edtech_vector_step_by_step() {
    let key = vector_key();
    assert_eq!(
        hex::encode(key.verifying_key().as_bytes()),
        "4bdeafde2ea8beefadd8c699b5c7e0704cf51154d52e17b20b71337ca04cc5a5"
    );
    assert_eq!(
        didkey::public_key_multibase(&key.verifying_key()),
        "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
    );

    // 1. Canonical N-Quads of the proof options.
    let options = proof_options(VECTOR_METHOD, &vector_created());
    let options_map = options.as_object().cloned().unwrap_or_default();
    let proof_canon =
        rdfc::canonicalize(shape::proof_options_quads(&options_map).expect("proof shape")).expect("canonical");
    assert_eq!(proof_canon, shared_file("proof-canon.txt"));

    // 2. Canonical N-Quads of the credential.
    let credential = vector_credential();
    let document_canon = canonical_nquads(&credential).expect("document shape");
    assert_eq!(document_canon, shared_file("document-canon.txt"));

    // 3–4. Their SHA-256 hashes.
    let proof_hash = Sha256::digest(proof_canon.as_bytes());
    let document_hash = Sha256::digest(document_canon.as_bytes());
    assert_eq!(
        hex::encode(proof_hash),
        "d34009cea0dbc1ca941e09dc01c8c9d3e3ce3c5b853f67ee44698dcea10f5d19"
    );
    assert_eq!(
        hex::encode(document_hash),
        "87f65a76d40146205e3b3e06cb0fbd153f97f9ce70372390f52566bb7f9e0773"
    );

    // 5. Data to sign = proof hash ‖ document hash.
    let (kind, data) = data_to_sign(credential.as_object().expect("object"), &options_map).expect("hashes");
    assert_eq!(kind, CredentialKind::OpenBadge);
    assert_eq!(&data[..32], proof_hash.as_slice());
    assert_eq!(&data[32..], document_hash.as_slice());

    // 6. The Ed25519 signature.
    let signature = key.sign(&data);
    assert_eq!(
        hex::encode(signature.to_bytes()),
        "f7a017acf7d27983267ec362657c0fb08e955549f49dac5bf36a03c4f2c3a4f1e3738a6c5ecd7ffba7135cb9cd754e6196f4b73082ea8df8e703c8ecd4333503"
    );

    // 7. The proofValue, through the public signing path.
    let signed = sign_document_as(credential, &key, VECTOR_METHOD, vector_created()).expect("signs");
    assert_eq!(signed["proof"]["proofValue"], VECTOR_PROOF_VALUE);
    assert_eq!(signed["proof"]["created"], "2010-01-01T19:23:24Z");
}

#[test]
fn verifies_the_1edtech_vector_with_its_published_key() {
    let mut signed = vector_credential();
    let mut proof = proof_options(VECTOR_METHOD, &vector_created());
    proof["proofValue"] = json!(VECTOR_PROOF_VALUE);
    signed["proof"] = proof;

    let verified = verify_with_key(&signed, &vector_key().verifying_key()).expect("the vector verifies");
    assert_eq!(verified.issuer, "https://example.edu/issuers/565049");
    assert_eq!(verified.id.as_deref(), Some("http://example.com/credentials/3527"));
    assert_eq!(
        verified.subject_id.as_deref(),
        Some("did:example:ebfeb1f712ebc6f1c276e12ec21")
    );

    // Without the key, an https verification method cannot be resolved offline.
    assert!(matches!(verify(&signed), Err(CredentialError::UnknownKey { .. })));
    // With the wrong key, the signature does not match.
    let other = SigningKey::from_bytes(&[5; 32]).verifying_key();
    assert!(matches!(
        verify_with_key(&signed, &other),
        Err(CredentialError::SignatureMismatch { .. })
    ));

    signed["name"] = json!("Teamwork Badge!");
    assert!(matches!(
        verify_with_key(&signed, &vector_key().verifying_key()),
        Err(CredentialError::SignatureMismatch { .. })
    ));
}

fn kiosk_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn created() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 2, 10, 15, 0).single().unwrap_or_default()
}

fn signed_sample() -> Value {
    sign(&sample_input(), &kiosk_key(), created()).expect("sample signs")
}

#[test]
fn builds_the_open_badges_shape() {
    let key = kiosk_key().verifying_key();
    let credential = build_unsigned(&sample_input(), &key);
    assert_eq!(
        credential["@context"],
        json!([shape::CREDENTIALS_V2_CONTEXT, shape::OB_CONTEXT])
    );
    assert_eq!(
        credential["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(credential["id"], "urn:uuid:6f1c2a8e-4b7d-4e0f-9a3b-1c2d3e4f5a6b");
    assert_eq!(credential["issuer"]["id"], json!(did_key(&key)));
    assert!(did_key(&key).starts_with("did:key:z6Mk"));
    assert_eq!(
        credential["issuer"]["image"],
        json!({"id": "https://ecluses.example/logo.png", "type": "Image"})
    );
    assert_eq!(credential["validFrom"], "2025-05-02T10:14:59Z");
    let identity = &credential["credentialSubject"]["identifier"][0];
    assert_eq!(identity["hashed"], json!(true));
    assert_eq!(identity["identityType"], "emailAddress");
    assert_eq!(identity["salt"], "c2a1f0e9");
    assert_eq!(
        credential["evidence"][0]["id"],
        "urn:uuid:00000000-0000-0000-0000-0000000a11ce"
    );
    assert!(credential.get("proof").is_none());
}

#[test]
fn hashed_email_matches_an_independent_sha256() {
    // sha256("visitor.étienne@example.org" + "c2a1f0e9"), computed with Python's hashlib.
    let identity = SubjectIdentity::hashed_email("  Visitor.Étienne@example.org ", "c2a1f0e9");
    assert_eq!(
        identity,
        SubjectIdentity::HashedEmail {
            identity_hash: "sha256$559bf7562b15fbe853d465fc7a935010696c0e22a9fa5d1171536b5b01257f61".to_owned(),
            salt: "c2a1f0e9".to_owned(),
        }
    );
}

#[test]
fn signs_and_verifies_both_subject_kinds() {
    let verified = verify(&signed_sample()).expect("verifies");
    assert_eq!(verified.kind, CredentialKind::OpenBadge);
    assert_eq!(verified.issuer, did_key(&kiosk_key().verifying_key()));
    assert_eq!(
        verified.verification_method,
        didkey::verification_method(&kiosk_key().verifying_key())
    );
    assert_eq!(verified.created, Some(created()));
    assert_eq!(verified.valid_from, Some(sample_input().valid_from));
    assert_eq!(verified.subject_id, None);

    let mut input = sample_input();
    input.subject = SubjectIdentity::Registration {
        reference: "REG-2025-0042".to_owned(),
    };
    input.evidence.clear();
    input.issuer.email = None;
    input.issuer.image = None;
    input.achievement.image = None;
    let signed = sign(&input, &kiosk_key(), created()).expect("signs");
    assert_eq!(
        signed["credentialSubject"]["identifier"][0]["identityType"],
        REGISTRATION_IDENTITY_TYPE
    );
    assert_eq!(signed["credentialSubject"]["identifier"][0]["hashed"], json!(false));
    assert!(signed.get("evidence").is_none());
    verify(&signed).expect("verifies");
}

#[test]
fn signing_is_deterministic() {
    assert_eq!(signed_sample(), signed_sample());
}

#[test]
fn canonical_form_escapes_quotes_backslashes_and_newlines() {
    let canon = canonical_nquads(&signed_sample()).expect("canonical");
    assert!(
        canon.contains(r#""Took part in the repair workshop.\nRepaired C:\\toaster\\ with \"help\" 🙂""#),
        "{canon}"
    );
    assert!(canon.contains("Médiathèque Zoë \\\"Les Écluses\\\""));
    assert!(!canon.contains("proof"), "the proof is not part of the signed document");
}

/// A named edit of a signed credential.
type Edit = (&'static str, fn(&mut Value));

/// Each edit must break the signature (or be refused before it is checked).
#[test]
fn every_tampered_field_is_detected() {
    let tampering: [Edit; 10] = [
        ("name", |c| c["name"] = json!("Atelier « Réparer ensemble » 🔨")),
        ("achievement name", |c| {
            c["credentialSubject"]["achievement"]["name"] = json!("Master repairer")
        }),
        ("criteria", |c| {
            c["credentialSubject"]["achievement"]["criteria"]["narrative"] = json!("Nothing.")
        }),
        ("subject hash", |c| {
            c["credentialSubject"]["identifier"][0]["identityHash"] = json!("sha256$00")
        }),
        ("subject salt", |c| {
            c["credentialSubject"]["identifier"][0]["salt"] = json!("c2a1f0e8")
        }),
        ("validFrom", |c| c["validFrom"] = json!("2025-05-01T10:14:59Z")),
        ("issuer name", |c| c["issuer"]["name"] = json!("Someone else")),
        ("issuer url", |c| c["issuer"]["url"] = json!("https://evil.example")),
        ("evidence", |c| c["evidence"][0]["narrative"] = json!("forged")),
        ("proof created", |c| {
            c["proof"]["created"] = json!("2025-05-02T10:15:01Z")
        }),
    ];
    for (what, tamper) in tampering {
        let mut credential = signed_sample();
        tamper(&mut credential);
        assert!(
            matches!(verify(&credential), Err(CredentialError::SignatureMismatch { .. })),
            "{what}: {:?}",
            verify(&credential)
        );
    }
}

#[test]
fn failures_say_which_check_failed() {
    let mut no_proof = signed_sample();
    no_proof.as_object_mut().map(|m| m.remove("proof"));
    assert!(matches!(verify(&no_proof), Err(CredentialError::MissingProof)));

    let mut suite = signed_sample();
    suite["proof"]["cryptosuite"] = json!("ecdsa-rdfc-2019");
    assert!(matches!(verify(&suite), Err(CredentialError::WrongCryptosuite { found }) if found.contains("ecdsa")));

    let mut kind = signed_sample();
    kind["proof"]["type"] = json!("Ed25519Signature2020");
    assert!(matches!(verify(&kind), Err(CredentialError::WrongProofType { .. })));

    let mut purpose = signed_sample();
    purpose["proof"]["proofPurpose"] = json!("authentication");
    assert!(matches!(
        verify(&purpose),
        Err(CredentialError::WrongProofPurpose { .. })
    ));

    let mut date = signed_sample();
    date["validFrom"] = json!("2 May 2025");
    let message = verify(&date).map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("credential.validFrom"), "{message}");

    let mut value = signed_sample();
    value["proof"]["proofValue"] = json!("z3x");
    assert!(matches!(
        verify(&value),
        Err(CredentialError::MalformedProofValue { .. })
    ));

    let mut extra = signed_sample();
    extra["credentialSubject"]["achievement"]["tag"] = json!(["repair"]);
    let message = verify(&extra).map(|_| ()).unwrap_err().to_string();
    assert!(
        message.contains("credential.credentialSubject.achievement.tag"),
        "{message}"
    );

    assert!(matches!(
        verify(&json!([1, 2])),
        Err(CredentialError::UnsupportedShape { .. })
    ));
}

#[test]
fn another_key_cannot_sign_for_the_issuer() {
    // A thief re-signs a credential with their own key but keeps the real issuer.
    let thief = SigningKey::from_bytes(&[13; 32]);
    let mut unsigned = signed_sample();
    unsigned.as_object_mut().map(|m| m.remove("proof"));
    let forged = sign_document(unsigned.clone(), &thief, created()).expect("signs");
    assert!(matches!(verify(&forged), Err(CredentialError::IssuerMismatch { .. })));

    // Pointing the proof at the issuer's DID while signing with another key fails too.
    let issuer_method = didkey::verification_method(&kiosk_key().verifying_key());
    let impersonation = sign_document_as(unsigned, &thief, &issuer_method, created()).expect("signs");
    assert!(matches!(
        verify(&impersonation),
        Err(CredentialError::SignatureMismatch { .. })
    ));
}

#[test]
fn invalid_input_is_refused_at_signing_time() {
    let mut input = sample_input();
    input.achievement.id = "badges/repair".to_owned();
    let error = sign(&input, &kiosk_key(), created()).map(|_| ()).unwrap_err();
    assert!(
        matches!(error, CredentialError::InvalidIri { ref path, .. } if path == "credential.credentialSubject.achievement.id"),
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any text (controls, quotes, astral characters) signs, verifies, and any change to it
    /// is detected.
    #[test]
    fn any_text_round_trips_and_changes_are_detected(name in "\\PC{0,40}", description in any::<String>(), suffix in "[a-z\\u{1F300}-\\u{1F5FF}]") {
        let mut input = sample_input();
        input.name = name.clone();
        input.achievement.description = description;
        let signed = sign(&input, &kiosk_key(), created()).expect("signs");
        prop_assert!(verify(&signed).is_ok());
        let mut tampered = signed;
        tampered["name"] = json!(format!("{name}{suffix}"));
        prop_assert!(matches!(verify(&tampered), Err(CredentialError::SignatureMismatch { .. })), "tampering went unnoticed");
    }
}
