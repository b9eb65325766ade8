//! Offers to take a badge into a wallet app (issue 25), in the hub's SQLite: Learner
//! Credential Wallet exchanges (VC-API) and OpenID4VCI pre-authorized offers, with their
//! codes, access tokens and nonces. The web side is `hub/web/wallet/`.
//!
//! Every offer is bound to a claim token and never reveals it: ids, challenges, codes,
//! tokens and nonces are random. An offer is single use (one credential), expires
//! ([`OFFER_LIFETIME_MS`]), and a claim link gets at most [`MAX_OFFERS_PER_TOKEN`] new
//! offers an hour. Pre-authorized codes and access tokens are stored as SHA-256; the code
//! is kept in clear only until it is redeemed, since the offer document must show it.

use hmac::{Hmac, Mac};
use rand::RngCore;
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use super::store::{HubError, HubStore};
use crate::domain::event::Language;

/// How long an offer (an exchange, or a pre-authorized code) can be used.
pub const OFFER_LIFETIME_MS: i64 = 10 * 60_000;
/// A page shows an existing offer again while it has at least this long left.
const REUSE_MIN_LEFT_MS: i64 = 5 * 60_000;
/// How long an OpenID4VCI access token can fetch the credential.
pub const ACCESS_TOKEN_LIFETIME_MS: i64 = 5 * 60_000;
pub const NONCE_LIFETIME_MS: i64 = 5 * 60_000;
/// New offers per claim link in [`RATE_WINDOW_MS`].
pub const MAX_OFFERS_PER_TOKEN: i64 = 12;
pub const RATE_WINDOW_MS: i64 = 60 * 60_000;
/// Domain separation of the nonces' MAC.
const NONCE_DOMAIN: &[u8] = b"badge-kiosk/wallet-nonce/v1\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The Learner Credential Wallet's VC-API exchange.
    Vcapi,
    /// OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow.
    Oid4vci,
}

impl Protocol {
    fn key(self) -> &'static str {
        match self {
            Protocol::Vcapi => "vcapi",
            Protocol::Oid4vci => "oid4vci",
        }
    }
}

/// An offer the claim page can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferOutcome {
    Ready(Offer),
    /// Too many offers for this claim link lately: possible again at this time.
    RateLimited {
        retry_at_ms: i64,
    },
    /// The claim link does not lead to a badge on this hub.
    UnknownClaim,
}

/// A live offer and the claim behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOffer {
    pub id: String,
    pub claim_token: String,
    pub language: Language,
    /// The DIDAuthentication challenge (vcapi) or the pre-authorized code (oid4vci).
    pub secret: String,
}

/// What a pre-authorized code is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The access token was stored for the offer; it works until `expires_ms`.
    Token {
        expires_ms: i64,
    },
    AlreadyUsed,
    Expired,
    Unknown,
}

/// `hub status`'s line about wallets, as `hub serve` last wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletSetting {
    pub offered: bool,
    pub detail: String,
    pub updated_ms: i64,
    pub offers: u64,
    pub taken: u64,
}

/// A random identifier or secret (160 bits, base32).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    crate::domain::base32::encode(&bytes)
}

/// A nonce for a proof of possession that the hub checks without having stored it (so the
/// anonymous nonce endpoint cannot fill the database): expiry ‖ 16 random bytes ‖ the first
/// 16 bytes of HMAC-SHA-256 under `key`, in base32. Only used nonces are stored, until they
/// expire, so each answers one proof.
pub fn new_wallet_nonce(key: &[u8; 32], now_ms: i64) -> String {
    let mut body = [0u8; 24];
    body[..8].copy_from_slice(&(now_ms + NONCE_LIFETIME_MS).to_be_bytes());
    rand::rngs::OsRng.fill_bytes(&mut body[8..]);
    let mut nonce = body.to_vec();
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) {
        mac.update(NONCE_DOMAIN);
        mac.update(&body);
        nonce.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    }
    crate::domain::base32::encode(&nonce)
}

/// The expiry of a nonce this hub made with `key` (None: not one of ours).
fn nonce_expiry(key: &[u8; 32], nonce: &str) -> Option<i64> {
    let bytes = crate::domain::base32::decode(nonce).ok()?;
    if bytes.len() != 40 {
        return None;
    }
    let (body, tag) = bytes.split_at(24);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(NONCE_DOMAIN);
    mac.update(body);
    mac.verify_truncated_left(tag).ok()?;
    Some(i64::from_be_bytes(body.get(..8)?.try_into().ok()?))
}

fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

impl HubStore {
    /// An offer of `protocol` for the badge behind `claim_token`: a live unused one with
    /// time left, else a new one (rate-limited per claim link).
    pub fn wallet_offer(
        &mut self,
        claim_token: &str,
        protocol: Protocol,
        language: Language,
        now_ms: i64,
    ) -> Result<OfferOutcome, HubError> {
        if self.claim(claim_token).ok().flatten().is_none() {
            return Ok(OfferOutcome::UnknownClaim);
        }
        let transaction = self.connection_mut().transaction()?;
        let reusable: Option<(String, i64)> = transaction
            .query_row(
                "SELECT id, expires_ms FROM wallet_offers
                 WHERE claim_token = ?1 AND protocol = ?2 AND language = ?3 AND taken_ms IS NULL
                   AND code_used_ms IS NULL AND expires_ms >= ?4
                 ORDER BY expires_ms DESC LIMIT 1",
                params![claim_token, protocol.key(), language.code(), now_ms + REUSE_MIN_LEFT_MS],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((id, expires_ms)) = reusable {
            return Ok(OfferOutcome::Ready(Offer { id, expires_ms }));
        }
        let (recent, oldest): (i64, Option<i64>) = transaction.query_row(
            "SELECT COUNT(*), MIN(created_ms) FROM wallet_offers WHERE claim_token = ?1 AND created_ms > ?2",
            params![claim_token, now_ms - RATE_WINDOW_MS],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if recent >= MAX_OFFERS_PER_TOKEN {
            return Ok(OfferOutcome::RateLimited {
                retry_at_ms: oldest.unwrap_or(now_ms) + RATE_WINDOW_MS,
            });
        }
        let id = random_secret();
        let secret = random_secret();
        let code_sha256 = (protocol == Protocol::Oid4vci).then(|| sha256(&secret));
        let expires_ms = now_ms + OFFER_LIFETIME_MS;
        transaction.execute(
            "INSERT INTO wallet_offers (id, protocol, claim_token, language, created_ms, expires_ms, secret, code_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                protocol.key(),
                claim_token,
                language.code(),
                now_ms,
                expires_ms,
                secret,
                code_sha256
            ],
        )?;
        transaction.commit()?;
        Ok(OfferOutcome::Ready(Offer { id, expires_ms }))
    }

    /// A live, unused offer of `protocol` by id (an exchange not yet answered, an
    /// OpenID4VCI offer whose code was not redeemed).
    pub fn live_wallet_offer(&self, id: &str, protocol: Protocol, now_ms: i64) -> Result<Option<LiveOffer>, HubError> {
        Ok(self
            .connection()
            .query_row(
                "SELECT id, claim_token, language, secret FROM wallet_offers
                 WHERE id = ?1 AND protocol = ?2 AND expires_ms > ?3 AND taken_ms IS NULL
                   AND code_used_ms IS NULL AND secret IS NOT NULL",
                params![id, protocol.key(), now_ms],
                |row| {
                    Ok(LiveOffer {
                        id: row.get(0)?,
                        claim_token: row.get(1)?,
                        language: Language::from_code(&row.get::<_, String>(2)?),
                        secret: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Marks an exchange answered with a credential for `holder`; false when another
    /// request took it first or it expired meanwhile.
    pub fn take_exchange(&self, id: &str, holder: &str, now_ms: i64) -> Result<bool, HubError> {
        let changed = self.connection().execute(
            "UPDATE wallet_offers SET taken_ms = ?3, holder = ?2, secret = NULL
             WHERE id = ?1 AND protocol = 'vcapi' AND taken_ms IS NULL AND expires_ms > ?3",
            params![id, holder, now_ms],
        )?;
        Ok(changed == 1)
    }

    /// Redeems a pre-authorized code for `access_token` (single use).
    pub fn redeem_code(&self, code: &str, access_token: &str, now_ms: i64) -> Result<Redeemed, HubError> {
        let found: Option<(i64, Option<i64>)> = self
            .connection()
            .query_row(
                "SELECT expires_ms, code_used_ms FROM wallet_offers WHERE code_sha256 = ?1",
                [sha256(code)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match found {
            None => return Ok(Redeemed::Unknown),
            Some((_, Some(_))) => return Ok(Redeemed::AlreadyUsed),
            Some((expires_ms, None)) if expires_ms <= now_ms => return Ok(Redeemed::Expired),
            Some(_) => {}
        }
        let expires_ms = now_ms + ACCESS_TOKEN_LIFETIME_MS;
        let changed = self.connection().execute(
            "UPDATE wallet_offers SET code_used_ms = ?2, secret = NULL, token_sha256 = ?3, token_expires_ms = ?4
             WHERE code_sha256 = ?1 AND code_used_ms IS NULL AND expires_ms > ?2",
            params![sha256(code), now_ms, sha256(access_token), expires_ms],
        )?;
        Ok(if changed == 1 {
            Redeemed::Token { expires_ms }
        } else {
            Redeemed::AlreadyUsed
        })
    }

    /// The offer an access token was given for, while it is valid and no credential was
    /// handed out yet: (offer id, claim token, language).
    pub fn offer_for_access_token(
        &self,
        access_token: &str,
        now_ms: i64,
    ) -> Result<Option<(String, String, Language)>, HubError> {
        Ok(self
            .connection()
            .query_row(
                "SELECT id, claim_token, language FROM wallet_offers
                 WHERE token_sha256 = ?1 AND token_expires_ms > ?2 AND taken_ms IS NULL",
                params![sha256(access_token), now_ms],
                |row| Ok((row.get(0)?, row.get(1)?, Language::from_code(&row.get::<_, String>(2)?))),
            )
            .optional()?)
    }

    /// Marks an OpenID4VCI offer's credential handed out to `holder` (once).
    pub fn take_issued_offer(&self, id: &str, holder: &str, now_ms: i64) -> Result<bool, HubError> {
        let changed = self.connection().execute(
            "UPDATE wallet_offers SET taken_ms = ?3, holder = ?2
             WHERE id = ?1 AND protocol = 'oid4vci' AND taken_ms IS NULL AND token_expires_ms > ?3",
            params![id, holder, now_ms],
        )?;
        Ok(changed == 1)
    }

    /// Uses up a nonce: true when this hub made it with `key`, it has not expired and no
    /// proof used it before.
    pub fn consume_wallet_nonce(&self, key: &[u8; 32], nonce: &str, now_ms: i64) -> Result<bool, HubError> {
        let Some(expires_ms) = nonce_expiry(key, nonce) else {
            return Ok(false);
        };
        if expires_ms <= now_ms {
            return Ok(false);
        }
        self.connection()
            .execute("DELETE FROM wallet_nonces WHERE expires_ms <= ?1", [now_ms])?;
        let changed = self.connection().execute(
            "INSERT OR IGNORE INTO wallet_nonces (nonce, expires_ms) VALUES (?1, ?2)",
            params![nonce, expires_ms],
        )?;
        Ok(changed == 1)
    }

    /// Records whether the running hub offers wallets (`hub serve`), for `hub status`.
    pub fn set_wallet_setting(&self, offered: bool, detail: &str, now_ms: i64) -> Result<(), HubError> {
        self.connection().execute(
            "INSERT INTO wallet_setting (id, offered, detail, updated_ms) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET offered = ?1, detail = ?2, updated_ms = ?3",
            params![offered, detail, now_ms],
        )?;
        Ok(())
    }

    pub fn wallet_setting(&self) -> Result<Option<WalletSetting>, HubError> {
        let (offers, taken): (i64, i64) =
            self.connection()
                .query_row("SELECT COUNT(*), COUNT(taken_ms) FROM wallet_offers", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
        Ok(self
            .connection()
            .query_row(
                "SELECT offered, detail, updated_ms FROM wallet_setting WHERE id = 1",
                [],
                |row| {
                    Ok(WalletSetting {
                        offered: row.get(0)?,
                        detail: row.get(1)?,
                        updated_ms: row.get(2)?,
                        offers: u64::try_from(offers).unwrap_or(0),
                        taken: u64::try_from(taken).unwrap_or(0),
                    })
                },
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::outbox::tests::hub_with_claim;

    const NOW: i64 = 1_795_000_000_000;

    fn ready(outcome: OfferOutcome) -> Offer {
        match outcome {
            OfferOutcome::Ready(offer) => offer,
            other => panic!("expected an offer, got {other:?}"),
        }
    }

    #[test]
    fn a_code_is_redeemed_once_and_never_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, token) = hub_with_claim(dir.path());
        let offer = ready(
            store
                .wallet_offer(&token, Protocol::Oid4vci, Language::En, NOW)
                .unwrap(),
        );
        assert!(!offer.id.contains(&token) && offer.id.len() == 32);
        let live = store
            .live_wallet_offer(&offer.id, Protocol::Oid4vci, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(live.claim_token, token);
        assert!(store
            .live_wallet_offer(&offer.id, Protocol::Vcapi, NOW)
            .unwrap()
            .is_none());
        assert_eq!(
            store.redeem_code(&live.secret, "T1", NOW + 1).unwrap(),
            Redeemed::Token {
                expires_ms: NOW + 1 + ACCESS_TOKEN_LIFETIME_MS
            }
        );
        assert_eq!(
            store.redeem_code(&live.secret, "T2", NOW + 2).unwrap(),
            Redeemed::AlreadyUsed
        );
        assert_eq!(store.redeem_code("nope", "T3", NOW + 2).unwrap(), Redeemed::Unknown);
        // The redeemed offer is no longer shown, and its code is erased.
        assert!(store
            .live_wallet_offer(&offer.id, Protocol::Oid4vci, NOW + 3)
            .unwrap()
            .is_none());
        let (id, claim, _) = store.offer_for_access_token("T1", NOW + 3).unwrap().unwrap();
        assert_eq!((id.as_str(), claim.as_str()), (offer.id.as_str(), token.as_str()));
        assert!(store.offer_for_access_token("T2", NOW + 3).unwrap().is_none());
        assert!(store.take_issued_offer(&offer.id, "did:key:z6Mk", NOW + 4).unwrap());
        assert!(!store.take_issued_offer(&offer.id, "did:key:z6Mk", NOW + 5).unwrap());
        assert!(store.offer_for_access_token("T1", NOW + 5).unwrap().is_none());

        let late = ready(
            store
                .wallet_offer(&token, Protocol::Oid4vci, Language::En, NOW)
                .unwrap(),
        );
        let code = store
            .live_wallet_offer(&late.id, Protocol::Oid4vci, NOW)
            .unwrap()
            .unwrap()
            .secret;
        assert_eq!(
            store.redeem_code(&code, "T4", NOW + OFFER_LIFETIME_MS).unwrap(),
            Redeemed::Expired
        );
    }

    #[test]
    fn pages_reuse_a_fresh_offer_and_new_offers_are_rate_limited() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, token) = hub_with_claim(dir.path());
        let first = ready(store.wallet_offer(&token, Protocol::Vcapi, Language::Fr, NOW).unwrap());
        let again = ready(
            store
                .wallet_offer(&token, Protocol::Vcapi, Language::Fr, NOW + 60_000)
                .unwrap(),
        );
        assert_eq!(first, again, "a reload shows the same exchange");
        // Less than five minutes left: a new one.
        let later = ready(
            store
                .wallet_offer(&token, Protocol::Vcapi, Language::Fr, NOW + 6 * 60_000)
                .unwrap(),
        );
        assert_ne!(first.id, later.id);
        let mut now = NOW + 7 * 60_000;
        for _ in 2..MAX_OFFERS_PER_TOKEN {
            let offer = ready(
                store
                    .wallet_offer(&token, Protocol::Oid4vci, Language::En, now)
                    .unwrap(),
            );
            let code = store
                .live_wallet_offer(&offer.id, Protocol::Oid4vci, now)
                .unwrap()
                .unwrap()
                .secret;
            store.redeem_code(&code, &random_secret(), now).unwrap();
            now += 1;
        }
        assert_eq!(
            store
                .wallet_offer(&token, Protocol::Oid4vci, Language::En, now)
                .unwrap(),
            OfferOutcome::RateLimited {
                retry_at_ms: NOW + RATE_WINDOW_MS
            }
        );
        assert_eq!(
            store
                .wallet_offer("AAAAAAAAAAAAAAAAAAAAAAAAAA", Protocol::Vcapi, Language::Fr, now)
                .unwrap(),
            OfferOutcome::UnknownClaim
        );
    }

    #[test]
    fn the_console_funnel_counts_a_badge_taken_into_a_wallet() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, token) = hub_with_claim(dir.path());
        let offer = ready(store.wallet_offer(&token, Protocol::Vcapi, Language::Fr, NOW).unwrap());
        let funnel = |store: &HubStore| crate::hub::console_queries::funnel(store.connection()).unwrap();
        assert_eq!(
            funnel(&store).taken_into_wallet,
            0,
            "an offer shown is not a badge taken"
        );
        assert!(store.take_exchange(&offer.id, "did:key:z6Mk1", NOW + 1).unwrap());
        store.note_claimed(&token, NOW + 1).unwrap();
        let counted = funnel(&store);
        assert_eq!((counted.taken_on_phone, counted.taken_into_wallet), (1, 1));
    }

    #[test]
    fn an_exchange_is_taken_once_and_nonces_answer_once() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, token) = hub_with_claim(dir.path());
        let offer = ready(store.wallet_offer(&token, Protocol::Vcapi, Language::Fr, NOW).unwrap());
        assert!(store.take_exchange(&offer.id, "did:key:z6Mk1", NOW + 1).unwrap());
        assert!(!store.take_exchange(&offer.id, "did:key:z6Mk2", NOW + 2).unwrap());
        assert!(store
            .live_wallet_offer(&offer.id, Protocol::Vcapi, NOW + 2)
            .unwrap()
            .is_none());
        let key = [5u8; 32];
        let nonce = new_wallet_nonce(&key, NOW);
        assert_ne!(nonce, new_wallet_nonce(&key, NOW));
        assert!(!store.consume_wallet_nonce(&key, "other", NOW).unwrap());
        assert!(
            !store.consume_wallet_nonce(&[6u8; 32], &nonce, NOW).unwrap(),
            "another hub's nonce"
        );
        let mut forged = crate::domain::base32::decode(&nonce).unwrap();
        forged[7] ^= 1;
        assert!(!store
            .consume_wallet_nonce(&key, &crate::domain::base32::encode(&forged), NOW)
            .unwrap());
        assert!(store.consume_wallet_nonce(&key, &nonce, NOW + 1).unwrap());
        assert!(!store.consume_wallet_nonce(&key, &nonce, NOW + 2).unwrap());
        let stale = new_wallet_nonce(&key, NOW);
        assert!(!store
            .consume_wallet_nonce(&key, &stale, NOW + NONCE_LIFETIME_MS)
            .unwrap());
        store.set_wallet_setting(false, "hidden: why", NOW).unwrap();
        let setting = store.wallet_setting().unwrap().unwrap();
        assert_eq!((setting.offered, setting.offers, setting.taken), (false, 1, 1));
    }
}
