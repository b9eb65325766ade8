//! Time the kiosk can trust. Venue boards often have no real-time clock: after a power
//! cut the system clock may restart in 1970 or at the image's build date. The kiosk
//! remembers the latest trusted time it has seen and never signs with an earlier one.

/// A source of wall-clock time, so the kiosk can be tested with a fake clock.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// Combines the system clock with the floor of trusted time seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedTime {
    pub now_ms: i64,
    /// The system clock is behind a time we trusted earlier: the screen should say so.
    pub clock_behind: bool,
}

pub fn trusted_time(system_now_ms: i64, floor_ms: i64) -> TrustedTime {
    if system_now_ms < floor_ms {
        TrustedTime {
            now_ms: floor_ms,
            clock_behind: true,
        }
    } else {
        TrustedTime {
            now_ms: system_now_ms,
            clock_behind: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_earlier_than_the_floor() {
        assert_eq!(
            trusted_time(1_000, 5_000),
            TrustedTime {
                now_ms: 5_000,
                clock_behind: true
            }
        );
        assert_eq!(
            trusted_time(9_000, 5_000),
            TrustedTime {
                now_ms: 9_000,
                clock_behind: false
            }
        );
    }
}
