//! A kiosk's own state for one event: its queue, its device key and its name. Enrolment
//! needs it before the event can be opened (`sync::enrol`), so it stands apart from the
//! kiosk's core, below both.

use std::path::Path;

use ed25519_dalek::SigningKey;
use thiserror::Error;

use super::{Durability, Store, StoreError};
use crate::datadir::{DEVICE_KEY_FILE, QUEUE_FILE};
use crate::domain::keys;
use crate::eventdir::{self, EventDirError};

/// The hub address an enrolled kiosk was enrolled from.
pub const HUB_URL_SETTING: &str = "sync.hub_url";

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    EventDir(#[from] EventDirError),
    #[error("the kiosk's device key in {0} is unreadable: restore it or enrol the kiosk again")]
    DeviceKey(String),
}

pub struct KioskIdentity {
    pub store: Store,
    pub device_key: SigningKey,
    pub kiosk_id: String,
}

/// `BADGE_KIOSK_UNSAFE_DURABILITY=normal` drops the fsync after each record. It exists only
/// so the power-cut harness can show the loss it detects (README, Reliability); a kiosk
/// that sets it can lose badges it told a visitor were saved.
fn durability_from_env() -> Durability {
    match std::env::var("BADGE_KIOSK_UNSAFE_DURABILITY").as_deref() {
        Ok("normal") => {
            tracing::warn!(
                "BADGE_KIOSK_UNSAFE_DURABILITY=normal: records are not fsynced; a power cut can lose saved badges"
            );
            Durability::Normal
        }
        _ => Durability::Full,
    }
}

/// Opens (creating if needed) `data_dir` with its queue and device key.
pub fn open_identity(data_dir: &Path, kiosk_id: Option<&str>) -> Result<KioskIdentity, IdentityError> {
    std::fs::create_dir_all(data_dir).map_err(|error| EventDirError::Io {
        path: data_dir.to_owned(),
        message: error.to_string(),
    })?;
    let store = Store::open_with(&data_dir.join(QUEUE_FILE), durability_from_env())?;
    let key_path = data_dir.join(DEVICE_KEY_FILE);
    let device_key = if key_path.exists() {
        eventdir::read_key(&key_path).map_err(|_| IdentityError::DeviceKey(key_path.display().to_string()))?
    } else {
        let key = keys::generate_signing_key();
        eventdir::write_private(
            &key_path,
            format!("{}\n", hex::encode(key.to_bytes())).as_bytes(),
            true,
            false,
        )?;
        key
    };
    let kiosk_id = match (kiosk_id, store.setting("kiosk.id")?) {
        (Some(id), _) => id.to_owned(),
        (None, Some(id)) => id,
        (None, None) => format!(
            "kiosk-{}",
            &keys::fingerprint(&device_key.verifying_key())[..4].to_lowercase()
        ),
    };
    store.set_setting("kiosk.id", &kiosk_id)?;
    Ok(KioskIdentity {
        store,
        device_key,
        kiosk_id,
    })
}
