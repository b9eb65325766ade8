//! Baking (OB 3.0 §5.3): the signed credential travels inside the badge image.
//!
//! PNG: an uncompressed `iTXt` chunk with keyword `openbadgecredential`, placed before `IEND`.
//! SVG: an `<openbadges:credential>` element right inside the root, JSON in CDATA.
//! Baking replaces a credential already baked in, as the specification allows only one.

use serde_json::Value;

use super::CredentialError;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
const PNG_KEYWORD: &[u8] = b"openbadgecredential";
const SVG_NAMESPACE: &str = "https://purl.imsglobal.org/ob/v3p0";
const SVG_OPEN: &str = "<openbadges:credential";
const SVG_CLOSE: &str = "</openbadges:credential>";

/// A copy of `png` carrying `credential`.
pub fn bake_png(png: &[u8], credential: &Value) -> Result<Vec<u8>, CredentialError> {
    let chunks = png_chunks(png)?;
    let text = credential.to_string();
    let mut itxt = Vec::with_capacity(PNG_KEYWORD.len() + 5 + text.len());
    itxt.extend_from_slice(PNG_KEYWORD);
    // keyword NUL, compression flag 0 (uncompressed), method 0, empty language and
    // translated keyword, each NUL-terminated.
    itxt.extend_from_slice(&[0, 0, 0, 0, 0]);
    itxt.extend_from_slice(text.as_bytes());
    let chunk_length = u32::try_from(itxt.len()).map_err(|_| CredentialError::MalformedPng {
        reason: "the credential is too large for a PNG chunk".to_owned(),
    })?;

    let mut out = Vec::with_capacity(png.len() + itxt.len() + 12);
    out.extend_from_slice(&PNG_SIGNATURE);
    for chunk in chunks {
        if chunk.kind == *b"IEND" {
            out.extend_from_slice(&chunk_length.to_be_bytes());
            let start = out.len();
            out.extend_from_slice(b"iTXt");
            out.extend_from_slice(&itxt);
            let crc = crc32(out.get(start..).unwrap_or_default());
            out.extend_from_slice(&crc.to_be_bytes());
        }
        if !is_baked_credential(&chunk) {
            out.extend_from_slice(chunk.raw);
        }
    }
    Ok(out)
}

/// The credential baked into `png`.
pub fn extract_png(png: &[u8]) -> Result<Value, CredentialError> {
    let chunk = png_chunks(png)?
        .into_iter()
        .find(is_baked_credential)
        .ok_or(CredentialError::NoBakedCredential)?;
    let damaged = |reason: &str| CredentialError::MalformedPng {
        reason: reason.to_owned(),
    };
    // After the keyword and its NUL: compression flag, method, language\0, translated\0, text.
    let rest = chunk
        .data
        .get(PNG_KEYWORD.len() + 1..)
        .ok_or_else(|| damaged("iTXt chunk too short"))?;
    let (&compressed, rest) = rest.split_first().ok_or_else(|| damaged("iTXt chunk too short"))?;
    if compressed != 0 {
        return Err(damaged(
            "the baked credential is compressed, which OB 3.0 does not allow",
        ));
    }
    let rest = rest.get(1..).ok_or_else(|| damaged("iTXt chunk too short"))?;
    let text =
        skip_nul_terminated(skip_nul_terminated(rest).ok_or_else(|| damaged("iTXt language tag not terminated"))?)
            .ok_or_else(|| damaged("iTXt translated keyword not terminated"))?;
    parse_json(std::str::from_utf8(text).map_err(|_| damaged("the baked credential is not UTF-8"))?)
}

struct Chunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    /// Length, type, data and CRC as in the file.
    raw: &'a [u8],
}

/// Splits a PNG into chunks, checking lengths and CRCs; stops after `IEND`.
fn png_chunks(png: &[u8]) -> Result<Vec<Chunk<'_>>, CredentialError> {
    let damaged = |reason: &str| CredentialError::MalformedPng {
        reason: reason.to_owned(),
    };
    let mut rest = png.strip_prefix(&PNG_SIGNATURE).ok_or(CredentialError::NotPng)?;
    let mut chunks = Vec::new();
    loop {
        let length_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| damaged("it ends before IEND"))?;
        let length = usize::try_from(u32::from_be_bytes(length_bytes)).map_err(|_| damaged("chunk too long"))?;
        let total = length.checked_add(12).ok_or_else(|| damaged("chunk too long"))?;
        let raw = rest
            .get(..total)
            .ok_or_else(|| damaged("a chunk runs past the end of the file"))?;
        let kind: [u8; 4] = raw
            .get(4..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| damaged("chunk header cut"))?;
        let data = raw.get(8..8 + length).ok_or_else(|| damaged("chunk data cut"))?;
        let stored_crc = raw
            .get(8 + length..)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes);
        if stored_crc != Some(crc32(raw.get(4..8 + length).unwrap_or_default())) {
            return Err(damaged(&format!(
                "CRC mismatch in chunk {}",
                String::from_utf8_lossy(&kind)
            )));
        }
        chunks.push(Chunk { kind, data, raw });
        rest = rest.get(total..).unwrap_or_default();
        if kind == *b"IEND" {
            return Ok(chunks);
        }
    }
}

fn is_baked_credential(chunk: &Chunk<'_>) -> bool {
    chunk.kind == *b"iTXt" && chunk.data.starts_with(PNG_KEYWORD) && chunk.data.get(PNG_KEYWORD.len()) == Some(&0)
}

fn skip_nul_terminated(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().position(|&b| b == 0)?;
    bytes.get(end + 1..)
}

/// CRC-32 as PNG defines it (ISO 3309, the same as zlib's).
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A copy of `svg` carrying `credential`.
pub fn bake_svg(svg: &str, credential: &Value) -> Result<String, CredentialError> {
    let svg = remove_baked_svg(svg);
    let root = find_svg_root(&svg)?;
    // "]]>" can only occur inside a JSON string, where "\u003e" means the same '>'.
    let json = credential.to_string().replace("]]>", "]]\\u003e");
    let element = format!("<openbadges:credential><![CDATA[{json}]]></openbadges:credential>");
    let head = svg.get(..root.attributes_end).unwrap_or_default();
    let tail = svg.get(root.tag_end..).unwrap_or_default();
    let namespace = if head.contains("xmlns:openbadges=") {
        String::new()
    } else {
        format!(" xmlns:openbadges=\"{SVG_NAMESPACE}\"")
    };
    Ok(if root.self_closing {
        format!("{head}{namespace}>{element}</svg>{tail}")
    } else {
        format!("{head}{namespace}>{element}{tail}")
    })
}

/// The credential baked into `svg`.
pub fn extract_svg(svg: &str) -> Result<Value, CredentialError> {
    find_svg_root(svg)?;
    let start = svg.find(SVG_OPEN).ok_or(CredentialError::NoBakedCredential)?;
    let element = svg.get(start..).unwrap_or_default();
    let open_end = element.find('>').ok_or(CredentialError::NoBakedCredential)?;
    if element.get(..open_end).is_some_and(|tag| tag.ends_with('/')) {
        return Err(CredentialError::BakedCredentialNotJson {
            reason: "the element is empty; its credential is a JWT in a verify attribute".to_owned(),
        });
    }
    let body = element.get(open_end + 1..).unwrap_or_default();
    let content = body
        .find(SVG_CLOSE)
        .and_then(|end| body.get(..end))
        .ok_or(CredentialError::NoBakedCredential)?
        .trim();
    match content.strip_prefix("<![CDATA[").and_then(|c| c.strip_suffix("]]>")) {
        Some(cdata) => parse_json(cdata),
        None => parse_json(&unescape_xml(content)),
    }
}

struct SvgRoot {
    /// Index just before the `>` or `/>` that ends the root start tag.
    attributes_end: usize,
    /// Index just after that `>`.
    tag_end: usize,
    self_closing: bool,
}

/// Finds the root `<svg …>` start tag, skipping the XML declaration, comments and doctype.
fn find_svg_root(svg: &str) -> Result<SvgRoot, CredentialError> {
    let mut position = 0;
    while let Some(offset) = svg.get(position..).and_then(|s| s.find('<')) {
        let start = position + offset;
        let rest = svg.get(start..).unwrap_or_default();
        let skip_to = |terminator: &str| rest.find(terminator).map(|i| start + i + terminator.len());
        position = if rest.starts_with("<!--") {
            skip_to("-->").ok_or(CredentialError::NotSvg)?
        } else if rest.starts_with("<?") {
            skip_to("?>").ok_or(CredentialError::NotSvg)?
        } else if rest.starts_with("<!") {
            skip_to(">").ok_or(CredentialError::NotSvg)?
        } else if rest
            .strip_prefix("<svg")
            .is_some_and(|after| after.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/'))
        {
            return start_tag_end(svg, start + 4);
        } else {
            return Err(CredentialError::NotSvg);
        };
    }
    Err(CredentialError::NotSvg)
}

/// Scans attributes (quoted values may contain `>`) to the end of the start tag.
fn start_tag_end(svg: &str, from: usize) -> Result<SvgRoot, CredentialError> {
    let mut quote: Option<char> = None;
    for (offset, c) in svg.get(from..).unwrap_or_default().char_indices() {
        let index = from + offset;
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => {
                let self_closing = svg.get(..index).is_some_and(|s| s.ends_with('/'));
                return Ok(SvgRoot {
                    attributes_end: if self_closing { index - 1 } else { index },
                    tag_end: index + 1,
                    self_closing,
                });
            }
            (None, _) => {}
        }
    }
    Err(CredentialError::NotSvg)
}

/// Byte range of an existing `<openbadges:credential …>…</openbadges:credential>` or
/// `<openbadges:credential …/>` element.
fn baked_element(svg: &str) -> Option<(usize, usize)> {
    let start = svg.find(SVG_OPEN)?;
    let element = svg.get(start..)?;
    let open_end = element.find('>')?;
    let length = if element.get(..open_end)?.ends_with('/') {
        open_end + 1
    } else {
        element.find(SVG_CLOSE)? + SVG_CLOSE.len()
    };
    Some((start, start + length))
}

fn remove_baked_svg(svg: &str) -> String {
    match baked_element(svg) {
        Some((start, end)) => format!(
            "{}{}",
            svg.get(..start).unwrap_or_default(),
            svg.get(end..).unwrap_or_default()
        ),
        None => svg.to_owned(),
    }
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn parse_json(text: &str) -> Result<Value, CredentialError> {
    serde_json::from_str(text).map_err(|error| CredentialError::BakedCredentialNotJson {
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A 3×2 badge image encoded by the `image` crate (the kiosk's own PNG writer).
    fn tiny_png() -> Vec<u8> {
        let pixels = image::RgbaImage::from_fn(3, 2, |x, y| image::Rgba([x as u8 * 80, y as u8 * 120, 200, 255]));
        let mut png = Vec::new();
        pixels
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encodes");
        png
    }

    fn credential() -> Value {
        json!({"name": "Zoë's \"badge\" ]]> 🎉", "proof": {"proofValue": "z3x"}})
    }

    #[test]
    fn crc32_matches_the_known_iend_crc() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn png_round_trip_keeps_the_image_and_puts_the_chunk_before_iend() {
        let png = tiny_png();
        let baked = bake_png(&png, &credential()).expect("bakes");
        assert_eq!(extract_png(&baked).expect("extracts"), credential());
        let chunks = png_chunks(&baked).expect("valid PNG");
        let kinds: Vec<[u8; 4]> = chunks.iter().map(|c| c.kind).collect();
        assert_eq!(kinds.first(), Some(b"IHDR"));
        assert_eq!(kinds.get(kinds.len() - 2..), Some(&[*b"iTXt", *b"IEND"][..]));
    }

    #[test]
    fn baked_png_still_decodes_to_the_same_pixels() {
        let png = tiny_png();
        let baked = bake_png(&png, &credential()).expect("bakes");
        let before = image::load_from_memory(&png).expect("decodes").to_rgba8();
        let after = image::load_from_memory(&baked).expect("baked PNG decodes").to_rgba8();
        assert_eq!(before, after);
    }

    #[test]
    fn png_rebake_replaces_the_credential() {
        let once = bake_png(&tiny_png(), &json!({"n": 1})).expect("bakes");
        let twice = bake_png(&once, &json!({"n": 2})).expect("bakes");
        assert_eq!(extract_png(&twice).expect("extracts"), json!({"n": 2}));
        let count = png_chunks(&twice)
            .map(|c| c.iter().filter(|c| is_baked_credential(c)).count())
            .unwrap_or(0);
        assert_eq!(count, 1);
    }

    #[test]
    fn png_errors_explain_themselves() {
        assert!(matches!(
            bake_png(b"GIF89a", &credential()),
            Err(CredentialError::NotPng)
        ));
        assert!(matches!(
            extract_png(&tiny_png()),
            Err(CredentialError::NoBakedCredential)
        ));
        let mut corrupt = bake_png(&tiny_png(), &credential()).expect("bakes");
        let middle = corrupt.len() - 30;
        corrupt[middle] ^= 0xff;
        assert!(matches!(
            extract_png(&corrupt),
            Err(CredentialError::MalformedPng { .. })
        ));
        let truncated = tiny_png()[..20].to_vec();
        assert!(matches!(
            extract_png(&truncated),
            Err(CredentialError::MalformedPng { .. })
        ));
    }

    const SVG: &str = "<?xml version=\"1.0\"?>\n<!-- badge > art -->\n<svg xmlns=\"http://www.w3.org/2000/svg\" data-x=\"a>b\" viewBox=\"0 0 10 10\"><circle r=\"5\"/></svg>\n";

    #[test]
    fn svg_round_trip_with_namespace_and_cdata() {
        let baked = bake_svg(SVG, &credential()).expect("bakes");
        assert!(baked.contains("xmlns:openbadges=\"https://purl.imsglobal.org/ob/v3p0\""));
        assert!(baked.contains("data-x=\"a>b\" viewBox=\"0 0 10 10\" xmlns:openbadges="));
        assert!(baked.contains("><openbadges:credential><![CDATA[{"));
        assert!(baked.ends_with("<circle r=\"5\"/></svg>\n"));
        assert_eq!(extract_svg(&baked).expect("extracts"), credential());
    }

    #[test]
    fn svg_self_closing_root_and_rebake() {
        let baked = bake_svg("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", &json!({"n": 1})).expect("bakes");
        assert!(baked.ends_with("</openbadges:credential></svg>"));
        let rebaked = bake_svg(&baked, &json!({"n": 2})).expect("bakes");
        assert_eq!(rebaked.matches("<openbadges:credential>").count(), 1);
        assert_eq!(rebaked.matches("xmlns:openbadges=").count(), 1);
        assert_eq!(extract_svg(&rebaked).expect("extracts"), json!({"n": 2}));
    }

    #[test]
    fn svg_entity_encoded_content_is_read_too() {
        let svg = "<svg xmlns:openbadges=\"https://purl.imsglobal.org/ob/v3p0\"><openbadges:credential>{&quot;a&quot;: &quot;&lt;b&gt;&quot;}</openbadges:credential></svg>";
        assert_eq!(extract_svg(svg).expect("extracts"), json!({"a": "<b>"}));
    }

    #[test]
    fn svg_errors_explain_themselves() {
        assert!(matches!(
            bake_svg("<html></html>", &credential()),
            Err(CredentialError::NotSvg)
        ));
        assert!(matches!(extract_svg(SVG), Err(CredentialError::NoBakedCredential)));
        let jwt = "<svg><openbadges:credential verify=\"eyJ.x.y\"/></svg>";
        assert!(matches!(
            extract_svg(jwt),
            Err(CredentialError::BakedCredentialNotJson { .. })
        ));
        let rebaked = bake_svg(jwt, &json!({"n": 1})).expect("replaces the JWT element");
        assert!(!rebaked.contains("verify="));
    }
}
