//! The same sheets as the PDF, rasterised: QR symbols, cut borders and the labels' text
//! (drawn with ab_glyph from the embedded DejaVu fonts), so a page held up to a camera or
//! printed without a PDF viewer still says what each label is.

use ab_glyph::{Font as _, GlyphId, PxScale};

use super::layout::{
    cell_origin, label_lines, page_number_line, QrPlacement, TextLine, CELL_HEIGHT_MM, CELL_WIDTH_MM, MM_PER_PT,
    PAGE_HEIGHT_MM, PAGE_WIDTH_MM,
};
use super::qr::{dark_runs, encode_all};
use super::{Label, PrintError, LABELS_PER_PAGE, MAX_DPI, MIN_DPI};

const BLACK: [u8; 3] = [0, 0, 0];
const PAGE_NUMBER_GREY: [u8; 3] = [77, 77, 77];

pub(super) fn render(labels: &[Label], dpi: u32) -> Result<Vec<image::RgbImage>, PrintError> {
    if !(MIN_DPI..=MAX_DPI).contains(&dpi) {
        return Err(PrintError::DpiOutOfRange { dpi });
    }
    let encoded = encode_all(labels)?;
    let raster = Raster::new(dpi);
    let page_count = encoded.chunks(LABELS_PER_PAGE).len();
    let mut pages = Vec::with_capacity(page_count);
    for (page, sheet) in encoded.chunks(LABELS_PER_PAGE).enumerate() {
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
                fill(&mut image, x0..x1, y0..y1, image::Rgb(BLACK));
            }
            for line in label_lines(label.label)? {
                raster.text(&mut image, &line, cell_left, cell_top, BLACK)?;
            }
        }
        let footer = page_number_line(page + 1, page_count)?;
        raster.text(&mut image, &footer, 0.0, 0.0, PAGE_NUMBER_GREY)?;
        pages.push(image);
    }
    Ok(pages)
}

pub(super) struct Raster {
    pixels_per_mm: f64,
}

impl Raster {
    pub(super) fn new(dpi: u32) -> Self {
        Self {
            pixels_per_mm: f64::from(dpi) / 25.4,
        }
    }

    /// Module edges are rounded independently, so neighbouring modules share
    /// an edge and no gap or overlap appears between them.
    pub(super) fn px(&self, mm: f64) -> u32 {
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

    /// Draws `line` (positioned in its cell at `left`, `top`), anti-aliased over white.
    fn text(
        &self,
        image: &mut image::RgbImage,
        line: &TextLine,
        left: f64,
        top: f64,
        color: [u8; 3],
    ) -> Result<(), PrintError> {
        let face = line.font.face()?;
        let font = face.rasteriser();
        let px_per_em = (line.size_pt * MM_PER_PT * self.pixels_per_mm) as f32;
        let units_per_em = font.units_per_em().unwrap_or(1000.0).max(1.0);
        // ab_glyph scales by the font's height (ascent − descent), not by its em.
        let scale = PxScale::from(px_per_em * font.height_unscaled() / units_per_em);
        let baseline = ((top + line.baseline_mm) * self.pixels_per_mm) as f32;
        let start = (left + line.start_x_mm()) * self.pixels_per_mm;
        for (glyph, offset_mm) in line.glyphs.iter().zip(line.glyph_offsets_mm()?) {
            let x = (start + offset_mm * self.pixels_per_mm) as f32;
            let positioned = GlyphId(*glyph).with_scale_and_position(scale, ab_glyph::point(x, baseline));
            let Some(outlined) = font.outline_glyph(positioned) else {
                continue; // a space
            };
            let bounds = outlined.px_bounds();
            outlined.draw(|dx, dy, coverage| {
                let px = bounds.min.x as i64 + i64::from(dx);
                let py = bounds.min.y as i64 + i64::from(dy);
                let (Ok(px), Ok(py)) = (u32::try_from(px), u32::try_from(py)) else {
                    return;
                };
                if px >= image.width() || py >= image.height() {
                    return;
                }
                let coverage = coverage.clamp(0.0, 1.0);
                let pixel = image.get_pixel_mut(px, py);
                for (channel, ink) in pixel.0.iter_mut().zip(color) {
                    let blended = f32::from(*channel) * (1.0 - coverage) + f32::from(ink) * coverage;
                    *channel = blended.round().clamp(0.0, 255.0) as u8;
                }
            });
        }
        Ok(())
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
