//! Signing throughput, measured by a program that prints figures (never by a timed test).
//!
//! `tests/dcc/sign-bench.mjs` signs the very same credential (`tests/dcc/bench-credential.json`,
//! kept identical by a unit test below) with the DCC libraries, for comparison.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use ed25519_dalek::SigningKey;
use uuid::Uuid;

use super::{sign, Achievement, CredentialInput, Evidence, IssuerProfile, SubjectIdentity};

/// Seed of the benchmark's signing key; sign-bench.mjs derives the same key from it.
pub(super) const BENCH_KEY_SEED: [u8; 32] = [7; 32];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchFigures {
    /// Credentials signed (all of them, unless signing failed).
    pub credentials: usize,
    pub elapsed: Duration,
}

impl BenchFigures {
    pub fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.credentials as f64 / seconds
        } else {
            0.0
        }
    }
}

impl fmt::Display for BenchFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} credentials signed in {:.3} s: {:.0} credentials/s ({:.1} µs each)",
            self.credentials,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.elapsed.as_secs_f64() * 1e6 / self.credentials.max(1) as f64
        )
    }
}

/// Builds, canonicalizes and signs the sample credential `n` times on the calling thread.
pub fn bench_signing(n: usize) -> BenchFigures {
    let key = SigningKey::from_bytes(&BENCH_KEY_SEED);
    let input = sample_input();
    let created = Utc.with_ymd_and_hms(2025, 5, 2, 10, 15, 0).single().unwrap_or_default();
    let start = Instant::now();
    let mut credentials = 0;
    for _ in 0..n {
        if let Ok(signed) = sign(std::hint::black_box(&input), &key, created) {
            std::hint::black_box(signed);
            credentials += 1;
        }
    }
    BenchFigures {
        credentials,
        elapsed: start.elapsed(),
    }
}

/// A realistic kiosk award: accents, quotes, a backslash, a newline and emoji included.
pub(super) fn sample_input() -> CredentialInput {
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
    use serde_json::Value;

    use super::super::build_unsigned;
    use super::*;

    #[test]
    fn bench_counts_what_it_signed() {
        let figures = bench_signing(3);
        assert_eq!(figures.credentials, 3);
        assert!(figures.to_string().starts_with("3 credentials signed in "));
    }

    /// The proofValue that tests/dcc/sign-bench.mjs printed for this credential, key and
    /// `created`: the DCC signer and ours sign the same bytes.
    const DCC_PROOF_VALUE: &str =
        "z5Y2cznrZrYZyP93q742nqcDSiyAFLPwM2aaQWhzYc5nVMVpF2kFoV4fb7AYBViy7fkMw6mnjAg7pkhFbZnQoiMFf";

    #[test]
    fn our_signature_equals_the_dcc_signature() {
        let created = Utc.with_ymd_and_hms(2025, 5, 2, 10, 15, 0).single().unwrap_or_default();
        let signed = sign(&sample_input(), &SigningKey::from_bytes(&BENCH_KEY_SEED), created).expect("signs");
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
