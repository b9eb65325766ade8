//! The claim page's wallet links: an LCW exchange invitation and an OpenID4VCI credential
//! offer for the claim, made (or reused) in the hub's SQLite.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::json;

use crate::domain::event::Language;
use crate::hub::state::HubState;
use crate::hub::store::{HubError, HubStore};
use crate::hub::wallet_offers::{OfferOutcome, Protocol};

/// What the claim page shows for wallets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletLinks {
    Offered(WalletOffer),
    /// Too many offers for this claim link in the last hour: again in so many minutes.
    RateLimited {
        minutes: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletOffer {
    /// `https://lcw.app/request?request=…`
    pub lcw: String,
    /// The same request for the `dccrequest://` scheme.
    pub dcc: String,
    /// `openid-credential-offer://?credential_offer_uri=…`
    pub openid: String,
    /// The OpenID4VCI offer as an SVG QR code, for a visitor at a computer.
    pub openid_qr: String,
    /// Minutes the links work (the earliest of the two offers).
    pub minutes: i64,
}

const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// The exchange invitation LCW reads from its `request` parameter.
pub fn lcw_request(issuer: &str, exchange_id: &str) -> String {
    json!({
        "credentialRequestOrigin": issuer,
        "protocols": {"vcapi": format!("{issuer}/exchanges/{exchange_id}")},
    })
    .to_string()
}

pub fn credential_offer_uri(issuer: &str, offer_id: &str) -> String {
    format!("{issuer}/oid4vci/offers/{offer_id}")
}

/// The claim page's wallet links for `token` (None: wallets hidden on this hub). Makes
/// or reuses one offer per protocol.
pub(crate) fn links_for(
    hub: &HubState,
    store: &mut HubStore,
    token: &str,
    language: Language,
    now_ms: i64,
) -> Result<Option<WalletLinks>, HubError> {
    let Some(issuer) = hub.wallet.issuer() else {
        return Ok(None);
    };
    let minutes_until = |at_ms: i64| ((at_ms - now_ms).max(0) + 59_999) / 60_000;
    let exchange = match store.wallet_offer(token, Protocol::Vcapi, language, now_ms)? {
        OfferOutcome::Ready(offer) => offer,
        OfferOutcome::RateLimited { retry_at_ms } => {
            return Ok(Some(WalletLinks::RateLimited {
                minutes: minutes_until(retry_at_ms),
            }))
        }
        OfferOutcome::UnknownClaim => return Ok(None),
    };
    let offer = match store.wallet_offer(token, Protocol::Oid4vci, language, now_ms)? {
        OfferOutcome::Ready(offer) => offer,
        OfferOutcome::RateLimited { retry_at_ms } => {
            return Ok(Some(WalletLinks::RateLimited {
                minutes: minutes_until(retry_at_ms),
            }))
        }
        OfferOutcome::UnknownClaim => return Ok(None),
    };
    let request = encode(&lcw_request(issuer, &exchange.id));
    let openid = format!(
        "openid-credential-offer://?credential_offer_uri={}",
        encode(&credential_offer_uri(issuer, &offer.id))
    );
    let openid_qr = qrcode::QrCode::new(openid.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(220, 220)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    Ok(Some(WalletLinks::Offered(WalletOffer {
        lcw: format!("https://lcw.app/request?request={request}"),
        dcc: format!("dccrequest://request?request={request}"),
        openid,
        // The XML declaration has no place inside HTML.
        openid_qr: openid_qr
            .split_once("?>")
            .map_or(openid_qr.as_str(), |(_, svg)| svg)
            .trim()
            .to_owned(),
        minutes: minutes_until(exchange.expires_ms.min(offer.expires_ms)),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_lcw_request_is_the_exchange_invitation_and_hides_the_claim_token() {
        let request: Value = serde_json::from_str(&lcw_request("https://badges.example.org", "EXID")).unwrap();
        assert_eq!(
            request,
            json!({"credentialRequestOrigin": "https://badges.example.org",
                   "protocols": {"vcapi": "https://badges.example.org/exchanges/EXID"}})
        );
        assert_eq!(encode("{\"a\": \"b/c\"}"), "%7B%22a%22%3A%20%22b%2Fc%22%7D");
    }
}
