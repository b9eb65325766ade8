//! The hub's web pages for people (as opposed to the kiosk API in `server.rs`): the page
//! language, and the visitor's claim pages. Pages are askama templates under `templates/`,
//! escaped automatically, with no outside resource (the venue may be offline).

pub mod claim;
pub mod console;
pub mod images;
pub mod lang;
pub mod wallet;
pub(crate) mod words;

/// The value of cookie `name` in a `Cookie:` header (`a=1; name=value; b=2`), unquoted;
/// None when absent or empty.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(candidate, _)| candidate.trim() == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cookie_values_are_found_by_name_trimmed_and_unquoted() {
        let header = "lang=\"en\"; bk_console=abc ; x=y; empty=";
        assert_eq!(super::cookie_value(header, "lang"), Some("en"));
        assert_eq!(super::cookie_value(header, "bk_console"), Some("abc"));
        assert_eq!(super::cookie_value(header, "empty"), None);
        assert_eq!(super::cookie_value(header, "missing"), None);
        assert_eq!(super::cookie_value("garbage", "lang"), None);
    }
}
