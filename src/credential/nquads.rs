//! RDF terms and their canonical N-Quads form (RDFC-1.0 §4.3, RDF 1.2 N-Quads canonical form).
//!
//! Escaping follows the canonical form used by RDFC-1.0 and by rdf-canonize ≥ 4 (what the
//! Digital Credentials Consortium verifier runs): in literals `\b \t \n \f \r \" \\` become
//! ECHARs, the other C0 controls and DEL become upper-case `\uXXXX`; everything else, emoji
//! included, is written as raw UTF-8. A different choice here changes every signature.

use std::borrow::Cow;

/// The `xsd:string` datatype, which canonical N-Quads leaves implicit.
pub const XSD_STRING: &str = "http://www.w3.org/2001/XMLSchema#string";

/// A blank node, numbered by whoever built the dataset; RDFC-1.0 relabels it.
pub type BlankId = usize;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Term<'a> {
    Iri(Cow<'a, str>),
    Blank(BlankId),
    /// A literal; `datatype` is `None` for `xsd:string`.
    Literal {
        value: Cow<'a, str>,
        datatype: Option<Cow<'a, str>>,
    },
}

impl<'a> Term<'a> {
    pub fn iri(iri: impl Into<Cow<'a, str>>) -> Self {
        Term::Iri(iri.into())
    }

    pub fn string(value: impl Into<Cow<'a, str>>) -> Self {
        Term::Literal {
            value: value.into(),
            datatype: None,
        }
    }

    pub fn typed(value: impl Into<Cow<'a, str>>, datatype: impl Into<Cow<'a, str>>) -> Self {
        let datatype = datatype.into();
        Term::Literal {
            value: value.into(),
            datatype: (datatype != XSD_STRING).then_some(datatype),
        }
    }

    pub fn blank_id(&self) -> Option<BlankId> {
        match self {
            Term::Blank(id) => Some(*id),
            _ => None,
        }
    }
}

/// A quad of the default graph or of a named graph (`graph: Some`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quad<'a> {
    pub subject: Term<'a>,
    pub predicate: Cow<'a, str>,
    pub object: Term<'a>,
    pub graph: Option<Term<'a>>,
}

impl<'a> Quad<'a> {
    pub fn new(subject: Term<'a>, predicate: impl Into<Cow<'a, str>>, object: Term<'a>) -> Self {
        Quad {
            subject,
            predicate: predicate.into(),
            object,
            graph: None,
        }
    }

    /// The blank nodes in subject, object and graph position, in that order (RDFC-1.0 §4.4.3 step 2).
    pub fn blank_nodes(&self) -> impl Iterator<Item = BlankId> + '_ {
        [
            self.subject.blank_id(),
            self.object.blank_id(),
            self.graph.as_ref().and_then(Term::blank_id),
        ]
        .into_iter()
        .flatten()
    }
}

/// Appends one canonical N-Quads line (with its trailing `\n`); `label` writes the name of a
/// blank node (without `_:`).
pub fn write_quad(out: &mut String, quad: &Quad<'_>, label: &impl Fn(BlankId, &mut String)) {
    write_term(out, &quad.subject, label);
    out.push_str(" <");
    write_iri(out, &quad.predicate);
    out.push_str("> ");
    write_term(out, &quad.object, label);
    if let Some(graph) = &quad.graph {
        out.push(' ');
        write_term(out, graph, label);
    }
    out.push_str(" .\n");
}

fn write_term(out: &mut String, term: &Term<'_>, label: &impl Fn(BlankId, &mut String)) {
    match term {
        Term::Iri(iri) => {
            out.push('<');
            write_iri(out, iri);
            out.push('>');
        }
        Term::Blank(id) => {
            out.push_str("_:");
            label(*id, out);
        }
        Term::Literal { value, datatype } => {
            out.push('"');
            write_literal(out, value);
            out.push('"');
            if let Some(datatype) = datatype {
                out.push_str("^^<");
                write_iri(out, datatype);
                out.push('>');
            }
        }
    }
}

fn write_literal(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => push_uchar(out, c),
            _ => out.push(c),
        }
    }
}

/// IRIs are written raw except for the characters N-Quads forbids inside `<…>`; the credential
/// shape refuses such IRIs anyway, this keeps the serializer total.
fn write_iri(out: &mut String, iri: &str) {
    for c in iri.chars() {
        match c {
            '\u{0}'..='\u{20}' | '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\' => push_uchar(out, c),
            _ => out.push(c),
        }
    }
}

fn push_uchar(out: &mut String, c: char) {
    out.push_str(&format!("\\u{:04X}", u32::from(c)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quad: &Quad<'_>) -> String {
        let mut out = String::new();
        write_quad(&mut out, quad, &|id, out: &mut String| out.push_str(&format!("b{id}")));
        out
    }

    #[test]
    fn literal_escapes_match_the_canonical_form() {
        let quad = Quad::new(
            Term::Blank(0),
            "https://schema.org/name",
            Term::string("Zoë \"Q\" \\ new\nline\ttab\r\u{8}\u{c}\u{1}\u{7f} 🎉"),
        );
        assert_eq!(
            line(&quad),
            "_:b0 <https://schema.org/name> \"Zoë \\\"Q\\\" \\\\ new\\nline\\ttab\\r\\b\\f\\u0001\\u007F 🎉\" .\n"
        );
    }

    #[test]
    fn xsd_string_datatype_is_implicit_and_others_are_written() {
        let plain = Term::typed("x", XSD_STRING);
        assert_eq!(plain, Term::string("x"));
        let quad = Quad::new(
            Term::iri("urn:a"),
            "urn:p",
            Term::typed("2010-01-01T00:00:00Z", "http://www.w3.org/2001/XMLSchema#dateTime"),
        );
        assert_eq!(
            line(&quad),
            "<urn:a> <urn:p> \"2010-01-01T00:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n"
        );
    }

    #[test]
    fn named_graph_and_forbidden_iri_characters() {
        let mut quad = Quad::new(Term::iri("urn:a b"), "urn:p", Term::Blank(3));
        quad.graph = Some(Term::Blank(4));
        assert_eq!(line(&quad), "<urn:a\\u0020b> <urn:p> _:b3 _:b4 .\n");
    }
}
