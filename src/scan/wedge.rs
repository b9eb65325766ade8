//! Keyboard-wedge barcode scanners: USB scanners that "type" the code they read.
//!
//! A scanner types far faster than a person (a few milliseconds between keys) and usually ends
//! with Enter. [`WedgeDetector`] is a pure state machine fed with key events and their times: it
//! reports a [`WedgeScan`] for every fast burst of at least [`WedgeConfig::min_len`] characters,
//! ended by Enter or by a pause, and ignores human typing.
//!
//! The scanner sends key *positions* for a US layout; the host maps them with its own layout.
//! On a French AZERTY host, `BKA2M` arrives as `BKQé?`. Attendance codes are `BK` + upper-case
//! RFC 4648 base32 (`A`–`Z`, `2`–`7`), so [`normalise_wedge_text`] and [`wedge_candidates`] map
//! AZERTY output back to what the scanner meant; the detector remembers a layout once a scan
//! proves it.

use std::time::{Duration, Instant};

/// Timing rules for telling a scanner from a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WedgeConfig {
    /// Shortest burst that counts as a scan (attendance codes are far longer).
    pub min_len: usize,
    /// Longest gap between two keys of one burst. Scanners type every 2–20 ms; people rarely
    /// manage 8 keys in a row under 35 ms each.
    pub max_gap: Duration,
    /// A burst of `min_len` or more keys followed by this much silence completes without Enter
    /// (scanners configured without a suffix). Call [`WedgeDetector::poll`] to notice it.
    pub idle_timeout: Duration,
    /// Longer bursts are cut off and reported at this length (a stuck key must not grow the
    /// buffer for ever).
    pub max_len: usize,
}

impl Default for WedgeConfig {
    fn default() -> Self {
        WedgeConfig {
            min_len: 8,
            max_gap: Duration::from_millis(35),
            idle_timeout: Duration::from_millis(120),
            max_len: 4096,
        }
    }
}

/// One key as the windowing system reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WedgeKey {
    /// A key that produced text.
    Char(char),
    /// Enter / Return (also what `\r` or `\n` as a character means).
    Enter,
    /// Tab: some scanners end with it instead of Enter.
    Tab,
    /// Anything else (arrows, Escape, modifiers on their own): breaks a burst.
    Other,
}

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    Enter,
    Tab,
    /// No suffix: the burst stopped and [`WedgeConfig::idle_timeout`] passed, or the next key
    /// came too late to belong to it.
    Pause,
    /// [`WedgeConfig::max_len`] reached.
    Overflow,
}

/// Keyboard layout of the host that received the scanner's key positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostLayout {
    /// US QWERTY (or any layout that agrees with it on letters and digits).
    Us,
    /// French AZERTY.
    FrenchAzerty,
}

/// A scanned text and what it probably meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WedgeScan {
    /// The characters as the host typed them.
    pub typed: String,
    /// The single best reading (see [`normalise_wedge_text`]).
    pub text: String,
    /// Every plausible reading, most likely first; try each until one verifies.
    pub candidates: Vec<String>,
    /// The host layout the best reading assumes.
    pub layout: HostLayout,
    pub ended_by: ScanEnd,
    pub started_at: Instant,
    pub finished_at: Instant,
}

/// Detects scanner bursts in a stream of key events.
#[derive(Debug, Clone)]
pub struct WedgeDetector {
    config: WedgeConfig,
    burst: String,
    burst_len: usize,
    started_at: Option<Instant>,
    last_key_at: Option<Instant>,
    /// Set once a scan could only be read one way; breaks ties for later scans.
    known_layout: Option<HostLayout>,
}

impl WedgeDetector {
    pub fn new(config: WedgeConfig) -> Self {
        WedgeDetector {
            config,
            burst: String::new(),
            burst_len: 0,
            started_at: None,
            last_key_at: None,
            known_layout: None,
        }
    }

    /// The layout earlier scans proved, if any.
    pub fn known_layout(&self) -> Option<HostLayout> {
        self.known_layout
    }

    /// Feeds one key pressed at `at`. Returns a scan when this key completes one, or when it
    /// arrives so late that the burst before it was a scan without Enter.
    pub fn feed(&mut self, key: WedgeKey, at: Instant) -> Option<WedgeScan> {
        let key = match key {
            WedgeKey::Char('\r' | '\n') => WedgeKey::Enter,
            WedgeKey::Char('\t') => WedgeKey::Tab,
            other => other,
        };
        let in_time = self
            .last_key_at
            .is_some_and(|last| at.saturating_duration_since(last) <= self.config.max_gap);
        match key {
            WedgeKey::Char(c) => {
                let finished = if in_time { None } else { self.finish(ScanEnd::Pause) };
                if self.burst_len == 0 {
                    self.started_at = Some(at);
                }
                self.burst.push(c);
                self.burst_len += 1;
                self.last_key_at = Some(at);
                if self.burst_len >= self.config.max_len {
                    return finished.or_else(|| self.finish(ScanEnd::Overflow));
                }
                finished
            }
            WedgeKey::Enter | WedgeKey::Tab => {
                let end = if key == WedgeKey::Enter {
                    ScanEnd::Enter
                } else {
                    ScanEnd::Tab
                };
                if in_time {
                    self.finish(end)
                } else {
                    // Enter long after the last key: the burst (if any) already ended by pause.
                    self.finish(ScanEnd::Pause)
                }
            }
            WedgeKey::Other => {
                let finished = if in_time { None } else { self.finish(ScanEnd::Pause) };
                self.reset();
                finished
            }
        }
    }

    /// Call periodically (e.g. every 50 ms): completes a burst that ended without Enter.
    pub fn poll(&mut self, now: Instant) -> Option<WedgeScan> {
        let idle = self
            .last_key_at
            .is_some_and(|last| now.saturating_duration_since(last) >= self.config.idle_timeout);
        if idle {
            self.finish(ScanEnd::Pause)
        } else {
            None
        }
    }

    /// Ends the current burst: a scan if it is long enough, otherwise human typing (dropped).
    fn finish(&mut self, ended_by: ScanEnd) -> Option<WedgeScan> {
        let long_enough = self.burst_len >= self.config.min_len;
        let scan = match (long_enough, self.started_at, self.last_key_at) {
            (true, Some(started_at), Some(finished_at)) => {
                let candidates = wedge_candidates_with(&self.burst, self.known_layout);
                let (text, layout) = candidates
                    .first()
                    .map(|c| (c.text.clone(), c.layout))
                    .unwrap_or_else(|| (self.burst.clone(), HostLayout::Us));
                if candidates.len() == 1 && is_code_shaped(&text) {
                    self.known_layout = Some(layout);
                }
                Some(WedgeScan {
                    typed: self.burst.clone(),
                    text,
                    candidates: candidates.into_iter().map(|c| c.text).collect(),
                    layout,
                    ended_by,
                    started_at,
                    finished_at,
                })
            }
            _ => None,
        };
        self.reset();
        scan
    }

    fn reset(&mut self) {
        self.burst.clear();
        self.burst_len = 0;
        self.started_at = None;
        self.last_key_at = None;
    }
}

impl Default for WedgeDetector {
    fn default() -> Self {
        WedgeDetector::new(WedgeConfig::default())
    }
}

/// One reading of a typed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WedgeCandidate {
    pub text: String,
    pub layout: HostLayout,
}

/// What a US-layout scanner meant, given what a French AZERTY host typed.
///
/// Covers the printable keys of the main block; characters without a US counterpart
/// (dead keys, `²`) are kept as they are.
pub fn azerty_to_us(typed: &str) -> String {
    typed.chars().map(azerty_char_to_us).collect()
}

fn azerty_char_to_us(c: char) -> char {
    match c {
        // Digit row, unshifted on AZERTY = US digits.
        '&' => '1',
        'é' => '2',
        '"' => '3',
        '\'' => '4',
        '(' => '5',
        '-' => '6',
        'è' => '7',
        '_' => '8',
        'ç' => '9',
        'à' => '0',
        ')' => '-',
        '°' => '_',
        // Digit row, shifted on AZERTY = US shifted digits.
        '1' => '!',
        '2' => '@',
        '3' => '#',
        '4' => '$',
        '5' => '%',
        '6' => '^',
        '7' => '&',
        '8' => '*',
        '9' => '(',
        '0' => ')',
        // Letters that move.
        'a' => 'q',
        'A' => 'Q',
        'q' => 'a',
        'Q' => 'A',
        'z' => 'w',
        'Z' => 'W',
        'w' => 'z',
        'W' => 'Z',
        'm' => ';',
        'M' => ':',
        ',' => 'm',
        '?' => 'M',
        // Punctuation.
        ';' => ',',
        '.' => '<',
        ':' => '.',
        '/' => '>',
        '!' => '/',
        '§' => '?',
        'ù' => '\'',
        '%' => '"',
        '*' => '\\',
        'µ' => '|',
        '$' => ']',
        '£' => '}',
        other => other,
    }
}

/// `BK` followed by upper-case RFC 4648 base32: the shape of an attendance code.
pub fn is_code_shaped(text: &str) -> bool {
    text.strip_prefix("BK").is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
    })
}

/// The best single reading of a scanned text: unchanged when it already reads as typed on a
/// US host, the AZERTY→US mapping when only that yields an attendance code, and otherwise
/// unchanged (trailing CR/LF removed in every case).
pub fn normalise_wedge_text(typed: &str) -> String {
    wedge_candidates(typed)
        .into_iter()
        .next()
        .map(|c| c.text)
        .unwrap_or_default()
}

/// Every plausible reading of a scanned text, most likely first.
///
/// Only one reading is offered when only one of them is shaped like an attendance code (an
/// AZERTY host turns the digits 2–7 and `M` into `é"'(-è` and `?`, which no code contains) or
/// when both are the same. A code made only of letters with `A`/`Q`/`W`/`Z` reads as a code
/// either way: as typed first (or the AZERTY reading first once the detector has proved that
/// layout), then the other. Texts that are no code either way keep the typing first.
pub fn wedge_candidates(typed: &str) -> Vec<WedgeCandidate> {
    wedge_candidates_with(typed, None)
}

fn wedge_candidates_with(typed: &str, known: Option<HostLayout>) -> Vec<WedgeCandidate> {
    let typed = typed.trim_end_matches(['\r', '\n']);
    let as_typed = WedgeCandidate {
        text: typed.to_string(),
        layout: HostLayout::Us,
    };
    let mapped = WedgeCandidate {
        text: azerty_to_us(typed),
        layout: HostLayout::FrenchAzerty,
    };
    if mapped.text == as_typed.text {
        return vec![as_typed];
    }
    let azerty_known = known == Some(HostLayout::FrenchAzerty);
    match (is_code_shaped(&as_typed.text), is_code_shaped(&mapped.text)) {
        (true, false) => vec![as_typed],
        (false, true) => vec![mapped],
        (true, true) | (false, false) if azerty_known => vec![mapped, as_typed],
        (true, true) | (false, false) => vec![as_typed, mapped],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Types `text` starting at `start` with `gap` between keys, then Enter (if `enter`).
    fn type_text(
        detector: &mut WedgeDetector,
        text: &str,
        start: Instant,
        gap: Duration,
        enter: bool,
    ) -> (Vec<WedgeScan>, Instant) {
        let mut scans = Vec::new();
        let mut at = start;
        for c in text.chars() {
            scans.extend(detector.feed(WedgeKey::Char(c), at));
            at += gap;
        }
        if enter {
            scans.extend(detector.feed(WedgeKey::Enter, at));
        }
        (scans, at)
    }

    /// What a French AZERTY host types when a US-layout scanner sends `text`.
    fn us_typed_on_azerty(text: &str) -> String {
        text.chars()
            .map(|c| match c {
                'A' => 'Q',
                'Q' => 'A',
                'Z' => 'W',
                'W' => 'Z',
                'M' => '?',
                '1' => '&',
                '2' => 'é',
                '3' => '"',
                '4' => '\'',
                '5' => '(',
                '6' => '-',
                '7' => 'è',
                '8' => '_',
                '9' => 'ç',
                '0' => 'à',
                other => other,
            })
            .collect()
    }

    const CODE: &str = "BKMFRGGZDFMZTWQ2LKNNWG23TPOJ2XK5TXPB4XUYJRGI";

    #[test]
    fn fast_burst_with_enter_is_a_scan() {
        let mut detector = WedgeDetector::default();
        let (scans, _) = type_text(&mut detector, CODE, Instant::now(), Duration::from_millis(4), true);
        assert_eq!(scans.len(), 1);
        assert_eq!(scans[0].text, CODE);
        assert_eq!(scans[0].typed, CODE);
        assert_eq!(scans[0].ended_by, ScanEnd::Enter);
        assert_eq!(scans[0].layout, HostLayout::Us);
    }

    #[test]
    fn slow_human_typing_is_ignored() {
        let mut detector = WedgeDetector::default();
        let start = Instant::now();
        let (scans, end) = type_text(&mut detector, CODE, start, Duration::from_millis(120), true);
        assert!(scans.is_empty());
        assert_eq!(detector.poll(end + Duration::from_secs(5)), None);
    }

    #[test]
    fn a_quick_typist_word_is_too_short_to_be_a_scan() {
        let mut detector = WedgeDetector::default();
        let (scans, end) = type_text(&mut detector, "hello", Instant::now(), Duration::from_millis(30), true);
        assert!(scans.is_empty());
        assert_eq!(detector.poll(end + Duration::from_secs(1)), None);
    }

    #[test]
    fn burst_without_enter_completes_after_the_idle_timeout() {
        let mut detector = WedgeDetector::default();
        let start = Instant::now();
        let (scans, end) = type_text(&mut detector, CODE, start, Duration::from_millis(5), false);
        assert!(scans.is_empty());
        assert_eq!(detector.poll(end), None, "not idle long enough yet");
        let scan = detector
            .poll(end + Duration::from_millis(200))
            .expect("scan after pause");
        assert_eq!(scan.text, CODE);
        assert_eq!(scan.ended_by, ScanEnd::Pause);
        assert_eq!(detector.poll(end + Duration::from_secs(1)), None, "reported once");
    }

    #[test]
    fn burst_without_enter_completes_when_the_next_key_comes_late() {
        let mut detector = WedgeDetector::default();
        let start = Instant::now();
        let (_, end) = type_text(&mut detector, CODE, start, Duration::from_millis(5), false);
        let scan = detector.feed(WedgeKey::Char('x'), end + Duration::from_millis(80));
        assert_eq!(scan.map(|s| s.text), Some(CODE.to_string()));
    }

    #[test]
    fn human_keys_before_a_scan_do_not_stick_to_it() {
        let mut detector = WedgeDetector::default();
        let start = Instant::now();
        let (_, end) = type_text(&mut detector, "ab", start, Duration::from_millis(150), false);
        let (scans, _) = type_text(
            &mut detector,
            CODE,
            end + Duration::from_millis(400),
            Duration::from_millis(3),
            true,
        );
        assert_eq!(scans.len(), 1);
        assert_eq!(scans[0].text, CODE);
    }

    #[test]
    fn one_slow_gap_splits_the_burst() {
        let mut detector = WedgeDetector::default();
        let start = Instant::now();
        let (_, end) = type_text(&mut detector, "BKAB", start, Duration::from_millis(5), false);
        let (scans, _) = type_text(
            &mut detector,
            "CDE",
            end + Duration::from_millis(60),
            Duration::from_millis(5),
            true,
        );
        assert!(scans.is_empty(), "two short bursts are not one scan: {scans:?}");
    }

    #[test]
    fn azerty_host_is_mapped_back_to_what_the_scanner_meant() {
        let typed = us_typed_on_azerty(CODE);
        assert_eq!(typed, "BK?FRGGWDF?WTZA\u{e9}LKNNZG\u{e9}\"TPOJ\u{e9}XK(TXPB'XUYJRGI");
        assert_eq!(normalise_wedge_text(&typed), CODE);
        let mut detector = WedgeDetector::default();
        let (scans, _) = type_text(&mut detector, &typed, Instant::now(), Duration::from_millis(4), true);
        assert_eq!(scans.len(), 1);
        assert_eq!(scans[0].text, CODE);
        assert_eq!(scans[0].layout, HostLayout::FrenchAzerty);
        assert_eq!(scans[0].candidates, vec![CODE.to_string()]);
        assert_eq!(detector.known_layout(), Some(HostLayout::FrenchAzerty));
    }

    #[test]
    fn every_base32_symbol_survives_the_azerty_round_trip() {
        let alphabet = "BKABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        assert_eq!(normalise_wedge_text(&us_typed_on_azerty(alphabet)), alphabet);
    }

    #[test]
    fn correct_text_is_left_alone() {
        assert_eq!(normalise_wedge_text(CODE), CODE);
        assert_eq!(normalise_wedge_text("BKXY234567"), "BKXY234567");
        assert_eq!(
            normalise_wedge_text("https://example.org/a-b"),
            "https://example.org/a-b"
        );
        assert_eq!(normalise_wedge_text("BKXY234567\r\n"), "BKXY234567");
    }

    #[test]
    fn letters_only_code_with_swappable_letters_offers_both_readings() {
        // "BKAZ" on a US host, or "BKQW" typed by a US scanner on an AZERTY host.
        let candidates = wedge_candidates("BKAZBCDE");
        let texts: Vec<&str> = candidates.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["BKAZBCDE", "BKQWBCDE"]);
    }

    #[test]
    fn a_proven_layout_orders_later_ambiguous_scans() {
        let mut detector = WedgeDetector::default();
        let start = Instant::now();
        let (_, end) = type_text(
            &mut detector,
            &us_typed_on_azerty("BKAAAA2345"),
            start,
            Duration::from_millis(4),
            true,
        );
        assert_eq!(detector.known_layout(), Some(HostLayout::FrenchAzerty));
        let (scans, _) = type_text(
            &mut detector,
            &us_typed_on_azerty("BKAZBCDE"),
            end + Duration::from_secs(2),
            Duration::from_millis(4),
            true,
        );
        assert_eq!(scans[0].text, "BKAZBCDE");
        assert_eq!(scans[0].candidates, ["BKAZBCDE", "BKQWBCDE"]);
    }

    #[test]
    fn other_keys_break_a_burst() {
        let mut detector = WedgeDetector::default();
        let start = Instant::now();
        let (_, end) = type_text(&mut detector, "BKABCD", start, Duration::from_millis(4), false);
        assert_eq!(detector.feed(WedgeKey::Other, end), None);
        let (scans, _) = type_text(&mut detector, "EFG", end, Duration::from_millis(4), true);
        assert!(scans.is_empty());
    }

    #[test]
    fn a_stuck_key_is_cut_off_at_max_len() {
        let config = WedgeConfig {
            max_len: 16,
            ..WedgeConfig::default()
        };
        let mut detector = WedgeDetector::new(config);
        let (scans, _) = type_text(
            &mut detector,
            &"x".repeat(40),
            Instant::now(),
            Duration::from_millis(2),
            false,
        );
        assert_eq!(scans.len(), 2);
        assert!(scans
            .iter()
            .all(|s| s.ended_by == ScanEnd::Overflow && s.typed.len() == 16));
    }

    #[test]
    fn tab_suffix_and_newline_characters_end_a_scan() {
        let mut detector = WedgeDetector::default();
        let start = Instant::now();
        let (_, end) = type_text(&mut detector, CODE, start, Duration::from_millis(4), false);
        let scan = detector.feed(WedgeKey::Tab, end).expect("tab ends the scan");
        assert_eq!(scan.ended_by, ScanEnd::Tab);
        let (_, end) = type_text(
            &mut detector,
            CODE,
            end + Duration::from_secs(1),
            Duration::from_millis(4),
            false,
        );
        let scan = detector.feed(WedgeKey::Char('\r'), end).expect("CR ends the scan");
        assert_eq!(scan.ended_by, ScanEnd::Enter);
    }
}
