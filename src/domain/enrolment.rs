//! The enrolment code an organiser shows a new kiosk: where the hub is, a one-time token,
//! and the fingerprint of the event key, so the kiosk trusts only the bundle that key
//! signed, whichever network (or rogue access point) answers at that address.
//!
//! It is a URL, `http://HUB/enrol/TOKEN?key=FINGERPRINT`, so a phone that scans it by
//! mistake opens the hub's page explaining what it is for.

use thiserror::Error;

pub const ENROL_PATH_SEGMENT: &str = "/enrol/";
/// Tokens and fingerprints are short; anything longer is not an enrolment code.
const MAX_ENROL_CODE_LEN: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentCode {
    /// The hub's base URL, e.g. `http://192.168.1.10:8787`.
    pub hub_url: String,
    pub token: String,
    /// The event key's fingerprint, as `keys::fingerprint` prints it.
    pub key_fingerprint: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnrolmentCodeError {
    #[error("this is not an enrolment code: show the code from the hub's enrolment page")]
    NotEnrolment,
    #[error("this enrolment code is damaged ({0}): show a new one from the hub")]
    Damaged(&'static str),
}

impl EnrolmentCode {
    pub fn to_url(&self) -> String {
        format!(
            "{}{}{}?key={}",
            self.hub_url.trim_end_matches('/'),
            ENROL_PATH_SEGMENT,
            self.token,
            self.key_fingerprint
        )
    }

    pub fn parse(text: &str) -> Result<Self, EnrolmentCodeError> {
        let text = text.trim();
        if text.len() > MAX_ENROL_CODE_LEN || !(text.starts_with("http://") || text.starts_with("https://")) {
            return Err(EnrolmentCodeError::NotEnrolment);
        }
        let Some(at) = text.rfind(ENROL_PATH_SEGMENT) else {
            return Err(EnrolmentCodeError::NotEnrolment);
        };
        let (hub_url, rest) = text.split_at(at);
        let rest = &rest[ENROL_PATH_SEGMENT.len()..];
        let (token, query) = rest.split_once('?').ok_or(EnrolmentCodeError::Damaged("no key"))?;
        let key_fingerprint = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("key="))
            .ok_or(EnrolmentCodeError::Damaged("no key"))?;
        // The authority (host and port) ends at the first `/`; what follows is a path prefix.
        let host = hub_url.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
        let authority = host.split('/').next().unwrap_or_default();
        if authority.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '#' || c == '?') {
            return Err(EnrolmentCodeError::Damaged("no hub address"));
        }
        if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(EnrolmentCodeError::Damaged("bad token"));
        }
        let significant = key_fingerprint.chars().filter(|c| *c != '-').count();
        if significant != 16 || !key_fingerprint.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(EnrolmentCodeError::Damaged("bad key fingerprint"));
        }
        Ok(Self {
            hub_url: hub_url.to_owned(),
            token: token.to_owned(),
            key_fingerprint: key_fingerprint.to_owned(),
        })
    }

    /// Cheap test the scanner uses to route a code before parsing it.
    pub fn looks_like(text: &str) -> bool {
        let text = text.trim();
        (text.starts_with("http://") || text.starts_with("https://")) && text.contains(ENROL_PATH_SEGMENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let code = EnrolmentCode {
            hub_url: "http://192.168.1.10:8787".into(),
            token: "K3M9PQ2XABCD7EFG".into(),
            key_fingerprint: "7KQ2-M9PD-X4TA-B3CE".into(),
        };
        let url = code.to_url();
        assert_eq!(
            url,
            "http://192.168.1.10:8787/enrol/K3M9PQ2XABCD7EFG?key=7KQ2-M9PD-X4TA-B3CE"
        );
        assert!(EnrolmentCode::looks_like(&url));
        assert_eq!(EnrolmentCode::parse(&url), Ok(code));
        // A hub behind a path prefix keeps it.
        let prefixed = EnrolmentCode::parse("https://hub.example.org/salon/enrol/ABC?key=7KQ2M9PDX4TAB3CE").unwrap();
        assert_eq!(prefixed.hub_url, "https://hub.example.org/salon");
    }

    #[test]
    fn refuses_what_is_not_an_enrolment_code() {
        assert_eq!(EnrolmentCode::parse("BKABCDEF"), Err(EnrolmentCodeError::NotEnrolment));
        assert_eq!(
            EnrolmentCode::parse("https://example.org/"),
            Err(EnrolmentCodeError::NotEnrolment)
        );
        assert_eq!(
            EnrolmentCode::parse("http://h/enrol/ABC"),
            Err(EnrolmentCodeError::Damaged("no key"))
        );
        assert_eq!(
            EnrolmentCode::parse("http://h/enrol/A-B?key=7KQ2-M9PD-X4TA-B3CE"),
            Err(EnrolmentCodeError::Damaged("bad token"))
        );
        assert_eq!(
            EnrolmentCode::parse("http://h/enrol/AB?key=7KQ2"),
            Err(EnrolmentCodeError::Damaged("bad key fingerprint"))
        );
        assert_eq!(
            EnrolmentCode::parse("http:///enrol/AB?key=7KQ2-M9PD-X4TA-B3CE"),
            Err(EnrolmentCodeError::Damaged("no hub address"))
        );
        // Issue #8 (fuzzing): slashes are not a hub address. This one parsed, and the URL
        // it printed back (`http:/enrol/…`) did not.
        assert_eq!(
            EnrolmentCode::parse("http:////////enrol/AC?key=7KQ2M9PDX4TAB3CE"),
            Err(EnrolmentCodeError::Damaged("no hub address"))
        );
        assert_eq!(
            EnrolmentCode::parse("https:///salon/enrol/AC?key=7KQ2M9PDX4TAB3CE"),
            Err(EnrolmentCodeError::Damaged("no hub address"))
        );
        assert_eq!(
            EnrolmentCode::parse(&format!("http://h/enrol/{}?key=x", "A".repeat(400))),
            Err(EnrolmentCodeError::NotEnrolment)
        );
    }
}
