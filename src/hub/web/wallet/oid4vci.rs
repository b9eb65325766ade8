//! OpenID for Verifiable Credential Issuance 1.0 (final), pre-authorized code flow, with
//! the hub as its own authorization server:
//!
//! - `GET /oid4vci/offers/<id>`: the credential offer the claim page's
//!   `openid-credential-offer://?credential_offer_uri=…` points at (§4.1.3), with a single-use
//!   pre-authorized code valid 10 minutes and no `tx_code` (the claim link is the secret).
//! - `GET /.well-known/openid-credential-issuer` (§12.2) and
//!   `/.well-known/oauth-authorization-server` (RFC 8414, with
//!   `pre-authorized_grant_anonymous_access_supported`).
//! - `POST /oid4vci/token` (§6): the code for a Bearer access token; a code used twice, expired
//!   or unknown is `invalid_grant`.
//! - `POST /oid4vci/nonce` (§7): a `c_nonce` for the proof.
//! - `POST /oid4vci/credential` (§8): one `ldp_vc` credential bound to the key of the
//!   `proofs.jwt` proof (`invalid_proof`, `invalid_nonce` otherwise).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use sha2::{Digest, Sha256};

use super::{holder_credential, no_store, not_offered, EXPIRED};
use crate::credential::holder_proof::{verify_proof_jwt, ProofError};
use crate::domain::event::Language;
use crate::hub::state::{blocking, SharedHub};
use crate::hub::store::HubError;
use crate::hub::wallet_offers::{new_wallet_nonce, random_secret, Protocol, Redeemed};

/// The one credential configuration this issuer offers.
pub const CONFIGURATION_ID: &str = "OpenBadgeCredential";
pub const PRE_AUTHORIZED_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
const MAX_BODY: usize = 16 * 1024;

pub(super) async fn issuer_metadata(State(hub): State<SharedHub>) -> Response {
    let Some(issuer) = hub.wallet.issuer().map(str::to_owned) else {
        return not_offered();
    };
    let event = match blocking(&hub, move |store, _| Ok(store.event.clone())).await {
        Ok(event) => event,
        Err(response) => return response,
    };
    let display = |language: Language| {
        json!({
            "name": event.issuer.name,
            "locale": language.code(),
        })
    };
    let credential_display = |language: Language| {
        json!({
            "name": format!("Open Badge — {}", event.event.name.get(language)),
            "locale": language.code(),
            "description": match language {
                Language::Fr => "Un badge de l'événement, vérifiable (Open Badges 3.0).",
                Language::En => "A badge from the event, verifiable (Open Badges 3.0).",
            },
        })
    };
    let metadata = json!({
        "credential_issuer": issuer,
        "credential_endpoint": format!("{issuer}/oid4vci/credential"),
        "nonce_endpoint": format!("{issuer}/oid4vci/nonce"),
        "display": [display(Language::Fr), display(Language::En)],
        "credential_configurations_supported": {
            CONFIGURATION_ID: {
                "format": "ldp_vc",
                "credential_definition": {
                    "@context": [
                        crate::credential::didauth::CREDENTIALS_V2_CONTEXT,
                        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
                    ],
                    "type": ["VerifiableCredential", "OpenBadgeCredential"],
                },
                "cryptographic_binding_methods_supported": ["did:key", "did:jwk", "jwk"],
                "credential_signing_alg_values_supported": [crate::credential::CRYPTOSUITE],
                "proof_types_supported": {
                    "jwt": {"proof_signing_alg_values_supported": ["EdDSA", "ES256"]},
                },
                "credential_metadata": {
                    "display": [credential_display(Language::Fr), credential_display(Language::En)],
                },
            },
        },
    });
    public_json(metadata)
}

pub(super) async fn authorization_server_metadata(State(hub): State<SharedHub>) -> Response {
    let Some(issuer) = hub.wallet.issuer() else {
        return not_offered();
    };
    public_json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oid4vci/token"),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "pre-authorized_grant_anonymous_access_supported": true,
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": [],
    }))
}

fn public_json(body: Value) -> Response {
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

pub(super) async fn credential_offer(State(hub): State<SharedHub>, UrlPath(id): UrlPath<String>) -> Response {
    let Some(issuer) = hub.wallet.issuer().map(str::to_owned) else {
        return not_offered();
    };
    match blocking(&hub, move |store, now| {
        store.live_wallet_offer(&id, Protocol::Oid4vci, now)
    })
    .await
    {
        Ok(Some(offer)) => no_store(
            StatusCode::OK,
            json!({
                "credential_issuer": issuer,
                "credential_configuration_ids": [CONFIGURATION_ID],
                "grants": {
                    PRE_AUTHORIZED_GRANT: {"pre-authorized_code": offer.secret},
                },
            }),
        ),
        Ok(None) => no_store(
            StatusCode::NOT_FOUND,
            json!({"error": "invalid_request", "error_description": EXPIRED}),
        ),
        Err(response) => response,
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store(status, json!({"error": error, "error_description": description}))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct TokenRequest {
    #[serde(default)]
    grant_type: String,
    #[serde(rename = "pre-authorized_code", default)]
    pre_authorized_code: String,
}

pub(super) async fn token(
    State(hub): State<SharedHub>,
    form: Result<axum::Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    if hub.wallet.issuer().is_none() {
        return not_offered();
    }
    let Ok(axum::Form(request)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send application/x-www-form-urlencoded with grant_type and pre-authorized_code",
        );
    };
    if request.grant_type != PRE_AUTHORIZED_GRANT {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this issuer takes only the pre-authorized code grant",
        );
    }
    let access_token = random_secret();
    let issued = access_token.clone();
    let code = request.pre_authorized_code;
    match blocking(&hub, move |store, now| store.redeem_code(&code, &issued, now)).await {
        Ok(Redeemed::Token { expires_ms }) => {
            let expires_in = (expires_ms - (hub.clock)()).max(0) / 1000;
            no_store(
                StatusCode::OK,
                json!({"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}),
            )
        }
        Ok(Redeemed::AlreadyUsed) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "this pre-authorized code was already used; open the badge's page again for a new offer",
        ),
        Ok(Redeemed::Expired) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "this pre-authorized code expired; open the badge's page again for a new offer",
        ),
        Ok(Redeemed::Unknown) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown pre-authorized code; open the badge's page again for a new offer",
        ),
        Err(response) => response,
    }
}

/// The key of the nonces' MAC, derived from the event key (wallets need it anyway).
fn nonce_key(hub: &crate::hub::state::HubState) -> Option<[u8; 32]> {
    let key = hub.event_key.as_ref()?;
    Some(
        Sha256::new()
            .chain_update(b"badge-kiosk/wallet-nonce-key/v1\0")
            .chain_update(key.to_bytes())
            .finalize()
            .into(),
    )
}

pub(super) async fn nonce(State(hub): State<SharedHub>) -> Response {
    let (Some(_), Some(key)) = (hub.wallet.issuer(), nonce_key(&hub)) else {
        return not_offered();
    };
    no_store(
        StatusCode::OK,
        json!({"c_nonce": new_wallet_nonce(&key, (hub.clock)())}),
    )
}

/// Why a credential request is refused, as §8.3.1.2 names it.
enum Refusal {
    Hub(HubError),
    Token,
    Request(String),
    Configuration,
    Proof(String),
    Nonce,
}

impl From<HubError> for Refusal {
    fn from(failure: HubError) -> Self {
        Refusal::Hub(failure)
    }
}

pub(super) async fn credential(State(hub): State<SharedHub>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(issuer) = hub.wallet.issuer().map(str::to_owned) else {
        return not_offered();
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_owned());
    let Some(access_token) = bearer else {
        return invalid_token();
    };
    let request: Option<Value> = (body.len() <= MAX_BODY)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten();
    let state = Arc::clone(&hub);
    let outcome = crate::hub::state::with_store(&hub, move |store, now| {
        Ok(issue(&state, store, &issuer, &access_token, request, now))
    })
    .await;
    let result = match outcome {
        Ok(result) => result,
        Err(failure) => Err(Refusal::Hub(failure)),
    };
    match result {
        Ok(credential) => no_store(StatusCode::OK, json!({"credentials": [{"credential": credential}]})),
        Err(Refusal::Token) => invalid_token(),
        Err(Refusal::Request(why)) => oauth_error(StatusCode::BAD_REQUEST, "invalid_credential_request", &why),
        Err(Refusal::Configuration) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unknown_credential_configuration",
            "this issuer offers only the OpenBadgeCredential configuration",
        ),
        Err(Refusal::Proof(why)) => oauth_error(StatusCode::BAD_REQUEST, "invalid_proof", &why),
        Err(Refusal::Nonce) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_nonce",
            "the proof's nonce was not given by this issuer's nonce endpoint, or was used or expired; fetch a new c_nonce",
        ),
        Err(Refusal::Hub(failure)) => crate::hub::state::hub_error(failure),
    }
}

fn issue(
    hub: &crate::hub::state::HubState,
    store: &mut crate::hub::store::HubStore,
    issuer: &str,
    access_token: &str,
    request: Option<Value>,
    now_ms: i64,
) -> Result<Value, Refusal> {
    let (offer_id, claim_token, language) = store
        .offer_for_access_token(access_token, now_ms)?
        .ok_or(Refusal::Token)?;
    let request = request.ok_or_else(|| Refusal::Request("the body is not a JSON object".to_owned()))?;
    match (
        request.get("credential_configuration_id").and_then(Value::as_str),
        request.get("credential_identifier"),
    ) {
        (Some(CONFIGURATION_ID), None) => {}
        (Some(_), None) => return Err(Refusal::Configuration),
        _ => {
            return Err(Refusal::Request(
                "name the credential with credential_configuration_id \"OpenBadgeCredential\"".to_owned(),
            ))
        }
    }
    if request.get("proof").is_some() {
        return Err(Refusal::Request(
            "send the proof in proofs.jwt (OpenID4VCI 1.0), not proof".to_owned(),
        ));
    }
    let jwts = request
        .get("proofs")
        .and_then(|proofs| proofs.get("jwt"))
        .and_then(Value::as_array)
        .ok_or_else(|| Refusal::Proof("send one proof of possession in proofs.jwt".to_owned()))?;
    let [jwt] = jwts.as_slice() else {
        return Err(Refusal::Proof(
            "send exactly one proof in proofs.jwt: this issuer issues one credential per offer".to_owned(),
        ));
    };
    let jwt = jwt
        .as_str()
        .ok_or_else(|| Refusal::Proof("proofs.jwt holds compact JWS strings".to_owned()))?;
    let proven = verify_proof_jwt(jwt, issuer, now_ms.div_euclid(1000))
        .map_err(|failure: ProofError| Refusal::Proof(failure.to_string()))?;
    let nonce = proven.nonce.as_deref().ok_or(Refusal::Nonce)?;
    let key = nonce_key(hub).ok_or(Refusal::Nonce)?;
    if !store.consume_wallet_nonce(&key, nonce, now_ms)? {
        return Err(Refusal::Nonce);
    }
    let credential = holder_credential(hub, store, &claim_token, language, &proven.holder)?
        .ok_or_else(|| Refusal::Request(EXPIRED.to_owned()))?;
    if !store.take_issued_offer(&offer_id, &proven.holder, now_ms)? {
        return Err(Refusal::Token);
    }
    store.note_claimed(&claim_token, now_ms)?;
    Ok(credential)
}

fn invalid_token() -> Response {
    let mut response = oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the access token is missing, expired or already used; open the badge's page again for a new offer",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}
