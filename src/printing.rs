//! Printable attendance codes: A4 sheets of labels (PDF, or PNG pages for a
//! quick preview), one label as SVG, and a CSV for mail merge.
//!
//! Every code is drawn as a QR code in alphanumeric mode at error-correction
//! level M, at most version 7, so that the 45 mm symbols stay readable by the
//! kiosk cameras. The PDF is written by hand with the standard Type 1 fonts
//! Helvetica and Helvetica-Bold in WinAnsiEncoding, so no font file ships.

use std::fmt::Write as _;

use qrcode::bits::Bits;
use qrcode::types::QrError;
use qrcode::{Color, EcLevel, QrCode, Version};

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
    encode(code_text, "").map(|(version, _)| version)
}

/// Any text (an enrolment code, a link) as a QR image with a quiet zone, for a screen.
pub fn qr_png(text: &str, module_px: u32) -> Result<Vec<u8>, PrintError> {
    let qr =
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|source| PrintError::Encoder {
            short_id: String::new(),
            source,
        })?;
    let width = qr.width();
    let colors = qr.to_colors();
    let quiet = 4;
    let side = u32::try_from(width + 2 * quiet)
        .unwrap_or(u32::MAX)
        .saturating_mul(module_px);
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        let column = (x / module_px) as usize;
        let row = (y / module_px) as usize;
        let dark = (quiet..quiet + width).contains(&column)
            && (quiet..quiet + width).contains(&row)
            && colors.get((row - quiet) * width + (column - quiet)) == Some(&qrcode::Color::Dark);
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|failure| PrintError::Io(std::io::Error::other(failure.to_string())))?;
    Ok(png)
}

/// Renders labels on A4 pages, [`LABELS_PER_PAGE`] per page, as a PDF 1.4 file.
pub fn render_pdf(labels: &[Label]) -> Result<Vec<u8>, PrintError> {
    let encoded = encode_all(labels)?;
    let page_count = encoded.chunks(LABELS_PER_PAGE).len();
    let mut pdf = PdfWriter::new();

    // Object numbers are positional: these five first, then a page and its
    // content stream for every sheet.
    let page_object = |page: usize| 6 + 2 * page;
    let kids: Vec<String> = (0..page_count)
        .map(|page| format!("{} 0 R", page_object(page)))
        .collect();
    pdf.object(b"<< /Type /Catalog /Pages 2 0 R >>");
    pdf.object(format!("<< /Type /Pages /Kids [{}] /Count {page_count} >>", kids.join(" ")).as_bytes());
    pdf.object(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
    pdf.object(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>");
    pdf.object(b"<< /Producer (badge-kiosk) /Title (Attendance codes) >>");

    for (page, sheet) in encoded.chunks(LABELS_PER_PAGE).enumerate() {
        let content = page_content(sheet, page + 1, page_count);
        pdf.object(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] \
                 /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                num(pt(PAGE_WIDTH_MM)),
                num(pt(PAGE_HEIGHT_MM)),
                page_object(page) + 1
            )
            .as_bytes(),
        );
        pdf.stream(&content);
    }
    Ok(pdf.finish(5))
}

/// Rasterises the same sheets as [`render_pdf`], QR codes and cut borders only
/// (no text: this is a preview and a way to print without a PDF viewer).
pub fn render_png_pages(labels: &[Label], dpi: u32) -> Result<Vec<image::RgbImage>, PrintError> {
    if !(MIN_DPI..=MAX_DPI).contains(&dpi) {
        return Err(PrintError::DpiOutOfRange { dpi });
    }
    let encoded = encode_all(labels)?;
    let raster = Raster::new(dpi);
    let mut pages = Vec::new();
    for sheet in encoded.chunks(LABELS_PER_PAGE) {
        let mut image = image::RgbImage::from_pixel(
            raster.px(PAGE_WIDTH_MM),
            raster.px(PAGE_HEIGHT_MM),
            image::Rgb([255, 255, 255]),
        );
        for (slot, label) in sheet.iter().enumerate() {
            let (cell_left, cell_top) = cell_origin(slot);
            raster.border(&mut image, cell_left, cell_top);
            let symbol = QrPlacement::new(&label.qr, cell_left, cell_top);
            for run in dark_runs(&label.qr) {
                let x0 = raster.px(symbol.module_x(run.column));
                let x1 = raster.px(symbol.module_x(run.column + run.length));
                let y0 = raster.px(symbol.module_y(run.row));
                let y1 = raster.px(symbol.module_y(run.row + 1));
                fill(&mut image, x0..x1, y0..y1, image::Rgb([0, 0, 0]));
            }
        }
        pages.push(image);
    }
    Ok(pages)
}

/// One label as a standalone SVG document sized in millimetres.
pub fn render_svg(label: &Label) -> Result<String, PrintError> {
    let (_, qr) = encode(&label.code_text, &label.short_id)?;
    let symbol = QrPlacement::new(&qr, 0.0, 0.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}mm\" height=\"{h}mm\" viewBox=\"0 0 {w} {h}\">\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\n\
         <rect x=\"0.1\" y=\"0.1\" width=\"{iw}\" height=\"{ih}\" fill=\"none\" stroke=\"#bfbfbf\" stroke-width=\"0.2\"/>\n\
         <path fill=\"#000\" shape-rendering=\"crispEdges\" transform=\"translate({x} {y}) scale({m})\" d=\"",
        w = num(CELL_WIDTH_MM),
        h = num(CELL_HEIGHT_MM),
        iw = num(CELL_WIDTH_MM - 0.2),
        ih = num(CELL_HEIGHT_MM - 0.2),
        x = num(symbol.module_x(0)),
        y = num(symbol.module_y(0)),
        m = num(symbol.module_mm),
    );
    for run in dark_runs(&qr) {
        let _ = write!(svg, "M{} {}h{}v1h-{}z", run.column, run.row, run.length, run.length);
    }
    svg.push_str("\"/>\n");
    for line in label_lines(label) {
        let (anchor, x) = match line.align {
            Align::Start => ("start", line.x_mm),
            Align::Middle => ("middle", line.x_mm),
            Align::End => ("end", line.x_mm),
        };
        let weight = match line.font {
            Font::Regular => "normal",
            Font::Bold => "bold",
        };
        let text: String = line.text.iter().collect();
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-family=\"Helvetica, Arial, sans-serif\" font-weight=\"{weight}\" \
             font-size=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            num(x),
            num(line.baseline_mm),
            num(line.size_pt * MM_PER_PT),
            xml_escape(&text)
        );
    }
    svg.push_str("</svg>\n");
    Ok(svg)
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

// ---------------------------------------------------------------------------
// QR encoding

struct EncodedLabel<'a> {
    label: &'a Label,
    qr: QrCode,
}

fn encode_all(labels: &[Label]) -> Result<Vec<EncodedLabel<'_>>, PrintError> {
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
fn alphanumeric_bits(code_text: &str, version: i16) -> Result<Bits, QrError> {
    let mut bits = Bits::new(Version::Normal(version));
    bits.push_alphanumeric_data(code_text.as_bytes())?;
    bits.push_terminator(EcLevel::M)?;
    Ok(bits)
}

fn encode(code_text: &str, short_id: &str) -> Result<(i16, QrCode), PrintError> {
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
struct Run {
    row: usize,
    column: usize,
    length: usize,
}

fn dark_runs(qr: &QrCode) -> Vec<Run> {
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

// ---------------------------------------------------------------------------
// Sheet geometry, all in millimetres from the top-left corner of the page.

const PAGE_WIDTH_MM: f64 = 210.0;
const PAGE_HEIGHT_MM: f64 = 297.0;
const CELL_WIDTH_MM: f64 = 65.0;
const CELL_HEIGHT_MM: f64 = 55.0;
/// 7.5 mm side margins and an 8 mm top margin keep the labels out of the
/// unprintable border of office printers; the bottom margin holds the page number.
const GRID_LEFT_MM: f64 = (PAGE_WIDTH_MM - CELL_WIDTH_MM * COLUMNS as f64) / 2.0;
const GRID_TOP_MM: f64 = 8.0;
const PAGE_NUMBER_BASELINE_MM: f64 = PAGE_HEIGHT_MM - 7.0;
/// Symbol size including the 4-module quiet zone.
const QR_SIZE_MM: f64 = 45.0;
const QR_TOP_MM: f64 = 4.6;
const QUIET_ZONE_MODULES: usize = 4;
const TEXT_INSET_MM: f64 = 3.0;
const TITLE_BASELINE_MM: f64 = 3.6;
const BOTTOM_BASELINE_MM: f64 = 52.6;
const MM_PER_PT: f64 = 25.4 / 72.0;

// The symbol's quiet zone must stay clear of the text lines.
const _: () = assert!(QR_TOP_MM > TITLE_BASELINE_MM + 0.5);
const _: () = assert!(QR_TOP_MM + QR_SIZE_MM < BOTTOM_BASELINE_MM - 2.0);

fn pt(mm: f64) -> f64 {
    mm / MM_PER_PT
}

fn cell_origin(slot: usize) -> (f64, f64) {
    let column = slot % COLUMNS;
    let row = slot / COLUMNS;
    (
        GRID_LEFT_MM + CELL_WIDTH_MM * column as f64,
        GRID_TOP_MM + CELL_HEIGHT_MM * row as f64,
    )
}

/// Where the modules of one symbol land on the page.
struct QrPlacement {
    left_mm: f64,
    top_mm: f64,
    module_mm: f64,
}

impl QrPlacement {
    fn new(qr: &QrCode, cell_left: f64, cell_top: f64) -> Self {
        let modules = qr.width() + 2 * QUIET_ZONE_MODULES;
        let module_mm = QR_SIZE_MM / modules as f64;
        Self {
            left_mm: cell_left + (CELL_WIDTH_MM - QR_SIZE_MM) / 2.0 + module_mm * QUIET_ZONE_MODULES as f64,
            top_mm: cell_top + QR_TOP_MM + module_mm * QUIET_ZONE_MODULES as f64,
            module_mm,
        }
    }

    fn module_x(&self, column: usize) -> f64 {
        self.left_mm + self.module_mm * column as f64
    }

    fn module_y(&self, row: usize) -> f64 {
        self.top_mm + self.module_mm * row as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Start,
    Middle,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn widths(self) -> &'static [u16; 224] {
        match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        }
    }

    fn pdf_name(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
        }
    }
}

/// A line of text fitted to its box, positioned inside its cell.
#[derive(Debug, Clone, PartialEq)]
struct TextLine {
    text: Vec<char>,
    font: Font,
    size_pt: f64,
    width_mm: f64,
    x_mm: f64,
    baseline_mm: f64,
    align: Align,
}

impl TextLine {
    fn start_x_mm(&self) -> f64 {
        match self.align {
            Align::Start => self.x_mm,
            Align::Middle => self.x_mm - self.width_mm / 2.0,
            Align::End => self.x_mm - self.width_mm,
        }
    }
}

/// Title centred above the symbol; role at the bottom left and the short id,
/// bold and larger because people type it, at the bottom right.
fn label_lines(label: &Label) -> [TextLine; 3] {
    let inner_width = CELL_WIDTH_MM - 2.0 * TEXT_INSET_MM;
    let short_id = fit_text(&label.short_id, Font::Bold, 9.0, 6.0, inner_width / 2.0);
    let subtitle_width = inner_width - short_id.width_mm - 2.0;
    let subtitle = fit_text(&label.subtitle, Font::Regular, 7.0, 5.0, subtitle_width);
    let title = fit_text(&label.title, Font::Bold, 8.0, 5.5, inner_width);
    [
        TextLine {
            x_mm: CELL_WIDTH_MM / 2.0,
            baseline_mm: TITLE_BASELINE_MM,
            align: Align::Middle,
            ..title
        },
        TextLine {
            x_mm: TEXT_INSET_MM,
            baseline_mm: BOTTOM_BASELINE_MM,
            align: Align::Start,
            ..subtitle
        },
        TextLine {
            x_mm: CELL_WIDTH_MM - TEXT_INSET_MM,
            baseline_mm: BOTTOM_BASELINE_MM,
            align: Align::End,
            ..short_id
        },
    ]
}

fn text_width_mm(text: &[char], font: Font, size_pt: f64) -> f64 {
    let thousandths: u32 = text.iter().map(|c| u32::from(glyph_width(*c, font))).sum();
    f64::from(thousandths) / 1000.0 * size_pt * MM_PER_PT
}

fn glyph_width(c: char, font: Font) -> u16 {
    let code = winansi_byte(c).unwrap_or(b'?');
    let widths = font.widths();
    usize::from(code)
        .checked_sub(32)
        .and_then(|index| widths.get(index))
        .copied()
        .unwrap_or(556)
}

/// Shrinks the text down to `min_pt`, then cuts it with an ellipsis, so that
/// long event names never spill into the neighbouring label.
fn fit_text(text: &str, font: Font, nominal_pt: f64, min_pt: f64, max_width_mm: f64) -> TextLine {
    let mut chars = normalize_text(text);
    let nominal_width = text_width_mm(&chars, font, nominal_pt);
    let size_pt = if nominal_width <= max_width_mm {
        nominal_pt
    } else {
        (nominal_pt * max_width_mm / nominal_width).max(min_pt)
    };
    if text_width_mm(&chars, font, size_pt) > max_width_mm {
        let budget = max_width_mm - text_width_mm(&['…'], font, size_pt);
        let mut used = 0.0;
        let kept = chars
            .iter()
            .take_while(|c| {
                used += text_width_mm(&[**c], font, size_pt);
                used <= budget
            })
            .count();
        chars.truncate(kept);
        while chars.last().is_some_and(|c| c.is_whitespace()) {
            chars.pop();
        }
        chars.push('…');
    }
    TextLine {
        width_mm: text_width_mm(&chars, font, size_pt),
        text: chars,
        font,
        size_pt,
        x_mm: 0.0,
        baseline_mm: 0.0,
        align: Align::Start,
    }
}

// ---------------------------------------------------------------------------
// Text encoding

/// Composes base letter + combining mark (text pasted from macOS is often
/// decomposed) and replaces controls, so every later step sees one char per glyph.
fn normalize_text(text: &str) -> Vec<char> {
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(composed) = chars.last().and_then(|base| compose(*base, c)) {
            chars.pop();
            chars.push(composed);
            continue;
        }
        let c = match c {
            c if c.is_control() => ' ',
            '\u{2009}' | '\u{202F}' | '\u{2007}' | '\u{2002}' | '\u{2003}' => ' ',
            '\u{2010}' | '\u{2011}' | '\u{2212}' => '-',
            '\u{02BC}' => '’',
            '\u{FFFE}' | '\u{FFFF}' => '?',
            c => c,
        };
        chars.push(c);
    }
    chars
}

fn compose(base: char, mark: char) -> Option<char> {
    let pairs = match mark {
        '\u{0300}' => "AÀEÈIÌOÒUÙaàeèiìoòuù",
        '\u{0301}' => "AÁEÉIÍOÓUÚYÝaáeéiíoóuúyý",
        '\u{0302}' => "AÂEÊIÎOÔUÛaâeêiîoôuû",
        '\u{0303}' => "AÃNÑOÕaãnñoõ",
        '\u{0308}' => "AÄEËIÏOÖUÜYŸaäeëiïoöuüyÿ",
        '\u{030A}' => "AÅaå",
        '\u{030C}' => "SŠZŽsšzž",
        '\u{0327}' => "CÇcç",
        _ => return None,
    };
    let mut chars = pairs.chars();
    while let (Some(plain), Some(composed)) = (chars.next(), chars.next()) {
        if plain == base {
            return Some(composed);
        }
    }
    None
}

/// The WinAnsiEncoding (Windows-1252) byte for `c`, if Helvetica can show it.
fn winansi_byte(c: char) -> Option<u8> {
    let code = u32::from(c);
    let byte = match c {
        ' '..='~' | '\u{A0}'..='\u{FF}' => return u8::try_from(code).ok(),
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    };
    Some(byte)
}

fn winansi_bytes(text: &[char]) -> Vec<u8> {
    text.iter().map(|c| winansi_byte(*c).unwrap_or(b'?')).collect()
}

/// A PDF literal string; bytes above ASCII as octal escapes so the content
/// streams stay 7-bit and greppable.
fn pdf_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('(');
    for &byte in bytes {
        match byte {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            0x20..=0x7E => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\{byte:03o}");
            }
        }
    }
    out.push(')');
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
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

// ---------------------------------------------------------------------------
// PDF

fn page_content(sheet: &[EncodedLabel<'_>], page_number: usize, page_count: usize) -> Vec<u8> {
    let mut content = String::new();
    // PDF measures from the bottom-left corner in points.
    let x = |mm: f64| num(pt(mm));
    let y = |mm: f64| num(pt(PAGE_HEIGHT_MM - mm));

    // Light cut borders first, so nothing is drawn over the symbols.
    content.push_str("0.75 G 0.3 w\n");
    for slot in 0..sheet.len() {
        let (left, top) = cell_origin(slot);
        let _ = writeln!(
            content,
            "{} {} {} {} re S",
            x(left),
            y(top + CELL_HEIGHT_MM),
            num(pt(CELL_WIDTH_MM)),
            num(pt(CELL_HEIGHT_MM))
        );
    }

    content.push_str("0 g\n");
    for (slot, encoded) in sheet.iter().enumerate() {
        let (left, top) = cell_origin(slot);
        let symbol = QrPlacement::new(&encoded.qr, left, top);
        // Module units with y growing downwards, so each run is "col row len 1 re".
        let module_pt = num(pt(symbol.module_mm));
        let _ = writeln!(
            content,
            "q {module_pt} 0 0 -{module_pt} {} {} cm",
            x(symbol.module_x(0)),
            y(symbol.module_y(0))
        );
        for run in dark_runs(&encoded.qr) {
            let _ = writeln!(content, "{} {} {} 1 re", run.column, run.row, run.length);
        }
        content.push_str("f Q\n");

        for line in label_lines(encoded.label) {
            let _ = writeln!(
                content,
                "BT /{} {} Tf {} {} Td {} Tj ET",
                line.font.pdf_name(),
                num(line.size_pt),
                x(left + line.start_x_mm()),
                y(top + line.baseline_mm),
                pdf_string(&winansi_bytes(&line.text))
            );
        }
    }

    let footer: Vec<char> = format!("{page_number} / {page_count}").chars().collect();
    let footer_width = text_width_mm(&footer, Font::Regular, 8.0);
    let _ = writeln!(
        content,
        "0.3 g BT /F1 8 Tf {} {} Td {} Tj ET",
        x((PAGE_WIDTH_MM - footer_width) / 2.0),
        y(PAGE_NUMBER_BASELINE_MM),
        pdf_string(&winansi_bytes(&footer))
    );
    content.into_bytes()
}

/// Objects are numbered in the order they are written, starting at 1.
struct PdfWriter {
    buffer: Vec<u8>,
    offsets: Vec<usize>,
}

impl PdfWriter {
    fn new() -> Self {
        // The binary comment tells transfer tools the file is not plain text.
        let mut buffer = b"%PDF-1.4\n%".to_vec();
        buffer.extend_from_slice(&[0xE2, 0xE3, 0xCF, 0xD3, b'\n']);
        Self {
            buffer,
            offsets: Vec::new(),
        }
    }

    fn begin_object(&mut self) {
        self.offsets.push(self.buffer.len());
        let number = self.offsets.len();
        self.buffer.extend_from_slice(format!("{number} 0 obj\n").as_bytes());
    }

    fn object(&mut self, body: &[u8]) {
        self.begin_object();
        self.buffer.extend_from_slice(body);
        self.buffer.extend_from_slice(b"\nendobj\n");
    }

    fn stream(&mut self, data: &[u8]) {
        self.begin_object();
        self.buffer
            .extend_from_slice(format!("<< /Length {} >>\nstream\n", data.len()).as_bytes());
        self.buffer.extend_from_slice(data);
        self.buffer.extend_from_slice(b"\nendstream\nendobj\n");
    }

    fn finish(mut self, info_object: usize) -> Vec<u8> {
        let xref_offset = self.buffer.len();
        let size = self.offsets.len() + 1;
        let mut xref = format!("xref\n0 {size}\n0000000000 65535 f \n");
        for offset in &self.offsets {
            // Each entry is exactly 20 bytes, as the format requires.
            let _ = writeln!(xref, "{offset:010} 00000 n ");
        }
        let _ = write!(
            xref,
            "trailer\n<< /Size {size} /Root 1 0 R /Info {info_object} 0 R >>\nstartxref\n{xref_offset}\n%%EOF\n"
        );
        self.buffer.extend_from_slice(xref.as_bytes());
        self.buffer
    }
}

// ---------------------------------------------------------------------------
// Raster

struct Raster {
    pixels_per_mm: f64,
}

impl Raster {
    fn new(dpi: u32) -> Self {
        Self {
            pixels_per_mm: f64::from(dpi) / 25.4,
        }
    }

    /// Module edges are rounded independently, so neighbouring modules share
    /// an edge and no gap or overlap appears between them.
    fn px(&self, mm: f64) -> u32 {
        // Saturating float-to-int conversion; inputs are page coordinates.
        (mm * self.pixels_per_mm).round().max(0.0) as u32
    }

    fn border(&self, image: &mut image::RgbImage, left: f64, top: f64) {
        let grey = image::Rgb([191, 191, 191]);
        let x0 = self.px(left);
        let x1 = self.px(left + CELL_WIDTH_MM);
        let y0 = self.px(top);
        let y1 = self.px(top + CELL_HEIGHT_MM);
        fill(image, x0..x1 + 1, y0..y0 + 1, grey);
        fill(image, x0..x1 + 1, y1..y1 + 1, grey);
        fill(image, x0..x0 + 1, y0..y1 + 1, grey);
        fill(image, x1..x1 + 1, y0..y1 + 1, grey);
    }
}

fn fill(image: &mut image::RgbImage, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>, color: image::Rgb<u8>) {
    let xs = xs.start.min(image.width())..xs.end.min(image.width());
    let ys = ys.start.min(image.height())..ys.end.min(image.height());
    for y in ys {
        for x in xs.clone() {
            image.put_pixel(x, y, color);
        }
    }
}

// ---------------------------------------------------------------------------
// Font metrics: advance widths (1/1000 em) of WinAnsi codes 32..=255 in the
// standard Helvetica and Helvetica-Bold, as every PDF reader substitutes them.
// Unused codes (0x81, 0x8D, 0x8F, 0x90, 0x9D) are 0; nothing maps to them.

#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 556, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    fn random_code(rng: &mut impl Rng, base32_chars: usize) -> String {
        let body: String = (0..base32_chars)
            .map(|_| char::from(BASE32[rng.gen_range(0..BASE32.len())]))
            .collect();
        format!("BK{body}")
    }

    /// 100 labels with codes of every length that fits, mixing the roles.
    fn sample_labels(count: usize) -> Vec<Label> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xBAD6E);
        let roles = ["Visiteur · Visitor", "Staff — Boulangerie", "Organisateur · Organiser"];
        (0..count)
            .map(|i| {
                let base32_chars = [140, 150, 160, 176][i % 4];
                Label {
                    code_text: random_code(&mut rng, base32_chars),
                    short_id: format!("V-{:04}-M9PD", i),
                    title: "Finales nationales – Métiers de bouche".to_owned(),
                    subtitle: roles[i % roles.len()].to_owned(),
                }
            })
            .collect()
    }

    fn require_tool(program: &str, debian_package: &str) -> PathBuf {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "`{program}` is not on PATH; install the Debian package {debian_package} \
                     (apt-get install {debian_package})"
                )
            })
    }

    fn run(command: &mut Command) -> String {
        let output = command.output().expect("tool should start");
        assert!(
            output.status.success(),
            "{command:?} failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("tool output should be UTF-8")
    }

    /// Decodes the QR symbols of the images, in file order, with zbar, which
    /// shares no code with the encoder.
    fn zbar_decode(images: &[PathBuf]) -> Vec<String> {
        let zbarimg = require_tool("zbarimg", "zbar-tools");
        let output = Command::new(zbarimg)
            .args(["--raw", "-q"])
            .args(images)
            .output()
            .expect("zbarimg should start");
        // Exit status 4 means some image had no symbol: the caller's
        // comparison then says which label is missing.
        assert!(
            matches!(output.status.code(), Some(0 | 4)),
            "zbarimg failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("zbarimg output should be UTF-8")
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Cuts every label out of the page images, one greyscale file per label
    /// in order, as a scanner sees one label at a time. (zbar scanning a whole
    /// sheet at once misses about one symbol in a hundred, at any resolution.)
    /// Uncompressed PGM keeps the test fast: PNG encoding cost seconds.
    fn cut_labels(pages: &[image::RgbImage], dpi: u32, count: usize, dir: &Path) -> Vec<PathBuf> {
        let px = |mm: f64| (mm * f64::from(dpi) / 25.4).round() as u32;
        (0..count)
            .map(|index| {
                let page = &pages[index / LABELS_PER_PAGE];
                let (left, top) = cell_origin(index % LABELS_PER_PAGE);
                let (x0, y0) = (px(left), px(top));
                let (width, height) = (px(CELL_WIDTH_MM), px(CELL_HEIGHT_MM));
                let mut pgm = format!("P5\n{width} {height}\n255\n").into_bytes();
                for y in y0..y0 + height {
                    for x in x0..x0 + width {
                        let [r, g, b] = page.get_pixel(x, y).0;
                        pgm.push(((u16::from(r) + u16::from(g) + u16::from(b)) / 3) as u8);
                    }
                }
                let path = dir.join(format!("label-{index:03}.pgm"));
                std::fs::write(&path, pgm).unwrap();
                path
            })
            .collect()
    }

    /// Reads a binary PPM as written by pdftoppm.
    fn read_ppm(path: &Path) -> image::RgbImage {
        let data = std::fs::read(path).unwrap();
        let mut fields = Vec::new();
        let mut position = 0;
        while fields.len() < 4 {
            while data[position].is_ascii_whitespace() {
                position += 1;
            }
            let start = position;
            while !data[position].is_ascii_whitespace() {
                position += 1;
            }
            fields.push(std::str::from_utf8(&data[start..position]).unwrap().to_owned());
        }
        assert_eq!((fields[0].as_str(), fields[3].as_str()), ("P6", "255"));
        let width: u32 = fields[1].parse().unwrap();
        let height: u32 = fields[2].parse().unwrap();
        image::RgbImage::from_raw(width, height, data[position + 1..].to_vec()).unwrap()
    }

    fn assert_decoded_in_order(decoded: Vec<String>, labels: &[Label]) {
        let expected: Vec<String> = labels.iter().map(|label| label.code_text.clone()).collect();
        let missing: Vec<usize> = (0..labels.len())
            .filter(|index| !decoded.contains(&expected[*index]))
            .collect();
        assert!(missing.is_empty(), "labels not decoded: {missing:?}");
        assert_eq!(decoded, expected);
        assert_eq!(decoded.into_iter().collect::<BTreeSet<_>>(), code_set(labels));
    }

    fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == extension))
            .collect();
        files.sort();
        files
    }

    fn find_bytes(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
        haystack[from..]
            .windows(needle.len())
            .position(|window| window == needle)
            .map(|position| position + from)
    }

    fn code_set(labels: &[Label]) -> BTreeSet<String> {
        labels.iter().map(|label| label.code_text.clone()).collect()
    }

    #[test]
    fn every_code_in_the_pdf_decodes_with_zbar() {
        let pdftoppm = require_tool("pdftoppm", "poppler-utils");
        let labels = sample_labels(100);
        let dir = tempfile::tempdir().unwrap();
        let pdf_path = dir.path().join("codes.pdf");
        std::fs::write(&pdf_path, render_pdf(&labels).unwrap()).unwrap();
        // PPM rather than -png: poppler's PNG encoder took most of the test's time.
        run(Command::new(pdftoppm)
            .args(["-r", "150"])
            .arg(&pdf_path)
            .arg(dir.path().join("page")));

        let pages: Vec<image::RgbImage> = files_with_extension(dir.path(), "ppm")
            .iter()
            .map(|path| read_ppm(path))
            .collect();
        assert_eq!(pages.len(), 7, "100 labels at 15 per page");
        // A4 at 150 dpi; poppler rounds the width up.
        let (width, height) = pages[0].dimensions();
        assert!((1240..=1241).contains(&width) && height == 1754, "{width}x{height}");
        let cells = cut_labels(&pages, 150, labels.len(), dir.path());
        assert_decoded_in_order(zbar_decode(&cells), &labels);
    }

    #[test]
    fn every_code_on_the_png_pages_decodes_with_zbar() {
        let labels = sample_labels(100);
        let dir = tempfile::tempdir().unwrap();
        let pages = render_png_pages(&labels, 150).unwrap();
        assert_eq!(pages.len(), 7);
        assert_eq!(pages[0].dimensions(), (1240, 1754), "A4 at 150 dpi");
        let cells = cut_labels(&pages, 150, labels.len(), dir.path());
        assert_decoded_in_order(zbar_decode(&cells), &labels);
    }

    #[test]
    fn svg_label_decodes_with_zbar_and_escapes_text() {
        let rsvg = require_tool("rsvg-convert", "librsvg2-bin");
        let mut label = sample_labels(4).pop().unwrap();
        label.title = "Pain & <Viennoiserie> \"l'an 2\"".to_owned();
        let svg = render_svg(&label).unwrap();
        assert!(svg.contains("Pain &amp; &lt;Viennoiserie&gt; &quot;l&apos;an 2&quot;"));
        assert!(!svg.contains("<Viennoiserie>"));

        let dir = tempfile::tempdir().unwrap();
        let svg_path = dir.path().join("label.svg");
        let png_path = dir.path().join("label.png");
        std::fs::write(&svg_path, &svg).unwrap();
        run(Command::new(rsvg)
            .args(["--dpi-x", "200", "--dpi-y", "200", "-b", "white", "-o"])
            .arg(&png_path)
            .arg(&svg_path));
        assert_eq!(zbar_decode(&[png_path]), vec![label.code_text]);
    }

    /// Parses the xref table back and checks that every offset points at its object.
    #[test]
    fn pdf_xref_offsets_point_at_their_objects() {
        let pdf = render_pdf(&sample_labels(20)).unwrap();
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));

        let text = String::from_utf8_lossy(&pdf);
        let startxref = text.rfind("startxref\n").unwrap();
        let xref_offset: usize = text[startxref + 10..].lines().next().unwrap().parse().unwrap();
        let xref = &pdf[xref_offset..];
        assert!(xref.starts_with(b"xref\n0 "));
        let header_end = xref.iter().position(|&b| b == b'\n').unwrap() + 1;
        let subsection_end = header_end + xref[header_end..].iter().position(|&b| b == b'\n').unwrap();
        let subsection = std::str::from_utf8(&xref[header_end..subsection_end]).unwrap();
        let (first, count) = subsection.split_once(' ').unwrap();
        assert_eq!(first, "0");
        let count: usize = count.parse().unwrap();
        // 5 shared objects + 2 pages of (page, content).
        assert_eq!(count, 10);

        let entries = &xref[subsection_end + 1..];
        assert_eq!(&entries[..20], b"0000000000 65535 f \n");
        for number in 1..count {
            let entry = std::str::from_utf8(&entries[number * 20..number * 20 + 20]).unwrap();
            assert!(entry.ends_with(" 00000 n \n"), "entry {number}: {entry:?}");
            let offset: usize = entry[..10].parse().unwrap();
            let expected = format!("{number} 0 obj\n");
            assert!(
                pdf[offset..].starts_with(expected.as_bytes()),
                "object {number} not at offset {offset}"
            );
        }
        assert!(text.contains(&format!("trailer\n<< /Size {count} /Root 1 0 R")));
        assert!(text.contains("/Count 2 >>"));
    }

    #[test]
    fn pdf_stream_lengths_match_their_data() {
        let pdf = render_pdf(&sample_labels(16)).unwrap();
        let mut streams = 0;
        let mut from = 0;
        while let Some(start) = find_bytes(&pdf, b"<< /Length ", from) {
            let length_end = find_bytes(&pdf, b" >>\nstream\n", start).unwrap();
            let length: usize = std::str::from_utf8(&pdf[start + 11..length_end])
                .unwrap()
                .parse()
                .unwrap();
            let data_start = length_end + 11;
            assert_eq!(&pdf[data_start + length..data_start + length + 10], b"\nendstream");
            streams += 1;
            from = data_start + length;
        }
        assert_eq!(streams, 2);
    }

    #[test]
    fn pdf_text_uses_winansi_and_shows_page_numbers() {
        let pdf = render_pdf(&sample_labels(16)).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/BaseFont /Helvetica /Encoding /WinAnsiEncoding"));
        assert!(text.contains("/BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding"));
        assert!(text.contains("(Finales nationales \\226 M\\351tiers de bouche) Tj"));
        assert!(text.contains("(Staff \\227 Boulangerie) Tj"));
        assert!(text.contains("(1 / 2) Tj"));
        assert!(text.contains("(2 / 2) Tj"));
    }

    #[test]
    fn winansi_maps_french_typography() {
        let chars = normalize_text("Finales nationales – Métiers de bouche ’ œ");
        let mut expected = b"Finales nationales ".to_vec();
        expected.extend_from_slice(&[0x96]);
        expected.extend_from_slice(b" M");
        expected.extend_from_slice(&[0xE9]);
        expected.extend_from_slice(b"tiers de bouche ");
        expected.extend_from_slice(&[0x92, b' ', 0x9C]);
        assert_eq!(winansi_bytes(&chars), expected);
        assert_eq!(
            winansi_bytes(&normalize_text("àçÉŒ€…«»")),
            [0xE0, 0xE7, 0xC9, 0x8C, 0x80, 0x85, 0xAB, 0xBB]
        );
    }

    #[test]
    fn decomposed_accents_are_composed_and_unmappable_become_question_marks() {
        let decomposed = "Me\u{301}tiers, Franc\u{327}ois";
        assert_eq!(winansi_bytes(&normalize_text(decomposed)), b"M\xE9tiers, Fran\xE7ois");
        assert_eq!(winansi_bytes(&normalize_text("Łódź → 日")), b"?\xF3d? ? ?");
    }

    #[test]
    fn pdf_strings_escape_delimiters_and_high_bytes() {
        assert_eq!(pdf_string(b"a(b)c\\d\xE9"), "(a\\(b\\)c\\\\d\\351)");
    }

    #[test]
    fn long_titles_shrink_then_get_an_ellipsis() {
        let max = 59.0;
        let short = fit_text("Salon", Font::Bold, 8.0, 5.5, max);
        assert_eq!(short.size_pt, 8.0);
        assert_eq!(short.text, "Salon".chars().collect::<Vec<_>>());

        let long = "Finales nationales – Métiers de bouche, boulangerie et pâtisserie artisanales 2026";
        let fitted = fit_text(long, Font::Bold, 8.0, 5.5, max);
        assert_eq!(fitted.size_pt, 5.5);
        assert_eq!(fitted.text.last(), Some(&'…'));
        assert!(fitted.width_mm <= max);
        assert!(fitted.width_mm > max - 3.0, "cut no more than needed");
    }

    #[test]
    fn helvetica_widths_match_the_standard_metrics() {
        // Spot checks against the Adobe AFM values.
        assert_eq!(glyph_width('W', Font::Regular), 944);
        assert_eq!(glyph_width('i', Font::Regular), 222);
        assert_eq!(glyph_width('i', Font::Bold), 278);
        assert_eq!(glyph_width('œ', Font::Regular), 944);
        assert_eq!(glyph_width('—', Font::Bold), 1000);
        assert_eq!(glyph_width('é', Font::Regular), 556);
        assert_eq!(glyph_width('@', Font::Bold), 975);
    }

    #[test]
    fn versions_and_capacity_at_level_m() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(qr_version(&random_code(&mut rng, 140)).unwrap(), 6);
        assert_eq!(qr_version(&random_code(&mut rng, 150)).unwrap(), 6);
        assert_eq!(qr_version(&random_code(&mut rng, 152)).unwrap(), 6);
        assert_eq!(qr_version(&random_code(&mut rng, 153)).unwrap(), 7);
        assert_eq!(qr_version(&random_code(&mut rng, MAX_CODE_CHARS - 2)).unwrap(), 7);
        assert!(matches!(
            qr_version(&random_code(&mut rng, MAX_CODE_CHARS - 1)),
            Err(PrintError::CodeTooLong {
                length: 179,
                max_length: 178,
                ..
            })
        ));
    }

    #[test]
    fn too_long_code_is_refused_everywhere() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let mut labels = sample_labels(3);
        labels[1].code_text = random_code(&mut rng, 180);
        let refused = |result: Result<(), PrintError>| match result {
            Err(PrintError::CodeTooLong {
                short_id,
                length,
                max_length,
            }) => {
                assert_eq!((short_id.as_str(), length, max_length), ("V-0001-M9PD", 182, 178));
            }
            other => panic!("expected CodeTooLong, got {other:?}"),
        };
        refused(render_pdf(&labels).map(drop));
        refused(render_png_pages(&labels, 100).map(drop));
        refused(render_svg(&labels[1]).map(drop));
        let message = render_pdf(&labels).unwrap_err().to_string();
        assert!(
            message.contains("of label V-0001-M9PD is 182 characters long"),
            "{message}"
        );
    }

    #[test]
    fn codes_use_one_alphanumeric_segment() {
        // Digit runs would make the default optimiser switch to numeric mode.
        let code = format!("BK{}", "2345672345".repeat(15));
        let bytes = alphanumeric_bits(&code, 7).unwrap().into_bytes();
        // Mode indicator 0010, then the 9-bit character count.
        assert_eq!(bytes[0] >> 4, 0b0010);
        let count = (u16::from(bytes[0] & 0x0F) << 5) | u16::from(bytes[1] >> 3);
        assert_eq!(usize::from(count), code.len());
    }

    #[test]
    fn characters_outside_the_alphanumeric_set_are_refused() {
        assert!(matches!(
            qr_version("BKabc"),
            Err(PrintError::UnsupportedCharacter {
                character: 'a',
                position: 2,
                ..
            })
        ));
        assert!(matches!(qr_version(""), Err(PrintError::EmptyCode { .. })));
        assert!(matches!(render_pdf(&[]), Err(PrintError::NothingToPrint)));
        assert!(matches!(
            render_png_pages(&sample_labels(1), 1200),
            Err(PrintError::DpiOutOfRange { dpi: 1200 })
        ));
    }

    #[test]
    fn dark_runs_redraw_the_exact_matrix() {
        let (_, qr) = encode(&sample_labels(1)[0].code_text, "").unwrap();
        let width = qr.width();
        let mut redrawn = vec![Color::Light; width * width];
        for run in dark_runs(&qr) {
            for column in run.column..run.column + run.length {
                redrawn[run.row * width + column] = Color::Dark;
            }
        }
        assert_eq!(redrawn, qr.to_colors());
    }

    #[test]
    fn csv_quotes_fields_for_mail_merge() {
        let labels = vec![
            Label {
                code_text: "BKAAAA".to_owned(),
                short_id: "S-0001".to_owned(),
                title: "Finales nationales – Métiers de bouche".to_owned(),
                subtitle: "Staff — Boulangerie, \"Chez Paul\"".to_owned(),
            },
            Label {
                code_text: "BKBBBB".to_owned(),
                short_id: "O-0002".to_owned(),
                title: "Ligne 1\nLigne 2".to_owned(),
                subtitle: "Organisateur".to_owned(),
            },
        ];
        let mut out = Vec::new();
        write_csv(&labels, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            text,
            "short_id,subtitle,title,code_text\n\
             S-0001,\"Staff — Boulangerie, \"\"Chez Paul\"\"\",Finales nationales – Métiers de bouche,BKAAAA\n\
             O-0002,Organisateur,\"Ligne 1\nLigne 2\",BKBBBB\n"
        );
        let records: Vec<csv::StringRecord> = csv::Reader::from_reader(out.as_slice())
            .records()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(&records[0][1], labels[0].subtitle);
        assert_eq!(&records[1][2], labels[1].title);
    }

    #[test]
    fn labels_stay_inside_the_page() {
        let (left, top) = cell_origin(LABELS_PER_PAGE - 1);
        assert!(left + CELL_WIDTH_MM <= PAGE_WIDTH_MM - 7.0);
        assert!(top + CELL_HEIGHT_MM < PAGE_NUMBER_BASELINE_MM - 3.0);
    }
}
