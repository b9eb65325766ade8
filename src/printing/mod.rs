//! Printable attendance codes: A4 sheets of labels (PDF, or PNG pages to print without a
//! PDF viewer or to hold up to a camera), one label as SVG, and a CSV for mail merge.
//!
//! Every code is drawn as a QR code in alphanumeric mode at error-correction level M, at
//! most version 7, so that the 45 mm symbols stay readable by the kiosk cameras. Every
//! format carries the same text (event, role, short id) in DejaVu Sans, embedded in the
//! binary: the PDF subsets it, the PNG pages draw it, so names in any script DejaVu covers
//! (Latin, Greek, Cyrillic…) print as written.
//!
//! - [`qr`]: codes → symbols; [`layout`]: where each box and line goes; [`text`]: the
//!   typeface and its metrics; [`pdf`], [`raster`], [`svg`]: the three drawings.

mod layout;
mod pdf;
mod qr;
mod raster;
mod svg;
#[cfg(test)]
mod tests;
mod text;

use qrcode::types::QrError;
use qrcode::{EcLevel, QrCode};

use layout::{CELL_HEIGHT_MM, CELL_WIDTH_MM, GRID_LEFT_MM, GRID_TOP_MM};

/// Highest QR version a code may need (a project requirement): at the 45 mm
/// print size a version-7 module is 0.85 mm, 5 pixels at 150 dpi.
pub const MAX_QR_VERSION: i16 = 7;

/// Longest code that fits [`MAX_QR_VERSION`] at level M in alphanumeric mode
/// (ISO/IEC 18004 capacity table; checked by a test against the encoder).
pub const MAX_CODE_CHARS: usize = 178;

/// Lowest and highest resolution accepted by [`render_png_pages`]: below 72 dpi
/// modules of a version-7 code are under 3 pixels, above 600 dpi one A4 page
/// takes more than 100 MB of memory.
pub const MIN_DPI: u32 = 72;
pub const MAX_DPI: u32 = 600;

pub const COLUMNS: usize = 3;
pub const ROWS: usize = 5;
pub const LABELS_PER_PAGE: usize = COLUMNS * ROWS;

/// One printable code: a visitor ticket, a staff card or an organiser card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The attendance code carried by the QR code, e.g. "BK" + base32.
    pub code_text: String,
    /// Short human-readable id for typing by hand when a scan fails.
    pub short_id: String,
    /// Event name.
    pub title: String,
    /// Role line, e.g. "Visiteur · Visitor" or "Staff — Boulangerie".
    pub subtitle: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("there are no labels to print; select at least one code first")]
    NothingToPrint,
    #[error("the code{} is empty; generate the code again before printing", for_label(.short_id))]
    EmptyCode { short_id: String },
    #[error(
        "the code{} has {character:?} at position {position}, which a QR code in alphanumeric \
         mode cannot hold (only A–Z, 0–9, space and $%*+-./: can); generate the code again",
        for_label(.short_id)
    )]
    UnsupportedCharacter {
        short_id: String,
        character: char,
        position: usize,
    },
    #[error(
        "the code{} is {length} characters long but at most {max_length} fit a version-{} QR code \
         at level M; issue shorter codes",
        for_label(.short_id),
        MAX_QR_VERSION
    )]
    CodeTooLong {
        short_id: String,
        length: usize,
        max_length: usize,
    },
    #[error("the QR encoder refused the code{}: {source}; please report this as a bug", for_label(.short_id))]
    Encoder { short_id: String, source: QrError },
    #[error("{0}")]
    Font(String),
    #[error("{dpi} dpi is not supported; choose a resolution from {MIN_DPI} to {MAX_DPI} dpi")]
    DpiOutOfRange { dpi: u32 },
    #[error("could not write the CSV: {0}; check that the destination is writable and not full")]
    Csv(#[from] csv::Error),
    #[error("could not write the CSV: {0}; check that the destination is writable and not full")]
    Io(#[from] std::io::Error),
}

fn for_label(short_id: &str) -> String {
    if short_id.is_empty() {
        String::new()
    } else {
        format!(" of label {short_id}")
    }
}

/// QR version used for `code_text` at level M, or why it cannot be printed.
pub fn qr_version(code_text: &str) -> Result<i16, PrintError> {
    qr::encode(code_text, "").map(|(version, _)| version)
}

/// The standard quiet zone around a QR code on screen, in modules.
pub const QR_QUIET_ZONE: usize = 4;

/// Any text (an enrolment code, a link) as a black-on-white QR image with a quiet zone, for
/// a screen: the hub's pages and the kiosk's claim screen both draw codes with it.
pub fn qr_image(text: &str, module_px: u32) -> Result<image::GrayImage, PrintError> {
    let qr =
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|source| PrintError::Encoder {
            short_id: String::new(),
            source,
        })?;
    let width = qr.width();
    let colors = qr.to_colors();
    let quiet = QR_QUIET_ZONE;
    let module_px = module_px.max(1);
    let side = u32::try_from(width + 2 * quiet)
        .unwrap_or(u32::MAX)
        .saturating_mul(module_px);
    Ok(image::GrayImage::from_fn(side, side, |x, y| {
        let column = (x / module_px) as usize;
        let row = (y / module_px) as usize;
        let dark = (quiet..quiet + width).contains(&column)
            && (quiet..quiet + width).contains(&row)
            && colors.get((row - quiet) * width + (column - quiet)) == Some(&qrcode::Color::Dark);
        image::Luma([if dark { 0 } else { 255 }])
    }))
}

/// [`qr_image`] as a PNG file.
pub fn qr_png(text: &str, module_px: u32) -> Result<Vec<u8>, PrintError> {
    let image = qr_image(text, module_px)?;
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|failure| PrintError::Io(std::io::Error::other(failure.to_string())))?;
    Ok(png)
}

/// Renders labels on A4 pages, [`LABELS_PER_PAGE`] per page, as a PDF 1.4 file with the
/// text in embedded, subsetted DejaVu Sans.
pub fn render_pdf(labels: &[Label]) -> Result<Vec<u8>, PrintError> {
    pdf::render(labels)
}

/// Rasterises the same sheets as [`render_pdf`]: symbols, cut borders and the same text.
pub fn render_png_pages(labels: &[Label], dpi: u32) -> Result<Vec<image::RgbImage>, PrintError> {
    raster::render(labels, dpi)
}

/// One label as a standalone SVG document sized in millimetres.
pub fn render_svg(label: &Label) -> Result<String, PrintError> {
    svg::render(label)
}

/// Writes one row per label for mail merge: short_id, subtitle, title, code_text.
pub fn write_csv<W: std::io::Write>(labels: &[Label], w: W) -> Result<(), PrintError> {
    let mut writer = csv::Writer::from_writer(w);
    writer.write_record(["short_id", "subtitle", "title", "code_text"])?;
    for label in labels {
        writer.write_record([
            label.short_id.as_str(),
            label.subtitle.as_str(),
            label.title.as_str(),
            label.code_text.as_str(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// Shortest decimal with at most three places: PDF and SVG need no more at
/// the sizes used here, and short numbers keep the files small.
fn num(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// Where label `index` (0-based, on its page) sits on the A4 page, in millimetres from
/// the top-left corner: (x, y, width, height). For cutters, and for tests that check
/// every printed label on its own.
pub fn label_cell_mm(index: usize) -> (f64, f64, f64, f64) {
    let on_page = index % LABELS_PER_PAGE;
    let column = (on_page % COLUMNS) as f64;
    let row = (on_page / COLUMNS) as f64;
    (
        GRID_LEFT_MM + column * CELL_WIDTH_MM,
        GRID_TOP_MM + row * CELL_HEIGHT_MM,
        CELL_WIDTH_MM,
        CELL_HEIGHT_MM,
    )
}
