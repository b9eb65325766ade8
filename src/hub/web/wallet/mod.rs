//! Into a wallet app from the claim page (issue 25): the Learner Credential Wallet's VC-API
//! exchange (`lcw.rs`) and OpenID for Verifiable Credential Issuance 1.0, pre-authorized
//! code flow (`oid4vci.rs`). Offers live in the hub's SQLite (`hub/wallet_offers.rs`).
//!
//! Both only where phones reach and trust the hub: `hub serve` with `--tls-certificate`
//! on an `https://` claim address ([`WalletAccess::decide`]). Either way the credential is
//! the award's Open Badges 3.0 credential as the claim page hands it out, signed by the
//! event key (eddsa-rdfc-2022), with `credentialSubject.id` = the DID whose key the wallet
//! proved it holds.

pub mod access;
mod lcw;
pub mod links;
mod oid4vci;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::domain::event::Language;
use crate::hub::state::{HubState, SharedHub};
use crate::hub::store::{HubError, HubStore};

pub use access::{Transport, WalletAccess};

/// The wallet routes; merged into the hub's router. They answer 404 where wallets are hidden.
pub fn routes() -> Router<SharedHub> {
    Router::new()
        .route("/exchanges/{id}", post(lcw::exchange))
        .route("/.well-known/openid-credential-issuer", get(oid4vci::issuer_metadata))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oid4vci::authorization_server_metadata),
        )
        .route("/oid4vci/offers/{id}", get(oid4vci::credential_offer))
        .route("/oid4vci/token", post(oid4vci::token))
        .route("/oid4vci/nonce", post(oid4vci::nonce))
        .route("/oid4vci/credential", post(oid4vci::credential))
}

/// A JSON answer that is never cached.
pub(crate) fn no_store(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Wallet apps show these: both languages, and what to do next.
pub(crate) const EXPIRED: &str = "Ce lien de portefeuille a expiré ou a déjà servi : rouvrez la page de votre badge pour en obtenir un nouveau. / This wallet link expired or was already used: open your badge's page again for a new one.";
pub(crate) const NOT_OFFERED: &str = "Ce hub ne remet pas les badges aux portefeuilles : téléchargez le badge depuis sa page. / This hub does not hand badges to wallets: download the badge from its page.";

pub(crate) fn not_offered() -> Response {
    no_store(StatusCode::NOT_FOUND, json!({"error": NOT_OFFERED}))
}

/// The credential a wallet takes for the claim behind `token`, bound to `holder`.
pub(crate) fn holder_credential(
    hub: &HubState,
    store: &HubStore,
    token: &str,
    language: Language,
    holder: &str,
) -> Result<Option<Value>, HubError> {
    Ok(
        crate::hub::web::claim::claim_credential_for(hub, store, token, language, Some(holder))?
            .map(|found| found.credential),
    )
}
