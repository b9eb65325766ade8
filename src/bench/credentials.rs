//! Signing throughput, measured by a program that prints figures (never by a timed test):
//! `badge-kiosk bench credentials` and `cargo bench --bench credentials` (the `bench` feature).
//!
//! `tests/dcc/sign-bench.mjs` signs the very same credential ([`sample_input`]) with the DCC
//! libraries, for comparison.

use std::fmt;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;

pub use crate::credential::fixtures::{sample_created, sample_input, BENCH_KEY_SEED};
use crate::credential::sign;

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
    let created = sample_created();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_counts_what_it_signed() {
        let figures = bench_signing(3);
        assert_eq!(figures.credentials, 3);
        assert!(figures.to_string().starts_with("3 credentials signed in "));
    }
}
