//! Enrolment and event updates on the kiosk: fetch the hub's signed bundle, check it
//! against the event key the kiosk trusts, and apply it (event files, revocations,
//! trusted time). The same bundle arrives at every sync, so revocations and new stands
//! reach every kiosk without anyone touching it.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use thiserror::Error;

use super::http::{hub_client, read_capped, SyncError, REQUEST_TIMEOUT};
use super::protocol::{
    bundle_request_message, EnrolRequest, ErrorBody, EventBundle, BUNDLE_PATH, CERTIFICATE_HEADER, ENROL_PATH,
    ENROL_TOKEN_HEADER, MAX_ANSWER_BYTES, REQUEST_SIGNATURE_HEADER, REQUEST_TIME_HEADER,
};
use crate::domain::bundle::{BundleError, VerifiedBundle};
use crate::domain::enrolment::{EnrolmentCode, EnrolmentCodeError};
use crate::domain::keys::KioskCertificate;
use crate::eventdir::{self, EventDirError};
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
    #[error(transparent)]
    Code(#[from] EnrolmentCodeError),
    #[error("the hub sent an event bundle older than the one this kiosk already has (signed {found_ms}, have {have_ms}): ignored; if the hub's clock was wrong, fix it and sync again")]
    OlderBundle { found_ms: i64, have_ms: i64 },
}

/// The kiosk remembers the newest bundle signature time it applied: an older signed
/// bundle (replayed from a capture) is refused.
pub const BUNDLE_SIGNED_AT_SETTING: &str = "bundle.signed_at_ms";
/// The pin of the hub's TLS certificate, from the signed enrolment code.
pub const HUB_TLS_PIN_SETTING: &str = "sync.hub_tls_pin";

/// Where an enrolled kiosk's event lives inside its data directory.
pub fn enrolled_event_dir(data_dir: &Path) -> PathBuf {
    crate::datadir::enrolled_event_dir(data_dir)
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
                super::http::describe_http_error(&error)
            )
        }))
    }
}

/// Fetches the bundle: `auth` adds the headers that show the hub who asks (a signed
/// request from an enrolled kiosk, or a live enrolment token).
pub async fn fetch_bundle(
    http: &reqwest::Client,
    hub_url: &str,
    auth: &[(&'static str, String)],
) -> Result<EventBundle, EnrolError> {
    let mut request = http.get(format!("{}{BUNDLE_PATH}", hub_url.trim_end_matches('/')));
    for (name, value) in auth {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(unreachable(hub_url))?;
    answer(response).await
}

/// The headers of an enrolled kiosk's bundle request, signed with its device key.
pub fn signed_bundle_request(
    event_id: &str,
    certificate_hex: &str,
    device_key: &ed25519_dalek::SigningKey,
    now_ms: i64,
) -> Vec<(&'static str, String)> {
    use ed25519_dalek::Signer;
    let kiosk_id = hex::decode(certificate_hex)
        .ok()
        .and_then(|bytes| KioskCertificate::from_bytes(&bytes).ok())
        .map(|certificate| certificate.kiosk_id)
        .unwrap_or_default();
    let Some(message) = bundle_request_message(event_id, &kiosk_id, now_ms) else {
        return Vec::new();
    };
    vec![
        (CERTIFICATE_HEADER, certificate_hex.to_owned()),
        (REQUEST_TIME_HEADER, now_ms.to_string()),
        (
            REQUEST_SIGNATURE_HEADER,
            hex::encode(device_key.sign(&message).to_bytes()),
        ),
    ]
}

/// What enrolment did, for the screen and the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub event_id: String,
    pub event_name: String,
    pub kiosk_id: String,
    pub event_dir: PathBuf,
}

/// Enrols this kiosk with the hub named by `code`: checks the code is signed by the event
/// key, talks to the hub over TLS pinned to the certificate the code names (or the venue
/// CA, `hub_ca_pem`), checks the bundle is signed by the code's key, has the hub certify
/// this kiosk's device key, then installs the event under `data_dir/event` and remembers
/// the hub's address and certificate.
pub async fn enrol(
    hub_ca_pem: Option<Vec<u8>>,
    code: &EnrolmentCode,
    data_dir: &Path,
    kiosk_id: Option<&str>,
) -> Result<Enrolled, EnrolError> {
    let signed = code.verify()?.clone();
    if signed.tls_pin.is_none() && hub_ca_pem.is_none() && code.hub_url.starts_with("https://") {
        // A signed code for an HTTPS hub without a pin: the hub serves a certificate from a
        // CA; the system's roots decide (a public server).
        tracing::info!("the enrolment code names no certificate: using the system's certificate authorities");
    }
    let http = hub_client(&code.hub_url, REQUEST_TIMEOUT, signed.tls_pin, hub_ca_pem.as_deref())?;
    // The bundle first: it proves the hub speaks for the event key before the token is spent.
    let preview = fetch_bundle(&http, &code.hub_url, &[(ENROL_TOKEN_HEADER, code.token.clone())]).await?;
    let preview = preview.bundle.verify(&[signed.event_key], None)?;
    let event_id = preview.content.event_id.clone();
    let identity_dir = data_dir.to_path_buf();
    let requested_id = kiosk_id.map(str::to_owned);
    let identity = tokio::task::spawn_blocking(move || {
        open_identity(
            &crate::datadir::kiosk_event_dir(&identity_dir, &event_id),
            requested_id.as_deref(),
        )
    })
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
        .verify(&[signed.event_key], Some(&preview.content.event_id))?;
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
    let tls_pin = signed.tls_pin;
    let event_dir = enrolled_event_dir(data_dir);
    let hub_url = code.hub_url.clone();
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
        match tls_pin {
            Some(pin) => store.set_setting(HUB_TLS_PIN_SETTING, &hex::encode(pin))?,
            None => store.set_setting(HUB_TLS_PIN_SETTING, "")?,
        }
        apply_to_store(&store, &installed)?;
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
/// them at every scan). Only what the event key signed counts: the bundle's own signing
/// time, never the answer's unsigned `hub_time_ms`; and a bundle older than the newest one
/// applied is refused (a replayed capture cannot bring back an older event).
pub fn apply_to_store(store: &Store, bundle: &VerifiedBundle) -> Result<usize, EnrolError> {
    let signed_at = bundle.content.signed_at_ms;
    let have = store
        .setting(BUNDLE_SIGNED_AT_SETTING)?
        .and_then(|text| text.parse::<i64>().ok())
        .unwrap_or(i64::MIN);
    if signed_at < have {
        return Err(EnrolError::OlderBundle {
            found_ms: signed_at,
            have_ms: have,
        });
    }
    let mut fresh = 0;
    for code in &bundle.revoked {
        if !store.is_revoked(&code.0)? {
            store.revoke(&code.0)?;
            fresh += 1;
        }
    }
    store.set_setting(BUNDLE_SIGNED_AT_SETTING, &signed_at.to_string())?;
    store.raise_trusted_time_from_hub(signed_at, chrono::Utc::now().timestamp_millis())?;
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
