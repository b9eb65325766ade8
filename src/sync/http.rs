//! What every request the kiosk makes to its hub shares (sync, enrolment, bundles): the
//! error split into transient and blocked, the HTTP client's timeouts, reading an answer
//! with a size cap, and reaching the queue from a blocking thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;

use crate::store::Store;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SyncError {
    /// Worth retrying later: the records stay queued.
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help until someone acts (e.g. enrol the kiosk); records stay queued.
    #[error("{0}")]
    Blocked(String),
}

/// How long one request to the hub may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The HTTP client for a hub: the usual timeouts, and the only certificate the kiosk
/// accepts (`tls_pin`, from the signed enrolment code) or the venue's own CA.
pub fn hub_client(
    hub_url: &str,
    timeout: Duration,
    tls_pin: Option<[u8; 32]>,
    hub_ca_pem: Option<&[u8]>,
) -> Result<reqwest::Client, SyncError> {
    let mut builder = client_builder(timeout);
    if hub_url.starts_with("http://") {
        tracing::warn!(
            "the hub at {} is reached over plain HTTP: emails and claim links cross the network in clear",
            hub_url
        );
    }
    if let (Some(pin), None) = (tls_pin, hub_ca_pem) {
        builder = builder.use_preconfigured_tls(super::pinning::pinned_client_config(pin));
    } else if let Some(pem) = hub_ca_pem {
        let certificate = reqwest::Certificate::from_pem(pem).map_err(|error| {
            SyncError::Blocked(format!(
                "the hub CA certificate is not a PEM certificate ({error}): fix BADGE_KIOSK_HUB_CA"
            ))
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build()
        .map_err(|error| SyncError::Blocked(format!("cannot set up HTTPS: {error}")))
}

pub type SharedStore = Arc<Mutex<Store>>;

/// Runs a closure on the store from a blocking thread, so the async runtime never waits
/// on SQLite.
pub async fn with_store<T: Send + 'static>(
    store: &SharedStore,
    work: impl FnOnce(&mut Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, SyncError> {
    crate::blocking::with_lock(store, work)
        .await
        .map_err(|error| match error {
            crate::blocking::BlockingError::Poisoned => {
                SyncError::Blocked("the queue is unavailable: restart the kiosk".into())
            }
            crate::blocking::BlockingError::Stopped(error) => {
                SyncError::Transient(format!("sync worker stopped: {error}"))
            }
            crate::blocking::BlockingError::Work(error) => SyncError::Transient(error.to_string()),
        })
}

/// reqwest's own message hides the cause ("error sending request"); the organiser needs
/// the innermost one ("certificate not trusted", "connection refused").
pub fn describe_http_error(error: &reqwest::Error) -> String {
    crate::http_body::with_causes(error.to_string(), error)
}

fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    crate::http_body::client_builder(
        timeout,
        Duration::from_secs(5),
        concat!("badge-kiosk/", env!("CARGO_PKG_VERSION")),
    )
}

/// A client for a hub without pinning (tests, benches): the same timeouts, no redirects.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, SyncError> {
    client_builder(timeout)
        .build()
        .map_err(|error| SyncError::Blocked(format!("cannot set up HTTP: {error}")))
}

/// Reads at most `limit` bytes of an answer: a hub (or anything pretending to be one)
/// cannot make the kiosk allocate without bound.
pub async fn read_capped(response: reqwest::Response, limit: usize) -> Result<Vec<u8>, SyncError> {
    crate::http_body::read_capped(response, limit)
        .await
        .map_err(|error| match error {
            crate::http_body::CappedReadError::TooLarge { .. } => {
                SyncError::Transient("the hub's answer is too large".into())
            }
            crate::http_body::CappedReadError::Dropped(error) => {
                SyncError::Transient(format!("the connection dropped while reading the answer: {error}"))
            }
        })
}
