//! Keyboard-wedge scanners type a code as a fast burst of keys ended by Enter. People
//! type slowly, so a pause starts a new burst. The detector itself (speed, AZERTY
//! mapping, Enter-less scanners) lives in `src/scan/wedge.rs`; this feeds it the key
//! texts a window reports, stamped with wall-clock milliseconds.

/// The full detector from `scan::wedge`: speed-based, Enter-less completion, and the
/// AZERTY → US mapping for scanners typing into a host with another layout.
pub struct WedgeKeys {
    detector: crate::scan::wedge::WedgeDetector,
    origin: std::time::Instant,
    /// The first key's timestamp: key times are wall-clock milliseconds.
    base_ms: Option<i64>,
}

impl Default for WedgeKeys {
    fn default() -> Self {
        Self::new(crate::scan::wedge::WedgeConfig::default())
    }
}

impl WedgeKeys {
    pub fn new(config: crate::scan::wedge::WedgeConfig) -> Self {
        Self {
            detector: crate::scan::wedge::WedgeDetector::new(config),
            origin: std::time::Instant::now(),
            base_ms: None,
        }
    }

    /// The detector with the configured pause between a scanner's keys (`wedge_max_gap_ms`).
    pub fn for_config(config: &crate::config::Config) -> Self {
        let defaults = crate::scan::wedge::WedgeConfig::default();
        let max_gap = std::time::Duration::from_millis(config.wedge_max_gap_ms);
        Self::new(crate::scan::wedge::WedgeConfig {
            max_gap,
            // An Enter-less scan ends after a silence no key of a burst can leave.
            idle_timeout: defaults.idle_timeout.max(max_gap * 2),
            ..defaults
        })
    }

    fn instant(&mut self, at_ms: i64) -> std::time::Instant {
        let base = *self.base_ms.get_or_insert(at_ms);
        self.origin + std::time::Duration::from_millis(u64::try_from(at_ms - base).unwrap_or(0))
    }

    /// Of every plausible reading, the first that has the shape of one of our codes.
    fn best(scan: crate::scan::wedge::WedgeScan) -> String {
        scan.candidates
            .iter()
            .find(|candidate| crate::domain::code::AttendanceCode::parse(candidate).is_ok())
            .cloned()
            .unwrap_or(scan.text)
    }

    /// One key's text (Enter is "\n") typed at `at_ms`; returns a complete scan.
    pub fn key(&mut self, text: &str, at_ms: i64) -> Option<String> {
        use crate::scan::wedge::WedgeKey;
        let at = self.instant(at_ms);
        let mut result = None;
        for character in text.chars() {
            // Windows (Slint's among them) report modifier and arrow keys as control or
            // private-use characters.
            let key = match character {
                '\r' | '\n' => WedgeKey::Enter,
                '\t' => WedgeKey::Tab,
                c if c.is_control() || ('\u{E000}'..='\u{F8FF}').contains(&c) => continue,
                c => WedgeKey::Char(c),
            };
            if let Some(scan) = self.detector.feed(key, at) {
                result = Some(Self::best(scan));
            }
        }
        result
    }

    /// Called on every tick: completes a scan from a scanner that sends no Enter.
    pub fn poll(&mut self, now_ms: i64) -> Option<String> {
        let now = self.instant(now_ms);
        self.detector.poll(now).map(Self::best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(detector: &mut WedgeKeys, text: &str, start_ms: i64, gap_ms: i64) -> Option<String> {
        let mut at = start_ms;
        for c in text.chars() {
            at += gap_ms;
            if let Some(code) = detector.key(&c.to_string(), at) {
                return Some(code);
            }
        }
        None
    }

    #[test]
    fn azerty_hosts_read_us_scanners_correctly() {
        // "BK2A7" typed by a US-layout scanner into an AZERTY session.
        let mut detector = WedgeKeys::default();
        let code = "BKAEAQC2IBAEA7CAIBAEAQCAIBAEAQCAIBAE";
        let azerty: String = code
            .chars()
            .map(|c| match c {
                'A' => 'Q',
                'Q' => 'A',
                '2' => 'é',
                '7' => 'è',
                other => other,
            })
            .collect();
        assert_eq!(
            typed(&mut detector, &format!("{azerty}\n"), 1_000, 5).as_deref(),
            Some(code)
        );
    }

    const CODE: &str = "BKAEAQC2IBAEA7CAIBAEAQCAIBAEAQCAIBAE";

    #[test]
    fn a_fast_burst_ended_by_enter_is_a_scan_and_modifier_keys_are_ignored() {
        let mut detector = WedgeKeys::default();
        assert_eq!(
            typed(&mut detector, &format!("{CODE}\n"), 10_000, 5).as_deref(),
            Some(CODE)
        );
        // Shift and arrows reach us as control or private-use characters.
        let with_modifiers = format!("{}\u{10}\u{F700}{}\n", &CODE[..10], &CODE[10..]);
        assert_eq!(typed(&mut detector, &with_modifiers, 20_000, 5).as_deref(), Some(CODE));
    }

    #[test]
    fn a_slow_scanner_reads_once_the_configured_pause_allows_it() {
        // 60 ms between keys: a person under the default 35 ms rule, a scan at 100 ms.
        assert_eq!(typed(&mut WedgeKeys::default(), &format!("{CODE}\n"), 1_000, 60), None);
        let config = crate::config::Config {
            wedge_max_gap_ms: 100,
            ..Default::default()
        };
        assert_eq!(
            typed(&mut WedgeKeys::for_config(&config), &format!("{CODE}\n"), 1_000, 60).as_deref(),
            Some(CODE)
        );
    }

    #[test]
    fn slow_typing_and_short_bursts_are_not_scans() {
        let mut detector = WedgeKeys::default();
        assert_eq!(typed(&mut detector, &format!("{CODE}\n"), 0, 400), None);
        assert_eq!(typed(&mut detector, "AB\n", 100_000, 5), None);
    }
}
