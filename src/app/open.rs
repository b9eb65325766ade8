//! Opening the event and the kiosk a configuration names, and the kiosk's sync settings.

use std::path::PathBuf;

use thiserror::Error;

use crate::config::Config;
use crate::datadir;
use crate::domain::clock::SystemClock;
use crate::domain::wire::WireError;
use crate::eventdir::{EventDir, EventDirError, EVENT_FILE};
use crate::kiosk::{KioskCore, KioskError};
use crate::store::StoreError;
use crate::sync::client::SyncSettings;
use crate::sync::enrol::{BundleTarget, HUB_TLS_PIN_SETTING};

#[derive(Debug, Error)]
pub enum OpenError {
    /// Nothing configured, no enrolled event, and the kiosk is set to wait for enrolment; or
    /// the kiosk has no certificate for the event. The touchscreen shows its enrolment screen.
    #[error(
        "this kiosk is not enrolled for the event: scan the enrolment code from the hub, or give it the event key"
    )]
    NotEnrolled,
    #[error("loading the event in {}", .dir.display())]
    Event {
        dir: PathBuf,
        #[source]
        source: EventDirError,
    },
    #[error("loading the enrolled event in {}", .dir.display())]
    EnrolledEvent {
        dir: PathBuf,
        #[source]
        source: EventDirError,
    },
    #[error("preparing the demo event")]
    Demo(#[source] EventDirError),
    #[error(transparent)]
    Kiosk(KioskError),
}

impl From<KioskError> for OpenError {
    fn from(error: KioskError) -> Self {
        match error {
            KioskError::NotEnrolled => Self::NotEnrolled,
            other => Self::Kiosk(other),
        }
    }
}

#[derive(Debug, Error)]
pub enum SyncSettingsError {
    #[error(transparent)]
    Kiosk(#[from] KioskError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Certificate(WireError),
    #[error("reading the hub CA certificate {}", .path.display())]
    HubCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The event this machine runs: the configured directory, else the event it was enrolled
/// into, else (unless it waits for enrolment) the embedded demo event.
pub fn open_event(config: &Config) -> Result<EventDir, OpenError> {
    let enrolled = datadir::enrolled_event_dir(&config.data_dir);
    match &config.event_dir {
        Some(dir) => EventDir::load(dir).map_err(|source| OpenError::Event {
            dir: dir.clone(),
            source,
        }),
        None if enrolled.join(EVENT_FILE).exists() => {
            EventDir::load(&enrolled).map_err(|source| OpenError::EnrolledEvent { dir: enrolled, source })
        }
        None if config.enrol => Err(OpenError::NotEnrolled),
        None => EventDir::demo(&config.data_dir).map_err(OpenError::Demo),
    }
}

/// The kiosk for the configured event, with its queue and device key (made on first use).
pub fn open_kiosk(config: &Config) -> Result<KioskCore, OpenError> {
    let event = open_event(config)?;
    let data_dir = datadir::kiosk_event_dir(&config.data_dir, &event.definition.event.id);
    Ok(KioskCore::open(
        event,
        &data_dir,
        config.kiosk_id.as_deref(),
        Box::new(SystemClock),
    )?)
}

/// The queue `open_kiosk` opened, for the sync that runs beside the kiosk on its own
/// connection.
pub fn queue_path(config: &Config, kiosk: &KioskCore) -> PathBuf {
    datadir::queue_path(&config.data_dir, &kiosk.definition().event.id)
}

/// How this kiosk syncs: its hub, certificate, the bundle it applies, the venue's CA.
/// `None` when it has no hub (neither `hub_override`, nor enrolled, nor in event.toml).
pub fn sync_settings(
    config: &Config,
    kiosk: &KioskCore,
    hub_override: Option<String>,
) -> Result<Option<SyncSettings>, SyncSettingsError> {
    let Some(hub) = hub_override.or(kiosk.hub_url()?) else {
        return Ok(None);
    };
    let certificate = hex::encode(kiosk.certificate().to_bytes().map_err(SyncSettingsError::Certificate)?);
    let definition = kiosk.definition();
    let pin = kiosk
        .store()
        .setting(HUB_TLS_PIN_SETTING)?
        .and_then(|text| crate::sync::pinning::parse_pin(&text));
    let mut settings = SyncSettings::new(&hub, &definition.event.id, &certificate)
        .trusting(definition.public_keys())
        .signing_with(kiosk.device_key().clone())
        .pinned(pin);
    settings.stand = config.stand.clone();
    settings.claim_base = kiosk.claim_base().ok().flatten();
    let enrolled = datadir::enrolled_event_dir(&config.data_dir);
    settings.bundle = Some(BundleTarget {
        event_id: definition.event.id.clone(),
        trusted_keys: definition.public_keys(),
        enrolled_dir: (kiosk.event.dir == enrolled).then_some(enrolled),
    });
    if let Some(path) = &config.hub_ca {
        settings.hub_ca_pem = Some(std::fs::read(path).map_err(|source| SyncSettingsError::HubCa {
            path: path.clone(),
            source,
        })?);
    }
    Ok(Some(settings))
}
