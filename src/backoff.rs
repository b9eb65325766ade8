//! Exponential backoff with jitter: how every retry loop in the crate waits (the kiosk's
//! sync, the hub's claim emails, the badge platforms' calls). A neutral module, so that
//! none of them borrows it from another.

use std::time::Duration;

/// Exponential backoff with full jitter, capped.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max, attempt: 0 }
    }

    /// The delay before the next attempt; `jitter` in [0, 1) comes from the caller so
    /// the schedule is testable.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let exponent = self.attempt.min(16);
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.max);
        // Half fixed, half random: never zero, never synchronised across kiosks.
        ceiling.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay(1.0)).collect();
        assert_eq!(delays[0], Duration::from_millis(500));
        assert_eq!(delays[1], Duration::from_secs(1));
        assert_eq!(delays[9], Duration::from_secs(60));
        assert_eq!(backoff.next_delay(0.0), Duration::from_secs(30));
        backoff.reset();
        assert_eq!(backoff.next_delay(0.0), Duration::from_millis(250));
    }
}
