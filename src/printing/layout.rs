//! Sheet geometry and the text lines of a label, all in millimetres from the top-left
//! corner of the page (or of the label's cell). The PDF, the PNG pages and the SVG draw
//! exactly these boxes and lines.

use qrcode::QrCode;

use super::text::{shape, Font};
use super::{Label, PrintError, COLUMNS};

pub(super) const PAGE_WIDTH_MM: f64 = 210.0;
pub(super) const PAGE_HEIGHT_MM: f64 = 297.0;
pub(super) const CELL_WIDTH_MM: f64 = 65.0;
pub(super) const CELL_HEIGHT_MM: f64 = 55.0;
/// 7.5 mm side margins and an 8 mm top margin keep the labels out of the
/// unprintable border of office printers; the bottom margin holds the page number.
pub(super) const GRID_LEFT_MM: f64 = (PAGE_WIDTH_MM - CELL_WIDTH_MM * COLUMNS as f64) / 2.0;
pub(super) const GRID_TOP_MM: f64 = 8.0;
pub(super) const PAGE_NUMBER_BASELINE_MM: f64 = PAGE_HEIGHT_MM - 7.0;
/// Symbol size including the 4-module quiet zone.
const QR_SIZE_MM: f64 = 45.0;
const QR_TOP_MM: f64 = 4.6;
const QUIET_ZONE_MODULES: usize = 4;
const TEXT_INSET_MM: f64 = 3.0;
const TITLE_BASELINE_MM: f64 = 3.6;
const BOTTOM_BASELINE_MM: f64 = 52.6;
pub(super) const MM_PER_PT: f64 = 25.4 / 72.0;
pub(super) const PAGE_NUMBER_PT: f64 = 8.0;

// The symbol's quiet zone must stay clear of the text lines.
const _: () = assert!(QR_TOP_MM > TITLE_BASELINE_MM + 0.5);
const _: () = assert!(QR_TOP_MM + QR_SIZE_MM < BOTTOM_BASELINE_MM - 2.0);

pub(super) fn pt(mm: f64) -> f64 {
    mm / MM_PER_PT
}

pub(super) fn cell_origin(slot: usize) -> (f64, f64) {
    let column = slot % COLUMNS;
    let row = slot / COLUMNS;
    (
        GRID_LEFT_MM + CELL_WIDTH_MM * column as f64,
        GRID_TOP_MM + CELL_HEIGHT_MM * row as f64,
    )
}

/// Where the modules of one symbol land on the page.
pub(super) struct QrPlacement {
    left_mm: f64,
    top_mm: f64,
    pub(super) module_mm: f64,
}

impl QrPlacement {
    pub(super) fn new(qr: &QrCode, cell_left: f64, cell_top: f64) -> Self {
        let modules = qr.width() + 2 * QUIET_ZONE_MODULES;
        let module_mm = QR_SIZE_MM / modules as f64;
        Self {
            left_mm: cell_left + (CELL_WIDTH_MM - QR_SIZE_MM) / 2.0 + module_mm * QUIET_ZONE_MODULES as f64,
            top_mm: cell_top + QR_TOP_MM + module_mm * QUIET_ZONE_MODULES as f64,
            module_mm,
        }
    }

    pub(super) fn module_x(&self, column: usize) -> f64 {
        self.left_mm + self.module_mm * column as f64
    }

    pub(super) fn module_y(&self, row: usize) -> f64 {
        self.top_mm + self.module_mm * row as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Start,
    Middle,
    End,
}

/// A line of text fitted to its box, positioned inside its cell (or on the page).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TextLine {
    /// The characters as printed (after normalisation, cuts and substitutions).
    pub(super) text: Vec<char>,
    /// One glyph of `font` per character.
    pub(super) glyphs: Vec<u16>,
    pub(super) font: Font,
    pub(super) size_pt: f64,
    pub(super) width_mm: f64,
    pub(super) x_mm: f64,
    pub(super) baseline_mm: f64,
    pub(super) align: Align,
}

impl TextLine {
    pub(super) fn start_x_mm(&self) -> f64 {
        match self.align {
            Align::Start => self.x_mm,
            Align::Middle => self.x_mm - self.width_mm / 2.0,
            Align::End => self.x_mm - self.width_mm,
        }
    }

    /// Where each glyph starts, in millimetres from the line's start.
    pub(super) fn glyph_offsets_mm(&self) -> Result<Vec<f64>, PrintError> {
        let face = self.font.face()?;
        let mut at = 0.0;
        Ok(self
            .glyphs
            .iter()
            .map(|glyph| {
                let start = at;
                at += face.advance_thousandths(*glyph) / 1000.0 * self.size_pt * MM_PER_PT;
                start
            })
            .collect())
    }
}

/// Title centred above the symbol; role at the bottom left and the short id,
/// bold and larger because people type it, at the bottom right.
pub(super) fn label_lines(label: &Label) -> Result<[TextLine; 3], PrintError> {
    let inner_width = CELL_WIDTH_MM - 2.0 * TEXT_INSET_MM;
    let short_id = fit_text(&label.short_id, Font::Bold, 9.0, 6.0, inner_width / 2.0)?;
    let subtitle_width = inner_width - short_id.width_mm - 2.0;
    let subtitle = fit_text(&label.subtitle, Font::Regular, 7.0, 5.0, subtitle_width)?;
    let title = fit_text(&label.title, Font::Bold, 8.0, 5.5, inner_width)?;
    Ok([
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
    ])
}

/// "3 / 7", centred at the bottom of the page.
pub(super) fn page_number_line(page_number: usize, page_count: usize) -> Result<TextLine, PrintError> {
    let line = fit_text(
        &format!("{page_number} / {page_count}"),
        Font::Regular,
        PAGE_NUMBER_PT,
        PAGE_NUMBER_PT,
        PAGE_WIDTH_MM,
    )?;
    Ok(TextLine {
        x_mm: PAGE_WIDTH_MM / 2.0,
        baseline_mm: PAGE_NUMBER_BASELINE_MM,
        align: Align::Middle,
        ..line
    })
}

pub(super) fn text_width_mm(glyphs: &[u16], font: Font, size_pt: f64) -> Result<f64, PrintError> {
    let face = font.face()?;
    let thousandths: f64 = glyphs.iter().map(|glyph| face.advance_thousandths(*glyph)).sum();
    Ok(thousandths / 1000.0 * size_pt * MM_PER_PT)
}

/// Shrinks the text down to `min_pt`, then cuts it with an ellipsis, so that
/// long event names never spill into the neighbouring label.
pub(super) fn fit_text(
    text: &str,
    font: Font,
    nominal_pt: f64,
    min_pt: f64,
    max_width_mm: f64,
) -> Result<TextLine, PrintError> {
    let face = font.face()?;
    let mut shaped = shape(text, face);
    let nominal_width = text_width_mm(&shaped.glyphs, font, nominal_pt)?;
    let size_pt = if nominal_width <= max_width_mm {
        nominal_pt
    } else {
        (nominal_pt * max_width_mm / nominal_width).max(min_pt)
    };
    // The tolerance keeps a text shrunk to exactly the width from being cut by rounding.
    if text_width_mm(&shaped.glyphs, font, size_pt)? > max_width_mm + 1e-6 {
        let ellipsis = shape("…", face);
        let budget = max_width_mm - text_width_mm(&ellipsis.glyphs, font, size_pt)?;
        let mut used = 0.0;
        let mut kept = 0;
        for glyph in &shaped.glyphs {
            used += text_width_mm(std::slice::from_ref(glyph), font, size_pt)?;
            if used > budget {
                break;
            }
            kept += 1;
        }
        shaped.chars.truncate(kept);
        shaped.glyphs.truncate(kept);
        while shaped.chars.last().is_some_and(|c| c.is_whitespace()) {
            shaped.chars.pop();
            shaped.glyphs.pop();
        }
        shaped.chars.extend(ellipsis.chars);
        shaped.glyphs.extend(ellipsis.glyphs);
    }
    Ok(TextLine {
        width_mm: text_width_mm(&shaped.glyphs, font, size_pt)?,
        text: shaped.chars,
        glyphs: shaped.glyphs,
        font,
        size_pt,
        x_mm: 0.0,
        baseline_mm: 0.0,
        align: Align::Start,
    })
}
