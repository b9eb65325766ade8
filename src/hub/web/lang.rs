//! Which language a page is shown in: one language at a time, chosen by the visitor.
//!
//! Order: an explicit `?lang=fr|en` (the language switch), else the `lang` cookie the
//! switch leaves behind, else the browser's `Accept-Language` (highest quality first),
//! else French, the events' first language.

use crate::domain::event::Language;

/// The cookie the language switch sets.
pub const COOKIE: &str = "lang";

/// The page language: `?lang=fr|en` if given, else the `lang` cookie, else the best of Accept-Language, else French.
pub fn negotiate(query_lang: Option<&str>, cookie_header: Option<&str>, accept_language: Option<&str>) -> Language {
    query_lang
        .and_then(known)
        .or_else(|| cookie_header.and_then(from_cookie))
        .or_else(|| accept_language.and_then(from_accept_language))
        .unwrap_or(Language::Fr)
}

/// `fr`, `en`, or a regional variant of either (`en-GB`, `fr_CA`); anything else is unknown.
fn known(tag: &str) -> Option<Language> {
    let tag = tag.trim();
    let primary = tag.split(['-', '_']).next().unwrap_or_default();
    if primary.eq_ignore_ascii_case("fr") {
        Some(Language::Fr)
    } else if primary.eq_ignore_ascii_case("en") {
        Some(Language::En)
    } else {
        None
    }
}

/// The `lang` cookie in a `Cookie:` header (`a=1; lang=en; b=2`).
fn from_cookie(header: &str) -> Option<Language> {
    super::cookie_value(header, COOKIE).and_then(known)
}

/// The supported language with the highest quality in `Accept-Language`
/// (`en-GB,en;q=0.9,fr;q=0.8`); on a tie the one listed first. `q=0` means "not this one".
fn from_accept_language(header: &str) -> Option<Language> {
    let mut best: Option<(u16, Language)> = None;
    for item in header.split(',').take(32) {
        let mut parts = item.split(';');
        let Some(language) = parts.next().and_then(known) else {
            continue;
        };
        let quality = parts
            .find_map(|parameter| {
                let (name, value) = parameter.split_once('=')?;
                (name.trim().eq_ignore_ascii_case("q")).then(|| quality(value.trim()))
            })
            .unwrap_or(Some(1000));
        let Some(quality) = quality else {
            continue;
        };
        if quality > 0 && best.is_none_or(|(best_quality, _)| quality > best_quality) {
            best = Some((quality, language));
        }
    }
    best.map(|(_, language)| language)
}

/// An HTTP quality value (`0`, `0.8`, `1.000`) in thousandths; None when malformed.
fn quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (index, digit) in fraction.bytes().enumerate() {
        thousandths += u16::from(digit - b'0') * [100, 10, 1][index];
    }
    Some((whole * 1000 + thousandths).min(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_then_the_cookie_then_the_browser() {
        let cookie = Some("theme=dark; lang=en");
        let browser = Some("fr-FR,fr;q=0.9");
        assert_eq!(negotiate(Some("fr"), cookie, browser), Language::Fr);
        assert_eq!(negotiate(Some("en"), None, browser), Language::En);
        assert_eq!(negotiate(None, cookie, browser), Language::En);
        assert_eq!(negotiate(None, Some("lang=fr"), Some("en")), Language::Fr);
        assert_eq!(negotiate(None, None, browser), Language::Fr);
        assert_eq!(negotiate(None, None, Some("en-US,en;q=0.9")), Language::En);
    }

    #[test]
    fn unknown_or_broken_values_fall_through_to_french() {
        assert_eq!(negotiate(Some("de"), None, None), Language::Fr);
        assert_eq!(negotiate(Some("de"), Some("lang=xx"), Some("en")), Language::En);
        assert_eq!(negotiate(None, Some("lang"), Some("de-DE,it;q=0.5")), Language::Fr);
        assert_eq!(negotiate(None, Some(";;=;"), Some(",,;q=;")), Language::Fr);
        assert_eq!(negotiate(None, None, None), Language::Fr);
        assert_eq!(negotiate(Some(""), Some(""), Some("")), Language::Fr);
        // A cookie called something else that ends in "lang" is not ours.
        assert_eq!(negotiate(None, Some("xlang=en"), None), Language::Fr);
    }

    #[test]
    fn accept_language_is_read_by_quality() {
        assert_eq!(negotiate(None, None, Some("de,fr;q=0.5,en;q=0.8")), Language::En);
        assert_eq!(negotiate(None, None, Some("en;q=0.3, fr-CA;q=0.7")), Language::Fr);
        assert_eq!(negotiate(None, None, Some("EN-gb")), Language::En);
        // q=0 means "not this one"; ties go to the first listed.
        assert_eq!(negotiate(None, None, Some("en;q=0,fr;q=0.1")), Language::Fr);
        assert_eq!(negotiate(None, None, Some("en;q=0")), Language::Fr);
        assert_eq!(negotiate(None, None, Some("en;q=0.5,fr;q=0.5")), Language::En);
        // Malformed qualities are skipped, not trusted.
        assert_eq!(negotiate(None, None, Some("en;q=2,fr;q=0.2")), Language::Fr);
        assert_eq!(negotiate(None, None, Some("en;q=0.1234,fr;q=0.2")), Language::Fr);
        assert_eq!(negotiate(None, None, Some("*;q=0.9,en_US")), Language::En);
    }

    #[test]
    fn quality_values() {
        assert_eq!(quality("1"), Some(1000));
        assert_eq!(quality("1.000"), Some(1000));
        assert_eq!(quality("0.8"), Some(800));
        assert_eq!(quality("0.05"), Some(50));
        assert_eq!(quality("0"), Some(0));
        assert_eq!(quality("1.5"), Some(1000));
        assert_eq!(quality("x"), None);
        assert_eq!(quality("0.-1"), None);
    }
}
