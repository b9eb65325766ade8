//! Counts in texts for people: "1 award", "2 awards", never "award(s)".
//!
//! The touchscreen's texts use Slint's `@tr("…" | "…" % n)` with the plural forms of
//! `lang/*/LC_MESSAGES/badge-kiosk.po`; these are for the texts Rust prints (the command
//! line, logs, the hub). English and French differ on zero: "0 awards" but "0 badge".

use std::fmt::Display;

/// `n` and the English noun that goes with it: `count(1, "award", "awards")` is "1 award".
pub fn count<T: Display + PartialEq + From<u8>>(n: T, one: &str, other: &str) -> String {
    format!("{n} {}", english(n == T::from(1), one, other))
}

/// The English form: singular for exactly one.
pub fn english<'a>(is_one: bool, one: &'a str, other: &'a str) -> &'a str {
    if is_one {
        one
    } else {
        other
    }
}

/// `n` and the French noun: singular for 0 and 1 (`Plural-Forms: plural=(n > 1)`, as in
/// the French catalogue).
pub fn count_fr<T: Display + PartialOrd + From<u8>>(n: T, one: &str, other: &str) -> String {
    let form = if n > T::from(1) { other } else { one };
    format!("{n} {form}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_singular_for_one_only() {
        assert_eq!(count(0usize, "award", "awards"), "0 awards");
        assert_eq!(count(1usize, "award", "awards"), "1 award");
        assert_eq!(count(2u64, "award", "awards"), "2 awards");
        assert_eq!(count(-1i64, "record", "records"), "-1 records");
    }

    #[test]
    fn french_is_singular_for_zero_and_one() {
        assert_eq!(count_fr(0usize, "badge", "badges"), "0 badge");
        assert_eq!(count_fr(1usize, "badge", "badges"), "1 badge");
        assert_eq!(count_fr(2usize, "stand", "stands"), "2 stands");
    }
}
