//! The labels' typeface: DejaVu Sans and DejaVu Sans Bold, embedded in the binary
//! (assets/fonts, Bitstream Vera licence: see LICENSE-DejaVu.txt there) so that a kiosk or
//! an organiser's laptop prints the same labels whatever fonts it has. They cover Latin,
//! Greek, Cyrillic and more: event and badge names print as written in event.toml.

use std::sync::OnceLock;

use super::PrintError;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Shown for a character the typeface does not have (a CJK ideograph, an emoji), so the
/// organiser sees that something is missing rather than a silently shortened name.
const MISSING: char = '\u{FFFD}';

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Font {
    Regular,
    Bold,
}

impl Font {
    pub(super) const ALL: [Font; 2] = [Font::Regular, Font::Bold];

    pub(super) fn face(self) -> Result<&'static Face, PrintError> {
        static FACES: OnceLock<Result<[Face; 2], String>> = OnceLock::new();
        let faces = FACES
            .get_or_init(|| {
                Ok([
                    Face::parse(REGULAR, "DejaVuSans")?,
                    Face::parse(BOLD, "DejaVuSans-Bold")?,
                ])
            })
            .as_ref()
            .map_err(|reason| PrintError::Font(reason.clone()))?;
        Ok(match self {
            Font::Regular => &faces[0],
            Font::Bold => &faces[1],
        })
    }

    pub(super) fn pdf_name(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
        }
    }
}

/// One embedded font: its bytes (for the PDF subset and the rasteriser) and its tables.
pub(super) struct Face {
    pub(super) data: &'static [u8],
    /// PostScript name, for the PDF.
    pub(super) name: &'static str,
    face: ttf_parser::Face<'static>,
    rasteriser: ab_glyph::FontRef<'static>,
}

impl Face {
    fn parse(data: &'static [u8], name: &'static str) -> Result<Self, String> {
        let face = ttf_parser::Face::parse(data, 0)
            .map_err(|error| format!("the embedded font {name} cannot be read ({error}): report this as a bug"))?;
        let rasteriser = ab_glyph::FontRef::try_from_slice(data)
            .map_err(|error| format!("the embedded font {name} cannot be drawn ({error}): report this as a bug"))?;
        Ok(Self {
            data,
            name,
            face,
            rasteriser,
        })
    }

    pub(super) fn units_per_em(&self) -> f64 {
        f64::from(self.face.units_per_em().max(1))
    }

    /// The glyph for `c`, if the typeface has one.
    pub(super) fn glyph(&self, c: char) -> Option<u16> {
        self.face.glyph_index(c).map(|id| id.0).filter(|id| *id != 0)
    }

    /// Advance width in font units.
    pub(super) fn advance(&self, glyph: u16) -> u16 {
        self.face.glyph_hor_advance(ttf_parser::GlyphId(glyph)).unwrap_or(0)
    }

    /// Advance width in thousandths of an em, as PDF widths are given.
    pub(super) fn advance_thousandths(&self, glyph: u16) -> f64 {
        f64::from(self.advance(glyph)) * 1000.0 / self.units_per_em()
    }

    /// (x min, y min, x max, y max, ascent, descent, cap height) in thousandths of an em.
    pub(super) fn metrics(&self) -> [f64; 7] {
        let scale = |value: i16| f64::from(value) * 1000.0 / self.units_per_em();
        let bbox = self.face.global_bounding_box();
        [
            scale(bbox.x_min),
            scale(bbox.y_min),
            scale(bbox.x_max),
            scale(bbox.y_max),
            scale(self.face.ascender()),
            scale(self.face.descender()),
            scale(self.face.capital_height().unwrap_or(self.face.ascender())),
        ]
    }

    pub(super) fn rasteriser(&self) -> &ab_glyph::FontRef<'static> {
        &self.rasteriser
    }
}

/// Text ready to lay out: the characters as they will print and their glyphs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shaped {
    pub(super) chars: Vec<char>,
    pub(super) glyphs: Vec<u16>,
}

/// Maps each character to a glyph of `face`, after [`normalize_text`]. One glyph per
/// character: the scripts DejaVu covers need no reordering for names on a label.
pub(super) fn shape(text: &str, face: &Face) -> Shaped {
    let mut shaped = Shaped {
        chars: Vec::new(),
        glyphs: Vec::new(),
    };
    for c in normalize_text(text) {
        let (c, glyph) = match face.glyph(c) {
            Some(glyph) => (c, glyph),
            None => (MISSING, face.glyph(MISSING).unwrap_or(0)),
        };
        shaped.chars.push(c);
        shaped.glyphs.push(glyph);
    }
    shaped
}

/// Composes base letter + combining mark (text pasted from macOS is often decomposed)
/// and replaces controls and unusual spaces, so every later step sees one char per glyph.
pub(super) fn normalize_text(text: &str) -> Vec<char> {
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
            '\u{2010}' | '\u{2011}' => '-',
            '\u{FFFE}' | '\u{FFFF}' => MISSING,
            c => c,
        };
        chars.push(c);
    }
    chars
}

fn compose(base: char, mark: char) -> Option<char> {
    let pairs = match mark {
        '\u{0300}' => "AÀEÈIÌOÒUÙaàeèiìoòuù",
        '\u{0301}' => "AÁEÉIÍOÓUÚYÝaáeéiíoóuúyýCĆcćNŃnńSŚsśZŹzź",
        '\u{0302}' => "AÂEÊIÎOÔUÛaâeêiîoôuû",
        '\u{0303}' => "AÃNÑOÕaãnñoõ",
        '\u{0306}' => "GĞgğ",
        '\u{0307}' => "ZŻzżIİ",
        '\u{0308}' => "AÄEËIÏOÖUÜYŸaäeëiïoöuüyÿ",
        '\u{030A}' => "AÅaå",
        '\u{030C}' => "SŠZŽsšzžCČcčRŘrřEĚeě",
        '\u{0327}' => "CÇcçSŞsş",
        '\u{0328}' => "AĄaąEĘeę",
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
