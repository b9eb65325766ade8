//! `did:key` for Ed25519 keys: `did:key:z` + base58btc(0xed 0x01 ‖ public key).

use ed25519_dalek::VerifyingKey;

use super::CredentialError;

/// Multicodec prefix of an Ed25519 public key (0xed, as an unsigned varint).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];

/// The `z6Mk…` multibase form of a public key (`publicKeyMultibase`).
pub fn public_key_multibase(key: &VerifyingKey) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&ED25519_MULTICODEC);
    bytes.extend_from_slice(key.as_bytes());
    format!("z{}", bs58::encode(bytes).into_string())
}

/// `did:key:z6Mk…` of a public key.
pub fn did_key(key: &VerifyingKey) -> String {
    format!("did:key:{}", public_key_multibase(key))
}

/// The verification method our proofs name: `did:key:z6Mk…#z6Mk…`.
pub fn verification_method(key: &VerifyingKey) -> String {
    let multibase = public_key_multibase(key);
    format!("did:key:{multibase}#{multibase}")
}

/// The key behind a `did:key:z6Mk…` DID or its `#z6Mk…` verification method.
pub fn key_from_did_key(did_or_method: &str) -> Result<VerifyingKey, CredentialError> {
    let unknown = |reason: &str| CredentialError::UnknownKey {
        verification_method: did_or_method.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = did_or_method
        .strip_prefix("did:key:")
        .ok_or_else(|| unknown("not a did:key"))?;
    let (multibase, fragment) = match rest.split_once('#') {
        Some((multibase, fragment)) => (multibase, Some(fragment)),
        None => (rest, None),
    };
    if fragment.is_some_and(|fragment| fragment != multibase) {
        return Err(unknown("the fragment names a different key than the DID"));
    }
    let encoded = multibase
        .strip_prefix('z')
        .ok_or_else(|| unknown("the key is not base58btc multibase (z…)"))?;
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| unknown("the key is not valid base58"))?;
    let public = bytes
        .strip_prefix(&ED25519_MULTICODEC)
        .ok_or_else(|| unknown("not an Ed25519 key (multicodec 0xed01)"))?;
    let public: [u8; 32] = public
        .try_into()
        .map_err(|_| unknown("an Ed25519 public key has 32 bytes"))?;
    VerifyingKey::from_bytes(&public).map_err(|_| unknown("not a valid Ed25519 point"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_key() -> VerifyingKey {
        let bytes = hex::decode("4bdeafde2ea8beefadd8c699b5c7e0704cf51154d52e17b20b71337ca04cc5a5").unwrap_or_default();
        let array: [u8; 32] = bytes.try_into().unwrap_or([0; 32]);
        VerifyingKey::from_bytes(&array).expect("vector key is valid")
    }

    #[test]
    fn multibase_of_the_1edtech_vector_key() {
        assert_eq!(
            public_key_multibase(&vector_key()),
            "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
        );
    }

    #[test]
    fn did_and_method_round_trip() {
        let key = vector_key();
        assert_eq!(
            did_key(&key),
            "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
        );
        assert_eq!(key_from_did_key(&did_key(&key)).ok(), Some(key));
        assert_eq!(key_from_did_key(&verification_method(&key)).ok(), Some(key));
    }

    #[test]
    fn refuses_foreign_or_inconsistent_identifiers() {
        for bad in [
            "https://example.edu/issuers/565049#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
            "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi#z6MkOther",
            "did:key:u6MkjZRZ",
            "did:key:z0OIl",
            // A P-256 did:key (multicodec 0x1200).
            "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",
        ] {
            assert!(
                matches!(key_from_did_key(bad), Err(CredentialError::UnknownKey { .. })),
                "{bad}"
            );
        }
    }
}
