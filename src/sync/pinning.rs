//! The kiosk's side of the hub's TLS: accept exactly the certificate whose SHA-256 the
//! signed enrolment code named (no public CA, no host name: a venue hub has neither), or a
//! certificate chaining to the venue's own CA when the organiser configured one.
//! The TLS handshake signature is still checked, so only the holder of the pinned
//! certificate's key can answer.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Several crates link rustls; the first provider installed wins, which is fine (all ring).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// SHA-256 of a certificate's DER bytes: the pin enrolment codes carry.
pub fn certificate_pin(der: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(der).into()
}

/// Accepts one certificate, by the SHA-256 of its DER bytes.
#[derive(Debug)]
pub struct PinnedCertificate {
    pin: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedCertificate {
    pub fn new(pin: [u8; 32]) -> Self {
        Self {
            pin,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = certificate_pin(end_entity.as_ref());
        // Not secret: the pin is printed in the enrolment code. A plain comparison is fine.
        if found == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the hub's certificate is not the one its enrolment code named (expected SHA-256 {}, got {}): \
                 someone else answers at this address, or the hub's certificate changed; enrol the kiosk again \
                 with a new code from the hub",
                hex::encode(self.pin),
                hex::encode(found)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS client configuration that trusts only the pinned certificate.
pub fn pinned_client_config(pin: [u8; 32]) -> rustls::ClientConfig {
    install_crypto_provider();
    rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCertificate::new(pin)))
        .with_no_client_auth()
}

/// Parses a pin as enrolment codes and settings carry it (hex or base32).
pub fn parse_pin(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    hex::decode(text)
        .ok()
        .or_else(|| crate::domain::base32::decode(text).ok())
        .and_then(|bytes| bytes.try_into().ok())
}
