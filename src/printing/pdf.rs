//! A4 sheets of labels as a PDF 1.4 file, written by hand: QR symbols as filled runs, and
//! the text in DejaVu Sans embedded as subsetted CID fonts (Type0, Identity-H) with a
//! ToUnicode map, so any text of event.toml prints as written and copies, searches and
//! extracts (pdftotext) as written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;

use super::layout::{
    cell_origin, label_lines, page_number_line, pt, QrPlacement, TextLine, CELL_HEIGHT_MM, CELL_WIDTH_MM,
    PAGE_HEIGHT_MM, PAGE_WIDTH_MM,
};
use super::qr::{dark_runs, encode_all, EncodedLabel};
use super::text::Font;
use super::{num, Label, PrintError, LABELS_PER_PAGE};

/// Objects 1–3, then five per font (Type0, CIDFontType2, descriptor, font file,
/// ToUnicode), then a page and its content stream for every sheet.
const CATALOG: usize = 1;
const PAGES: usize = 2;
const INFO: usize = 3;
const FIRST_FONT_OBJECT: usize = 4;
const OBJECTS_PER_FONT: usize = 5;
const FIRST_PAGE_OBJECT: usize = FIRST_FONT_OBJECT + OBJECTS_PER_FONT * Font::ALL.len();

fn font_object(font: Font) -> usize {
    FIRST_FONT_OBJECT + OBJECTS_PER_FONT * Font::ALL.iter().position(|f| *f == font).unwrap_or(0)
}

fn page_object(page: usize) -> usize {
    FIRST_PAGE_OBJECT + 2 * page
}

/// Renders labels on A4 pages, [`LABELS_PER_PAGE`] per page.
pub(super) fn render(labels: &[Label]) -> Result<Vec<u8>, PrintError> {
    let encoded = encode_all(labels)?;
    let sheets: Vec<&[EncodedLabel<'_>]> = encoded.chunks(LABELS_PER_PAGE).collect();
    let page_count = sheets.len();

    // Every line first: the fonts are subsetted to the glyphs the document uses.
    let mut lines: Vec<Vec<(f64, f64, TextLine)>> = Vec::with_capacity(page_count);
    for (page, sheet) in sheets.iter().enumerate() {
        let mut page_lines = Vec::new();
        for (slot, label) in sheet.iter().enumerate() {
            let (left, top) = cell_origin(slot);
            for line in label_lines(label.label)? {
                page_lines.push((left, top, line));
            }
        }
        page_lines.push((0.0, 0.0, page_number_line(page + 1, page_count)?));
        lines.push(page_lines);
    }
    let mut used: BTreeMap<Font, BTreeMap<u16, char>> = BTreeMap::new();
    for (_, _, line) in lines.iter().flatten() {
        let glyphs = used.entry(line.font).or_default();
        for (glyph, c) in line.glyphs.iter().zip(&line.text) {
            glyphs.entry(*glyph).or_insert(*c);
        }
    }

    let mut pdf = PdfWriter::new();
    let kids: Vec<String> = (0..page_count)
        .map(|page| format!("{} 0 R", page_object(page)))
        .collect();
    pdf.object(CATALOG, format!("<< /Type /Catalog /Pages {PAGES} 0 R >>").as_bytes());
    pdf.object(
        PAGES,
        format!("<< /Type /Pages /Kids [{}] /Count {page_count} >>", kids.join(" ")).as_bytes(),
    );
    pdf.object(INFO, b"<< /Producer (badge-kiosk) /Title (Attendance codes) >>");

    let mut remappers = BTreeMap::new();
    for font in Font::ALL {
        let glyphs = used.remove(&font).unwrap_or_default();
        let remapper = embed_font(&mut pdf, font, &glyphs)?;
        remappers.insert(font, remapper);
    }

    let fonts: String = Font::ALL
        .iter()
        .map(|font| format!("/{} {} 0 R", font.pdf_name(), font_object(*font)))
        .collect::<Vec<_>>()
        .join(" ");
    for (page, sheet) in sheets.iter().enumerate() {
        let content = page_content(sheet, &lines[page], &remappers);
        pdf.object(
            page_object(page),
            format!(
                "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {} {}] \
                 /Resources << /Font << {fonts} >> >> /Contents {} 0 R >>",
                num(pt(PAGE_WIDTH_MM)),
                num(pt(PAGE_HEIGHT_MM)),
                page_object(page) + 1
            )
            .as_bytes(),
        );
        pdf.stream(page_object(page) + 1, "", &content);
    }
    Ok(pdf.finish(INFO))
}

/// Writes the five objects of one font, subsetted to `glyphs` (original glyph → the
/// character it shows), and returns how its glyphs are numbered in the subset.
fn embed_font(pdf: &mut PdfWriter, font: Font, glyphs: &BTreeMap<u16, char>) -> Result<GlyphRemapper, PrintError> {
    let face = font.face()?;
    let original: Vec<u16> = glyphs.keys().copied().collect();
    let remapper = GlyphRemapper::new_from_glyphs_sorted(&original);
    let program = subsetter::subset(face.data, 0, &remapper)
        .map_err(|error| PrintError::Font(format!("cannot subset {} ({error}): report this as a bug", face.name)))?;

    // A subset's name starts with a tag of six capitals (ISO 32000-1, 9.6.4), here
    // derived from the glyph set so the same labels give the same file.
    let mut hasher = Sha256::new();
    hasher.update(face.name.as_bytes());
    for glyph in &original {
        hasher.update(glyph.to_be_bytes());
    }
    let tag: String = hasher.finalize()[..6]
        .iter()
        .map(|byte| char::from(b'A' + byte % 26))
        .collect();
    let name = format!("{tag}+{}", face.name);

    // Subset glyph ids are used as CIDs (CIDToGIDMap /Identity).
    let mut by_cid: BTreeMap<u16, (u16, Option<char>)> = BTreeMap::new();
    by_cid.insert(0, (0, None));
    for (glyph, c) in glyphs {
        if let Some(cid) = remapper.get(*glyph) {
            by_cid.insert(cid, (*glyph, Some(*c)));
        }
    }
    let widths: Vec<String> = (0..remapper.num_gids())
        .map(|cid| {
            let glyph = by_cid.get(&cid).map_or(0, |(glyph, _)| *glyph);
            num(face.advance_thousandths(glyph))
        })
        .collect();

    let [x_min, y_min, x_max, y_max, ascent, descent, cap_height] = face.metrics();
    let base = font_object(font);
    pdf.object(
        base,
        format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H \
             /DescendantFonts [{} 0 R] /ToUnicode {} 0 R >>",
            base + 1,
            base + 4
        )
        .as_bytes(),
    );
    pdf.object(
        base + 1,
        format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
             /FontDescriptor {} 0 R /CIDToGIDMap /Identity /DW 1000 /W [0 [{}]] >>",
            base + 2,
            widths.join(" ")
        )
        .as_bytes(),
    );
    pdf.object(
        base + 2,
        format!(
            "<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{} {} {} {}] \
             /ItalicAngle 0 /Ascent {} /Descent {} /CapHeight {} /StemV {} /FontFile2 {} 0 R >>",
            num(x_min),
            num(y_min),
            num(x_max),
            num(y_max),
            num(ascent),
            num(descent),
            num(cap_height),
            if font == Font::Bold { 140 } else { 80 },
            base + 3
        )
        .as_bytes(),
    );
    pdf.stream(base + 3, &format!(" /Length1 {}", program.len()), &program);
    pdf.stream(base + 4, "", to_unicode(&by_cid).as_bytes());
    Ok(remapper)
}

/// The ToUnicode CMap: which text each CID shows, so the PDF copies and extracts as written.
fn to_unicode(by_cid: &BTreeMap<u16, (u16, Option<char>)>) -> String {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let mapped: Vec<(u16, char)> = by_cid.iter().filter_map(|(cid, (_, c))| c.map(|c| (*cid, c))).collect();
    // At most 100 entries per block (PDF reference, 5.9.2).
    for block in mapped.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", block.len());
        for (cid, c) in block {
            let mut units = [0u16; 2];
            let text: String = c.encode_utf16(&mut units).iter().map(|u| format!("{u:04X}")).collect();
            let _ = writeln!(cmap, "<{cid:04X}> <{text}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    cmap
}

fn page_content(
    sheet: &[EncodedLabel<'_>],
    lines: &[(f64, f64, TextLine)],
    remappers: &BTreeMap<Font, GlyphRemapper>,
) -> Vec<u8> {
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
    }

    let page_number = lines.len().saturating_sub(1);
    for (index, (left, top, line)) in lines.iter().enumerate() {
        if index == page_number {
            content.push_str("0.3 g\n");
        }
        let cids: String = line
            .glyphs
            .iter()
            .map(|glyph| {
                let cid = remappers.get(&line.font).and_then(|r| r.get(*glyph)).unwrap_or(0);
                format!("{cid:04X}")
            })
            .collect();
        let _ = writeln!(
            content,
            "BT /{} {} Tf {} {} Td <{cids}> Tj ET",
            line.font.pdf_name(),
            num(line.size_pt),
            x(left + line.start_x_mm()),
            y(top + line.baseline_mm),
        );
    }
    content.into_bytes()
}

/// Objects are written with the numbers given, each once; the cross-reference table lists
/// them in number order.
pub(super) struct PdfWriter {
    buffer: Vec<u8>,
    offsets: BTreeMap<usize, usize>,
}

impl PdfWriter {
    fn new() -> Self {
        // The binary comment tells transfer tools the file is not plain text.
        let mut buffer = b"%PDF-1.4\n%".to_vec();
        buffer.extend_from_slice(&[0xE2, 0xE3, 0xCF, 0xD3, b'\n']);
        Self {
            buffer,
            offsets: BTreeMap::new(),
        }
    }

    fn begin_object(&mut self, number: usize) {
        self.offsets.insert(number, self.buffer.len());
        self.buffer.extend_from_slice(format!("{number} 0 obj\n").as_bytes());
    }

    fn object(&mut self, number: usize, body: &[u8]) {
        self.begin_object(number);
        self.buffer.extend_from_slice(body);
        self.buffer.extend_from_slice(b"\nendobj\n");
    }

    /// A stream; `extra` adds entries to its dictionary (starting with a space).
    fn stream(&mut self, number: usize, extra: &str, data: &[u8]) {
        self.begin_object(number);
        self.buffer
            .extend_from_slice(format!("<< /Length {}{extra} >>\nstream\n", data.len()).as_bytes());
        self.buffer.extend_from_slice(data);
        self.buffer.extend_from_slice(b"\nendstream\nendobj\n");
    }

    fn finish(mut self, info_object: usize) -> Vec<u8> {
        let xref_offset = self.buffer.len();
        let size = self.offsets.keys().max().map_or(1, |last| last + 1);
        let mut xref = format!("xref\n0 {size}\n0000000000 65535 f \n");
        for number in 1..size {
            // Each entry is exactly 20 bytes, as the format requires; a number never
            // written (none, by construction) would be a free entry.
            match self.offsets.get(&number) {
                Some(offset) => {
                    let _ = writeln!(xref, "{offset:010} 00000 n ");
                }
                _ => xref.push_str("0000000000 65535 f \n"),
            }
        }
        let _ = write!(
            xref,
            "trailer\n<< /Size {size} /Root {CATALOG} 0 R /Info {info_object} 0 R >>\nstartxref\n{xref_offset}\n%%EOF\n"
        );
        self.buffer.extend_from_slice(xref.as_bytes());
        self.buffer
    }
}
