//! The Learner Credential Wallet's VC-API exchange (`POST /exchanges/<id>`), as LCW runs
//! it (openwallet-foundation-labs/learner-credential-wallet, `ExchangeCredentials.tsx` and
//! `lib/exchanges.ts`): the wallet opens the invitation from the claim page, POSTs `{}`
//! to the exchange, gets a `verifiablePresentationRequest` asking for DIDAuthentication
//! with a challenge and a domain, POSTs `{"verifiablePresentation": …}` signed with
//! Ed25519Signature2020 by its did:key, and gets `{"verifiablePresentation": …}` holding the
//! credential issued to that DID, which it offers to store.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{holder_credential, no_store, not_offered, EXPIRED};
use crate::credential::didauth::{verify_did_authentication, PROOF_TYPE};
use crate::hub::state::{blocking, SharedHub};
use crate::hub::store::HubError;
use crate::hub::wallet_offers::Protocol;

/// The largest message a wallet sends here (a presentation without credentials).
const MAX_BODY: usize = 16 * 1024;

pub(super) async fn exchange(State(hub): State<SharedHub>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    let Some(domain) = hub.wallet.issuer().map(str::to_owned) else {
        return not_offered();
    };
    if body.len() > MAX_BODY {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Message trop long : envoyez une présentation sans justificatif. / The message is too long: send a presentation without credentials.",
        );
    }
    let message: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(message @ Value::Object(_)) => message,
            _ => {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "Le message n'est pas un objet JSON : recommencez depuis la page du badge. / The message is not a JSON object: start again from the badge's page.",
                )
            }
        }
    };
    let lookup = id.clone();
    let live = match blocking(&hub, move |store, now| {
        store.live_wallet_offer(&lookup, Protocol::Vcapi, now)
    })
    .await
    {
        Ok(Some(live)) => live,
        Ok(None) => return refusal(StatusCode::NOT_FOUND, EXPIRED),
        Err(response) => return response,
    };
    let Some(presentation) = message.get("verifiablePresentation") else {
        // The opening `{}`: ask for DID Authentication.
        return no_store(
            StatusCode::OK,
            json!({
                "verifiablePresentationRequest": {
                    "query": [{
                        "type": "DIDAuthentication",
                        "acceptedMethods": [{"method": "key"}],
                        "acceptedCryptosuites": [{"cryptosuite": PROOF_TYPE}],
                    }],
                    "challenge": live.secret,
                    "domain": domain,
                },
            }),
        );
    };
    let holder = match verify_did_authentication(presentation, &live.secret, &domain) {
        Ok(holder) => holder,
        Err(failure) => {
            tracing::info!(%failure, "wallet presentation refused");
            return refusal(
                StatusCode::BAD_REQUEST,
                &format!("La présentation est refusée : recommencez depuis la page du badge. / The presentation is refused ({failure}): start again from the badge's page."),
            );
        }
    };
    let state = Arc::clone(&hub);
    let issued = blocking(&hub, move |store, now| {
        let Some(credential) = holder_credential(&state, store, &live.claim_token, live.language, &holder)? else {
            return Ok(None);
        };
        if !store.take_exchange(&live.id, &holder, now)? {
            return Err(HubError::BadRequest(EXPIRED.to_owned()));
        }
        store.note_claimed(&live.claim_token, now)?;
        Ok(Some(credential))
    })
    .await;
    match issued {
        Ok(Some(credential)) => no_store(
            StatusCode::OK,
            json!({
                "verifiablePresentation": {
                    "@context": [crate::credential::didauth::CREDENTIALS_V2_CONTEXT],
                    "type": ["VerifiablePresentation"],
                    "verifiableCredential": [credential],
                },
            }),
        ),
        Ok(None) => refusal(StatusCode::NOT_FOUND, EXPIRED),
        Err(response) => response,
    }
}

fn refusal(status: StatusCode, message: &str) -> Response {
    no_store(status, json!({"error": message}))
}
