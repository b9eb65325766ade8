//! DID Authentication: a wallet proves it controls a `did:key` by signing an empty
//! Verifiable Presentation with `Ed25519Signature2020` over the verifier's challenge and
//! domain (what the Learner Credential Wallet sends to a VC-API exchange).
//!
//! The same approach as the credentials (`shape.rs`): a closed vocabulary instead of a
//! JSON-LD processor. The presentation LCW signs has `@context`
//! `["https://www.w3.org/ns/credentials/v2", "https://w3id.org/security/suites/ed25519-2020/v1"]`,
//! a `type`, a `holder` and optionally an `id`; its proof has a type, `created`,
//! `verificationMethod`, `proofPurpose`, `challenge`, `domain` and `proofValue`. Anything
//! else is refused by name rather than left out of the signed data. The quads are the ones
//! the two contexts give these terms (checked by a unit test against the bundled contexts,
//! and end to end against a presentation signed by the DCC libraries in `tests/it/wallet.rs`);
//! the signed bytes are SHA-256(canonical proof options) ‖ SHA-256(canonical document), as
//! for eddsa-rdfc-2022.

use ed25519_dalek::Signature;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::nquads::{Quad, Term};
use super::{didkey, rdfc, shape};

pub use super::shape::CREDENTIALS_V2_CONTEXT;
pub const ED25519_2020_CONTEXT: &str = "https://w3id.org/security/suites/ed25519-2020/v1";
pub const PROOF_TYPE: &str = "Ed25519Signature2020";

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const XSD_DATE_TIME: &str = "http://www.w3.org/2001/XMLSchema#dateTime";
const VERIFIABLE_PRESENTATION: &str = "https://www.w3.org/2018/credentials#VerifiablePresentation";
const HOLDER: &str = "https://www.w3.org/2018/credentials#holder";
const ED25519_SIGNATURE_2020: &str = "https://w3id.org/security#Ed25519Signature2020";
const CREATED: &str = "http://purl.org/dc/terms/created";
const VERIFICATION_METHOD: &str = "https://w3id.org/security#verificationMethod";
const PROOF_PURPOSE: &str = "https://w3id.org/security#proofPurpose";
const AUTHENTICATION_METHOD: &str = "https://w3id.org/security#authenticationMethod";
const CHALLENGE: &str = "https://w3id.org/security#challenge";
const DOMAIN: &str = "https://w3id.org/security#domain";

#[derive(Debug, thiserror::Error)]
pub enum DidAuthError {
    #[error("the presentation is not a JSON object; send {{\"verifiablePresentation\": {{…}}}} signed by the wallet")]
    NotAnObject,
    #[error("the presentation's @context is {found}; sign it with [\"https://www.w3.org/ns/credentials/v2\", \"https://w3id.org/security/suites/ed25519-2020/v1\"]")]
    UnsupportedContext { found: String },
    #[error("the presentation at {path} is not what a DID Authentication carries ({reason}); send an empty presentation with a holder and one proof")]
    UnsupportedShape { path: String, reason: String },
    #[error("the proof is {found}; DID Authentication here takes an Ed25519Signature2020 proof")]
    WrongProofType { found: String },
    #[error("the proof purpose is {found}, not authentication; sign the presentation for authentication")]
    WrongProofPurpose { found: String },
    #[error("the proof answers another challenge; start again from the link on the claim page")]
    WrongChallenge,
    #[error("the proof was made for another domain ({found}); start again from the link on the claim page")]
    WrongDomain { found: String },
    #[error("the proof was made with {verification_method}, which is not a key of the holder {holder}")]
    HolderMismatch {
        holder: String,
        verification_method: String,
    },
    #[error("cannot use the key {0}: DID Authentication here takes a did:key Ed25519 key")]
    UnknownKey(String),
    #[error("the proofValue is malformed ({0})")]
    MalformedProofValue(&'static str),
    #[error("the signature does not verify: the presentation was changed after it was signed, or the holder's key did not sign it")]
    SignatureMismatch,
    #[error(transparent)]
    Canonicalization(#[from] super::CredentialError),
}

/// Verifies a DID Authentication presentation for `challenge` and `domain`; returns the
/// holder's DID (a `did:key`) whose key signed it.
pub fn verify_did_authentication(presentation: &Value, challenge: &str, domain: &str) -> Result<String, DidAuthError> {
    let document = presentation.as_object().ok_or(DidAuthError::NotAnObject)?;
    check_context(document.get("@context"))?;
    for key in document.keys() {
        if !matches!(key.as_str(), "@context" | "id" | "type" | "holder" | "proof") {
            return Err(shape(key, "only @context, id, type, holder and proof are read"));
        }
    }
    if !is_type(document.get("type"), "VerifiablePresentation") {
        return Err(shape("type", "expected [\"VerifiablePresentation\"]"));
    }
    let holder = document
        .get("holder")
        .and_then(Value::as_str)
        .ok_or_else(|| shape("holder", "expected the holder's DID as a string"))?;
    didkey::key_from_did_key(holder).map_err(|_| DidAuthError::UnknownKey(holder.to_owned()))?;
    let id = match document.get("id") {
        None => None,
        Some(Value::String(id)) if is_plain_iri(id) => Some(id.as_str()),
        Some(_) => return Err(shape("id", "expected an absolute IRI such as urn:uuid:…")),
    };
    let proof = match document.get("proof") {
        Some(Value::Object(proof)) => proof,
        Some(_) => return Err(shape("proof", "expected exactly one proof object")),
        None => return Err(shape("proof", "the presentation is not signed")),
    };
    let field = |name: &str| proof.get(name).and_then(Value::as_str);
    for key in proof.keys() {
        if !matches!(
            key.as_str(),
            "type" | "created" | "verificationMethod" | "proofPurpose" | "challenge" | "domain" | "proofValue"
        ) {
            return Err(shape(&format!("proof.{key}"), "not a property this verifier reads"));
        }
    }
    if !is_type(proof.get("type"), PROOF_TYPE) {
        return Err(DidAuthError::WrongProofType {
            found: proof.get("type").map_or_else(|| "missing".to_owned(), Value::to_string),
        });
    }
    if field("proofPurpose") != Some("authentication") {
        return Err(DidAuthError::WrongProofPurpose {
            found: proof
                .get("proofPurpose")
                .map_or_else(|| "missing".to_owned(), Value::to_string),
        });
    }
    if field("challenge") != Some(challenge) {
        return Err(DidAuthError::WrongChallenge);
    }
    if field("domain") != Some(domain) {
        return Err(DidAuthError::WrongDomain {
            found: proof
                .get("domain")
                .map_or_else(|| "missing".to_owned(), Value::to_string),
        });
    }
    let created = field("created")
        .filter(|created| chrono::DateTime::parse_from_rfc3339(created).is_ok())
        .ok_or_else(|| shape("proof.created", "expected an RFC 3339 date-time"))?;
    let method =
        field("verificationMethod").ok_or_else(|| shape("proof.verificationMethod", "expected the holder's key"))?;
    let controller = method.split_once('#').map_or(method, |(controller, _)| controller);
    if controller != holder {
        return Err(DidAuthError::HolderMismatch {
            holder: holder.to_owned(),
            verification_method: method.to_owned(),
        });
    }
    let key = didkey::key_from_did_key(method).map_err(|_| DidAuthError::UnknownKey(method.to_owned()))?;
    let signature = decode_proof_value(field("proofValue"))?;

    let subject = id.map_or(Term::Blank(0), Term::iri);
    let document_quads = vec![
        Quad::new(subject.clone(), RDF_TYPE, Term::iri(VERIFIABLE_PRESENTATION)),
        Quad::new(subject, HOLDER, Term::iri(holder)),
    ];
    let proof_node = Term::Blank(0);
    let proof_quads = vec![
        Quad::new(proof_node.clone(), RDF_TYPE, Term::iri(ED25519_SIGNATURE_2020)),
        Quad::new(proof_node.clone(), CREATED, Term::typed(created, XSD_DATE_TIME)),
        Quad::new(proof_node.clone(), VERIFICATION_METHOD, Term::iri(method)),
        Quad::new(proof_node.clone(), PROOF_PURPOSE, Term::iri(AUTHENTICATION_METHOD)),
        Quad::new(proof_node.clone(), CHALLENGE, Term::string(challenge)),
        Quad::new(proof_node, DOMAIN, Term::string(domain)),
    ];
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(&Sha256::digest(rdfc::canonicalize(proof_quads)?.as_bytes()));
    data[32..].copy_from_slice(&Sha256::digest(rdfc::canonicalize(document_quads)?.as_bytes()));
    key.verify_strict(&data, &signature)
        .map_err(|_| DidAuthError::SignatureMismatch)?;
    Ok(holder.to_owned())
}

fn check_context(context: Option<&Value>) -> Result<(), DidAuthError> {
    let expected = [shape::CREDENTIALS_V2_CONTEXT, ED25519_2020_CONTEXT];
    let matches = context.and_then(Value::as_array).is_some_and(|found| {
        found.len() == expected.len() && found.iter().zip(expected).all(|(f, e)| f.as_str() == Some(e))
    });
    if matches {
        Ok(())
    } else {
        Err(DidAuthError::UnsupportedContext {
            found: context.map_or_else(|| "missing".to_owned(), Value::to_string),
        })
    }
}

/// `type` is `name` or `[name]`.
fn is_type(value: Option<&Value>, name: &str) -> bool {
    match value {
        Some(Value::String(single)) => single == name,
        Some(Value::Array(items)) => items.len() == 1 && items.first().and_then(Value::as_str) == Some(name),
        _ => false,
    }
}

/// An absolute IRI that N-Quads can carry as is (no space, no `<>"{}|^`\`, ASCII).
fn is_plain_iri(text: &str) -> bool {
    text.split_once(':').is_some_and(|(scheme, rest)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) && !rest.is_empty()
    }) && text.chars().all(|c| c.is_ascii_graphic() && !"<>\"{}|^`\\".contains(c))
}

fn decode_proof_value(value: Option<&str>) -> Result<Signature, DidAuthError> {
    let encoded = value
        .ok_or(DidAuthError::MalformedProofValue("missing"))?
        .strip_prefix('z')
        .ok_or(DidAuthError::MalformedProofValue("not base58btc multibase (z…)"))?;
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| DidAuthError::MalformedProofValue("not valid base58"))?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| DidAuthError::MalformedProofValue("an Ed25519 signature has 64 bytes"))?;
    Ok(Signature::from_bytes(&bytes))
}

fn shape(path: &str, reason: &str) -> DidAuthError {
    DidAuthError::UnsupportedShape {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Signs a DID Authentication presentation the way LCW does (for tests and the fuzz-free
/// unit checks; the hub never signs presentations).
#[cfg(test)]
pub(crate) fn sign_for_tests(key: &ed25519_dalek::SigningKey, challenge: &str, domain: &str, created: &str) -> Value {
    use ed25519_dalek::Signer;
    let holder = didkey::did_key(&key.verifying_key());
    let method = didkey::verification_method(&key.verifying_key());
    let mut presentation = serde_json::json!({
        "@context": [shape::CREDENTIALS_V2_CONTEXT, ED25519_2020_CONTEXT],
        "type": ["VerifiablePresentation"],
        "holder": holder,
    });
    let document_quads = vec![
        Quad::new(Term::Blank(0), RDF_TYPE, Term::iri(VERIFIABLE_PRESENTATION)),
        Quad::new(Term::Blank(0), HOLDER, Term::iri(holder.as_str())),
    ];
    let proof_quads = vec![
        Quad::new(Term::Blank(0), RDF_TYPE, Term::iri(ED25519_SIGNATURE_2020)),
        Quad::new(Term::Blank(0), CREATED, Term::typed(created, XSD_DATE_TIME)),
        Quad::new(Term::Blank(0), VERIFICATION_METHOD, Term::iri(method.as_str())),
        Quad::new(Term::Blank(0), PROOF_PURPOSE, Term::iri(AUTHENTICATION_METHOD)),
        Quad::new(Term::Blank(0), CHALLENGE, Term::string(challenge)),
        Quad::new(Term::Blank(0), DOMAIN, Term::string(domain)),
    ];
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(&Sha256::digest(
        rdfc::canonicalize(proof_quads).unwrap_or_default().as_bytes(),
    ));
    data[32..].copy_from_slice(&Sha256::digest(
        rdfc::canonicalize(document_quads).unwrap_or_default().as_bytes(),
    ));
    let proof_value = format!("z{}", bs58::encode(key.sign(&data).to_bytes()).into_string());
    if let Some(map) = presentation.as_object_mut() {
        map.insert(
            "proof".to_owned(),
            serde_json::json!({
                "type": PROOF_TYPE,
                "created": created,
                "verificationMethod": method,
                "proofPurpose": "authentication",
                "challenge": challenge,
                "domain": domain,
                "proofValue": proof_value,
            }),
        );
    }
    presentation
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A presentation the DCC libraries signed exactly as LCW's composeVp does
    /// (`tests/wallet/lcw-present.mjs` with seed 01…01, challenge "abc", domain
    /// "https://127.0.0.1:9999"): an independent vector.
    const DCC_VECTOR: &str = include_str!("testdata/lcw-didauth-vector.json");

    fn key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[7; 32])
    }

    #[test]
    fn verifies_the_presentation_the_dcc_libraries_signed() {
        let presentation: Value = serde_json::from_str(DCC_VECTOR).unwrap();
        let holder = verify_did_authentication(&presentation, "abc", "https://127.0.0.1:9999").unwrap();
        assert_eq!(holder, "did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX");
    }

    #[test]
    fn refuses_a_wrong_challenge_domain_signature_or_holder() {
        let presentation: Value = serde_json::from_str(DCC_VECTOR).unwrap();
        assert!(matches!(
            verify_did_authentication(&presentation, "abd", "https://127.0.0.1:9999"),
            Err(DidAuthError::WrongChallenge)
        ));
        assert!(matches!(
            verify_did_authentication(&presentation, "abc", "https://evil.example"),
            Err(DidAuthError::WrongDomain { .. })
        ));
        let mut forged = presentation.clone();
        forged["proof"]["created"] = Value::String("2020-01-01T00:00:00Z".into());
        assert!(matches!(
            verify_did_authentication(&forged, "abc", "https://127.0.0.1:9999"),
            Err(DidAuthError::SignatureMismatch)
        ));
        let mut other_holder = presentation.clone();
        other_holder["holder"] = Value::String(didkey::did_key(&key().verifying_key()));
        assert!(matches!(
            verify_did_authentication(&other_holder, "abc", "https://127.0.0.1:9999"),
            Err(DidAuthError::HolderMismatch { .. })
        ));
        let mut with_credential = presentation.clone();
        with_credential["verifiableCredential"] = serde_json::json!([]);
        assert!(matches!(
            verify_did_authentication(&with_credential, "abc", "https://127.0.0.1:9999"),
            Err(DidAuthError::UnsupportedShape { .. })
        ));
        let mut assertion = presentation;
        assertion["proof"]["proofPurpose"] = Value::String("assertionMethod".into());
        assert!(matches!(
            verify_did_authentication(&assertion, "abc", "https://127.0.0.1:9999"),
            Err(DidAuthError::WrongProofPurpose { .. })
        ));
    }

    #[test]
    fn our_test_signer_matches_the_verifier() {
        let signed = sign_for_tests(&key(), "c-1", "https://hub.example", "2026-12-01T10:00:00Z");
        let holder = verify_did_authentication(&signed, "c-1", "https://hub.example").unwrap();
        assert_eq!(holder, didkey::did_key(&key().verifying_key()));
    }

    #[test]
    fn the_terms_are_the_ones_the_bundled_contexts_give() {
        let ed: Value = serde_json::from_str(include_str!("context-ed25519-2020-v1.jsonld")).unwrap();
        let suite = &ed["@context"]["Ed25519Signature2020"];
        assert_eq!(suite["@id"], ED25519_SIGNATURE_2020);
        let terms = &suite["@context"];
        assert_eq!(terms["challenge"], CHALLENGE);
        assert_eq!(terms["domain"], DOMAIN);
        assert_eq!(terms["created"]["@id"], CREATED);
        assert_eq!(terms["created"]["@type"], XSD_DATE_TIME);
        assert_eq!(terms["verificationMethod"]["@id"], VERIFICATION_METHOD);
        assert_eq!(terms["verificationMethod"]["@type"], "@id");
        assert_eq!(terms["proofPurpose"]["@id"], PROOF_PURPOSE);
        assert_eq!(terms["proofPurpose"]["@type"], "@vocab");
        assert_eq!(
            terms["proofPurpose"]["@context"]["authentication"]["@id"],
            AUTHENTICATION_METHOD
        );
        let v2: Value = serde_json::from_str(include_str!("context-credentials-v2.jsonld")).unwrap();
        let presentation = &v2["@context"]["VerifiablePresentation"];
        assert_eq!(
            presentation["@id"],
            "https://www.w3.org/2018/credentials#VerifiablePresentation"
        );
        let holder = &presentation["@context"]["holder"];
        assert_eq!(holder["@id"], HOLDER);
        assert_eq!(holder["@type"], "@id");
    }
}
