//! Codes as QR symbols: one alphanumeric segment at level M, at most version 7.

use qrcode::bits::Bits;
use qrcode::types::QrError;
use qrcode::{Color, EcLevel, QrCode, Version};

use super::{Label, PrintError, MAX_CODE_CHARS, MAX_QR_VERSION};

pub(super) struct EncodedLabel<'a> {
    pub(super) label: &'a Label,
    pub(super) qr: QrCode,
}

pub(super) fn encode_all(labels: &[Label]) -> Result<Vec<EncodedLabel<'_>>, PrintError> {
    if labels.is_empty() {
        return Err(PrintError::NothingToPrint);
    }
    labels
        .iter()
        .map(|label| {
            let (_, qr) = encode(&label.code_text, &label.short_id)?;
            Ok(EncodedLabel { label, qr })
        })
        .collect()
}

fn is_qr_alphanumeric(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || " $%*+-./:".contains(c)
}

/// The data bits of `code_text` as one alphanumeric segment. The crate's
/// default encoders pick "optimal" mixed segments, which would switch to
/// numeric mode inside runs of base32 digits; one segment keeps the symbol
/// predictable for every code of a given length.
pub(super) fn alphanumeric_bits(code_text: &str, version: i16) -> Result<Bits, QrError> {
    let mut bits = Bits::new(Version::Normal(version));
    bits.push_alphanumeric_data(code_text.as_bytes())?;
    bits.push_terminator(EcLevel::M)?;
    Ok(bits)
}

pub(super) fn encode(code_text: &str, short_id: &str) -> Result<(i16, QrCode), PrintError> {
    if code_text.is_empty() {
        return Err(PrintError::EmptyCode {
            short_id: short_id.to_owned(),
        });
    }
    // The encoder silently turns characters outside the alphanumeric set into
    // '0', so they must be refused before it sees them.
    if let Some((position, character)) = code_text.chars().enumerate().find(|(_, c)| !is_qr_alphanumeric(*c)) {
        return Err(PrintError::UnsupportedCharacter {
            short_id: short_id.to_owned(),
            character,
            position,
        });
    }
    for version in 1..=MAX_QR_VERSION {
        match alphanumeric_bits(code_text, version) {
            Ok(bits) => {
                let qr = QrCode::with_bits(bits, EcLevel::M).map_err(|source| PrintError::Encoder {
                    short_id: short_id.to_owned(),
                    source,
                })?;
                return Ok((version, qr));
            }
            Err(QrError::DataTooLong) => continue,
            Err(source) => {
                return Err(PrintError::Encoder {
                    short_id: short_id.to_owned(),
                    source,
                })
            }
        }
    }
    Err(PrintError::CodeTooLong {
        short_id: short_id.to_owned(),
        length: code_text.len(),
        max_length: MAX_CODE_CHARS,
    })
}

/// A horizontal run of dark modules; drawing runs instead of single modules
/// keeps the PDF and SVG several times smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    pub(super) row: usize,
    pub(super) column: usize,
    pub(super) length: usize,
}

pub(super) fn dark_runs(qr: &QrCode) -> Vec<Run> {
    let width = qr.width();
    let mut runs = Vec::new();
    for (row, modules) in qr.to_colors().chunks(width).enumerate() {
        let mut start = None;
        for (column, color) in modules.iter().chain([&Color::Light]).enumerate() {
            match (color, start) {
                (Color::Dark, None) => start = Some(column),
                (Color::Light, Some(first)) => {
                    runs.push(Run {
                        row,
                        column: first,
                        length: column - first,
                    });
                    start = None;
                }
                _ => {}
            }
        }
    }
    runs
}
