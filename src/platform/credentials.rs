//! Platform credentials: from a TOML file given on the command line and/or environment
//! variables, never from event.toml (which travels to every kiosk). Secrets are wrapped in
//! [`Secret`], whose `Debug` never shows them, so they cannot reach a log by accident.
//!
//! File format (every key optional; environment variables override the file):
//!
//! ```toml
//! [obf]                      # Open Badge Factory, Admin tools > API
//! client_id = "XYZ1234"
//! client_secret = "…"
//! # url = "https://factory.cancred.ca"   # CanCred Factory runs the same API
//!
//! [badgr]                    # Canvas Credentials (Badgr)
//! region = "eu"              # us | eu | au | ca | sg
//! username = "organiser@example.org"
//! password = "…"
//! # or, for a registered app: client_id = "…" and client_secret = "…"
//! # url = "https://api.eu.badgr.io"      # overrides region
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

pub const ENV_OBF_CLIENT_ID: &str = "BADGE_KIOSK_OBF_CLIENT_ID";
pub const ENV_OBF_CLIENT_SECRET: &str = "BADGE_KIOSK_OBF_CLIENT_SECRET";
pub const ENV_OBF_URL: &str = "BADGE_KIOSK_OBF_URL";
pub const ENV_BADGR_USERNAME: &str = "BADGE_KIOSK_BADGR_USERNAME";
pub const ENV_BADGR_PASSWORD: &str = "BADGE_KIOSK_BADGR_PASSWORD";
pub const ENV_BADGR_CLIENT_ID: &str = "BADGE_KIOSK_BADGR_CLIENT_ID";
pub const ENV_BADGR_CLIENT_SECRET: &str = "BADGE_KIOSK_BADGR_CLIENT_SECRET";
pub const ENV_BADGR_REGION: &str = "BADGE_KIOSK_BADGR_REGION";
pub const ENV_BADGR_URL: &str = "BADGE_KIOSK_BADGR_URL";

/// Open Badge Factory's production host. The API v2 page notes that CanCred Factory
/// (`https://factory.cancred.ca`) serves the same API.
pub const OBF_DEFAULT_URL: &str = "https://openbadgefactory.com";

/// A secret string. `Debug` shows a placeholder; there is deliberately no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it to the platform.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct ObfCredentials {
    /// Identifies the organisation; not secret (it appears in every API path).
    pub client_id: String,
    pub client_secret: Secret,
    pub base_url: String,
}

impl fmt::Debug for ObfCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObfCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Canvas Credentials regions, from the "Environments" table of its developer docs
/// (developerdocs.instructure.com/services/credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgrRegion {
    Us,
    Eu,
    Au,
    Ca,
    Sg,
}

impl BadgrRegion {
    pub fn parse(value: &str) -> Result<Self, CredentialsError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(Self::Us),
            "eu" => Ok(Self::Eu),
            "au" => Ok(Self::Au),
            "ca" => Ok(Self::Ca),
            "sg" => Ok(Self::Sg),
            other => Err(CredentialsError::Invalid(format!(
                "unknown Canvas Credentials region \"{other}\": use us, eu, au, ca or sg (or set url)"
            ))),
        }
    }

    pub fn api_url(self) -> &'static str {
        match self {
            Self::Us => "https://api.badgr.io",
            Self::Eu => "https://api.eu.badgr.io",
            Self::Au => "https://api.au.badgr.io",
            Self::Ca => "https://api.ca.badgr.io",
            Self::Sg => "https://api.sg.badgr.io",
        }
    }
}

/// How to obtain a Canvas Credentials token (`POST /o/token`).
#[derive(Clone, PartialEq, Eq)]
pub enum BadgrAuth {
    /// The password grant of the "Getting started" guide: the organiser's own account.
    Password { username: String, password: Secret },
    /// A registered ("connected") app's client credentials.
    ClientCredentials { client_id: String, client_secret: Secret },
}

impl fmt::Debug for BadgrAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { username, password } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", password)
                .finish(),
            Self::ClientCredentials {
                client_id,
                client_secret,
            } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("client_secret", client_secret)
                .finish(),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct BadgrCredentials {
    pub auth: BadgrAuth,
    pub base_url: String,
}

impl fmt::Debug for BadgrCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BadgrCredentials")
            .field("auth", &self.auth)
            .field("base_url", &self.base_url)
            .finish()
    }
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct PlatformCredentials {
    pub obf: Option<ObfCredentials>,
    pub badgr: Option<BadgrCredentials>,
}

impl fmt::Debug for PlatformCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformCredentials")
            .field("obf", &self.obf)
            .field("badgr", &self.badgr)
            .finish()
    }
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("cannot read the credentials file {path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "no Open Badge Factory credentials: put client_id and client_secret under [obf] in the \
         credentials file, or set {ENV_OBF_CLIENT_ID} and {ENV_OBF_CLIENT_SECRET}"
    )]
    MissingObf,
    #[error(
        "no Canvas Credentials login: put username and password (or client_id and client_secret) \
         under [badgr] in the credentials file, or set {ENV_BADGR_USERNAME} and {ENV_BADGR_PASSWORD}"
    )]
    MissingBadgr,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    obf: Option<ObfSection>,
    badgr: Option<BadgrSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObfSection {
    client_id: Option<String>,
    client_secret: Option<String>,
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BadgrSection {
    region: Option<String>,
    url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl PlatformCredentials {
    /// Reads `file` (if any), then applies `BADGE_KIOSK_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        let parsed = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| CredentialsError::Unreadable {
                    path: path.to_path_buf(),
                    message: error.to_string(),
                })?;
                Self::parse_file_text(path, &text)?
            }
            None => FileFormat::default(),
        };
        Self::assemble(parsed, env)
    }

    /// Reads the process environment.
    pub fn load_with_process_env(file: Option<&Path>) -> Result<Self, CredentialsError> {
        Self::load(file, |name| std::env::var(name).ok())
    }

    fn parse_file_text(path: &Path, text: &str) -> Result<FileFormat, CredentialsError> {
        toml::from_str(text).map_err(|error| CredentialsError::Syntax {
            path: path.to_path_buf(),
            // `message()` leaves out the quoted source line, which could hold a secret.
            message: format!("{}: fix the file (see the example in the README)", error.message()),
        })
    }

    fn assemble(parsed: FileFormat, env: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let obf_section = parsed.obf.unwrap_or_default();
        let obf_id = env(ENV_OBF_CLIENT_ID).or(obf_section.client_id);
        let obf_secret = env(ENV_OBF_CLIENT_SECRET).or(obf_section.client_secret);
        let obf_url = env(ENV_OBF_URL).or(obf_section.url);
        let obf = match (obf_id, obf_secret) {
            (Some(client_id), Some(secret)) => Some(ObfCredentials {
                client_id: checked_client_id(&client_id)?,
                client_secret: Secret::new(secret.trim()),
                base_url: checked_url(obf_url.as_deref().unwrap_or(OBF_DEFAULT_URL))?,
            }),
            (None, None) => None,
            _ => return Err(CredentialsError::MissingObf),
        };

        let badgr_section = parsed.badgr.unwrap_or_default();
        let username = env(ENV_BADGR_USERNAME).or(badgr_section.username);
        let password = env(ENV_BADGR_PASSWORD).or(badgr_section.password);
        let client_id = env(ENV_BADGR_CLIENT_ID).or(badgr_section.client_id);
        let client_secret = env(ENV_BADGR_CLIENT_SECRET).or(badgr_section.client_secret);
        let region = env(ENV_BADGR_REGION).or(badgr_section.region);
        let url = env(ENV_BADGR_URL).or(badgr_section.url);
        let auth = match (username, password, client_id, client_secret) {
            (Some(username), Some(password), _, _) => Some(BadgrAuth::Password {
                username: username.trim().to_owned(),
                password: Secret::new(password),
            }),
            (None, None, Some(client_id), Some(client_secret)) => Some(BadgrAuth::ClientCredentials {
                client_id: client_id.trim().to_owned(),
                client_secret: Secret::new(client_secret.trim()),
            }),
            (None, None, None, None) => None,
            _ => return Err(CredentialsError::MissingBadgr),
        };
        let badgr = match auth {
            Some(auth) => {
                let base_url = match (url, region) {
                    (Some(url), _) => checked_url(&url)?,
                    (None, Some(region)) => BadgrRegion::parse(&region)?.api_url().to_owned(),
                    (None, None) => {
                        return Err(CredentialsError::Invalid(
                            "say which Canvas Credentials server holds your account: region = \"us\" or \"eu\" \
                             (au, ca, sg) under [badgr], or BADGE_KIOSK_BADGR_REGION"
                                .into(),
                        ))
                    }
                };
                Some(BadgrCredentials { auth, base_url })
            }
            None => None,
        };
        Ok(Self { obf, badgr })
    }

    pub fn require_obf(&self) -> Result<&ObfCredentials, CredentialsError> {
        self.obf.as_ref().ok_or(CredentialsError::MissingObf)
    }

    pub fn require_badgr(&self) -> Result<&BadgrCredentials, CredentialsError> {
        self.badgr.as_ref().ok_or(CredentialsError::MissingBadgr)
    }
}

/// OBF client ids are path segments (`\w{1,100}` in OBF's own routes): anything else is a
/// typo and would build a wrong URL.
fn checked_client_id(value: &str) -> Result<String, CredentialsError> {
    let value = value.trim();
    if !value.is_empty() && value.len() <= 100 && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(value.to_owned())
    } else {
        Err(CredentialsError::Invalid(format!(
            "the Open Badge Factory client_id \"{value}\" looks wrong: copy it again from Admin tools > API"
        )))
    }
}

fn checked_url(value: &str) -> Result<String, CredentialsError> {
    let value = value.trim().trim_end_matches('/');
    if value.starts_with("https://") || value.starts_with("http://127.0.0.1") || value.starts_with("http://localhost") {
        Ok(value.to_owned())
    } else {
        Err(CredentialsError::Invalid(format!(
            "the platform URL \"{value}\" must start with https:// (secrets never travel in clear)"
        )))
    }
}

/// A warning when the credentials file can be read by other users of the machine.
pub fn permission_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return Some(format!(
                "{} can be read by other users of this machine: run chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const FILE: &str = r#"
[obf]
client_id = "XYZ1234"
client_secret = "obf-s3cret-value"

[badgr]
region = "eu"
username = "organiser@example.org"
password = "badgr-s3cret-value"
"#;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn reads_the_file_and_picks_the_badgr_region() {
        let file = write(FILE);
        let credentials = PlatformCredentials::load(Some(file.path()), env_of(&[])).unwrap();
        let obf = credentials.require_obf().unwrap();
        assert_eq!(obf.client_id, "XYZ1234");
        assert_eq!(obf.client_secret.expose(), "obf-s3cret-value");
        assert_eq!(obf.base_url, OBF_DEFAULT_URL);
        let badgr = credentials.require_badgr().unwrap();
        assert_eq!(badgr.base_url, "https://api.eu.badgr.io");
        assert!(matches!(&badgr.auth, BadgrAuth::Password { username, .. } if username == "organiser@example.org"));
    }

    #[test]
    fn debug_output_never_contains_a_secret() {
        let file = write(FILE);
        let credentials = PlatformCredentials::load(Some(file.path()), env_of(&[])).unwrap();
        let printed = format!("{credentials:?} {credentials:#?}");
        assert!(!printed.contains("obf-s3cret-value"), "{printed}");
        assert!(!printed.contains("badgr-s3cret-value"), "{printed}");
        assert!(printed.contains("<redacted>"));
        // What is not secret stays visible, so the output is still useful.
        assert!(printed.contains("XYZ1234"));
        let app = BadgrAuth::ClientCredentials {
            client_id: "app".into(),
            client_secret: Secret::new("app-s3cret"),
        };
        assert!(!format!("{app:?}").contains("app-s3cret"));
    }

    #[test]
    fn environment_overrides_the_file_and_works_alone() {
        let file = write(FILE);
        let env = env_of(&[
            (ENV_OBF_CLIENT_SECRET, "from-env"),
            (ENV_BADGR_REGION, "us"),
            (ENV_OBF_URL, "https://factory.cancred.ca/"),
        ]);
        let credentials = PlatformCredentials::load(Some(file.path()), env).unwrap();
        let obf = credentials.require_obf().unwrap();
        assert_eq!(obf.client_secret.expose(), "from-env");
        assert_eq!(obf.base_url, "https://factory.cancred.ca");
        assert_eq!(credentials.require_badgr().unwrap().base_url, "https://api.badgr.io");

        let env_only = env_of(&[
            (ENV_BADGR_CLIENT_ID, "app-id"),
            (ENV_BADGR_CLIENT_SECRET, "app-secret"),
            (ENV_BADGR_URL, "http://127.0.0.1:9000"),
        ]);
        let credentials = PlatformCredentials::load(None, env_only).unwrap();
        assert!(credentials.obf.is_none());
        let badgr = credentials.require_badgr().unwrap();
        assert!(matches!(&badgr.auth, BadgrAuth::ClientCredentials { client_id, .. } if client_id == "app-id"));
        assert_eq!(
            credentials.require_obf().unwrap_err().to_string(),
            CredentialsError::MissingObf.to_string()
        );
    }

    #[test]
    fn half_given_or_wrong_values_say_what_to_fix() {
        let half = PlatformCredentials::load(None, env_of(&[(ENV_OBF_CLIENT_ID, "XYZ1234")])).unwrap_err();
        assert_eq!(half, CredentialsError::MissingObf);
        assert!(half.to_string().contains(ENV_OBF_CLIENT_SECRET));
        let bad_id = PlatformCredentials::load(
            None,
            env_of(&[(ENV_OBF_CLIENT_ID, "XYZ/../1"), (ENV_OBF_CLIENT_SECRET, "s")]),
        )
        .unwrap_err();
        assert!(bad_id.to_string().contains("Admin tools > API"));
        let clear = PlatformCredentials::load(
            None,
            env_of(&[
                (ENV_OBF_CLIENT_ID, "XYZ1234"),
                (ENV_OBF_CLIENT_SECRET, "s"),
                (ENV_OBF_URL, "http://openbadgefactory.com"),
            ]),
        )
        .unwrap_err();
        assert!(clear.to_string().contains("https://"));
        let no_region = PlatformCredentials::load(
            None,
            env_of(&[(ENV_BADGR_USERNAME, "a@b.org"), (ENV_BADGR_PASSWORD, "p")]),
        )
        .unwrap_err();
        assert!(no_region.to_string().contains("region"));
        let file = write("[obf]\nclient_id = \"X\"\nclient_secret = \"s\"\ncolour = \"blue\"\n");
        let unknown = PlatformCredentials::load(Some(file.path()), env_of(&[])).unwrap_err();
        assert!(matches!(unknown, CredentialsError::Syntax { .. }), "{unknown:?}");
    }

    #[cfg(unix)]
    #[test]
    fn warns_about_a_file_others_can_read() {
        use std::os::unix::fs::PermissionsExt;
        let file = write(FILE);
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(permission_warning(file.path()).unwrap().contains("chmod 600"));
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(permission_warning(file.path()), None);
    }
}
