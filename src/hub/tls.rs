//! The hub's own TLS identity: a key and a self-signed certificate made on first start
//! and kept (mode 0600) under the hub's data directory. No public CA is involved: kiosks
//! learn the certificate's SHA-256 from the enrolment code, which the event key signs, and
//! accept only that certificate (see `sync::pinning`), as WireGuard or Signal pin keys.
//! An organiser with a venue CA may serve its own certificate instead (`--tls-certificate`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use thiserror::Error;

/// Where the hub keeps its certificate and key, inside its data directory.
pub const TLS_DIR: &str = crate::datadir::HUB_TLS_DIR;
const CERTIFICATE_FILE: &str = "hub-certificate.pem";
const KEY_FILE: &str = "hub-key.pem";

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot use the hub's TLS files in {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("cannot make the hub's TLS certificate: {0}")]
    Generate(String),
    #[error("the hub's TLS certificate or key is unreadable ({0}): move {TLS_DIR}/ aside in the hub's data directory to make new ones, then enrol the kiosks again")]
    Unreadable(String),
}

/// The certificate chain and key the hub serves, and the pin kiosks check.
#[derive(Clone)]
pub struct HubIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    /// SHA-256 of the end-entity certificate (DER): what enrolment codes carry.
    pub pin: [u8; 32],
}

impl std::fmt::Debug for HubIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubIdentity")
            .field("pin", &hex::encode(self.pin))
            .finish()
    }
}

pub use crate::sync::pinning::certificate_pin;

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> TlsError + '_ {
    move |error| TlsError::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// Writes `bytes` to a new file only its owner can read, whatever the umask.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_error(path))?;
    }
    file.write_all(bytes).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

impl HubIdentity {
    /// The hub's identity from `data_dir/tls/`, made there on first use for `names` (the
    /// host names and addresses kiosks reach the hub at; pinning does not depend on them).
    pub fn load_or_create(data_dir: &Path, names: &[String]) -> Result<Self, TlsError> {
        let dir = data_dir.join(TLS_DIR);
        let certificate_path = dir.join(CERTIFICATE_FILE);
        let key_path = dir.join(KEY_FILE);
        if !certificate_path.exists() || !key_path.exists() {
            std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io_error(&dir))?;
            }
            let mut names: Vec<String> = names.iter().filter(|name| !name.is_empty()).cloned().collect();
            names.extend(["localhost".to_owned(), "127.0.0.1".to_owned()]);
            names.sort();
            names.dedup();
            let generated =
                rcgen::generate_simple_self_signed(names).map_err(|error| TlsError::Generate(error.to_string()))?;
            // The key first: a certificate without its key would be a hub that cannot start.
            write_private(&key_path, generated.key_pair.serialize_pem().as_bytes())?;
            write_private(&certificate_path, generated.cert.pem().as_bytes())?;
        }
        Self::from_pem_files(&certificate_path, &key_path)
    }

    /// An identity from PEM files (a venue CA's certificate chain and its key).
    pub fn from_pem_files(certificate_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let certificate_pem = std::fs::read(certificate_path).map_err(io_error(certificate_path))?;
        let key_pem = std::fs::read(key_path).map_err(io_error(key_path))?;
        Self::from_pem(&certificate_pem, &key_pem)
    }

    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TlsError::Unreadable(error.to_string()))?;
        let first = chain
            .first()
            .ok_or_else(|| TlsError::Unreadable("no certificate in the PEM file".into()))?;
        let pin = certificate_pin(first.as_ref());
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| TlsError::Unreadable(error.to_string()))?;
        Ok(Self {
            chain,
            key: Arc::new(key),
            pin,
        })
    }

    /// A fresh in-memory identity (tests, benchmarks).
    pub fn ephemeral() -> Result<Self, TlsError> {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|error| TlsError::Generate(error.to_string()))?;
        let der = generated.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
        Ok(Self {
            pin: certificate_pin(der.as_ref()),
            chain: vec![der],
            key: Arc::new(key),
        })
    }

    /// The rustls server configuration (HTTP/1.1).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        crate::sync::pinning::install_crypto_provider();
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|error| TlsError::Unreadable(error.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_kept_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let first = HubIdentity::load_or_create(dir.path(), &["hub.local".into()]).unwrap();
        let again = HubIdentity::load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(first.pin, again.pin, "the certificate is made once, then kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for file in [CERTIFICATE_FILE, KEY_FILE] {
                let mode = std::fs::metadata(dir.path().join(TLS_DIR).join(file))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{file}");
            }
        }
        first.server_config().unwrap();
        assert_ne!(HubIdentity::ephemeral().unwrap().pin, first.pin);
    }
}
