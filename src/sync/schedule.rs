//! When the background sync runs, decided purely from what happened and when: the
//! executor (`client::run_background`) only sleeps until the instant chosen here.
//!
//! A kiosk that is online must get a new award to the hub within seconds of the tap, so
//! that a visitor who scans the claim QR at once finds the badge there. So besides the
//! periodic pass (configurable, every five minutes by default) and the retries after a
//! failure (exponential backoff), every new award schedules a pass `debounce` after it;
//! a burst of awards is sent together, but never later than `max_wait` after the first
//! one waiting. An award overrides a long backoff: the hub may be back.
//!
//! Times are milliseconds on a monotonic clock whose origin does not matter, so the
//! decisions are tested with a fake clock (see the tests: "≤ 10 s after an award").

use std::time::Duration;

/// The promise the done screen makes when the kiosk is online.
pub const AWARD_DEADLINE: Duration = Duration::from_secs(10);

/// How the background sync is paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPolicy {
    /// The periodic pass, when nothing else happens.
    pub interval: Duration,
    /// Quiet time after an award before its pass starts (awards in a burst go together).
    pub debounce: Duration,
    /// The longest an award waits for its pass, however many awards follow it.
    pub max_wait: Duration,
}

impl SyncPolicy {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
    pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(2500);

    /// The default debounce and cap with the given periodic interval (at least a second).
    pub fn with_interval(interval: Duration) -> Self {
        Self {
            interval: interval.max(Duration::from_secs(1)),
            debounce: Self::DEFAULT_DEBOUNCE,
            max_wait: Duration::from_secs(5),
        }
    }
}

impl Default for SyncPolicy {
    fn default() -> Self {
        Self::with_interval(Self::DEFAULT_INTERVAL)
    }
}

/// What the scheduler remembers between passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncTimes {
    /// When the next periodic pass or retry is due (after the last pass: `interval` after
    /// a success, the backoff delay after a failure). None: at once (first pass).
    pub due_ms: Option<u64>,
    /// The first award not yet covered by a pass that started after it.
    pub first_waiting_award_ms: Option<u64>,
    /// The latest award noted.
    pub last_award_ms: Option<u64>,
}

impl SyncTimes {
    /// A new award was saved at `now_ms`.
    pub fn award(&mut self, now_ms: u64) {
        self.first_waiting_award_ms.get_or_insert(now_ms);
        self.last_award_ms = Some(now_ms);
    }

    /// A pass starts now: it reads the queue, so it carries every award noted so far.
    pub fn pass_started(&mut self) {
        self.first_waiting_award_ms = None;
        self.last_award_ms = None;
    }

    /// The pass ended at `now_ms`; the next periodic pass or retry is `after` from now.
    pub fn pass_ended(&mut self, now_ms: u64, after: Duration) {
        self.due_ms = Some(now_ms.saturating_add(millis(after)));
    }
}

/// When the next pass starts (milliseconds, same clock as the times noted).
pub fn next_pass_ms(policy: &SyncPolicy, times: &SyncTimes, now_ms: u64) -> u64 {
    let periodic = times.due_ms.unwrap_or(now_ms);
    let award = times.first_waiting_award_ms.map(|first| {
        let last = times.last_award_ms.unwrap_or(first).max(first);
        let debounced = last.saturating_add(millis(policy.debounce));
        let capped = first.saturating_add(millis(policy.max_wait.min(AWARD_DEADLINE)));
        debounced.min(capped)
    });
    award.map_or(periodic, |award| award.min(periodic))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// What the done screen may promise a visitor who takes the badge on a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClaimReadiness {
    /// The kiosk is online and its last pass reached the claim address (directly, or its
    /// hub's relay did recently): the link works within seconds.
    Seconds,
    /// The kiosk reaches its hub, but the claim address was not reached recently (the
    /// relay to the public hub failing): the link works after a later pass, which runs at
    /// least every `minutes`.
    AfterSync { minutes: u32 },
    /// Offline, failing or never synced: the link works once the kiosk has synced.
    #[default]
    Later,
}

/// The kiosk's sync state as the done screen reads it (wall-clock milliseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncHealth {
    pub last_success_ms: Option<i64>,
    /// The last pass failed (the hub could not be reached or refused).
    pub last_failed: bool,
    /// The last successful pass reached the claim address (see `client::ClaimAddress`).
    pub claim_reached: bool,
}

/// "Within seconds" only when the last pass reached the hub and not too long ago: the
/// award-triggered pass then carries the visitor's badge. A pass that failed, or none
/// in two periodic intervals (at least ten minutes), means the kiosk may be offline.
pub fn claim_readiness(health: &SyncHealth, policy: &SyncPolicy, now_ms: i64) -> ClaimReadiness {
    let fresh_for = i64::try_from(
        policy
            .interval
            .saturating_mul(2)
            .max(Duration::from_secs(600))
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    match health.last_success_ms {
        Some(success) if !health.last_failed && now_ms.saturating_sub(success) <= fresh_for => {
            if health.claim_reached {
                ClaimReadiness::Seconds
            } else {
                ClaimReadiness::AfterSync {
                    minutes: u32::try_from(policy.interval.as_secs().div_ceil(60).max(1)).unwrap_or(u32::MAX),
                }
            }
        }
        _ => ClaimReadiness::Later,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const S: u64 = 1000;

    #[test]
    fn the_first_pass_is_at_once_then_periodic() {
        let policy = SyncPolicy::with_interval(Duration::from_secs(3600));
        let mut times = SyncTimes::default();
        assert_eq!(next_pass_ms(&policy, &times, 7), 7);
        times.pass_started();
        times.pass_ended(10 * S, policy.interval);
        assert_eq!(next_pass_ms(&policy, &times, 10 * S), 3610 * S);
    }

    #[test]
    fn an_award_is_sent_after_the_debounce_even_with_an_hourly_interval() {
        let policy = SyncPolicy::with_interval(Duration::from_secs(3600));
        let mut times = SyncTimes::default();
        times.pass_ended(0, policy.interval);
        times.award(100 * S);
        assert_eq!(next_pass_ms(&policy, &times, 100 * S), 102_500);
        // A second award 2 s later postpones the pass a little, never past the cap.
        times.award(102 * S);
        assert_eq!(next_pass_ms(&policy, &times, 102 * S), 104_500);
        times.award(104 * S);
        assert_eq!(next_pass_ms(&policy, &times, 104 * S), 105 * S);
        // Once the pass starts, nothing waits: back to the hourly pass.
        times.pass_started();
        times.pass_ended(106 * S, policy.interval);
        assert_eq!(next_pass_ms(&policy, &times, 106 * S), 3706 * S);
    }

    #[test]
    fn an_award_overrides_a_long_backoff() {
        let policy = SyncPolicy::default();
        let mut times = SyncTimes::default();
        times.pass_ended(0, Duration::from_secs(300));
        times.award(50 * S);
        assert_eq!(next_pass_ms(&policy, &times, 50 * S), 52_500);
    }

    #[test]
    fn an_award_during_a_pass_gets_its_own_pass() {
        let policy = SyncPolicy::with_interval(Duration::from_secs(3600));
        let mut times = SyncTimes::default();
        times.pass_started();
        // The award arrives while the pass runs (its record may not be in that pass).
        times.award(5 * S);
        times.pass_ended(6 * S, policy.interval);
        assert_eq!(next_pass_ms(&policy, &times, 6 * S), 7_500);
    }

    #[test]
    fn readiness_follows_the_last_pass() {
        let policy = SyncPolicy::default();
        let now = 1_800_000_000_000;
        let ok = SyncHealth {
            last_success_ms: Some(now - 30_000),
            last_failed: false,
            claim_reached: true,
        };
        assert_eq!(claim_readiness(&ok, &policy, now), ClaimReadiness::Seconds);
        // The hub is reached, the claim address (a public hub behind a relay) is not.
        let relay_down = SyncHealth {
            claim_reached: false,
            ..ok
        };
        assert_eq!(
            claim_readiness(&relay_down, &policy, now),
            ClaimReadiness::AfterSync { minutes: 5 }
        );
        let failing = SyncHealth {
            last_failed: true,
            ..ok
        };
        assert_eq!(claim_readiness(&failing, &policy, now), ClaimReadiness::Later);
        let stale = SyncHealth {
            last_success_ms: Some(now - 11 * 60_000),
            last_failed: false,
            claim_reached: true,
        };
        assert_eq!(claim_readiness(&stale, &policy, now), ClaimReadiness::Later);
        assert_eq!(
            claim_readiness(&SyncHealth::default(), &policy, now),
            ClaimReadiness::Later
        );
        let hourly = SyncPolicy::with_interval(Duration::from_secs(3600));
        assert_eq!(claim_readiness(&stale, &hourly, now), ClaimReadiness::Seconds);
    }

    proptest! {
        /// Whatever happened before (passes, failures, other awards, any interval), a pass
        /// is scheduled at most 10 s after each award noted since the last pass started.
        #[test]
        fn every_award_is_scheduled_within_ten_seconds(
            interval_s in 1u64..100_000,
            due in proptest::option::of(0u64..10_000_000),
            events in proptest::collection::vec((0u64..20_000, any::<bool>()), 1..40),
        ) {
            let policy = SyncPolicy::with_interval(Duration::from_secs(interval_s));
            let mut times = SyncTimes { due_ms: due, ..SyncTimes::default() };
            let mut now = 0u64;
            let mut waiting_since: Option<u64> = None;
            for (gap, is_pass) in events {
                now += gap;
                if is_pass {
                    times.pass_started();
                    waiting_since = None;
                    times.pass_ended(now, policy.interval);
                } else {
                    times.award(now);
                    waiting_since.get_or_insert(now);
                }
                let next = next_pass_ms(&policy, &times, now);
                if let Some(first) = waiting_since {
                    prop_assert!(next <= first + millis(AWARD_DEADLINE), "award at {first}, pass at {next}");
                }
            }
        }
    }
}
