//! Event directories on disk: `event.toml`, the event key, badge images; and the demo
//! event embedded in the binary so a fresh install runs with nothing configured.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use thiserror::Error;

use crate::domain::bundle::VerifiedBundle;
use crate::domain::event::{EventDefinition, EventError};
use crate::domain::keys;

pub const EVENT_FILE: &str = "event.toml";
pub const EVENT_KEY_FILE: &str = "event.key";
/// Where an enrolled kiosk keeps the event its hub sent, inside its data directory.
pub const ENROLLED_DIR: &str = crate::datadir::ENROLLED_EVENT_DIR;

const DEMO_FILES: &[(&str, &[u8])] = &[
    ("event.toml", include_bytes!("../assets/demo-event/event.toml")),
    ("event.key", include_bytes!("../assets/demo-event/event.key")),
    (
        "badges/attended.svg",
        include_bytes!("../assets/demo-event/badges/attended.svg"),
    ),
    (
        "badges/food-pathway.svg",
        include_bytes!("../assets/demo-event/badges/food-pathway.svg"),
    ),
    (
        "badges/issuer.svg",
        include_bytes!("../assets/demo-event/badges/issuer.svg"),
    ),
];

#[derive(Debug, Error)]
pub enum EventDirError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{0} already exists: choose an empty directory (badge-kiosk never overwrites an event or its key)")]
    AlreadyExists(PathBuf),
    #[error("{path} is not a valid event key (expected 64 hex digits): restore it from your backup")]
    BadKey { path: PathBuf },
    #[error(
        "the event key in {path} does not match any public key listed in event.toml: add its public key to `keys`"
    )]
    KeyNotListed { path: PathBuf },
    #[error("the event key {path} can be read by other users of this computer (mode {mode:o}): run `chmod 600 {path}`, then start again")]
    KeyReadableByOthers { path: PathBuf, mode: u32 },
}

/// Makes `path` (a database about to be opened) a file only its owner can read and write,
/// whatever the umask: created 0600 if missing, tightened to 0600 if it exists. SQLite
/// gives its -wal and -shm files the database's own mode.
pub fn ensure_private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
            return Ok(());
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
        }
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if let Ok(metadata) = std::fs::metadata(&side) {
                let mode = metadata.permissions().mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(&side, std::fs::Permissions::from_mode(mode & 0o700))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Opens `path` for writing a file only its owner may read (claim tokens, a live
/// enrolment code): created 0600 whatever the umask, truncated if it exists, and an existing
/// file readable by others is tightened before a byte is written.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> EventDirError + '_ {
    move |error| EventDirError::Io {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

#[derive(Debug, Clone)]
pub struct EventDir {
    pub dir: PathBuf,
    pub definition: EventDefinition,
    /// Present on an organiser's machine or a stand-alone kiosk; absent on enrolled kiosks.
    pub event_key: Option<SigningKey>,
    pub is_demo: bool,
}

impl EventDir {
    pub fn load(dir: &Path) -> Result<Self, EventDirError> {
        let definition = EventDefinition::load(&dir.join(EVENT_FILE))?;
        let key_path = dir.join(EVENT_KEY_FILE);
        let event_key = if key_path.exists() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&key_path)
                    .map_err(io_error(&key_path))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(EventDirError::KeyReadableByOthers {
                        path: key_path,
                        mode: mode & 0o777,
                    });
                }
            }
            let key = read_key(&key_path)?;
            if !definition.public_keys().contains(&key.verifying_key()) {
                return Err(EventDirError::KeyNotListed { path: key_path });
            }
            Some(key)
        } else {
            None
        };
        Ok(Self {
            dir: dir.to_owned(),
            definition,
            event_key,
            is_demo: false,
        })
    }

    /// Writes the embedded demo event under `data_dir/demo-event` (refreshing it) and loads it.
    pub fn demo(data_dir: &Path) -> Result<Self, EventDirError> {
        let dir = data_dir.join(crate::datadir::DEMO_EVENT_DIR);
        for (name, bytes) in DEMO_FILES {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io_error(parent))?;
            }
            write_private(&path, bytes, *name == EVENT_KEY_FILE, true)?;
        }
        let mut event = Self::load(&dir)?;
        event.is_demo = true;
        Ok(event)
    }

    pub fn image_path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// Creates a new event directory with its own key, based on the demo event's layout.
    /// Returns the event and the key's fingerprint.
    pub fn init(dir: &Path, event_id: &str) -> Result<(Self, String), EventDirError> {
        for name in [EVENT_FILE, EVENT_KEY_FILE] {
            if dir.join(name).exists() {
                return Err(EventDirError::AlreadyExists(dir.join(name)));
            }
        }
        std::fs::create_dir_all(dir.join("badges")).map_err(io_error(dir))?;
        let key = keys::generate_signing_key();
        let public = hex::encode(key.verifying_key().as_bytes());
        let demo = std::str::from_utf8(DEMO_FILES[0].1).unwrap_or_default();
        let demo_public = demo
            .lines()
            .find_map(|line| line.trim().strip_prefix('"').and_then(|l| l.split('"').next()))
            .unwrap_or_default()
            .to_owned();
        let template = demo
            .replace(&demo_public, &public)
            .replace("id = \"finales-metiers-2026\"", &format!("id = \"{event_id}\""))
            .replace(
                "# Demo event shipped with badge-kiosk: used when nothing else is configured.",
                "# Event created by `badge-kiosk event init`: edit names, dates, badges and stands.",
            )
            // A new event sets its own claim address (or claims go to its hub).
            .replace(
                "public_url = \"https://claim.example.org\"",
                "# public_url = \"https://badges.example.org\"",
            )
            .replace(
                "  # The demo event's public key. Its secret key is in event.key beside this file:\n  # it is public, so never use the demo event for real badges.\n",
                "  # This event's public key; its secret key is event.key (keep it safe, mode 0600).\n",
            );
        let definition = EventDefinition::parse(&template, &dir.join(EVENT_FILE))?;
        write_private(
            &dir.join(EVENT_KEY_FILE),
            format!("{}\n", hex::encode(key.to_bytes())).as_bytes(),
            true,
            false,
        )?;
        write_private(&dir.join(EVENT_FILE), template.as_bytes(), false, false)?;
        for (name, bytes) in DEMO_FILES.iter().filter(|(name, _)| name.starts_with("badges/")) {
            write_private(&dir.join(name), bytes, false, false)?;
        }
        let fingerprint = keys::fingerprint(&key.verifying_key());
        Ok((
            Self {
                dir: dir.to_owned(),
                definition,
                event_key: Some(key),
                is_demo: false,
            },
            fingerprint,
        ))
    }
}

impl EventDir {
    /// The files a bundle must carry so a kiosk shows this event: the images event.toml
    /// refers to, by relative path. Missing ones are skipped (the screen shows no image).
    pub fn bundle_files(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let definition = &self.definition;
        let referenced = definition
            .badges
            .iter()
            .map(|badge| badge.image.as_str())
            .chain(definition.issuer.image.as_deref());
        referenced
            .filter(|path| crate::domain::bundle::is_safe_relative_path(path))
            .filter_map(|path| Some((path.to_owned(), std::fs::read(self.dir.join(path)).ok()?)))
            .collect()
    }
}

/// Writes a verified bundle's event into `dir` (the enrolled event); returns whether
/// anything changed. Each file is replaced atomically (temporary file, fsync, rename),
/// event.toml last, so a power cut leaves the old event or the new one, never half.
pub fn install_bundle(dir: &Path, bundle: &VerifiedBundle) -> Result<bool, EventDirError> {
    let mut changed = false;
    let files = bundle
        .files
        .iter()
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
        .chain(std::iter::once((EVENT_FILE, bundle.content.event_toml.as_bytes())));
    for (relative, bytes) in files {
        let path = dir.join(relative);
        if std::fs::read(&path).is_ok_and(|existing| existing == bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let temporary = path.with_extension("partial");
        write_private(&temporary, bytes, false, true)?;
        std::fs::rename(&temporary, &path).map_err(io_error(&path))?;
        changed = true;
    }
    if changed {
        if let Ok(directory) = std::fs::File::open(dir) {
            let _ = directory.sync_all();
        }
    }
    Ok(changed)
}

pub fn read_key(path: &Path) -> Result<SigningKey, EventDirError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| keys::signing_key_from_bytes(&bytes))
        .ok_or_else(|| EventDirError::BadKey { path: path.to_owned() })
}

/// Writes a file (mode 0600 for secrets) and fsyncs it; `replace` allows overwriting.
pub fn write_private(path: &Path, bytes: &[u8], secret: bool, replace: bool) -> Result<(), EventDirError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            EventDirError::AlreadyExists(path.to_owned())
        } else {
            io_error(path)(error)
        }
    })?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_error(path))?;
    }
    file.write_all(bytes).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_event_loads_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let event = EventDir::demo(dir.path()).unwrap();
        assert!(event.is_demo);
        assert!(event.event_key.is_some());
        // Loading twice refreshes the files without error.
        EventDir::demo(dir.path()).unwrap();
    }

    #[test]
    fn init_creates_a_private_key_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my-event");
        let (event, fingerprint) = EventDir::init(&path, "my-event").unwrap();
        assert_eq!(event.definition.event.id, "my-event");
        assert_eq!(fingerprint.len(), 19);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path.join(EVENT_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let reloaded = EventDir::load(&path).unwrap();
        assert_eq!(
            reloaded.event_key.unwrap().verifying_key(),
            event.event_key.unwrap().verifying_key()
        );
        assert!(matches!(
            EventDir::init(&path, "my-event"),
            Err(EventDirError::AlreadyExists(_))
        ));
    }
}
