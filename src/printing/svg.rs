//! One label as a standalone SVG document sized in millimetres (UTF-8 text, laid out with
//! the same DejaVu metrics as the PDF).

use std::fmt::Write as _;

use super::layout::{label_lines, Align, QrPlacement, CELL_HEIGHT_MM, CELL_WIDTH_MM, MM_PER_PT};
use super::qr::{dark_runs, encode};
use super::text::Font;
use super::{num, Label, PrintError};

pub(super) fn render(label: &Label) -> Result<String, PrintError> {
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
    for line in label_lines(label)? {
        let anchor = match line.align {
            Align::Start => "start",
            Align::Middle => "middle",
            Align::End => "end",
        };
        let weight = match line.font {
            Font::Regular => "normal",
            Font::Bold => "bold",
        };
        let text: String = line.text.iter().collect();
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-family=\"'DejaVu Sans', Verdana, sans-serif\" font-weight=\"{weight}\" \
             font-size=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            num(line.x_mm),
            num(line.baseline_mm),
            num(line.size_pt * MM_PER_PT),
            xml_escape(&text)
        );
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

pub(super) fn xml_escape(text: &str) -> String {
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
