//! Plain barcodes from a ticketing system's export, for events whose tickets are not
//! badge-kiosk codes. Only salted hashes are stored on the kiosk, so a lost kiosk does
//! not leak the ticket list in clear.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use thiserror::Error;

const TICKET_DOMAIN: &[u8] = b"badge-kiosk/ticket/v1\0";
/// Column names tried, in order, when the CSV has a header.
const BARCODE_COLUMNS: &[&str] = &["barcode", "code", "ticket", "ticket_code", "code-barre", "billet", "qr"];
const REGISTRATION_COLUMNS: &[&str] = &["registration", "registration_id", "order", "id", "inscription"];

pub type TicketHash = [u8; 32];

pub fn ticket_hash(event_id: &str, barcode: &str) -> TicketHash {
    Sha256::new()
        .chain_update(TICKET_DOMAIN)
        .chain_update([u8::try_from(event_id.len()).unwrap_or(u8::MAX)])
        .chain_update(event_id.as_bytes())
        .chain_update(barcode.trim().as_bytes())
        .finalize()
        .into()
}

/// The stable 10-byte id an allow-listed ticket gets in award records.
pub fn ticket_code_id(hash: &TicketHash) -> [u8; 10] {
    let mut id = [0u8; 10];
    id.copy_from_slice(&hash[..10]);
    id
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedTicket {
    pub hash: TicketHash,
    pub registration: Option<String>,
}

#[derive(Debug, Error)]
pub enum AllowListError {
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    #[error("the CSV has no column named one of {BARCODE_COLUMNS:?}: rename the barcode column")]
    NoBarcodeColumn,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub tickets: Vec<AllowedTicket>,
    pub skipped_blank: usize,
    pub duplicates: usize,
}

/// Reads a ticketing export: a CSV with a header naming the barcode column (and
/// optionally a registration column), separated by `,` or `;` (French spreadsheets).
pub fn import_csv(event_id: &str, data: &[u8]) -> Result<ImportSummary, AllowListError> {
    let first_line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter =
        if first_line.iter().filter(|&&b| b == b';').count() > first_line.iter().filter(|&&b| b == b',').count() {
            b';'
        } else {
            b','
        };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(data);
    let headers = reader.headers().map_err(|error| AllowListError::Csv {
        line: 1,
        message: error.to_string(),
    })?;
    let find = |names: &[&str]| {
        headers.iter().position(|header| {
            let header = header.trim().trim_start_matches('\u{feff}').to_lowercase();
            names.iter().any(|name| header == *name)
        })
    };
    let barcode_column = find(BARCODE_COLUMNS).ok_or(AllowListError::NoBarcodeColumn)?;
    let registration_column = find(REGISTRATION_COLUMNS);
    let mut summary = ImportSummary::default();
    let mut seen = HashSet::new();
    for row in reader.records() {
        let row = row.map_err(|error| AllowListError::Csv {
            line: error.position().map_or(0, |p| p.line()),
            message: error.to_string(),
        })?;
        let barcode = row.get(barcode_column).unwrap_or("").trim();
        if barcode.is_empty() {
            summary.skipped_blank += 1;
            continue;
        }
        let hash = ticket_hash(event_id, barcode);
        if !seen.insert(hash) {
            summary.duplicates += 1;
            continue;
        }
        let registration = registration_column
            .and_then(|column| row.get(column))
            .map(str::trim)
            .filter(|value| !value.is_empty() && !value.contains('@') && value.len() <= 32)
            .map(str::to_owned);
        summary.tickets.push(AllowedTicket { hash, registration });
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_semicolon_export_with_bom() {
        let csv = "\u{feff}Nom;Code-barre;Inscription\nDupont;123456789012;R-1\nMartin;;R-2\nDurand;123456789012;R-3\nPetit; 998877 ;marie@example.fr\n";
        let summary = import_csv("evt", csv.as_bytes()).unwrap();
        assert_eq!(summary.tickets.len(), 2);
        assert_eq!(summary.skipped_blank, 1);
        assert_eq!(summary.duplicates, 1);
        assert_eq!(summary.tickets[0].registration.as_deref(), Some("R-1"));
        // An email is never kept as a registration reference.
        assert_eq!(summary.tickets[1].registration, None);
        assert_eq!(summary.tickets[1].hash, ticket_hash("evt", "998877"));
    }

    #[test]
    fn refuses_export_without_barcode_column() {
        assert!(matches!(
            import_csv("evt", b"name,email\na,b\n"),
            Err(AllowListError::NoBarcodeColumn)
        ));
    }
}
