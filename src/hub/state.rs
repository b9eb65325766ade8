//! The hub's shared state, and how every part of the hub (the kiosk API, the pages, the
//! mailer) reaches its store: on a blocking thread, with the hub's clock. Apart from
//! `server.rs` so that the mailer and the pages need nothing from the kiosk API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ed25519_dalek::SigningKey;

use super::store::{HubError, HubStore, PinRole};
use crate::domain::bundle::{BundleContent, BundleContentV2, BundlePins, SignedBundle};
use crate::domain::enrolment::EnrolmentCode;
use crate::sync::protocol::{EmailDelivery, ErrorBody};

pub struct HubState {
    pub store: Mutex<HubStore>,
    pub event_toml: String,
    /// The badge and issuer images event.toml refers to, sent to kiosks in the bundle.
    pub event_files: BTreeMap<String, Vec<u8>>,
    /// Needed to enrol kiosks (certify their device keys), sign bundles and credentials.
    pub event_key: Option<SigningKey>,
    pub clock: Box<dyn Fn() -> i64 + Send + Sync>,
    /// The address kiosks reach this hub at, for enrolment codes (e.g. `http://10.0.0.2:8787`).
    pub public_url: String,
    /// The claim-email outbox's mailer: whether one runs, and its "look now" bell.
    pub mail: MailSignal,
    /// The event's images as PNG for the claim pages and credentials, rendered once.
    pub images: crate::hub::web::images::ImageCache,
    /// The organiser console: its settings, sessions and issue runs (see `hub::web::console`).
    pub console: crate::hub::web::console::shared::Console,
    /// True when the organiser chose plain HTTP (`--insecure-http`): the console and the
    /// kiosks' organiser panel say that enrolment codes, emails and claim links cross the
    /// network in clear.
    pub plain_http: bool,
    /// SHA-256 of the hub's TLS certificate, put in enrolment codes so kiosks pin it.
    pub tls_pin: Option<[u8; 32]>,
    /// Enrolment attempts per peer and in all (see `trust::enrolment_limiter`).
    pub enrol_attempts: crate::hub::peer::AttemptLimiter,
    /// Rung when an upload brought records, for the relay to a public hub (`hub::relay`).
    pub relay: RelaySignal,
    /// Whether claim pages offer wallet apps (`hub::web::wallet`); hidden unless `hub serve`
    /// decides otherwise.
    pub wallet: crate::hub::web::wallet::access::WalletAccess,
    /// Checks uploads' signatures before the store's lock is taken (`store::UploadChecker`).
    pub upload_checker: super::store::UploadChecker,
}

/// Shared between the claim-email form and the mailer task (see `hub::mailer`).
#[derive(Debug, Default)]
pub struct MailSignal {
    /// True once a mailer runs (`hub serve --smtp-url`).
    pub enabled: std::sync::atomic::AtomicBool,
    /// Rung when a visitor queues an email, so the mailer sends it now.
    pub wake: tokio::sync::Notify,
}

impl HubState {
    /// The hub for `event` (with its key when this is the organiser's machine); kiosks
    /// reach it at `public_url`.
    pub fn new(
        store: HubStore,
        event: &crate::eventdir::EventDir,
        public_url: &str,
        clock: Box<dyn Fn() -> i64 + Send + Sync>,
    ) -> Result<Self, HubError> {
        let event_toml = std::fs::read_to_string(event.dir.join(crate::eventdir::EVENT_FILE))
            .map_err(|failure| HubError::BadRequest(format!("cannot read event.toml: {failure}")))?;
        let upload_checker = store.upload_checker();
        Ok(Self {
            upload_checker,
            store: Mutex::new(store),
            event_toml,
            event_files: event.bundle_files(),
            event_key: event.event_key.clone(),
            clock,
            public_url: public_url.trim_end_matches('/').to_owned(),
            mail: MailSignal::default(),
            images: crate::hub::web::images::ImageCache::default(),
            console: crate::hub::web::console::shared::Console::default(),
            plain_http: !public_url.starts_with("https://"),
            tls_pin: None,
            enrol_attempts: crate::hub::trust::enrolment_limiter(),
            relay: RelaySignal::default(),
            wallet: crate::hub::web::wallet::access::WalletAccess::default(),
        })
    }

    /// How a visitor who gives an email gets the badge from this hub now: the sync answer
    /// tells kiosks, the console and `hub status` say it. The hub emails only when
    /// event.toml leaves it to the hub and a mailer runs; the platform only when event.toml
    /// leaves it to the platform and one is set up (`hub serve --platform`, or platform ids
    /// on the badges for `hub issue`).
    pub fn email_delivery(&self, event: &crate::domain::event::EventDefinition) -> EmailDelivery {
        use crate::domain::event::EmailSender;
        match event.delivery.email {
            EmailSender::Hub if self.mail.enabled.load(std::sync::atomic::Ordering::SeqCst) => EmailDelivery::Hub,
            EmailSender::Platform
                if self.console.settings.issuer.is_some()
                    || event.badges.iter().any(|badge| !badge.platform.is_empty()) =>
            {
                EmailDelivery::Platform
            }
            _ => EmailDelivery::None,
        }
    }

    /// Sets up the organiser console (password location, HTTPS, host names, platform).
    pub fn with_console(mut self, settings: crate::hub::web::console::shared::ConsoleSettings) -> Self {
        self.console = crate::hub::web::console::shared::Console::new(settings);
        self
    }

    /// Offers (or hides) wallet apps on the claim pages.
    pub fn with_wallet(mut self, wallet: crate::hub::web::wallet::access::WalletAccess) -> Self {
        self.wallet = wallet;
        self
    }

    /// This hub serves TLS with the certificate whose SHA-256 is `pin`: enrolment codes
    /// carry it and kiosks accept no other.
    pub fn pinned(mut self, pin: [u8; 32]) -> Self {
        self.tls_pin = Some(pin);
        self.plain_http = false;
        self
    }

    /// A new enrolment code (the text to show as a QR) valid for `kiosks` devices during
    /// `valid_for_ms`.
    pub fn new_enrolment_code(&self, kiosks: u32, valid_for_ms: i64, now_ms: i64) -> Result<String, HubError> {
        let event_key = self.event_key.as_ref().ok_or_else(|| {
            HubError::BadRequest("this hub has no event key: enrol kiosks from the organiser's hub".into())
        })?;
        let store = self
            .store
            .lock()
            .map_err(|_| HubError::Internal("hub store poisoned".into()))?;
        let token = store.create_enrol_token(now_ms, kiosks, now_ms.saturating_add(valid_for_ms.max(0)))?;
        EnrolmentCode::sign(&self.public_url, &token, self.tls_pin, event_key)
            .map(|code| code.to_url())
            .map_err(|error| HubError::BadRequest(format!("cannot make an enrolment code: {error}")))
    }

    /// The signed bundle every kiosk fetches: event, images, revocations, trusted time.
    pub(super) fn signed_bundle(&self, store: &HubStore, now_ms: i64) -> Result<SignedBundle, HubError> {
        let event_key = self.event_key.as_ref().ok_or_else(|| {
            HubError::BadRequest("this hub has no event key: kiosks get their bundle from the organiser's hub".into())
        })?;
        let content = BundleContent {
            event_id: store.event.event.id.clone(),
            event_toml: self.event_toml.clone(),
            files: self
                .event_files
                .iter()
                .map(|(path, bytes)| (path.clone(), hex::encode(bytes)))
                .collect(),
            revoked: store.revoked_codes()?.iter().map(hex::encode).collect(),
            signed_at_ms: now_ms,
        };
        SignedBundle::sign(&content, event_key).map_err(|error| HubError::BadRequest(error.to_string()))
    }

    /// The bundle for a request: version 2 (numbered, with the PINs) when the kiosk asks for
    /// it ([`crate::sync::protocol::BUNDLE_VERSION_HEADER`]), else version 1 for older kiosks.
    pub(super) fn bundle_for(
        &self,
        store: &HubStore,
        now_ms: i64,
        headers: &axum::http::HeaderMap,
    ) -> Result<SignedBundle, HubError> {
        let wants_v2 = headers
            .get(crate::sync::protocol::BUNDLE_VERSION_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u32>().ok())
            .is_some_and(|version| version >= 2);
        if wants_v2 {
            self.signed_bundle_v2(store, now_ms)
        } else {
            self.signed_bundle(store, now_ms)
        }
    }

    /// The version 2 bundle: its number grows whenever its content changes (see
    /// `HubStore::bundle_number`), so kiosks never judge freshness by this hub's clock.
    pub fn signed_bundle_v2(&self, store: &HubStore, now_ms: i64) -> Result<SignedBundle, HubError> {
        use sha2::{Digest, Sha256};
        let event_key = self.event_key.as_ref().ok_or_else(|| {
            HubError::BadRequest("this hub has no event key: kiosks get their bundle from the organiser's hub".into())
        })?;
        let pin = |role| store.pin(role).map(|pin| pin.map(|(hash, _)| hash));
        let mut content = BundleContentV2 {
            event_id: store.event.event.id.clone(),
            event_toml: self.event_toml.clone(),
            files: self
                .event_files
                .iter()
                .map(|(path, bytes)| (path.clone(), hex::encode(bytes)))
                .collect(),
            revoked: store.revoked_codes()?.iter().map(hex::encode).collect(),
            number: 0,
            signed_at_ms: 0,
            pins: BundlePins {
                staff: pin(PinRole::Staff)?,
                organiser: pin(PinRole::Organiser)?,
            },
        };
        let unnumbered =
            serde_json::to_vec(&content).map_err(|error| HubError::Internal(format!("bundle content: {error}")))?;
        content.number = store.bundle_number(&Sha256::digest(&unnumbered).into())?;
        content.signed_at_ms = now_ms;
        SignedBundle::sign_v2(&content, event_key).map_err(|error| HubError::BadRequest(error.to_string()))
    }
}

pub type SharedHub = Arc<HubState>;

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: message.into() })).into_response()
}

pub(crate) fn hub_error(failure: HubError) -> Response {
    let status = match &failure {
        HubError::Unenrolled(_) => StatusCode::UNAUTHORIZED,
        HubError::RevokedKiosk(..) => StatusCode::FORBIDDEN,
        HubError::OtherEvent { .. } => StatusCode::CONFLICT,
        HubError::BadRequest(_) => StatusCode::BAD_REQUEST,
        HubError::Storage(_) | HubError::NewerSchema(_) | HubError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, failure.to_string())
}

/// Runs `work` on the store on a blocking thread (never on the runtime's threads), with
/// the hub's clock.
pub(crate) async fn with_store<T: Send + 'static>(
    hub: &SharedHub,
    work: impl FnOnce(&mut HubStore, i64) -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    let clock = Arc::clone(hub);
    crate::blocking::with_lock_in(
        Arc::clone(hub),
        |hub: &HubState| &hub.store,
        move |store| work(store, (clock.clock)()),
    )
    .await
    .map_err(|error| match error {
        crate::blocking::BlockingError::Poisoned => HubError::Internal("hub store poisoned".into()),
        crate::blocking::BlockingError::Stopped(join) => HubError::Internal(join.to_string()),
        crate::blocking::BlockingError::Work(error) => error,
    })
}

// The error is the HTTP answer itself, built once per failed request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub(crate) async fn blocking<T: Send + 'static>(
    hub: &SharedHub,
    work: impl FnOnce(&mut HubStore, i64) -> Result<T, HubError> + Send + 'static,
) -> Result<T, Response> {
    with_store(hub, work).await.map_err(hub_error)
}

/// Rung by the hub when an upload brought records, so the relay (`hub::relay`) sends them
/// shortly.
#[derive(Debug, Default)]
pub struct RelaySignal {
    pub wake: tokio::sync::Notify,
    /// How the relay's latest passes went, for the kiosks' "ready now" (see `claim_reach`).
    pub contact: Mutex<Option<RelayContact>>,
}

/// The relay's latest contact with the public hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayContact {
    /// The public hub's address.
    pub target: String,
    /// The last pass whose every answer was signed by the event key (hub clock).
    pub last_success_ms: Option<i64>,
    /// The latest pass failed.
    pub failing: bool,
    /// How long a success vouches for the public hub: two periodic passes, at least ten
    /// minutes, as for a kiosk's own sync.
    pub fresh_for_ms: i64,
}

impl RelaySignal {
    /// Notes how a relay pass to `target` ended at `now_ms`.
    pub fn note_pass(&self, target: &str, succeeded: bool, fresh_for_ms: i64, now_ms: i64) {
        let Ok(mut contact) = self.contact.lock() else {
            return;
        };
        let previous = contact.take().filter(|contact| contact.target == target);
        *contact = Some(RelayContact {
            target: target.to_owned(),
            last_success_ms: if succeeded {
                Some(now_ms)
            } else {
                previous.as_ref().and_then(|contact| contact.last_success_ms)
            },
            failing: !succeeded,
            fresh_for_ms: previous.map_or(fresh_for_ms, |contact| contact.fresh_for_ms.max(fresh_for_ms)),
        });
    }
}

impl HubState {
    /// What this hub tells its kiosks about the event's claim address: reached when this
    /// hub is that address, or when its relay there succeeded recently and has not failed
    /// since. Another address nothing relays to is not reached: the kiosk promises no
    /// "ready now" it cannot keep.
    pub fn claim_reach(
        &self,
        event: &crate::domain::event::EventDefinition,
        now_ms: i64,
    ) -> crate::sync::protocol::ClaimReach {
        let base = |url: &str| url.trim().trim_end_matches('/').to_owned();
        let claim_url = event.claim.base().map_or_else(|| self.public_url.clone(), base);
        let contact = self
            .relay
            .contact
            .lock()
            .ok()
            .and_then(|contact| contact.clone())
            .filter(|contact| base(&contact.target) == claim_url);
        let relayed_ms = contact.as_ref().and_then(|contact| contact.last_success_ms);
        let relay_fresh = contact.as_ref().is_some_and(|contact| {
            !contact.failing
                && contact
                    .last_success_ms
                    .is_some_and(|at| now_ms.saturating_sub(at) <= contact.fresh_for_ms)
        });
        crate::sync::protocol::ClaimReach {
            reached: claim_url == self.public_url || relay_fresh,
            claim_url,
            relayed_ms,
        }
    }
}
