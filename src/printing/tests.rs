use super::layout::*;
use super::qr::*;
use super::text::*;
use super::*;
use qrcode::Color;
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
    // The free entry 0, 3 shared objects, 5 per font (regular, bold), 2 pages of (page, content).
    assert_eq!(count, 18);

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
        let digits: String = std::str::from_utf8(&pdf[start + 11..length_end])
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let length: usize = digits.parse().unwrap();
        let data_start = length_end + 11;
        assert_eq!(&pdf[data_start + length..data_start + length + 10], b"\nendstream");
        streams += 1;
        from = data_start + length;
    }
    // Two pages, and a font program and a ToUnicode map for each of the two fonts.
    assert_eq!(streams, 6);
}

/// Issue #16: names outside Windows-1252 print as written (they were "?" with Helvetica).
#[test]
fn a_pdf_for_any_script_extracts_as_written_with_pdftotext() {
    let pdftotext = require_tool("pdftotext", "poppler-utils");
    let pdffonts = require_tool("pdffonts", "poppler-utils");
    let name = "Łódź — Ἀθῆναι — Київ 2027";
    let mut labels = sample_labels(16);
    for label in &mut labels {
        label.title = name.to_owned();
    }
    // As printing_output writes a staff card's role: it must fit, not be cut.
    labels[1].subtitle = "Équipe · Staff — Boulangerie".to_owned();
    let dir = tempfile::tempdir().unwrap();
    let pdf_path = dir.path().join("codes.pdf");
    std::fs::write(&pdf_path, render_pdf(&labels).unwrap()).unwrap();
    let text = run(Command::new(&pdftotext).arg(&pdf_path).arg("-"));
    assert!(text.contains(name), "{text}");
    assert!(text.contains("Équipe · Staff — Boulangerie"), "{text}");
    assert!(text.contains("V-0015-M9PD"), "{text}");
    // pdftotext decides itself whether the gaps around "/" are spaces.
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(squeezed.contains("1/2") && squeezed.contains("2/2"), "{text}");
    assert!(!text.contains('?') && !text.contains('\u{FFFD}'), "{text}");

    // Both fonts embedded, subsetted, with a Unicode map.
    let fonts = run(Command::new(&pdffonts).arg(&pdf_path));
    let rows: Vec<&str> = fonts.lines().filter(|line| line.contains("DejaVuSans")).collect();
    assert_eq!(rows.len(), 2, "{fonts}");
    for row in rows {
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert!(
            columns[0].len() > 7 && columns[0].as_bytes()[6] == b'+',
            "subset tag: {row}"
        );
        // name, type (CID TrueType), encoding, emb, sub, uni, object, generation
        assert!(row.contains("CID TrueType"), "{row}");
        assert_eq!(
            columns[columns.len() - 5..columns.len() - 2],
            ["yes", "yes", "yes"],
            "{row}"
        );
    }
    // The subsets are small: the two full fonts are 1.4 MB.
    assert!(std::fs::metadata(&pdf_path).unwrap().len() < 400_000);
}

#[test]
fn decomposed_accents_are_composed_and_missing_glyphs_show_a_replacement() {
    let decomposed = "Me\u{301}tiers, Franc\u{327}ois, Lo\u{301}dz\u{301}";
    assert_eq!(
        normalize_text(decomposed).into_iter().collect::<String>(),
        "Métiers, François, Lódź"
    );
    let face = Font::Regular.face().unwrap();
    let shaped = shape("Kyïv 日", face);
    assert_eq!(shaped.chars, "Kyïv \u{FFFD}".chars().collect::<Vec<_>>());
    assert!(shaped.glyphs.iter().all(|glyph| *glyph != 0), "{shaped:?}");
}

#[test]
fn long_titles_shrink_then_get_an_ellipsis() {
    let max = 59.0;
    let short = fit_text("Salon", Font::Bold, 8.0, 5.5, max).unwrap();
    assert_eq!(short.size_pt, 8.0);
    assert_eq!(short.text, "Salon".chars().collect::<Vec<_>>());

    let long = "Finales nationales – Métiers de bouche, boulangerie et pâtisserie artisanales 2026";
    let fitted = fit_text(long, Font::Bold, 8.0, 5.5, max).unwrap();
    assert_eq!(fitted.size_pt, 5.5);
    assert_eq!(fitted.text.last(), Some(&'…'));
    assert!(fitted.width_mm <= max);
    assert!(fitted.width_mm > max - 3.0, "cut no more than needed");
}

#[test]
fn widths_come_from_the_embedded_fonts() {
    let width = |text: &str, font: Font| {
        let shaped = shape(text, font.face().unwrap());
        text_width_mm(&shaped.glyphs, font, 10.0).unwrap()
    };
    // Each glyph has its own advance, bold is wider, and an em at 10 pt is 3.53 mm.
    assert!(width("W", Font::Regular) > 2.0 * width("i", Font::Regular));
    assert!(width("Salon", Font::Bold) > width("Salon", Font::Regular));
    assert!((width("ii", Font::Regular) - 2.0 * width("i", Font::Regular)).abs() < 1e-9);
    assert!(
        (width("—", Font::Regular) - 10.0 * MM_PER_PT).abs() < 0.05,
        "an em dash is one em"
    );
    // Latin, Greek and Cyrillic letters all have glyphs in both fonts.
    for font in Font::ALL {
        let face = font.face().unwrap();
        for c in "ŁódźἈθῆναιКиївŞğıĞ€…«»".chars() {
            assert!(face.glyph(c).is_some(), "{c} missing from {}", face.name);
        }
    }
}

/// The PNG pages carry the PDF's text, at the same place: the dark pixels of each text
/// band drawn by ab_glyph overlap those poppler draws from the PDF.
#[test]
fn png_pages_carry_the_same_text_as_the_pdf() {
    let pdftoppm = require_tool("pdftoppm", "poppler-utils");
    let mut labels = sample_labels(3);
    labels[0].title = "Łódź — Ἀθῆναι — Київ 2027".to_owned();
    let dir = tempfile::tempdir().unwrap();
    let pdf_path = dir.path().join("codes.pdf");
    std::fs::write(&pdf_path, render_pdf(&labels).unwrap()).unwrap();
    run(Command::new(pdftoppm)
        .args(["-r", "150", "-singlefile"])
        .arg(&pdf_path)
        .arg(dir.path().join("page")));
    let from_pdf = read_ppm(&dir.path().join("page.ppm"));
    let png = render_png_pages(&labels, 150).unwrap().remove(0);
    let px = |mm: f64| (mm * 150.0 / 25.4).round() as u32;
    let dark = |image: &image::RgbImage, x: u32, y: u32| {
        image.get_pixel(x, y).0.iter().map(|c| u32::from(*c)).sum::<u32>() < 3 * 128
    };
    for slot in 0..labels.len() {
        let (left, top) = cell_origin(slot);
        // The title band (above the symbol) and the bottom band (role and short id).
        for (band_top, band_bottom) in [(0.4, 4.4), (49.6, 54.4)] {
            let (mut both, mut either, mut png_dark) = (0u32, 0u32, 0u32);
            for y in px(top + band_top)..px(top + band_bottom) {
                for x in px(left + 1.0)..px(left + CELL_WIDTH_MM - 1.0) {
                    let (a, b) = (dark(&png, x, y), dark(&from_pdf, x, y));
                    both += u32::from(a && b);
                    either += u32::from(a || b);
                    png_dark += u32::from(a);
                }
            }
            assert!(
                png_dark > 50,
                "label {slot}: no text drawn between {band_top} and {band_bottom} mm"
            );
            let overlap = f64::from(both) / f64::from(either);
            assert!(
                overlap > 0.5,
                "label {slot}, band at {band_top} mm: text overlap {overlap:.2}"
            );
        }
    }
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
