//! Keyboard-wedge scanners type a code as a fast burst of keys ended by Enter. People
//! type slowly, so a pause starts a new burst. The full detector (AZERTY mapping,
//! Enter-less scanners) lives in `src/scan/wedge.rs`; `new_detector` is the one place
//! to swap it in.

/// Longest pause between two keys of one scan.
const BURST_GAP_MS: i64 = 250;
/// Shorter "codes" are stray keypresses.
const MIN_CODE_LEN: usize = 4;
const MAX_CODE_LEN: usize = 4096;

pub trait KeyDetector: Send {
    /// One key's text (Enter is "\n") typed at `at_ms`; returns a complete scan.
    fn key(&mut self, text: &str, at_ms: i64) -> Option<String>;
    /// Called on every tick: completes a scan from a scanner that sends no Enter.
    fn poll(&mut self, _now_ms: i64) -> Option<String> {
        None
    }
}

pub fn new_detector() -> Box<dyn KeyDetector> {
    Box::new(WedgeKeys::default())
}

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
        Self {
            detector: crate::scan::wedge::WedgeDetector::new(crate::scan::wedge::WedgeConfig::default()),
            origin: std::time::Instant::now(),
            base_ms: None,
        }
    }
}

impl WedgeKeys {
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
}

impl KeyDetector for WedgeKeys {
    fn key(&mut self, text: &str, at_ms: i64) -> Option<String> {
        use crate::scan::wedge::WedgeKey;
        let at = self.instant(at_ms);
        let mut result = None;
        for character in text.chars() {
            // Slint sends modifier and arrow keys as control or private-use characters.
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

    fn poll(&mut self, now_ms: i64) -> Option<String> {
        let now = self.instant(now_ms);
        self.detector.poll(now).map(Self::best)
    }
}

#[derive(Debug, Default)]
pub struct BurstDetector {
    buffer: String,
    last_ms: i64,
}

impl KeyDetector for BurstDetector {
    fn key(&mut self, text: &str, at_ms: i64) -> Option<String> {
        if at_ms - self.last_ms > BURST_GAP_MS {
            self.buffer.clear();
        }
        self.last_ms = at_ms;
        if text == "\n" || text == "\r" {
            let code = std::mem::take(&mut self.buffer);
            return (code.chars().count() >= MIN_CODE_LEN).then_some(code);
        }
        // Slint sends modifier and arrow keys as control or private-use characters.
        let printable = text
            .chars()
            .all(|c| !c.is_control() && !('\u{E000}'..='\u{F8FF}').contains(&c));
        if printable && self.buffer.len() + text.len() <= MAX_CODE_LEN {
            self.buffer.push_str(text);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(detector: &mut dyn KeyDetector, text: &str, start_ms: i64, gap_ms: i64) -> Option<String> {
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

    #[test]
    fn a_fast_burst_ended_by_enter_is_a_scan() {
        let mut detector = BurstDetector::default();
        assert_eq!(typed(&mut detector, "BK1ABCDEF\n", 10_000, 5), Some("BK1ABCDEF".into()));
        // Shift and arrows (control / private-use characters) are ignored.
        detector.key("\u{10}", 20_000);
        assert_eq!(typed(&mut detector, "AB\u{F700}CD\n", 20_000, 5), Some("ABCD".into()));
    }

    #[test]
    fn slow_typing_and_short_bursts_are_not_scans() {
        let mut detector = BurstDetector::default();
        // A pause splits the burst: only "EF" remains before Enter.
        assert_eq!(typed(&mut detector, "ABCDEF\n", 0, 400), None);
        assert_eq!(typed(&mut detector, "AB\n", 10_000, 5), None);
    }
}
