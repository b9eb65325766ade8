//! The proof of possession a wallet sends with an OpenID4VCI 1.0 credential request
//! (§8.2.1.1, proof type `jwt`): a JWS with `typ: openid4vci-proof+jwt`, signed with EdDSA
//! (Ed25519) or ES256 (P-256), naming its key by `kid` (a `did:key` or `did:jwk` DID URL) or
//! carrying it as a `jwk` header. The credential is then bound to that key: its holder DID
//! is the `did:key` of the key (or the `did:jwk` the wallet named).
//!
//! Pure: the caller checks the nonce against what it handed out.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

pub const PROOF_TYP: &str = "openid4vci-proof+jwt";
/// How far `iat` may be from the issuer's clock.
pub const IAT_PAST_S: i64 = 300;
pub const IAT_FUTURE_S: i64 = 60;

/// Multicodec prefixes (unsigned varints) of public keys in `did:key`.
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
const P256_PUB: [u8; 2] = [0x80, 0x24];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("the proof is not a compact JWS (header.payload.signature in base64url): {0}")]
    Malformed(String),
    #[error("the proof's typ is {0:?}; a proof of possession has typ \"openid4vci-proof+jwt\"")]
    WrongType(String),
    #[error("the proof is signed with {0:?}; this issuer takes EdDSA (Ed25519) or ES256 (P-256)")]
    UnsupportedAlgorithm(String),
    #[error("cannot use the proof's key: {0}")]
    UnknownKey(String),
    #[error("the proof's signature does not verify with the key it names")]
    BadSignature,
    #[error("the proof is addressed to {found}, not to this issuer ({expected})")]
    WrongAudience { found: String, expected: String },
    #[error("the proof's iat is missing or not a number of seconds")]
    MissingIssuedAt,
    #[error(
        "the proof was made at {iat}, too far from the issuer's time {now}; check the phone's clock and try again"
    )]
    StaleIssuedAt { iat: i64, now: i64 },
}

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The DID of the key that signed: the credential's `credentialSubject.id`.
    pub holder: String,
    /// The `nonce` claim, for the caller to check.
    pub nonce: Option<String>,
    pub issued_at_s: i64,
}

enum Key {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

/// Verifies `jwt` for the credential issuer `audience` at `now_s` (seconds).
pub fn verify_proof_jwt(jwt: &str, audience: &str, now_s: i64) -> Result<Proven, ProofError> {
    let mut parts = jwt.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed("expected three parts".into()));
    };
    let header = json_part(header_b64, "header")?;
    let payload = json_part(payload_b64, "payload")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| ProofError::Malformed("the signature is not base64url".into()))?;
    let text = |map: &Map<String, Value>, name: &str| map.get(name).and_then(Value::as_str).map(str::to_owned);

    let typ = text(&header, "typ").unwrap_or_default();
    if typ != PROOF_TYP {
        return Err(ProofError::WrongType(typ));
    }
    let alg = text(&header, "alg").unwrap_or_default();
    let (key, holder) = match (header.get("kid"), header.get("jwk"), header.get("x5c")) {
        (Some(Value::String(kid)), None, None) => key_from_kid(kid)?,
        (None, Some(Value::Object(jwk)), None) => {
            let key = key_from_jwk(jwk)?;
            let holder = did_key_of(&key);
            (key, holder)
        }
        _ => {
            return Err(ProofError::UnknownKey(
                "name the key with exactly one of kid (did:key or did:jwk) or jwk".into(),
            ))
        }
    };
    let signed = format!("{header_b64}.{payload_b64}");
    match (&key, alg.as_str()) {
        (Key::Ed25519(key), "EdDSA" | "Ed25519") => {
            let signature = ed25519_dalek::Signature::from_slice(&signature).map_err(|_| ProofError::BadSignature)?;
            key.verify_strict(signed.as_bytes(), &signature)
                .map_err(|_| ProofError::BadSignature)?;
        }
        (Key::P256(key), "ES256") => {
            use p256::ecdsa::signature::Verifier;
            let signature = p256::ecdsa::Signature::from_slice(&signature).map_err(|_| ProofError::BadSignature)?;
            key.verify(signed.as_bytes(), &signature)
                .map_err(|_| ProofError::BadSignature)?;
        }
        (_, "EdDSA" | "Ed25519" | "ES256") => {
            return Err(ProofError::UnknownKey(format!(
                "alg {alg} does not match the key's type"
            )))
        }
        _ => return Err(ProofError::UnsupportedAlgorithm(alg)),
    }

    let audience_ok = match payload.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.len() == 1 && auds.first().and_then(Value::as_str) == Some(audience),
        _ => false,
    };
    if !audience_ok {
        return Err(ProofError::WrongAudience {
            found: payload.get("aud").map_or_else(|| "nobody".to_owned(), Value::to_string),
            expected: audience.to_owned(),
        });
    }
    let iat = payload
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(ProofError::MissingIssuedAt)?;
    if iat < now_s.saturating_sub(IAT_PAST_S) || iat > now_s.saturating_add(IAT_FUTURE_S) {
        return Err(ProofError::StaleIssuedAt { iat, now: now_s });
    }
    Ok(Proven {
        holder,
        nonce: text(&payload, "nonce"),
        issued_at_s: iat,
    })
}

fn json_part(part: &str, name: &str) -> Result<Map<String, Value>, ProofError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ProofError::Malformed(format!("the {name} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ProofError::Malformed(format!("the {name} is not a JSON object"))),
    }
}

/// The key and holder DID behind a `kid`: `did:key:z…#z…` or `did:jwk:…#0`.
fn key_from_kid(kid: &str) -> Result<(Key, String), ProofError> {
    let (did, fragment) = kid.split_once('#').unwrap_or((kid, ""));
    if let Some(multibase) = did.strip_prefix("did:key:") {
        if !fragment.is_empty() && fragment != multibase {
            return Err(ProofError::UnknownKey(
                "the kid's fragment names another key than its DID".into(),
            ));
        }
        let bytes = multibase
            .strip_prefix('z')
            .and_then(|encoded| bs58::decode(encoded).into_vec().ok())
            .ok_or_else(|| ProofError::UnknownKey("the did:key is not base58btc multibase".into()))?;
        let key = if let Some(public) = bytes.strip_prefix(&ED25519_PUB) {
            let public: [u8; 32] = public
                .try_into()
                .map_err(|_| ProofError::UnknownKey("an Ed25519 key has 32 bytes".into()))?;
            Key::Ed25519(
                ed25519_dalek::VerifyingKey::from_bytes(&public)
                    .map_err(|_| ProofError::UnknownKey("not an Ed25519 point".into()))?,
            )
        } else if let Some(public) = bytes.strip_prefix(&P256_PUB) {
            Key::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(public)
                    .map_err(|_| ProofError::UnknownKey("not a P-256 point".into()))?,
            )
        } else {
            return Err(ProofError::UnknownKey(
                "the did:key is neither Ed25519 nor P-256".into(),
            ));
        };
        return Ok((key, did.to_owned()));
    }
    if let Some(encoded) = did.strip_prefix("did:jwk:") {
        if !fragment.is_empty() && fragment != "0" {
            return Err(ProofError::UnknownKey("a did:jwk key is #0".into()));
        }
        let jwk =
            json_part(encoded, "did:jwk").map_err(|_| ProofError::UnknownKey("the did:jwk is not a JWK".into()))?;
        return Ok((key_from_jwk(&jwk)?, did.to_owned()));
    }
    Err(ProofError::UnknownKey(format!(
        "kid {kid:?} is not a did:key or did:jwk DID URL"
    )))
}

fn key_from_jwk(jwk: &Map<String, Value>) -> Result<Key, ProofError> {
    if jwk.contains_key("d") {
        return Err(ProofError::UnknownKey(
            "the jwk holds a private key; send only the public key".into(),
        ));
    }
    let field = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
    let coordinate = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(field(name))
            .map_err(|_| ProofError::UnknownKey(format!("the jwk's {name} is not base64url")))
    };
    match (field("kty"), field("crv")) {
        ("OKP", "Ed25519") => {
            let x: [u8; 32] = coordinate("x")?
                .try_into()
                .map_err(|_| ProofError::UnknownKey("an Ed25519 key has 32 bytes".into()))?;
            ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map(Key::Ed25519)
                .map_err(|_| ProofError::UnknownKey("not an Ed25519 point".into()))
        }
        ("EC", "P-256") => {
            let (x, y) = (coordinate("x")?, coordinate("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(ProofError::UnknownKey("P-256 coordinates have 32 bytes".into()));
            }
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(0x04);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                .map(Key::P256)
                .map_err(|_| ProofError::UnknownKey("not a P-256 point".into()))
        }
        (kty, crv) => Err(ProofError::UnknownKey(format!(
            "a {kty} {crv} key; send an OKP Ed25519 or EC P-256 key"
        ))),
    }
}

fn did_key_of(key: &Key) -> String {
    let mut bytes = Vec::with_capacity(35);
    match key {
        Key::Ed25519(key) => {
            bytes.extend_from_slice(&ED25519_PUB);
            bytes.extend_from_slice(key.as_bytes());
        }
        Key::P256(key) => {
            bytes.extend_from_slice(&P256_PUB);
            bytes.extend_from_slice(key.to_encoded_point(true).as_bytes());
        }
    }
    format!("did:key:z{}", bs58::encode(bytes).into_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;
    use serde_json::json;

    const AUD: &str = "https://badges.example.org";
    const NOW: i64 = 1_796_000_000;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn ed_jwt(key: &ed25519_dalek::SigningKey, header: Value, payload: Value) -> String {
        let signed = format!("{}.{}", b64(&header), b64(&payload));
        let signature = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn es_jwt(key: &p256::ecdsa::SigningKey, header: Value, payload: Value) -> String {
        use p256::ecdsa::signature::Signer as _;
        let signed = format!("{}.{}", b64(&header), b64(&payload));
        let signature: p256::ecdsa::Signature = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn payload() -> Value {
        json!({"aud": AUD, "iat": NOW - 5, "nonce": "n-1"})
    }

    #[test]
    fn an_eddsa_proof_with_a_did_key_kid_names_its_holder() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let did = crate::credential::did_key(&key.verifying_key());
        let kid = format!("{did}#{}", did.trim_start_matches("did:key:"));
        let jwt = ed_jwt(&key, json!({"typ": PROOF_TYP, "alg": "EdDSA", "kid": kid}), payload());
        let proven = verify_proof_jwt(&jwt, AUD, NOW).unwrap();
        assert_eq!(proven.holder, did);
        assert_eq!(proven.nonce.as_deref(), Some("n-1"));
    }

    #[test]
    fn an_es256_proof_with_a_jwk_header_is_bound_to_the_p256_did_key() {
        let key = p256::ecdsa::SigningKey::from_slice(&[5; 32]).unwrap();
        let point = key.verifying_key().to_encoded_point(false);
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        });
        let jwt = es_jwt(
            &key,
            json!({"typ": PROOF_TYP, "alg": "ES256", "jwk": jwk.clone()}),
            payload(),
        );
        let proven = verify_proof_jwt(&jwt, AUD, NOW).unwrap();
        assert!(proven.holder.starts_with("did:key:zDn"), "{}", proven.holder);
        // The same key named by did:key and by did:jwk verifies too.
        let kid = format!("{}#{}", proven.holder, proven.holder.trim_start_matches("did:key:"));
        let jwt = es_jwt(&key, json!({"typ": PROOF_TYP, "alg": "ES256", "kid": kid}), payload());
        assert_eq!(verify_proof_jwt(&jwt, AUD, NOW).unwrap().holder, proven.holder);
        let did_jwk = format!("did:jwk:{}", b64(&jwk));
        let jwt = es_jwt(
            &key,
            json!({"typ": PROOF_TYP, "alg": "ES256", "kid": format!("{did_jwk}#0")}),
            payload(),
        );
        assert_eq!(verify_proof_jwt(&jwt, AUD, NOW).unwrap().holder, did_jwk);
    }

    #[test]
    fn refuses_another_audience_a_stale_iat_a_wrong_type_and_a_forged_signature() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let did = crate::credential::did_key(&key.verifying_key());
        let header = json!({"typ": PROOF_TYP, "alg": "EdDSA", "kid": did});
        let other = ed_jwt(
            &key,
            header.clone(),
            json!({"aud": "https://other.example", "iat": NOW}),
        );
        assert!(matches!(
            verify_proof_jwt(&other, AUD, NOW),
            Err(ProofError::WrongAudience { .. })
        ));
        let stale = ed_jwt(&key, header.clone(), json!({"aud": AUD, "iat": NOW - 3600}));
        assert!(matches!(
            verify_proof_jwt(&stale, AUD, NOW),
            Err(ProofError::StaleIssuedAt { .. })
        ));
        let typed = ed_jwt(&key, json!({"typ": "JWT", "alg": "EdDSA", "kid": did}), payload());
        assert!(matches!(
            verify_proof_jwt(&typed, AUD, NOW),
            Err(ProofError::WrongType(_))
        ));
        let mut forged = ed_jwt(&key, header.clone(), payload());
        forged.push('A');
        assert!(verify_proof_jwt(&forged, AUD, NOW).is_err());
        let impostor = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
        let stolen_kid = ed_jwt(&impostor, header, payload());
        assert_eq!(verify_proof_jwt(&stolen_kid, AUD, NOW), Err(ProofError::BadSignature));
        let none = format!(
            "{}.{}.",
            b64(&json!({"typ": PROOF_TYP, "alg": "none", "kid": did})),
            b64(&payload())
        );
        assert!(verify_proof_jwt(&none, AUD, NOW).is_err());
        assert!(verify_proof_jwt("not a jwt", AUD, NOW).is_err());
    }
}
