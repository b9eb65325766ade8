//! Staff and organiser PINs: as configured (digits, or an Argon2id hash with its own salt so
//! neither the configuration file nor the event bundle holds them in clear), checked in
//! constant time, and refused for a real event while they are still the demo's.
//!
//! A PIN has at most 10^8 values, so only a slow, salted hash keeps one from falling at
//! once to whoever reads the hash: Argon2id, 8 MiB and 3 passes, sized for ~100 ms on a
//! Raspberry Pi 4 per check. The unsalted `sha256:` form of earlier versions is refused
//! with the command that makes a new hash.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The demo event's PINs (README, assets/config.example.toml): fine for trying the kiosk,
/// never for a real event.
pub const DEMO_STAFF_PIN: &str = "1234";
pub const DEMO_ORGANISER_PIN: &str = "2468";
/// The prefix of the unsalted hashes earlier versions made (`badge-kiosk pin-hash`).
pub const LEGACY_HASHED_PREFIX: &str = "sha256:";
/// How every hashed PIN begins.
pub const HASHED_PREFIX: &str = "$argon2id$";
/// The fewest and the most digits a PIN has.
pub const MIN_PIN_LEN: usize = 4;
pub const MAX_PIN_LEN: usize = 8;
/// Argon2id cost: memory (KiB), passes, lanes.
const ARGON2_MEMORY_KIB: u32 = 8 * 1024;
const ARGON2_PASSES: u32 = 3;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PinError {
    #[error("a PIN is 4 to 8 digits: choose another")]
    NotAPin,
    #[error("the PIN could not be hashed ({0}): try again")]
    Hash(String),
}

/// True for a PIN as typed: 4 to 8 digits.
pub fn is_pin(pin: &str) -> bool {
    (MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

/// The hashed form of a PIN (Argon2id, a fresh random salt): what the configuration, the
/// hub and the event bundle hold.
pub fn hash_pin(pin: &str) -> Result<String, PinError> {
    if !is_pin(pin) {
        return Err(PinError::NotAPin);
    }
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, 1, None)
        .map_err(|failure| PinError::Hash(failure.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(pin.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|failure| PinError::Hash(failure.to_string()))
}

/// True for a hashed PIN this version reads (an Argon2id PHC string).
pub fn is_hash(setting: &str) -> bool {
    setting.starts_with(HASHED_PREFIX) && PasswordHash::new(setting).is_ok()
}

/// True for the unsalted `sha256:` hash of earlier versions, refused now.
pub fn is_legacy_hash(setting: &str) -> bool {
    setting.starts_with(LEGACY_HASHED_PREFIX)
}

/// True for a PIN the configuration may hold: 4 to 8 digits, or a hashed PIN.
pub fn is_valid_setting(setting: &str) -> bool {
    is_pin(setting) || is_hash(setting)
}

/// Whether `entered` is the configured PIN, and whether it is complete (as long as the
/// configured one; a hashed PIN's length is unknown, so only at the longest). Slow for a
/// hashed PIN (Argon2): call it off the UI thread.
pub fn check(setting: &str, entered: &str) -> (bool, bool) {
    if setting.starts_with(HASHED_PREFIX) {
        let correct = is_pin(entered)
            && PasswordHash::new(setting)
                .map(|hash| Argon2::default().verify_password(entered.as_bytes(), &hash).is_ok())
                .unwrap_or(false);
        (correct, entered.len() >= MAX_PIN_LEN)
    } else if is_pin(setting) {
        (
            bool::from(entered.as_bytes().ct_eq(setting.as_bytes())),
            entered.len() >= setting.len(),
        )
    } else {
        // Nothing valid is configured: no PIN opens it (the configuration check and the
        // PIN screen say so before anyone gets here).
        (false, entered.len() >= MAX_PIN_LEN)
    }
}

/// The PIN that opens a mode: the one configured on this kiosk (as today), unless it is
/// still the demo's (`demo`) on a real event; then the one the organiser set on the hub,
/// which the signed event bundle brought (`from_hub`, a hash). `None`: the mode is not
/// set up, and the PIN screen says to ask the organiser.
pub fn effective_pin(local: &str, demo: &str, is_demo_event: bool, from_hub: Option<&str>) -> Option<String> {
    if is_demo_event || (local != demo && is_valid_setting(local)) {
        return Some(local.to_owned());
    }
    from_hub.filter(|hash| is_hash(hash)).map(str::to_owned)
}

/// The demo PIN still configured for a real event, if any: which one.
pub fn demo_pin_in_use(staff: &str, organiser: &str) -> Option<&'static str> {
    if staff == DEMO_STAFF_PIN {
        Some("staff_pin (BADGE_KIOSK_STAFF_PIN)")
    } else if organiser == DEMO_ORGANISER_PIN {
        Some("organiser_pin (BADGE_KIOSK_ORGANISER_PIN)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_and_hashed_pins() {
        assert_eq!(check("4711", "4711"), (true, true));
        assert_eq!(check("4711", "471"), (false, false));
        assert_eq!(check("4711", "4712"), (false, true));
        assert_eq!(check("4711", "47111"), (false, true));
        let hashed = hash_pin("90210").unwrap();
        assert!(hashed.starts_with("$argon2id$v=19$m=8192,t=3,p=1$"), "{hashed}");
        assert!(is_valid_setting(&hashed));
        assert!(!hashed.contains("90210"));
        assert_eq!(check(&hashed, "90210"), (true, false));
        assert_eq!(check(&hashed, "90211"), (false, false));
        assert!(check(&hashed, "12345678").1);
        assert!(is_valid_setting("1234"));
        assert!(!is_valid_setting("12a4"));
        assert!(!is_valid_setting("123"));
        assert!(!is_valid_setting("$argon2id$zz"));
        assert_eq!(hash_pin("12"), Err(PinError::NotAPin));
    }

    /// #22: the same PIN hashes differently each time (its own salt), so one precomputed
    /// table cannot open every kiosk; the old unsalted form is recognised and refused.
    #[test]
    fn regression_22_hashed_pins_are_salted() {
        let one = hash_pin("20262026").unwrap();
        let two = hash_pin("20262026").unwrap();
        assert_ne!(one, two);
        assert_eq!(check(&one, "20262026"), (true, true));
        assert_eq!(check(&two, "20262026"), (true, true));
        let legacy = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        assert!(is_legacy_hash(legacy));
        assert!(!is_valid_setting(legacy));
        assert_eq!(check(legacy, "12345678"), (false, true));
    }

    #[test]
    fn a_local_pin_wins_the_hub_s_fills_in_for_the_demo_s() {
        let hub = hash_pin("5151").unwrap();
        assert_eq!(
            effective_pin("4711", DEMO_STAFF_PIN, false, Some(&hub)),
            Some("4711".into())
        );
        assert_eq!(
            effective_pin(DEMO_STAFF_PIN, DEMO_STAFF_PIN, false, Some(&hub)),
            Some(hub.clone())
        );
        assert_eq!(effective_pin(DEMO_STAFF_PIN, DEMO_STAFF_PIN, false, None), None);
        assert_eq!(effective_pin(DEMO_STAFF_PIN, DEMO_STAFF_PIN, false, Some("")), None);
        assert_eq!(
            effective_pin(DEMO_STAFF_PIN, DEMO_STAFF_PIN, true, None),
            Some(DEMO_STAFF_PIN.into())
        );
    }

    #[test]
    fn demo_pins_are_named() {
        assert!(demo_pin_in_use("1234", "9999").is_some());
        assert!(demo_pin_in_use("5555", "2468").is_some());
        assert_eq!(demo_pin_in_use("5555", "9999"), None);
    }
}
