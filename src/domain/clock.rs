//! Time the kiosk can trust. Venue boards often have no real-time clock: after a power
//! cut the system clock may restart in 1970 or at the image's build date. The kiosk
//! remembers the latest trusted time it has seen and never signs with an earlier one.

/// A source of wall-clock time, so the kiosk can be tested with a fake clock.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// Shifts this process's clock by this many milliseconds: for rehearsing (and testing) a
/// hub or a kiosk whose clock is wrong, e.g. `BADGE_KIOSK_CLOCK_OFFSET_MS=473040000000`
/// for a hub 15 years ahead. Never set it on a real kiosk or hub.
pub const CLOCK_OFFSET_ENV: &str = "BADGE_KIOSK_CLOCK_OFFSET_MS";

fn offset_ms() -> i64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        let offset = std::env::var(CLOCK_OFFSET_ENV)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .unwrap_or(0);
        if offset != 0 {
            tracing::warn!("{CLOCK_OFFSET_ENV}={offset}: this process's clock is shifted on purpose");
        }
        offset
    })
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis().saturating_add(offset_ms())
    }
}

/// The times a hub's clock may be believed at: the event's signed dates, from
/// [`HubTimeWindow::BEFORE_MS`] before its first day to [`HubTimeWindow::AFTER_MS`] after
/// its last. A hub whose clock says anything else (a laptop years ahead after a spoofed
/// NTP answer, a board back in 1970) is wrong, and a kiosk ignores it rather than follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubTimeWindow {
    pub from_ms: i64,
    pub until_ms: i64,
}

impl HubTimeWindow {
    /// Kiosks are set up and enrolled in the weeks before an event.
    pub const BEFORE_MS: i64 = 30 * DAY_MS;
    /// A little after the last day, for every time zone and late claims.
    pub const AFTER_MS: i64 = 2 * DAY_MS;

    /// The window of an event running from `starts` to `ends` (`YYYY-MM-DD`, both days
    /// included); `None` when a date is unreadable (then no hub time is believed).
    pub fn for_event(starts: &str, ends: &str) -> Option<Self> {
        let day = |text: &str| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
                .map(|at| at.and_utc().timestamp_millis())
        };
        Some(Self {
            from_ms: day(starts)?.saturating_sub(Self::BEFORE_MS),
            until_ms: day(ends)?.saturating_add(DAY_MS).saturating_add(Self::AFTER_MS),
        })
    }

    pub fn contains(&self, ms: i64) -> bool {
        (self.from_ms..=self.until_ms).contains(&ms)
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

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
    fn hub_time_is_believed_only_around_the_event() {
        let window = HubTimeWindow::for_event("2026-11-20", "2026-11-29").unwrap();
        let day = |text: &str| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis()
        };
        for inside in ["2026-10-25", "2026-11-20", "2026-11-29", "2026-12-01"] {
            assert!(window.contains(day(inside)), "{inside}");
        }
        for outside in ["2026-10-15", "2026-12-02", "2041-11-25", "1970-01-01"] {
            assert!(!window.contains(day(outside)), "{outside}");
        }
        assert_eq!(HubTimeWindow::for_event("soon", "2026-11-29"), None);
    }

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
