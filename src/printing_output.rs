//! Writes a batch of codes to the files an organiser prints or mail-merges.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::app::CodeToPrint;
use crate::domain::code::Role;
use crate::eventdir::EventDir;
use crate::printing::{self, Label};

pub fn role_label(event: &EventDir, role: &Role) -> String {
    match role {
        Role::Visitor => "Visiteur · Visitor".into(),
        Role::Staff { stand } => {
            let name = event
                .definition
                .stand(stand)
                .map_or(stand.as_str(), |s| s.name.fr.as_str());
            format!("Équipe · Staff — {name}")
        }
        Role::Organiser => "Organisation · Organiser".into(),
    }
}

pub fn labels(event: &EventDir, codes: &[CodeToPrint]) -> Vec<Label> {
    codes
        .iter()
        .map(|code| Label {
            code_text: code.text.clone(),
            short_id: code.short_id.clone(),
            title: event.definition.event.name.fr.clone(),
            subtitle: match &code.holder {
                Some(holder) => format!("{} · {holder}", role_label(event, &code.role)),
                None => role_label(event, &code.role),
            },
        })
        .collect()
}

/// Writes codes.pdf (A4 labels), codes-page-N.png (200 dpi), svg/SHORT-ID.svg, codes.csv
/// (mail merge) and codes.txt (one code per line, for scripts).
pub fn write_all(event: &EventDir, codes: &[CodeToPrint], out: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let labels = labels(event, codes);
    let pdf_path = out.join("codes.pdf");
    std::fs::write(&pdf_path, printing::render_pdf(&labels)?)
        .with_context(|| format!("writing {}", pdf_path.display()))?;
    written.push(pdf_path);
    for (index, page) in printing::render_png_pages(&labels, 200)?.iter().enumerate() {
        let path = out.join(format!("codes-page-{}.png", index + 1));
        page.save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    let svg_dir = out.join("svg");
    std::fs::create_dir_all(&svg_dir).with_context(|| format!("creating {}", svg_dir.display()))?;
    for label in &labels {
        std::fs::write(
            svg_dir.join(format!("{}.svg", label.short_id)),
            printing::render_svg(label)?,
        )?;
    }
    written.push(svg_dir);
    let csv_path = out.join("codes.csv");
    let mut writer = csv::Writer::from_path(&csv_path).with_context(|| format!("creating {}", csv_path.display()))?;
    writer.write_record(["short_id", "role", "holder", "event", "code"])?;
    for code in codes {
        writer.write_record([
            code.short_id.as_str(),
            role_label(event, &code.role).as_str(),
            code.holder.as_deref().unwrap_or(""),
            event.definition.event.name.fr.as_str(),
            code.text.as_str(),
        ])?;
    }
    writer.flush()?;
    written.push(csv_path);
    let text_path = out.join("codes.txt");
    let lines: String = codes.iter().map(|code| format!("{}\n", code.text)).collect();
    std::fs::write(&text_path, lines).with_context(|| format!("writing {}", text_path.display()))?;
    written.push(text_path);
    Ok(written)
}
