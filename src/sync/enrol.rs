//! Enrolment and event updates on the kiosk: fetch the hub's signed bundle, check it
//! against the event key the kiosk trusts, and apply it (event files, revocations,
//! trusted time). The same bundle arrives at every sync, so revocations and new stands
//! reach every kiosk without anyone touching it.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use thiserror::Error;

use super::client::{read_capped, SyncError};
use super::protocol::{EnrolRequest, ErrorBody, EventBundle, BUNDLE_PATH, ENROL_PATH, MAX_ANSWER_BYTES};
use crate::domain::bundle::{BundleError, VerifiedBundle};
use crate::domain::enrolment::EnrolmentCode;
use crate::domain::keys::KioskCertificate;
use crate::eventdir::{self, EventDirError, ENROLLED_DIR};
use crate::kiosk::{open_identity, KioskError, HUB_URL_SETTING};
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum EnrolError {
    #[error(transparent)]
    Hub(#[from] SyncError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the hub refused the enrolment: {0}")]
    Refused(String),
    #[error("the hub's certificate for this kiosk is not valid: {0}. Show a new enrolment code from the hub")]
    BadCertificate(String),
    #[error(transparent)]
    Kiosk(#[from] KioskError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    EventDir(#[from] EventDirError),
}

/// Where an enrolled kiosk's event lives inside its data directory.
pub fn enrolled_event_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(ENROLLED_DIR)
}

async fn answer(response: reqwest::Response) -> Result<EventBundle, EnrolError> {
    let status = response.status();
    let body = read_capped(response, MAX_ANSWER_BYTES).await?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|error| {
            EnrolError::Hub(SyncError::Transient(format!(
                "the hub's answer is unreadable ({error}): check that the address is a badge-kiosk hub"
            )))
        });
    }
    let message = serde_json::from_slice::<ErrorBody>(&body)
        .map(|body| body.error)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(EnrolError::Hub(SyncError::Transient(message)))
    } else {
        Err(EnrolError::Refused(message))
    }
}

fn unreachable(hub_url: &str) -> impl Fn(reqwest::Error) -> EnrolError + '_ {
    move |error| {
        EnrolError::Hub(SyncError::Transient(if error.is_timeout() {
            "the hub did not answer in time".into()
        } else {
            format!(
                "cannot reach the hub at {hub_url}: check the kiosk's network ({})",
                super::client::describe_http_error(&error)
            )
        }))
    }
}

pub async fn fetch_bundle(http: &reqwest::Client, hub_url: &str) -> Result<EventBundle, EnrolError> {
    let response = http
        .get(format!("{}{BUNDLE_PATH}", hub_url.trim_end_matches('/')))
        .send()
        .await
        .map_err(unreachable(hub_url))?;
    answer(response).await
}

/// What enrolment did, for the screen and the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub event_id: String,
    pub event_name: String,
    pub kiosk_id: String,
    pub event_dir: PathBuf,
}

/// Enrols this kiosk with the hub named by `code`: checks the bundle is signed by the
/// key the code names, has the hub certify this kiosk's device key, then installs the
/// event under `data_dir/event` and remembers the hub's address.
pub async fn enrol(
    http: &reqwest::Client,
    code: &EnrolmentCode,
    data_dir: &Path,
    kiosk_id: Option<&str>,
) -> Result<Enrolled, EnrolError> {
    // The bundle first: it proves the hub speaks for the event key before the token is spent.
    let preview = fetch_bundle(http, &code.hub_url).await?;
    let preview = preview.bundle.verify_for_enrolment(&code.key_fingerprint)?;
    let event_id = preview.content.event_id.clone();
    let identity_dir = data_dir.to_path_buf();
    let requested_id = kiosk_id.map(str::to_owned);
    let identity =
        tokio::task::spawn_blocking(move || open_identity(&identity_dir.join(&event_id), requested_id.as_deref()))
            .await
            .map_err(|error| EnrolError::Hub(SyncError::Transient(error.to_string())))??;
    let request = EnrolRequest {
        token: code.token.clone(),
        kiosk_id: identity.kiosk_id.clone(),
        device_key: hex::encode(identity.device_key.verifying_key().as_bytes()),
    };
    let response = http
        .post(format!("{}{ENROL_PATH}", code.hub_url.trim_end_matches('/')))
        .json(&request)
        .send()
        .await
        .map_err(unreachable(&code.hub_url))?;
    let answer = answer(response).await?;
    let bundle = answer
        .bundle
        .verify(&[preview.signed_by], Some(&preview.content.event_id))?;
    let certificate = answer
        .certificate
        .as_deref()
        .and_then(|text| hex::decode(text).ok())
        .ok_or_else(|| EnrolError::BadCertificate("the hub sent none".into()))?;
    let certificate =
        KioskCertificate::from_bytes(&certificate).map_err(|error| EnrolError::BadCertificate(error.to_string()))?;
    certificate
        .verify(&bundle.content.event_id, &bundle.definition.public_keys())
        .map_err(|error| EnrolError::BadCertificate(error.to_string()))?;
    if certificate.device_key != identity.device_key.verifying_key() || certificate.kiosk_id != identity.kiosk_id {
        return Err(EnrolError::BadCertificate("it names another kiosk".into()));
    }
    let event_dir = enrolled_event_dir(data_dir);
    let hub_url = code.hub_url.clone();
    let hub_time_ms = answer.hub_time_ms;
    let kiosk_id = identity.kiosk_id.clone();
    let certificate_hex = hex::encode(
        certificate
            .to_bytes()
            .map_err(|error| EnrolError::BadCertificate(error.to_string()))?,
    );
    let installed_dir = event_dir.clone();
    let installed = bundle.clone();
    tokio::task::spawn_blocking(move || -> Result<(), EnrolError> {
        let store = identity.store;
        store.set_setting("kiosk.certificate", &certificate_hex)?;
        store.set_setting(HUB_URL_SETTING, &hub_url)?;
        apply_to_store(&store, &installed, hub_time_ms)?;
        std::fs::create_dir_all(&installed_dir).map_err(|error| EventDirError::Io {
            path: installed_dir.clone(),
            message: error.to_string(),
        })?;
        eventdir::install_bundle(&installed_dir, &installed)?;
        Ok(())
    })
    .await
    .map_err(|error| EnrolError::Hub(SyncError::Transient(error.to_string())))??;
    Ok(Enrolled {
        event_id: bundle.content.event_id.clone(),
        event_name: bundle.definition.event.name.en.clone(),
        kiosk_id,
        event_dir,
    })
}

/// Revocations and trusted time go into the queue's database (the running kiosk reads
/// them at every scan).
pub fn apply_to_store(store: &Store, bundle: &VerifiedBundle, hub_time_ms: i64) -> Result<usize, StoreError> {
    let mut fresh = 0;
    for code in &bundle.revoked {
        if !store.is_revoked(&code.0)? {
            store.revoke(&code.0)?;
            fresh += 1;
        }
    }
    // The signed time is trusted whatever the network; the hub's unsigned clock is the
    // same hub that kiosks already trust for their answers.
    store.raise_trusted_time(bundle.content.signed_at_ms.max(hub_time_ms))?;
    Ok(fresh)
}

/// What a sync learned from the hub's bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleUpdate {
    pub new_revocations: usize,
    /// The enrolled event's files changed (new stands, badges): the kiosk reloads it.
    pub event_changed: bool,
}

/// Where a kiosk applies bundles: the keys it trusts, and its enrolled event directory
/// (None for a kiosk run on an organiser's event directory, which is never overwritten).
#[derive(Debug, Clone)]
pub struct BundleTarget {
    pub event_id: String,
    pub trusted_keys: Vec<VerifyingKey>,
    pub enrolled_dir: Option<PathBuf>,
}

pub async fn update_from_hub(
    http: &reqwest::Client,
    hub_url: &str,
    target: &BundleTarget,
    store: &super::client::SharedStore,
) -> Result<BundleUpdate, EnrolError> {
    let answer = fetch_bundle(http, hub_url).await?;
    let bundle = answer.bundle.verify(&target.trusted_keys, Some(&target.event_id))?;
    let enrolled_dir = target.enrolled_dir.clone();
    let hub_time_ms = answer.hub_time_ms;
    let store = std::sync::Arc::clone(store);
    tokio::task::spawn_blocking(move || -> Result<BundleUpdate, EnrolError> {
        let new_revocations = {
            let guard = store.lock().map_err(|_| {
                EnrolError::Hub(SyncError::Blocked("the queue is unavailable: restart the kiosk".into()))
            })?;
            apply_to_store(&guard, &bundle, hub_time_ms)?
        };
        let event_changed = match &enrolled_dir {
            Some(dir) => eventdir::install_bundle(dir, &bundle)?,
            None => false,
        };
        Ok(BundleUpdate {
            new_revocations,
            event_changed,
        })
    })
    .await
    .map_err(|error| EnrolError::Hub(SyncError::Transient(error.to_string())))?
}
