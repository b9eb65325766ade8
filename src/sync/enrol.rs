//! Enrolment and event updates on the kiosk: fetch the hub's signed bundle, check it
//! against the event key the kiosk trusts, and apply it (event files, revocations,
//! trusted time). The same bundle arrives at every sync, so revocations and new stands
//! reach every kiosk without anyone touching it.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use thiserror::Error;

use super::http::{hub_client, read_capped, SyncError, REQUEST_TIMEOUT};
use super::protocol::{
    bundle_request_message, EnrolRequest, ErrorBody, EventBundle, BUNDLE_PATH, BUNDLE_VERSION_HEADER,
    CERTIFICATE_HEADER, ENROL_PATH, ENROL_TOKEN_HEADER, MAX_ANSWER_BYTES, REQUEST_SIGNATURE_HEADER,
    REQUEST_TIME_HEADER,
};
use crate::domain::bundle::{BundleError, VerifiedBundle};
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::enrolment::{EnrolmentCode, EnrolmentCodeError};
use crate::domain::keys::KioskCertificate;
use crate::eventdir::{self, EventDirError};
use crate::store::identity::{open_identity, IdentityError, HUB_URL_SETTING};
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
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    EventDir(#[from] EventDirError),
    #[error(transparent)]
    Code(#[from] EnrolmentCodeError),
    #[error("the hub sent an event bundle older than the one this kiosk already has (number {found}, have {have}): ignored; if the hub's database was restored from a backup, enrol the kiosk again")]
    OlderBundle { found: u64, have: u64 },
    #[error("the hub sent an event bundle older than the one this kiosk already has (signed {found_ms}, have {have_ms}): ignored; update the hub to this badge-kiosk version and sync again")]
    OlderV1Bundle { found_ms: i64, have_ms: i64 },
    #[error("the hub sent an event bundle in the old format after a newer one: ignored; update the hub to this badge-kiosk version and sync again")]
    Downgraded,
}

/// The kiosk remembers the newest bundle signature time it applied: an older signed
/// bundle (replayed from a capture) is refused.
pub const BUNDLE_SIGNED_AT_SETTING: &str = "bundle.signed_at_ms";
/// The number of the newest version 2 bundle applied (see [`apply_to_store`]).
pub const BUNDLE_NUMBER_SETTING: &str = "bundle.number";
/// The staff and organiser PIN hashes of the newest bundle (empty: not set up on the hub).
pub const BUNDLE_STAFF_PIN_SETTING: &str = "pin.bundle.staff";
pub const BUNDLE_ORGANISER_PIN_SETTING: &str = "pin.bundle.organiser";
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
    let mut request = http
        .get(format!("{}{BUNDLE_PATH}", hub_url.trim_end_matches('/')))
        .header(BUNDLE_VERSION_HEADER, "2");
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
        .header(BUNDLE_VERSION_HEADER, "2")
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

/// Revocations, trusted time and PINs go into the queue's database (the running kiosk
/// reads them at every scan). Only what the event key signed counts.
///
/// Freshness: a version 2 bundle carries a number the hub raises whenever the bundle
/// changes; one numbered below the newest applied is refused (a replayed capture cannot
/// bring back an older event), whatever the clocks say, so a hub whose clock was wrong and
/// is fixed is accepted again at once. A version 1 bundle (an older hub) keeps the old
/// rule (its signing time), and is refused once a version 2 bundle was applied.
///
/// Time: the bundle's signing time is taken as the hub's time within the event's dates
/// (`Store::take_hub_time`), never the answer's unsigned `hub_time_ms`.
pub fn apply_to_store(store: &Store, bundle: &VerifiedBundle) -> Result<usize, EnrolError> {
    let signed_at = bundle.content.signed_at_ms;
    let have_number = store
        .setting(BUNDLE_NUMBER_SETTING)?
        .and_then(|text| text.parse::<u64>().ok());
    match (bundle.number, have_number) {
        (Some(number), Some(have)) if number < have => return Err(EnrolError::OlderBundle { found: number, have }),
        (Some(_), _) => {}
        (None, Some(_)) => return Err(EnrolError::Downgraded),
        (None, None) => {
            let have = store
                .setting(BUNDLE_SIGNED_AT_SETTING)?
                .and_then(|text| text.parse::<i64>().ok())
                .unwrap_or(i64::MIN);
            if signed_at < have {
                return Err(EnrolError::OlderV1Bundle {
                    found_ms: signed_at,
                    have_ms: have,
                });
            }
        }
    }
    let mut fresh = 0;
    for code in &bundle.revoked {
        if !store.is_revoked(&code.0)? {
            store.revoke(&code.0)?;
            fresh += 1;
        }
    }
    match bundle.number {
        Some(number) => {
            store.set_setting(BUNDLE_NUMBER_SETTING, &number.to_string())?;
            for (setting, hash) in [
                (BUNDLE_STAFF_PIN_SETTING, &bundle.pins.staff),
                (BUNDLE_ORGANISER_PIN_SETTING, &bundle.pins.organiser),
            ] {
                store.set_setting(setting, hash.as_deref().unwrap_or_default())?;
            }
        }
        None => store.set_setting(BUNDLE_SIGNED_AT_SETTING, &signed_at.to_string())?,
    }
    store.set_hub_time_window(bundle.definition.hub_time_window())?;
    store.take_hub_time(signed_at, SystemClock.now_ms())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bundle::{BundleContent, BundleContentV2, BundlePins, SignedBundle};

    const DEMO_TOML: &str = include_str!("../../assets/demo-event/event.toml");
    /// Inside the demo event's dates.
    const DURING_EVENT_MS: i64 = 1_795_000_000_000;

    fn demo_key() -> ed25519_dalek::SigningKey {
        let text = include_str!("../../assets/demo-event/event.key");
        let bytes: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
        ed25519_dalek::SigningKey::from_bytes(&bytes)
    }

    fn v2(number: u64, signed_at_ms: i64, revoked: &[&str], staff_pin: Option<&str>) -> VerifiedBundle {
        let key = demo_key();
        SignedBundle::sign_v2(
            &BundleContentV2 {
                event_id: "finales-metiers-2026".into(),
                event_toml: DEMO_TOML.into(),
                files: Default::default(),
                revoked: revoked.iter().map(|id| (*id).to_owned()).collect(),
                number,
                signed_at_ms,
                pins: BundlePins {
                    staff: staff_pin.map(str::to_owned),
                    organiser: None,
                },
            },
            &key,
        )
        .unwrap()
        .verify(&[key.verifying_key()], None)
        .unwrap()
    }

    /// #21 item 1: a hub whose clock ran ahead (bundles "signed in 2041") then was fixed is
    /// heard at once: freshness is the bundle's number; an older number is still refused.
    #[test]
    fn regression_21_1_bundles_are_fresh_by_number_not_by_the_hub_s_clock() {
        let store = Store::open_in_memory().unwrap();
        let in_2041 = DURING_EVENT_MS + 15 * 365 * 24 * 3_600_000;
        apply_to_store(&store, &v2(4, in_2041, &[], None)).unwrap();
        assert_eq!(
            store.trusted_time_floor().unwrap(),
            0,
            "a time outside the event is ignored"
        );
        let fixed = v2(
            5,
            DURING_EVENT_MS,
            &["00112233445566778899"],
            Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
        );
        assert_eq!(apply_to_store(&store, &fixed).unwrap(), 1, "the revocation arrives");
        assert_eq!(store.trusted_time_floor().unwrap(), DURING_EVENT_MS);
        assert_eq!(
            store.setting(BUNDLE_STAFF_PIN_SETTING).unwrap().as_deref(),
            Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA")
        );
        assert!(matches!(
            apply_to_store(&store, &v2(4, DURING_EVENT_MS + 1, &[], None)),
            Err(EnrolError::OlderBundle { found: 4, have: 5 })
        ));
        // The same number again (nothing changed on the hub) is fine; PINs withdrawn clear.
        apply_to_store(&store, &v2(5, DURING_EVENT_MS + 2, &[], None)).unwrap();
        assert_eq!(store.setting(BUNDLE_STAFF_PIN_SETTING).unwrap().as_deref(), Some(""));
        // Once a v2 bundle was applied, a v1 bundle (replayed, or a downgraded hub) is not.
        let key = demo_key();
        let v1 = SignedBundle::sign(
            &BundleContent {
                event_id: "finales-metiers-2026".into(),
                event_toml: DEMO_TOML.into(),
                files: Default::default(),
                revoked: vec![],
                signed_at_ms: DURING_EVENT_MS + 3,
            },
            &key,
        )
        .unwrap()
        .verify(&[key.verifying_key()], None)
        .unwrap();
        assert!(matches!(apply_to_store(&store, &v1), Err(EnrolError::Downgraded)));
    }
}
