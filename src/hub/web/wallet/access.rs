//! Whether a hub offers wallet apps: only where phones reach and trust the claim address.
//! Pure; `hub serve` decides once, `HubState` keeps the answer.

/// Whether this hub offers wallets, decided once by `hub serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletAccess {
    /// Offered; `issuer` is the `https://` origin phones use (the OpenID4VCI credential
    /// issuer identifier and the exchanges' domain).
    Offered { issuer: String },
    /// Hidden, and why, with what the organiser can do (English, for `hub status`).
    Hidden(String),
}

impl Default for WalletAccess {
    fn default() -> Self {
        WalletAccess::Hidden("wallets are offered only by `hub serve` with --tls-certificate".to_owned())
    }
}

/// How the hub serves HTTP, as far as wallets care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    PlainHttp,
    /// HTTPS with the hub's own self-signed certificate (kiosks pin it; phones do not trust it).
    OwnCertificate,
    /// HTTPS with a certificate the organiser gave (`--tls-certificate`).
    GivenCertificate,
}

impl WalletAccess {
    /// Wallets need phones to reach and trust the claim address: `claim_base` (the event's
    /// public claim address, else the hub's) over HTTPS with a certificate the organiser
    /// gave, and the event key to sign credentials.
    pub fn decide(claim_base: &str, transport: Transport, has_event_key: bool) -> Self {
        let hidden = |why: &str| WalletAccess::Hidden(why.to_owned());
        if !has_event_key {
            return hidden(
                "this hub has no event key, so it signs no credentials: offer wallets from the organiser's hub",
            );
        }
        match transport {
            Transport::PlainHttp => {
                return hidden("plain HTTP (--insecure-http): phones take badges into a wallet only over HTTPS; serve with --tls-certificate and --tls-key")
            }
            Transport::OwnCertificate => {
                return hidden("the hub serves its own self-signed certificate, which phones do not trust: give a certificate for the claim address from a public CA (or a CA the phones trust) with --tls-certificate and --tls-key")
            }
            Transport::GivenCertificate => {}
        }
        let base = claim_base.trim_end_matches('/');
        let Some(rest) = base.strip_prefix("https://") else {
            return hidden("the claim address is not https://: set [claim] public_url in event.toml to the HTTPS address phones open");
        };
        if rest.is_empty() || rest.contains(['/', '?', '#']) {
            return hidden("the claim address has a path: wallets need an origin such as https://badges.example.org in [claim] public_url");
        }
        WalletAccess::Offered {
            issuer: base.to_owned(),
        }
    }

    pub fn issuer(&self) -> Option<&str> {
        match self {
            WalletAccess::Offered { issuer } => Some(issuer),
            WalletAccess::Hidden(_) => None,
        }
    }

    /// The line `hub serve` prints and `hub status` repeats.
    pub fn describe(&self) -> String {
        match self {
            WalletAccess::Offered { issuer } => format!(
                "claim pages offer \"Into a wallet app\" (Learner Credential Wallet, OpenID4VCI) at {issuer} (experimental)"
            ),
            WalletAccess::Hidden(why) => format!("claim pages do not offer wallets: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallets_need_a_given_certificate_an_https_origin_and_the_event_key() {
        let offered = WalletAccess::decide("https://badges.example.org/", Transport::GivenCertificate, true);
        assert_eq!(offered.issuer(), Some("https://badges.example.org"));
        for (base, transport, key) in [
            ("https://badges.example.org", Transport::OwnCertificate, true),
            ("https://badges.example.org", Transport::PlainHttp, true),
            ("https://badges.example.org", Transport::GivenCertificate, false),
            ("http://badges.example.org", Transport::GivenCertificate, true),
            ("https://example.org/badges", Transport::GivenCertificate, true),
        ] {
            let access = WalletAccess::decide(base, transport, key);
            assert_eq!(access.issuer(), None, "{base} {transport:?} {key}");
            assert!(access.describe().contains("do not offer wallets"));
        }
        assert!(
            WalletAccess::decide("https://x.example", Transport::OwnCertificate, true)
                .describe()
                .contains("self-signed")
        );
    }
}
