//! What the hub checks before it trusts a kiosk: kiosk ids, enrolment attempts per
//! network address, the device key's signature on requests that carry no records.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

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

/// At most `max` attempts per address in a sliding `window_ms` (enrolment codes).
#[derive(Debug)]
pub struct AttemptLimiter {
    max: u32,
    window_ms: i64,
    seen: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl Default for AttemptLimiter {
    /// 10 attempts per address per 10 minutes: a kiosk that retries after a network
    /// error never reaches it; guessing an 80-bit token is hopeless either way.
    fn default() -> Self {
        Self::new(10, 10 * 60 * 1000)
    }
}

impl AttemptLimiter {
    pub fn new(max: u32, window_ms: i64) -> Self {
        Self {
            max,
            window_ms,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt from `address`: Err(ms to wait) once over the limit.
    pub fn attempt(&self, address: IpAddr, now_ms: i64) -> Result<(), i64> {
        let Ok(mut seen) = self.seen.lock() else {
            return Ok(());
        };
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now_ms - *start < self.window_ms);
        }
        let entry = seen.entry(address).or_insert((now_ms, 0));
        if now_ms - entry.0 >= self.window_ms {
            *entry = (now_ms, 0);
        }
        if entry.1 >= self.max {
            return Err(entry.0 + self.window_ms - now_ms);
        }
        entry.1 += 1;
        Ok(())
    }
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

    #[test]
    fn limiter_counts_per_address_and_window() {
        let limiter = AttemptLimiter::new(2, 1000);
        let one: IpAddr = [10, 0, 0, 1].into();
        let two: IpAddr = [10, 0, 0, 2].into();
        assert!(limiter.attempt(one, 0).is_ok());
        assert!(limiter.attempt(one, 10).is_ok());
        assert_eq!(limiter.attempt(one, 20), Err(980));
        assert!(limiter.attempt(two, 20).is_ok());
        assert!(limiter.attempt(one, 1000).is_ok());
    }
}
