//! The sample credential that the unit tests, the signing benchmark and
//! `tests/dcc/sign-bench.mjs` all sign (`tests/dcc/bench-credential.json`, kept identical by a
//! test below). Not in the product build.

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::{Achievement, CredentialInput, Evidence, IssuerProfile, SubjectIdentity};

/// Seed of the sample signing key; sign-bench.mjs derives the same key from it.
pub const BENCH_KEY_SEED: [u8; 32] = [7; 32];

/// The proof's `created` time that sign-bench.mjs uses too.
pub fn sample_created() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 2, 10, 15, 0).single().unwrap_or_default()
}

/// A realistic kiosk award: accents, quotes, a backslash, a newline and emoji included.
pub fn sample_input() -> CredentialInput {
    CredentialInput {
        id: Uuid::from_u128(0x6f1c_2a8e_4b7d_4e0f_9a3b_1c2d_3e4f_5a6b),
        issuer: IssuerProfile {
            name: "Médiathèque Zoë \"Les Écluses\"".to_owned(),
            url: "https://ecluses.example/badges".to_owned(),
            email: Some("badges@ecluses.example".to_owned()),
            image: Some("https://ecluses.example/logo.png".to_owned()),
        },
        valid_from: Utc.with_ymd_and_hms(2025, 5, 2, 10, 14, 59).single().unwrap_or_default(),
        name: "Atelier « Réparer ensemble » 🔧".to_owned(),
        achievement: Achievement {
            id: "https://ecluses.example/badges/repair-cafe-2025".to_owned(),
            name: "Répar'café — niveau 1 ✨".to_owned(),
            description: "Took part in the repair workshop.\nRepaired C:\\toaster\\ with \"help\" 🙂".to_owned(),
            criteria_narrative: "Visit the stand, scan the QR code, and fix one item with a volunteer.".to_owned(),
            image: Some("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==".to_owned()),
            achievement_type: "Badge".to_owned(),
        },
        subject: SubjectIdentity::hashed_email("Visitor.Étienne@example.org", "c2a1f0e9"),
        evidence: vec![Evidence::award_record(Uuid::from_u128(0xa11ce), &[0x5a; 64])],
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use serde_json::Value;

    use super::super::{build_unsigned, sign};
    use super::*;

    /// The proofValue that tests/dcc/sign-bench.mjs printed for this credential, key and
    /// `created`: the DCC signer and ours sign the same bytes.
    const DCC_PROOF_VALUE: &str =
        "z5Y2cznrZrYZyP93q742nqcDSiyAFLPwM2aaQWhzYc5nVMVpF2kFoV4fb7AYBViy7fkMw6mnjAg7pkhFbZnQoiMFf";

    #[test]
    fn our_signature_equals_the_dcc_signature() {
        let signed = sign(
            &sample_input(),
            &SigningKey::from_bytes(&BENCH_KEY_SEED),
            sample_created(),
        )
        .expect("signs");
        assert_eq!(signed["proof"]["proofValue"], DCC_PROOF_VALUE);
    }

    #[test]
    fn node_bench_signs_the_same_credential() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dcc/bench-credential.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let on_disk: Value = serde_json::from_str(&text).expect("bench-credential.json is JSON");
        let expected = build_unsigned(
            &sample_input(),
            &SigningKey::from_bytes(&BENCH_KEY_SEED).verifying_key(),
        );
        assert_eq!(
            on_disk,
            expected,
            "regenerate tests/dcc/bench-credential.json from sample_input():\n{}",
            serde_json::to_string_pretty(&expected).unwrap_or_default()
        );
    }
}
