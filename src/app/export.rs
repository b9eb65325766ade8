//! The USB export: every record, as the upload a sync would send, for a hub out of reach.

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::domain::wire::WireError;
use crate::kiosk::{KioskCore, KioskError};

/// What `write_export` wrote.
pub struct Export {
    pub path: PathBuf,
    pub records: usize,
    /// Typed emails carried beside their records (the hub checks each against its hash).
    pub emails: usize,
}

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("{0}")]
    Certificate(WireError),
    #[error(transparent)]
    Kiosk(#[from] KioskError),
    #[error("creating {}", .path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Writes every record, with the typed emails the kiosk still holds, to a bundle file in
/// `dir`: the upload a sync would send, for a hub out of reach. `badge-kiosk export` and
/// the organiser panel's "export to USB" both call this.
pub fn write_export(kiosk: &KioskCore, dir: &Path) -> Result<Export, ExportError> {
    let certificate = hex::encode(kiosk.certificate().to_bytes().map_err(ExportError::Certificate)?);
    let request =
        crate::sync::client::upload_request(&kiosk.definition().event.id, &certificate, &kiosk.records_for_export()?);
    std::fs::create_dir_all(dir).map_err(|source| ExportError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(format!(
        "{}-{}-{}.badges.json",
        request.event_id,
        kiosk.kiosk_id(),
        chrono::Utc::now().format("%Y%m%dT%H%M%S")
    ));
    let temporary = path.with_extension("partial");
    let bytes = serde_json::to_vec(&request)?;
    {
        // The export carries typed emails in clear: 0600 whatever the umask.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(|source| ExportError::Open {
            path: temporary.clone(),
            source,
        })?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, &path)?;
    Ok(Export {
        path,
        records: request.records.len(),
        emails: request.emails.len(),
    })
}
