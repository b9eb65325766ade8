//! Staff and organiser PINs: as configured (digits, or a salted SHA-256 so the
//! configuration file does not hold them in clear), checked in constant time, and refused
//! for a real event while they are still the demo's.

use sha2::{Digest, Sha256};

/// The demo event's PINs (README, assets/config.example.toml): fine for trying the kiosk,
/// never for a real event.
pub const DEMO_STAFF_PIN: &str = "1234";
pub const DEMO_ORGANISER_PIN: &str = "2468";
/// A hashed PIN in the configuration: `sha256:` and 64 hex digits of [`hash_pin`].
pub const HASHED_PREFIX: &str = "sha256:";
const PIN_DOMAIN: &[u8] = b"badge-kiosk/pin/v1\0";
/// The most digits a PIN has.
pub const MAX_PIN_LEN: usize = 8;

/// The configuration form of a hashed PIN: `sha256:…`.
pub fn hash_pin(pin: &str) -> String {
    let digest = Sha256::new()
        .chain_update(PIN_DOMAIN)
        .chain_update(pin.as_bytes())
        .finalize();
    format!("{HASHED_PREFIX}{}", hex::encode(digest))
}

/// True for a PIN the configuration may hold: 4 to 8 digits, or a hashed PIN.
pub fn is_valid_setting(setting: &str) -> bool {
    match setting.strip_prefix(HASHED_PREFIX) {
        Some(digest) => digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        None => (4..=MAX_PIN_LEN).contains(&setting.len()) && setting.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Whether `entered` is the configured PIN, and whether it is complete (as long as the
/// configured one; a hashed PIN's length is unknown, so only at the longest).
pub fn check(setting: &str, entered: &str) -> (bool, bool) {
    match setting.strip_prefix(HASHED_PREFIX) {
        Some(_) => {
            let correct = constant_time_eq(hash_pin(entered).as_bytes(), setting.to_ascii_lowercase().as_bytes());
            (correct, entered.len() >= MAX_PIN_LEN)
        }
        None => (
            constant_time_eq(entered.as_bytes(), setting.as_bytes()),
            entered.len() >= setting.len(),
        ),
    }
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

/// Compares without an early exit, so timing does not reveal how many digits matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_compare() {
        assert!(constant_time_eq(b"1234", b"1234"));
        assert!(!constant_time_eq(b"1235", b"1234"));
        assert!(!constant_time_eq(b"12345", b"1234"));
    }

    #[test]
    fn clear_and_hashed_pins() {
        assert_eq!(check("4711", "4711"), (true, true));
        assert_eq!(check("4711", "471"), (false, false));
        assert_eq!(check("4711", "4712"), (false, true));
        let hashed = hash_pin("90210");
        assert!(is_valid_setting(&hashed));
        assert!(!hashed.contains("90210"));
        assert_eq!(check(&hashed, "90210"), (true, false));
        assert_eq!(check(&hashed, "90211"), (false, false));
        assert!(check(&hashed, "12345678").1);
        assert!(is_valid_setting("1234"));
        assert!(!is_valid_setting("12a4"));
        assert!(!is_valid_setting("sha256:zz"));
    }

    #[test]
    fn demo_pins_are_named() {
        assert!(demo_pin_in_use("1234", "9999").is_some());
        assert!(demo_pin_in_use("5555", "2468").is_some());
        assert_eq!(demo_pin_in_use("5555", "9999"), None);
    }
}
