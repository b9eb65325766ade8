//! The event definition (`event.toml`): what the organiser configures.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Text in each of the event's languages.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Localised {
    pub fr: String,
    pub en: String,
}

impl Localised {
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Fr => &self.fr,
            Language::En => &self.en,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Fr,
    En,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
    /// Anything that is not English falls back to French, the kiosk's first language.
    pub fn from_code(code: &str) -> Self {
        if code.trim().eq_ignore_ascii_case("en") {
            Language::En
        } else {
            Language::Fr
        }
    }
    pub fn other(self) -> Self {
        match self {
            Language::Fr => Language::En,
            Language::En => Language::Fr,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EventInfo {
    pub id: String,
    pub name: Localised,
    /// Local dates, `YYYY-MM-DD`.
    pub starts: String,
    pub ends: String,
    #[serde(default = "default_languages")]
    pub languages: Vec<Language>,
    /// Where the event happens, shown on the attract screen.
    #[serde(default)]
    pub venue: Option<String>,
}

fn default_languages() -> Vec<Language> {
    vec![Language::Fr, Language::En]
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    pub name: String,
    pub url: String,
    pub email: Option<String>,
    /// A file in the event directory, or an https URL.
    pub image: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadgeKind {
    Attendance,
    Pathway,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PathwayRule {
    /// Stands that count towards the pathway.
    pub stands: Vec<String>,
    /// How many of `stands` a visitor must visit.
    pub needed: usize,
    /// Stands that are always required (e.g. the orientation counsellor).
    #[serde(default)]
    pub required: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BadgeClass {
    pub id: String,
    pub kind: BadgeKind,
    pub name: Localised,
    pub description: Localised,
    pub criteria: Localised,
    /// A file in the event directory (PNG or SVG).
    pub image: String,
    #[serde(default)]
    pub pathway: Option<PathwayRule>,
    /// Platform badge ids (Open Badge Factory, Badgr) this class is issued as.
    #[serde(default)]
    pub platform: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Stand {
    pub id: String,
    pub name: Localised,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct SyncTarget {
    /// The event hub, e.g. `https://hub.example.org:8443`.
    pub hub: Option<String>,
    /// A platform to issue to directly when there is no hub: `obf` or `badgr`.
    pub platform: Option<String>,
}

/// Where visitors' phones fetch the badges they took on a phone.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct ClaimSettings {
    /// The event's one public claim address, e.g. `https://badges.example.org`: a hub
    /// reachable from a phone on mobile data, serving `/claim/…` and `/badge/…`. Claim QR
    /// codes point here. Without it they point at the hub the kiosk enrolled with (or
    /// `[sync] hub`), which a phone may reach only on the venue network.
    pub public_url: Option<String>,
}

impl ClaimSettings {
    /// The public claim address without its trailing slash.
    pub fn base(&self) -> Option<&str> {
        self.public_url
            .as_deref()
            .map(|url| url.trim().trim_end_matches('/'))
            .filter(|url| !url.is_empty())
    }
}

/// Who emails a visitor the badge they chose to receive by email (`[delivery] email` in
/// event.toml): never both, never neither.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmailSender {
    /// The hub sends the badge itself (`hub serve --smtp-url`), with the baked image, the
    /// credential and a link to the claim page; `hub issue` then tells the platform not to
    /// email.
    #[default]
    Hub,
    /// The badge platform's own email, when `hub issue` hands it the award; the hub sends
    /// nothing itself.
    Platform,
}

impl EmailSender {
    pub fn name(self) -> &'static str {
        match self {
            EmailSender::Hub => "hub",
            EmailSender::Platform => "platform",
        }
    }
}

/// How badges reach the visitors who gave an email (`[delivery]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    #[serde(default)]
    pub email: EmailSender,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EventDefinition {
    pub event: EventInfo,
    pub issuer: Issuer,
    #[serde(rename = "badge")]
    pub badges: Vec<BadgeClass>,
    #[serde(rename = "stand", default)]
    pub stands: Vec<Stand>,
    #[serde(default)]
    pub sync: SyncTarget,
    #[serde(default)]
    pub claim: ClaimSettings,
    #[serde(default)]
    pub delivery: DeliverySettings,
    /// Event public keys (hex), newest last; codes signed by any of them verify.
    #[serde(default)]
    pub keys: Vec<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EventError {
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot read {file}: {message}")]
    Unreadable { file: PathBuf, message: String },
}

impl EventDefinition {
    /// The times a hub's clock may be believed at for this event (see
    /// [`super::clock::HubTimeWindow`]).
    pub fn hub_time_window(&self) -> Option<super::clock::HubTimeWindow> {
        super::clock::HubTimeWindow::for_event(&self.event.starts, &self.event.ends)
    }

    pub fn badge(&self, id: &str) -> Option<&BadgeClass> {
        self.badges.iter().find(|badge| badge.id == id)
    }
    pub fn stand(&self, id: &str) -> Option<&Stand> {
        self.stands.iter().find(|stand| stand.id == id)
    }
    pub fn attendance_badge(&self) -> Option<&BadgeClass> {
        self.badges.iter().find(|badge| badge.kind == BadgeKind::Attendance)
    }
    pub fn pathway_badges(&self) -> impl Iterator<Item = (&BadgeClass, &PathwayRule)> {
        self.badges
            .iter()
            .filter_map(|badge| badge.pathway.as_ref().map(|rule| (badge, rule)))
    }

    pub fn load(path: &Path) -> Result<Self, EventError> {
        let text = std::fs::read_to_string(path).map_err(|error| EventError::Unreadable {
            file: path.to_owned(),
            message: error.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates; every error names the file, the line and the field.
    pub fn parse(text: &str, file: &Path) -> Result<Self, EventError> {
        let definition: EventDefinition = toml::from_str(text).map_err(|error| EventError::Invalid {
            file: file.to_owned(),
            line: error.span().map(|span| line_of(text, span.start)).unwrap_or(1),
            message: error.message().to_owned(),
        })?;
        definition.validate(text, file)?;
        Ok(definition)
    }

    fn validate(&self, text: &str, file: &Path) -> Result<(), EventError> {
        let invalid = |needle: &str, message: String| EventError::Invalid {
            file: file.to_owned(),
            line: find_line(text, needle),
            message,
        };
        let id_ok = |id: &str| {
            !id.is_empty()
                && id.len() <= 32
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        };
        if !id_ok(&self.event.id) {
            return Err(invalid(
                &self.event.id,
                format!(
                    "event.id {:?}: use 1 to 32 lower-case letters, digits, '-' or '_'",
                    self.event.id
                ),
            ));
        }
        for (field, date) in [("event.starts", &self.event.starts), ("event.ends", &self.event.ends)] {
            if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                return Err(invalid(date, format!("{field} {date:?}: write the date as YYYY-MM-DD")));
            }
        }
        if self.event.ends < self.event.starts {
            return Err(invalid(&self.event.ends, "event.ends is before event.starts".into()));
        }
        if !self.issuer.url.starts_with("https://") && !self.issuer.url.starts_with("http://") {
            return Err(invalid(&self.issuer.url, "issuer.url must start with https://".into()));
        }
        if let Some(url) = &self.claim.public_url {
            let url = url.trim();
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .unwrap_or_default();
            if host.is_empty() || host.starts_with('/') || url.contains(['?', '#', ' ', '"', '<', '>']) {
                return Err(invalid(
                    url,
                    format!(
                        "claim.public_url {url:?}: give the address phones open, e.g. \"https://badges.example.org\" (https://, no query)"
                    ),
                ));
            }
        }
        let mut stand_ids = HashSet::new();
        for stand in &self.stands {
            if !id_ok(&stand.id) || stand.id.len() > crate::domain::code::MAX_STAND_LEN {
                return Err(invalid(&stand.id, format!("stand.id {:?}: use 1 to 16 lower-case letters, digits, '-' or '_' (it is printed in staff QR codes)", stand.id)));
            }
            if !stand_ids.insert(stand.id.as_str()) {
                return Err(invalid(&stand.id, format!("stand.id {:?} is defined twice", stand.id)));
            }
        }
        if self.badges.is_empty() {
            return Err(invalid("[[badge]]", "define at least one [[badge]]".into()));
        }
        let mut badge_ids = HashSet::new();
        for badge in &self.badges {
            if !id_ok(&badge.id) {
                return Err(invalid(
                    &badge.id,
                    format!(
                        "badge.id {:?}: use 1 to 32 lower-case letters, digits, '-' or '_'",
                        badge.id
                    ),
                ));
            }
            if !badge_ids.insert(badge.id.as_str()) {
                return Err(invalid(&badge.id, format!("badge.id {:?} is defined twice", badge.id)));
            }
            match (badge.kind, &badge.pathway) {
                (BadgeKind::Pathway, None) => {
                    return Err(invalid(
                        &badge.id,
                        format!(
                            "badge {:?} is a pathway: add [badge.pathway] with stands and needed",
                            badge.id
                        ),
                    ))
                }
                (BadgeKind::Attendance, Some(_)) => {
                    return Err(invalid(
                        &badge.id,
                        format!(
                            "badge {:?} is an attendance badge: remove [badge.pathway] or set kind = \"pathway\"",
                            badge.id
                        ),
                    ))
                }
                (BadgeKind::Pathway, Some(rule)) => {
                    for stand in rule.stands.iter().chain(&rule.required) {
                        if !stand_ids.contains(stand.as_str()) {
                            return Err(invalid(
                                &format!("\"{stand}\""),
                                format!(
                                    "badge.pathway of {:?} names stand {stand:?}, which no [[stand]] defines",
                                    badge.id
                                ),
                            ));
                        }
                    }
                    if rule.needed == 0 || rule.needed > rule.stands.len() {
                        return Err(invalid(
                            "needed",
                            format!(
                                "badge.pathway.needed of {:?} is {}: it must be between 1 and the {} stands listed",
                                badge.id,
                                rule.needed,
                                rule.stands.len()
                            ),
                        ));
                    }
                }
                (BadgeKind::Attendance, None) => {}
            }
        }
        for key in &self.keys {
            let valid = hex::decode(key)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
                .is_some();
            if !valid {
                return Err(invalid(
                    key,
                    format!("keys: {key:?} is not a 64-hex-digit Ed25519 public key"),
                ));
            }
        }
        Ok(())
    }

    pub fn public_keys(&self) -> Vec<ed25519_dalek::VerifyingKey> {
        self.keys
            .iter()
            .filter_map(|key| hex::decode(key).ok())
            .filter_map(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .filter_map(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
            .collect()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |before| before.matches('\n').count() + 1)
}

/// Line of the first occurrence of `needle` (the offending value), 1 if not found.
fn find_line(text: &str, needle: &str) -> usize {
    text.find(needle).map_or(1, |offset| line_of(text, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../assets/demo-event/event.toml");

    #[test]
    fn demo_event_is_valid() {
        let event = EventDefinition::parse(DEMO, Path::new("event.toml")).unwrap();
        assert_eq!(event.attendance_badge().unwrap().id, "attended");
        let (_, rule) = event.pathway_badges().next().unwrap();
        assert_eq!(rule.needed, 3);
        assert_eq!(rule.stands.len(), 4);
        assert_eq!(rule.required, vec!["orientation".to_string()]);
        assert!(!event.public_keys().is_empty());
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let broken = DEMO.replace("needed = 3", "needed = 7");
        let error = EventDefinition::parse(&broken, Path::new("x/event.toml")).unwrap_err();
        let line = DEMO.lines().position(|l| l.contains("needed = 3")).unwrap() + 1;
        assert_eq!(
            error.to_string().split(": ").next().unwrap(),
            format!("x/event.toml:{line}")
        );
        assert!(error.to_string().contains("needed"), "{error}");

        let unknown_stand = DEMO.replacen("\"boucherie\",", "\"bouchrie\",", 1);
        let error = EventDefinition::parse(&unknown_stand, Path::new("event.toml")).unwrap_err();
        assert!(error.to_string().contains("bouchrie"), "{error}");

        let syntax = DEMO.replacen("starts = ", "starts == ", 1);
        let error = EventDefinition::parse(&syntax, Path::new("event.toml")).unwrap_err();
        let line = DEMO.lines().position(|l| l.starts_with("starts = ")).unwrap() + 1;
        assert!(error.to_string().starts_with(&format!("event.toml:{line}:")), "{error}");

        let typo = DEMO.replacen("criteria.fr", "critera.fr", 1);
        assert!(EventDefinition::parse(&typo, Path::new("event.toml")).is_err());
    }

    #[test]
    fn the_public_claim_address_is_checked() {
        let demo = EventDefinition::parse(DEMO, Path::new("event.toml")).unwrap();
        assert_eq!(demo.claim.base(), Some("https://claim.example.org"));
        let without = DEMO.replace("public_url = \"https://claim.example.org\"", "");
        let event = EventDefinition::parse(&without, Path::new("event.toml")).unwrap();
        assert_eq!(event.claim.base(), None);
        let trailing = DEMO.replace("https://claim.example.org", "https://claim.example.org/");
        let event = EventDefinition::parse(&trailing, Path::new("event.toml")).unwrap();
        assert_eq!(event.claim.base(), Some("https://claim.example.org"));
        for bad in ["claim.example.org", "https://", "https://x?y=1", "ftp://x"] {
            let broken = DEMO.replace("https://claim.example.org", bad);
            let error = EventDefinition::parse(&broken, Path::new("event.toml")).unwrap_err();
            assert!(error.to_string().contains("claim.public_url"), "{bad}: {error}");
        }
    }
}
