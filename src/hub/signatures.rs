//! Ed25519 signatures checked the way the hub's ingest needs: many at once, in batches,
//! across every core, each signature once (a cache remembers the ones already verified), with
//! exactly the acceptance rule of `VerifyingKey::verify_strict`.
//!
//! # Why the batch accepts exactly what `verify_strict` accepts
//!
//! `verify_strict(A, M, (R, s))` accepts when: `s` is canonical (< ℓ); `R` decompresses;
//! neither `R` nor `A` has small order; and the canonical encoding of `[s]B − [k]A`
//! (`k = SHA-512(R ‖ A ‖ M)`) equals the 32 bytes `R` (a *cofactorless* check on encodings).
//!
//! A batch checks, for random 128-bit `zᵢ`, that `[8](Σ zᵢ([sᵢ]B − [kᵢ]Aᵢ − Rᵢ)) = 0`: that is
//! the *cofactored* equation `[8]([s]B − [k]A − R) = 0` for every signature, except with
//! probability 2⁻¹²⁸. Cofactored is weaker than cofactorless in three ways, each closed here:
//! 1. a non-canonical encoding of `R` (y ≥ p) decompresses but can never equal a canonical
//!    encoding: refused by [`r_is_canonical`] before the batch;
//! 2. a key `A` with a torsion component: keys are checked once each ([`KeyClass`]); a small-
//!    order key is refused (as `verify_strict` does), a mixed-order one (never made by honest
//!    key generation) has its signatures checked one by one with `verify_strict` itself;
//! 3. an `R` with a torsion component `T` (`(R + T, s)` for a genuine `(R, s)`: the classic
//!    malleability): [`all_torsion_free`] tests every `R` of the batch at once with 128
//!    independent random subset sums, each of which misses a non-zero torsion with probability
//!    at most ½ (so 2⁻¹²⁸ overall, the batch's own error bound), and `R` of small order is
//!    refused one by one (as `verify_strict` does).
//!
//! With `A` and `R` torsion-free, `D = [s]B − [k]A − R` lies in the prime-order subgroup, where
//! `[8]` is injective: `[8]D = 0 ⇔ D = 0 ⇔ R = [s]B − [k]A`, and with `R` canonical that is
//! the byte equality `verify_strict` tests. When any part of a batch fails, every signature of
//! that batch is checked alone with `verify_strict`, which names the bad ones.
//!
//! Signatures by the same key are summed into one term (`(Σ zᵢkᵢ)·A`), so a batch of an
//! upload (one device key, the event key) costs about one multi-scalar multiplication over its
//! `R`s: about a fifth of checking them one by one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256, Sha512};

/// One signature to check: who signed, what, and the signature.
#[derive(Debug, Clone)]
pub struct SignatureJob {
    pub key: VerifyingKey,
    pub message: Vec<u8>,
    pub signature: Signature,
}

/// How many signatures verified ones are remembered (then the memory starts afresh).
const CACHE_CAPACITY: usize = 500_000;
/// Below this many signatures per worker, batching and threads cost more than they save.
const MIN_BATCH: usize = 16;
/// Independent subset-sum tests of the torsion check: each misses with probability ≤ ½.
const TORSION_TESTS: usize = 128;

/// Checks signatures for the hub's ingest; shared by every upload (the cache and the key
/// checks are remembered across uploads).
#[derive(Debug)]
pub struct SignatureChecker {
    threads: usize,
    verified: Mutex<HashSet<[u8; 32]>>,
    keys: Mutex<HashMap<[u8; 32], KeyClass>>,
    checked: AtomicU64,
}

/// What one public key allows (decided once per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyClass {
    /// Prime order: its signatures may be batched.
    Batchable,
    /// Small order: `verify_strict` refuses every signature by it.
    Weak,
    /// Mixed order: checked one by one with `verify_strict`.
    Single,
}

impl Default for SignatureChecker {
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

impl SignatureChecker {
    /// A checker using `threads` worker threads per call (at least one).
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            verified: Mutex::new(HashSet::new()),
            keys: Mutex::new(HashMap::new()),
            checked: AtomicU64::new(0),
        }
    }

    /// How many signatures this checker has actually verified (cache hits not counted).
    pub fn verifications(&self) -> u64 {
        self.checked.load(Ordering::Relaxed)
    }

    /// Whether each job's signature is genuine, in order: the result `verify_strict` gives.
    pub fn check(&self, jobs: &[SignatureJob]) -> Vec<bool> {
        let mut results = vec![false; jobs.len()];
        let fingerprints: Vec<[u8; 32]> = jobs.iter().map(fingerprint).collect();
        let mut todo: Vec<usize> = Vec::with_capacity(jobs.len());
        // The same signature twice in one call is checked once: the first one's index.
        let mut first: HashMap<[u8; 32], usize> = HashMap::new();
        {
            let verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (index, print) in fingerprints.iter().enumerate() {
                if verified.contains(print) {
                    results[index] = true;
                } else if let std::collections::hash_map::Entry::Vacant(entry) = first.entry(*print) {
                    entry.insert(index);
                    todo.push(index);
                }
            }
        }
        let mut batchable = Vec::with_capacity(todo.len());
        let mut single = Vec::new();
        for &index in &todo {
            match self.key_class(&jobs[index].key) {
                KeyClass::Batchable => batchable.push(index),
                KeyClass::Single => single.push(index),
                KeyClass::Weak => {}
            }
        }
        self.checked.fetch_add(todo.len() as u64, Ordering::Relaxed);
        let workers = self.threads.min(batchable.len() / MIN_BATCH).max(1);
        let chunk = batchable.len().div_ceil(workers).max(1);
        let batch_results: Vec<(usize, bool)> = if workers == 1 {
            check_batch(jobs, &batchable)
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = batchable
                    .chunks(chunk)
                    .map(|part| scope.spawn(move || check_batch(jobs, part)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|handle| {
                        // A worker that panicked verified nothing: its signatures stay refused.
                        handle.join().unwrap_or_default()
                    })
                    .collect()
            })
        };
        for (index, genuine) in batch_results {
            results[index] = genuine;
        }
        for index in single {
            let job = &jobs[index];
            results[index] = job.key.verify_strict(&job.message, &job.signature).is_ok();
        }
        // The same signature twice in this call: the first one's result.
        for (index, print) in fingerprints.iter().enumerate() {
            if let Some(&first) = first.get(print) {
                results[index] = results[first];
            }
        }
        let mut verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if verified.len() + todo.len() > CACHE_CAPACITY {
            verified.clear();
        }
        for &index in &todo {
            if results[index] {
                verified.insert(fingerprints[index]);
            }
        }
        results
    }

    fn key_class(&self, key: &VerifyingKey) -> KeyClass {
        let mut keys = self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *keys.entry(*key.as_bytes()).or_insert_with(|| {
            let point = key.to_edwards();
            if point.is_small_order() {
                KeyClass::Weak
            } else if point.is_torsion_free() {
                KeyClass::Batchable
            } else {
                KeyClass::Single
            }
        })
    }
}

/// What identifies one check: SHA-256 over key, signature and message.
fn fingerprint(job: &SignatureJob) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"badge-kiosk/verified-signature\0")
        .chain_update(job.key.as_bytes())
        .chain_update(job.signature.to_bytes())
        .chain_update(&job.message)
        .finalize()
        .into()
}

/// True when the 32 bytes are the canonical encoding of their y coordinate (y < p). The
/// other non-canonical case (x = 0 with the sign bit set) is a point of small order, refused
/// separately.
fn r_is_canonical(bytes: &[u8; 32]) -> bool {
    // p = 2^255 - 19: y ≥ p iff bytes 1..31 are all 0xff, the top byte (sign bit cleared)
    // is 0x7f and the lowest byte is ≥ 0xed.
    let high = bytes[31] & 0x7f;
    !(high == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed)
}

/// Checks `indices` of `jobs` (all by keys of prime order) as one batch; on any failure,
/// each alone with `verify_strict`.
fn check_batch(jobs: &[SignatureJob], indices: &[usize]) -> Vec<(usize, bool)> {
    if indices.is_empty() {
        return Vec::new();
    }
    let one_by_one = || {
        indices
            .iter()
            .map(|&index| {
                let job = &jobs[index];
                (index, job.key.verify_strict(&job.message, &job.signature).is_ok())
            })
            .collect()
    };
    if indices.len() < 2 {
        return one_by_one();
    }
    let mut rng = rand::thread_rng();
    let mut basepoint_coefficient = Scalar::ZERO;
    let mut key_coefficients: HashMap<[u8; 32], (Scalar, EdwardsPoint)> = HashMap::new();
    let mut z_values = Vec::with_capacity(indices.len());
    let mut r_points = Vec::with_capacity(indices.len());
    for &index in indices {
        let job = &jobs[index];
        let bytes = job.signature.to_bytes();
        let mut r_bytes = [0u8; 32];
        r_bytes.copy_from_slice(&bytes[..32]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&bytes[32..]);
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return one_by_one();
        };
        if !r_is_canonical(&r_bytes) {
            return one_by_one();
        }
        let Some(r) = CompressedEdwardsY(r_bytes).decompress() else {
            return one_by_one();
        };
        if r.is_small_order() {
            return one_by_one();
        }
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(job.key.as_bytes())
                .chain_update(&job.message),
        );
        let mut z_bytes = [0u8; 32];
        rng.fill_bytes(&mut z_bytes[..16]);
        let z = Scalar::from_bytes_mod_order(z_bytes);
        basepoint_coefficient += z * s;
        let entry = key_coefficients
            .entry(*job.key.as_bytes())
            .or_insert_with(|| (Scalar::ZERO, job.key.to_edwards()));
        entry.0 += z * k;
        z_values.push(z);
        r_points.push(r);
    }
    // Σ zᵢRᵢ + Σ_A (Σ zᵢkᵢ)A − (Σ zᵢsᵢ)B must be a torsion point.
    let scalars = std::iter::once(-basepoint_coefficient)
        .chain(key_coefficients.values().map(|(coefficient, _)| *coefficient))
        .chain(z_values.iter().copied());
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(key_coefficients.values().map(|(_, point)| *point))
        .chain(r_points.iter().copied());
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
    if !sum.mul_by_cofactor().is_identity() || !all_torsion_free(&r_points, &mut rng) {
        return one_by_one();
    }
    indices.iter().map(|&index| (index, true)).collect()
}

/// True (except with probability 2⁻¹²⁸ when some point has a torsion component) when every
/// point lies in the prime-order subgroup. Test j sums the points whose random mask has bit j
/// and checks `[ℓ]·sum = 0`: `[ℓ]` kills the prime-order parts and is a bijection on the
/// torsion group (ℓ is odd), so the test sees the sum of the torsion components of a random
/// subset, which is non-zero with probability ≥ ½ when any component is. Eight tests at a time
/// share 256 buckets (one addition per point per eight tests).
pub(crate) fn all_torsion_free(points: &[EdwardsPoint], rng: &mut impl Rng) -> bool {
    let identity = EdwardsPoint::default();
    for _ in 0..TORSION_TESTS / 8 {
        let mut buckets = [identity; 256];
        for point in points {
            let mask: u8 = rng.gen();
            buckets[usize::from(mask)] += point;
        }
        for bit in 0..8 {
            let mut sum = identity;
            for (mask, bucket) in buckets.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    sum += bucket;
                }
            }
            // `is_torsion_free` is `[ℓ]·sum = 0`.
            if !sum.is_torsion_free() {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::{Signer, SigningKey};

    fn jobs(count: usize) -> Vec<SignatureJob> {
        let one = SigningKey::from_bytes(&[7; 32]);
        let two = SigningKey::from_bytes(&[9; 32]);
        (0..count)
            .map(|index| {
                let key = if index % 3 == 0 { &one } else { &two };
                let message = format!("record {index}").into_bytes();
                SignatureJob {
                    key: key.verifying_key(),
                    signature: key.sign(&message),
                    message,
                }
            })
            .collect()
    }

    fn strict(jobs: &[SignatureJob]) -> Vec<bool> {
        jobs.iter()
            .map(|job| job.key.verify_strict(&job.message, &job.signature).is_ok())
            .collect()
    }

    #[test]
    fn a_batch_with_one_bad_signature_refuses_exactly_that_one() {
        let mut all = jobs(200);
        all[77].message.push(b'!');
        let results = SignatureChecker::new(2).check(&all);
        assert_eq!(results, strict(&all));
        assert_eq!(results.iter().filter(|ok| !**ok).count(), 1);
        assert!(!results[77]);
    }

    #[test]
    fn same_results_with_one_and_many_threads() {
        let mut all = jobs(300);
        all[5].signature = all[6].signature;
        all[250].message.clear();
        let one = SignatureChecker::new(1).check(&all);
        let many = SignatureChecker::new(4).check(&all);
        assert_eq!(one, many);
        assert_eq!(one, strict(&all));
    }

    #[test]
    fn a_signature_is_verified_once() {
        let all = jobs(50);
        let checker = SignatureChecker::new(2);
        assert!(checker.check(&all).iter().all(|ok| *ok));
        assert_eq!(checker.verifications(), 50);
        let mut again = all.clone();
        again.extend(all[..10].iter().cloned());
        assert!(checker.check(&again).iter().all(|ok| *ok));
        assert_eq!(checker.verifications(), 50, "nothing verified again");
    }

    /// `(R + T, s)` for a genuine `(R, s)` and a torsion point T passes the cofactored batch
    /// equation, and `verify_strict` refuses it: so must the batch.
    #[test]
    fn a_torsion_malleated_signature_is_refused_like_verify_strict() {
        let mut all = jobs(64);
        for (index, torsion) in [(10usize, 4usize), (20, 1), (21, 7), (30, 2)] {
            let bytes = all[index].signature.to_bytes();
            let mut r_bytes = [0u8; 32];
            r_bytes.copy_from_slice(&bytes[..32]);
            let r = CompressedEdwardsY(r_bytes).decompress().unwrap();
            let malleated = (r + EIGHT_TORSION[torsion]).compress();
            let mut new_bytes = bytes;
            new_bytes[..32].copy_from_slice(malleated.as_bytes());
            all[index].signature = Signature::from_bytes(&new_bytes);
        }
        let expected = strict(&all);
        assert_eq!(expected.iter().filter(|ok| !**ok).count(), 4);
        for threads in [1, 2] {
            assert_eq!(SignatureChecker::new(threads).check(&all), expected);
        }
        // Two order-2 torsions that cancel in a plain sum: still found.
        let mut pair = jobs(40);
        for index in [3usize, 4] {
            let bytes = pair[index].signature.to_bytes();
            let r = CompressedEdwardsY(bytes[..32].try_into().unwrap())
                .decompress()
                .unwrap();
            let mut new_bytes = bytes;
            new_bytes[..32].copy_from_slice((r + EIGHT_TORSION[4]).compress().as_bytes());
            pair[index].signature = Signature::from_bytes(&new_bytes);
        }
        assert_eq!(SignatureChecker::new(1).check(&pair), strict(&pair));
    }

    #[test]
    fn non_canonical_s_and_weak_keys_are_refused() {
        let mut all = jobs(40);
        // s + ℓ: the same point equation, a non-canonical scalar.
        let bytes = all[8].signature.to_bytes();
        let s = Scalar::from_canonical_bytes(bytes[32..].try_into().unwrap()).unwrap();
        let mut wide = [0u8; 32];
        // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let order: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let (sum, _) = add_le(s.as_bytes(), &order);
        wide.copy_from_slice(&sum);
        let mut new_bytes = bytes;
        new_bytes[32..].copy_from_slice(&wide);
        all[8].signature = Signature::from_bytes(&new_bytes);
        // A small-order key (the identity) with the signature that satisfies its equation.
        let identity_point = EdwardsPoint::default().compress();
        let identity = VerifyingKey::from_bytes(identity_point.as_bytes()).unwrap();
        let mut weak = [0u8; 64];
        weak[..32].copy_from_slice(identity_point.as_bytes());
        all[9] = SignatureJob {
            key: identity,
            message: b"anything".to_vec(),
            signature: Signature::from_bytes(&weak),
        };
        let results = SignatureChecker::new(2).check(&all);
        assert_eq!(results, strict(&all));
        assert!(!results[8] && !results[9]);
    }

    #[test]
    fn canonical_r_check() {
        let mut p = [0xffu8; 32];
        p[31] = 0x7f;
        p[0] = 0xed;
        assert!(!r_is_canonical(&p));
        p[0] = 0xec;
        assert!(r_is_canonical(&p));
        assert!(r_is_canonical(&[0; 32]));
    }

    fn add_le(a: &[u8; 32], b: &[u8; 32]) -> ([u8; 32], bool) {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let total = u16::from(a[i]) + u16::from(b[i]) + carry;
            out[i] = (total & 0xff) as u8;
            carry = total >> 8;
        }
        (out, carry != 0)
    }
}
