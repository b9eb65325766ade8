//! Kiosk configuration, like atuin: built-in defaults, then a TOML file, then
//! `BADGE_KIOSK_*` environment variables, then command-line flags (applied by the CLI).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the queue, the device key and the kiosk's state live.
    pub data_dir: PathBuf,
    /// The event directory (event.toml, optionally event.key). None: the demo event.
    pub event_dir: Option<PathBuf>,
    /// This kiosk's name, unique in the event (shown to the organiser, signed in records).
    pub kiosk_id: Option<String>,
    /// A kiosk installed at one stand: staff cards of other stands are refused.
    pub stand: Option<String>,
    /// Camera: a device index (`0`), or `none` to rely on a USB barcode scanner.
    pub camera: String,
    /// Language shown first: `fr` or `en`.
    pub language: String,
    /// Seconds without a touch before the kiosk returns to the attract screen.
    pub idle_timeout_secs: u64,
    /// Seconds during which the same code is ignored after a scan.
    pub debounce_secs: u64,
    pub staff_pin: String,
    pub organiser_pin: String,
    pub fullscreen: bool,
    /// How long typed emails are kept after the platform confirmed the issue.
    pub email_retention_days: u64,
    /// With no event configured and none enrolled: wait for an enrolment code instead of
    /// running the demo event (what a packaged kiosk does).
    pub enrol: bool,
    /// A private CA certificate (PEM) the hub's HTTPS certificate chains to.
    pub hub_ca: Option<PathBuf>,
    /// Seconds between periodic background syncs with the hub. New awards are synced
    /// within seconds whatever this is (see `sync::schedule`).
    pub sync_interval_secs: u64,
    /// Volume of the "saved" chime and the "refused" buzz, 0 to 100; 0 turns them off.
    pub sound_volume: u8,
    /// Longest pause (ms) between two keys a USB barcode scanner types; a longer pause means
    /// a person is typing. Raise it for slow (e.g. Bluetooth) scanners that lose codes.
    pub wedge_max_gap_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            event_dir: None,
            kiosk_id: None,
            stand: None,
            camera: "0".into(),
            language: "fr".into(),
            idle_timeout_secs: 45,
            debounce_secs: 4,
            staff_pin: "1234".into(),
            organiser_pin: "2468".into(),
            fullscreen: false,
            email_retention_days: 30,
            enrol: false,
            hub_ca: None,
            sync_interval_secs: 300,
            sound_volume: 70,
            wedge_max_gap_ms: 35,
        }
    }
}

fn default_data_dir() -> PathBuf {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(state).join("badge-kiosk");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".local/state/badge-kiosk");
    }
    PathBuf::from("/var/lib/badge-kiosk")
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {file}: {message}")]
    Unreadable { file: PathBuf, message: String },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("environment variable {name}={value:?}: {message}")]
    Env {
        name: String,
        value: String,
        message: String,
    },
}

impl Config {
    /// Defaults, then `file` if it exists, then the environment.
    pub fn load(file: Option<&Path>, env: impl Iterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Unreadable {
                    file: path.to_owned(),
                    message: error.to_string(),
                })?;
                toml::from_str(&text).map_err(|error| ConfigError::Invalid {
                    file: path.to_owned(),
                    line: error
                        .span()
                        .map(|span| text.get(..span.start).map_or(1, |t| t.matches('\n').count() + 1))
                        .unwrap_or(1),
                    message: error.message().to_owned(),
                })?
            }
            _ => Config::default(),
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix("BADGE_KIOSK_") else {
                continue;
            };
            let invalid = |message: &str| ConfigError::Env {
                name: name.clone(),
                value: value.clone(),
                message: message.to_owned(),
            };
            let number = |value: &str| value.parse::<u64>().map_err(|_| invalid("expected a whole number"));
            match key {
                "DATA_DIR" => config.data_dir = PathBuf::from(&value),
                "EVENT_DIR" => config.event_dir = Some(PathBuf::from(&value)),
                "KIOSK_ID" => config.kiosk_id = Some(value.clone()),
                "STAND" => config.stand = Some(value.clone()),
                "CAMERA" => config.camera = value.clone(),
                "LANGUAGE" => config.language = value.clone(),
                "IDLE_TIMEOUT_SECS" => config.idle_timeout_secs = number(&value)?,
                "DEBOUNCE_SECS" => config.debounce_secs = number(&value)?,
                "STAFF_PIN" => config.staff_pin = value.clone(),
                "ORGANISER_PIN" => config.organiser_pin = value.clone(),
                "FULLSCREEN" => config.fullscreen = matches!(value.as_str(), "1" | "true" | "yes"),
                "EMAIL_RETENTION_DAYS" => config.email_retention_days = number(&value)?,
                "ENROL" => config.enrol = matches!(value.as_str(), "1" | "true" | "yes"),
                "HUB_CA" => config.hub_ca = Some(PathBuf::from(&value)),
                "SYNC_INTERVAL_SECS" => config.sync_interval_secs = number(&value)?,
                "WEDGE_MAX_GAP_MS" => config.wedge_max_gap_ms = number(&value)?,
                "SOUND_VOLUME" => {
                    config.sound_volume = value
                        .parse::<u8>()
                        .map_err(|_| invalid("expected a volume from 0 (off) to 100"))?
                }
                // Variables the binary reads itself (e.g. BADGE_KIOSK_CONFIG) are not settings.
                _ => {}
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (name, pin) in [("staff_pin", &self.staff_pin), ("organiser_pin", &self.organiser_pin)] {
            if crate::domain::pin::is_legacy_hash(pin) {
                return Err(ConfigError::Env {
                    name: name.into(),
                    value: "sha256:…".into(),
                    message: "this unsalted PIN hash is no longer accepted (an 8-digit PIN falls at once): \
                              run `badge-kiosk pin-hash`, type the PIN, and put the $argon2id$… it prints here"
                        .into(),
                });
            }
            if !crate::domain::pin::is_valid_setting(pin) {
                return Err(ConfigError::Env {
                    name: name.into(),
                    value: "…".into(),
                    message: "a PIN is 4 to 8 digits, or $argon2id$… as `badge-kiosk pin-hash` prints it".into(),
                });
            }
        }
        if self.sync_interval_secs == 0 {
            return Err(ConfigError::Env {
                name: "sync_interval_secs".into(),
                value: "0".into(),
                message: "give at least 1 second (new awards are synced within seconds anyway)".into(),
            });
        }
        if !(1..=10_000).contains(&self.wedge_max_gap_ms) {
            return Err(ConfigError::Env {
                name: "wedge_max_gap_ms".into(),
                value: self.wedge_max_gap_ms.to_string(),
                message: "give a pause from 1 to 10000 ms (35 suits USB scanners)".into(),
            });
        }
        if self.sound_volume > 100 {
            return Err(ConfigError::Env {
                name: "sound_volume".into(),
                value: self.sound_volume.to_string(),
                message: "use a volume from 0 (off) to 100".into(),
            });
        }
        if !matches!(self.language.as_str(), "fr" | "en") {
            return Err(ConfigError::Env {
                name: "language".into(),
                value: self.language.clone(),
                message: "use fr or en".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_defaults_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "kiosk_id = \"hall-a\"\nidle_timeout_secs = 60\n").unwrap();
        let env = vec![
            ("BADGE_KIOSK_IDLE_TIMEOUT_SECS".to_string(), "30".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let config = Config::load(Some(&file), env.into_iter()).unwrap();
        assert_eq!(config.kiosk_id.as_deref(), Some("hall-a"));
        assert_eq!(config.idle_timeout_secs, 30);
        assert_eq!(config.debounce_secs, Config::default().debounce_secs);
    }

    #[test]
    fn errors_say_where() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "kiosk_id = \"a\"\nidle_timeout_secs = \"soon\"\n").unwrap();
        let error = Config::load(Some(&file), std::iter::empty()).unwrap_err().to_string();
        assert!(error.contains("config.toml:2"), "{error}");
        let env = vec![("BADGE_KIOSK_DEBOUNCE_SECS".to_string(), "x".to_string())];
        assert!(Config::load(None, env.into_iter()).is_err());
    }

    #[test]
    fn sound_volume_from_file_and_environment() {
        assert_eq!(Config::default().sound_volume, 70);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "sound_volume = 0\n").unwrap();
        assert_eq!(Config::load(Some(&file), std::iter::empty()).unwrap().sound_volume, 0);
        let env = |value: &str| vec![("BADGE_KIOSK_SOUND_VOLUME".to_string(), value.to_string())].into_iter();
        assert_eq!(Config::load(Some(&file), env("35")).unwrap().sound_volume, 35);
        for wrong in ["101", "loud", "-1"] {
            let error = Config::load(None, env(wrong)).unwrap_err().to_string();
            assert!(error.contains("0 (off) to 100"), "{wrong}: {error}");
        }
        std::fs::write(&file, "sound_volume = 150\n").unwrap();
        assert!(Config::load(Some(&file), std::iter::empty()).is_err());
    }
}
