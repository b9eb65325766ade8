//! What the hub checks before it trusts a kiosk: kiosk ids, enrolment attempts per
//! network address, the device key's signature on requests that carry no records.

/// Kiosk ids are short, lower-case names (`hall-a`, `stand-12`): printable everywhere,
/// never a terminal escape or a path.
pub fn is_valid_kiosk_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Text from the network, safe to print on a terminal: control characters are shown
/// escaped (`\u{1b}`), so a kiosk id cannot move the cursor or recolour the screen.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| -> Box<dyn Iterator<Item = char>> {
            if c.is_control() {
                Box::new(c.escape_unicode())
            } else {
                Box::new(std::iter::once(c))
            }
        })
        .collect()
}

/// Enrolment attempts: 10 per peer per 10 minutes (a kiosk that retries after a network
/// error never reaches it; guessing an 80-bit token is hopeless either way) and 300 in all,
/// enough for a whole fleet enrolled at once.
pub fn enrolment_limiter() -> crate::hub::peer::AttemptLimiter {
    crate::hub::peer::AttemptLimiter::new(10, 300, 10 * 60 * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kiosk_ids() {
        for good in ["hall-a", "a", "stand-12", &"x".repeat(32)] {
            assert!(is_valid_kiosk_id(good), "{good}");
        }
        for bad in ["", "Hall-A", "hall a", "hall\u{1b}[31m", "../x", &"x".repeat(33), "é"] {
            assert!(!is_valid_kiosk_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable("hall-a"), "hall-a");
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\u{a}");
    }
}
