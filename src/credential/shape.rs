//! The closed vocabulary: which credential JSON we canonicalize, and the RDF it denotes.
//!
//! Instead of a general JSON-LD processor, each kind of node the kiosk reads or writes has a
//! table of the properties it may carry, with the IRI and value coercion that the credentials
//! v2 and Open Badges 3.0.3 contexts give that term *in that node* (type-scoped contexts
//! included). Walking a JSON document with these tables yields exactly the quads that JSON-LD
//! expansion + toRdf yields for it — the `tests/credential_dcc.rs` suite checks that against
//! jsonld.js, and a unit test below checks every table entry against the bundled contexts.
//! Anything outside the tables (an unknown property, a number, a null, a relative IRI, another
//! `@context`) is refused with its path, never silently dropped: a dropped property would be
//! left out of the signature.
//!
//! Two restrictions keep the canonical form identical to rdf-canonize's (see `rdfc.rs`): IRIs
//! are ASCII, and one node id is described by at most one JSON object, so no two quads share a
//! subject and predicate with different literal objects.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use super::nquads::{BlankId, Quad, Term};
use super::CredentialError;

pub const CREDENTIALS_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
pub const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const XSD_DATE_TIME: &str = "http://www.w3.org/2001/XMLSchema#dateTime";
// The OB context spells these two with https; the IRI is what gets signed.
const OB_XSD_ANY_URI: &str = "https://www.w3.org/2001/XMLSchema#anyURI";
const OB_XSD_BOOLEAN: &str = "https://www.w3.org/2001/XMLSchema#boolean";

/// What a property's JSON value denotes.
enum Range {
    /// A string, as a literal of this datatype (`None`: xsd:string).
    Text(Option<&'static str>),
    /// A string that is an IRI (`"@type": "@id"`).
    Iri,
    /// A JSON boolean, as a literal of this datatype.
    Boolean(&'static str),
    /// A JSON object described by `shape`; with `reference`, a string IRI is accepted too.
    Node { shape: &'static Shape, reference: bool },
    /// A term of this table, expanded to its IRI (`"@type": "@vocab"`).
    Vocab(&'static [(&'static str, &'static str)]),
}

struct Property {
    term: &'static str,
    iri: &'static str,
    range: Range,
    /// Whether a JSON array of values is accepted.
    many: bool,
}

#[derive(PartialEq)]
enum IdRule {
    Required,
    Optional,
    Absent,
}

struct Shape {
    /// For error messages.
    name: &'static str,
    /// The exact set of `type` values (term, IRI); empty: no `type` key. The type brings the
    /// type-scoped context that `properties` were read from.
    types: &'static [(&'static str, &'static str)],
    id: IdRule,
    properties: &'static [Property],
}

const fn text(term: &'static str, iri: &'static str) -> Property {
    Property {
        term,
        iri,
        range: Range::Text(None),
        many: false,
    }
}

const fn node(term: &'static str, iri: &'static str, shape: &'static Shape, reference: bool, many: bool) -> Property {
    Property {
        term,
        iri,
        range: Range::Node { shape, reference },
        many,
    }
}

const NAME: Property = text("name", "https://schema.org/name");
const DESCRIPTION: Property = text("description", "https://schema.org/description");
const NARRATIVE: Property = text(
    "narrative",
    "https://purl.imsglobal.org/spec/vc/ob/vocab.html#narrative",
);
const IMAGE: Property = node(
    "image",
    "https://purl.imsglobal.org/spec/vc/ob/vocab.html#image",
    &IMAGE_SHAPE,
    true,
    false,
);
const VALID_FROM: Property = Property {
    term: "validFrom",
    iri: "https://www.w3.org/2018/credentials#validFrom",
    range: Range::Text(Some(XSD_DATE_TIME)),
    many: false,
};
const VALID_UNTIL: Property = Property {
    term: "validUntil",
    iri: "https://www.w3.org/2018/credentials#validUntil",
    range: Range::Text(Some(XSD_DATE_TIME)),
    many: false,
};
const ISSUER: Property = node(
    "issuer",
    "https://www.w3.org/2018/credentials#issuer",
    &PROFILE,
    false,
    false,
);
const CREDENTIAL_SUBJECT_IRI: &str = "https://www.w3.org/2018/credentials#credentialSubject";

static OPEN_BADGE_CREDENTIAL: Shape = Shape {
    name: "OpenBadgeCredential",
    types: &[
        (
            "VerifiableCredential",
            "https://www.w3.org/2018/credentials#VerifiableCredential",
        ),
        (
            "OpenBadgeCredential",
            "https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential",
        ),
    ],
    id: IdRule::Optional,
    properties: &[
        NAME,
        DESCRIPTION,
        ISSUER,
        VALID_FROM,
        VALID_UNTIL,
        node(
            "credentialSubject",
            CREDENTIAL_SUBJECT_IRI,
            &ACHIEVEMENT_SUBJECT,
            false,
            false,
        ),
        node(
            "evidence",
            "https://www.w3.org/2018/credentials#evidence",
            &EVIDENCE,
            false,
            true,
        ),
    ],
};

static ENDORSEMENT_CREDENTIAL: Shape = Shape {
    name: "EndorsementCredential",
    types: &[
        (
            "VerifiableCredential",
            "https://www.w3.org/2018/credentials#VerifiableCredential",
        ),
        (
            "EndorsementCredential",
            "https://purl.imsglobal.org/spec/vc/ob/vocab.html#EndorsementCredential",
        ),
    ],
    id: IdRule::Optional,
    properties: &[
        NAME,
        DESCRIPTION,
        ISSUER,
        VALID_FROM,
        VALID_UNTIL,
        node(
            "credentialSubject",
            CREDENTIAL_SUBJECT_IRI,
            &ENDORSEMENT_SUBJECT,
            false,
            false,
        ),
    ],
};

static PROFILE: Shape = Shape {
    name: "Profile",
    types: &[("Profile", "https://purl.imsglobal.org/spec/vc/ob/vocab.html#Profile")],
    id: IdRule::Required,
    properties: &[
        NAME,
        DESCRIPTION,
        Property {
            term: "url",
            iri: "https://schema.org/url",
            range: Range::Text(Some(OB_XSD_ANY_URI)),
            many: false,
        },
        text("email", "https://schema.org/email"),
        IMAGE,
    ],
};

static IMAGE_SHAPE: Shape = Shape {
    name: "Image",
    types: &[("Image", "https://purl.imsglobal.org/spec/vc/ob/vocab.html#Image")],
    id: IdRule::Required,
    properties: &[text("caption", "https://schema.org/caption")],
};

static ACHIEVEMENT_SUBJECT: Shape = Shape {
    name: "AchievementSubject",
    types: &[(
        "AchievementSubject",
        "https://purl.imsglobal.org/spec/vc/ob/vocab.html#AchievementSubject",
    )],
    id: IdRule::Optional,
    properties: &[
        node(
            "achievement",
            "https://purl.imsglobal.org/spec/vc/ob/vocab.html#achievement",
            &ACHIEVEMENT,
            false,
            false,
        ),
        node(
            "identifier",
            "https://purl.imsglobal.org/spec/vc/ob/vocab.html#identifier",
            &IDENTITY_OBJECT,
            false,
            true,
        ),
    ],
};

static IDENTITY_OBJECT: Shape = Shape {
    name: "IdentityObject",
    types: &[(
        "IdentityObject",
        "https://purl.imsglobal.org/spec/vc/ob/vocab.html#IdentityObject",
    )],
    id: IdRule::Absent,
    properties: &[
        Property {
            term: "hashed",
            iri: "https://purl.imsglobal.org/spec/vc/ob/vocab.html#hashed",
            range: Range::Boolean(OB_XSD_BOOLEAN),
            many: false,
        },
        text(
            "identityHash",
            "https://purl.imsglobal.org/spec/vc/ob/vocab.html#identityHash",
        ),
        text(
            "identityType",
            "https://purl.imsglobal.org/spec/vc/ob/vocab.html#identityType",
        ),
        text("salt", "https://purl.imsglobal.org/spec/vc/ob/vocab.html#salt"),
    ],
};

static ACHIEVEMENT: Shape = Shape {
    name: "Achievement",
    types: &[(
        "Achievement",
        "https://purl.imsglobal.org/spec/vc/ob/vocab.html#Achievement",
    )],
    id: IdRule::Required,
    properties: &[
        NAME,
        DESCRIPTION,
        // The OB context really maps `criteria` to the class IRI `…#Criteria`.
        node(
            "criteria",
            "https://purl.imsglobal.org/spec/vc/ob/vocab.html#Criteria",
            &CRITERIA,
            true,
            false,
        ),
        IMAGE,
        text(
            "achievementType",
            "https://purl.imsglobal.org/spec/vc/ob/vocab.html#achievementType",
        ),
    ],
};

static CRITERIA: Shape = Shape {
    name: "Criteria",
    types: &[],
    id: IdRule::Optional,
    properties: &[NARRATIVE],
};

static EVIDENCE: Shape = Shape {
    name: "Evidence",
    types: &[("Evidence", "https://purl.imsglobal.org/spec/vc/ob/vocab.html#Evidence")],
    id: IdRule::Optional,
    properties: &[
        NAME,
        DESCRIPTION,
        NARRATIVE,
        text("genre", "https://schema.org/genre"),
        text("audience", "https://schema.org/audience"),
    ],
};

static ENDORSEMENT_SUBJECT: Shape = Shape {
    name: "EndorsementSubject",
    types: &[(
        "EndorsementSubject",
        "https://purl.imsglobal.org/spec/vc/ob/vocab.html#EndorsementSubject",
    )],
    id: IdRule::Required,
    properties: &[text(
        "endorsementComment",
        "https://purl.imsglobal.org/spec/vc/ob/vocab.html#endorsementComment",
    )],
};

/// Proof options: the proof without `proofValue`, read with the credential's `@context`.
static DATA_INTEGRITY_PROOF: Shape = Shape {
    name: "DataIntegrityProof",
    types: &[("DataIntegrityProof", "https://w3id.org/security#DataIntegrityProof")],
    id: IdRule::Absent,
    properties: &[
        Property {
            term: "created",
            iri: "http://purl.org/dc/terms/created",
            range: Range::Text(Some(XSD_DATE_TIME)),
            many: false,
        },
        Property {
            term: "verificationMethod",
            iri: "https://w3id.org/security#verificationMethod",
            range: Range::Iri,
            many: false,
        },
        Property {
            term: "cryptosuite",
            iri: "https://w3id.org/security#cryptosuite",
            range: Range::Text(Some("https://w3id.org/security#cryptosuiteString")),
            many: false,
        },
        Property {
            term: "proofPurpose",
            iri: "https://w3id.org/security#proofPurpose",
            range: Range::Vocab(&[("assertionMethod", "https://w3id.org/security#assertionMethod")]),
            many: false,
        },
    ],
};

/// Which credential a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    OpenBadge,
    Endorsement,
}

impl CredentialKind {
    fn shape(self) -> &'static Shape {
        match self {
            CredentialKind::OpenBadge => &OPEN_BADGE_CREDENTIAL,
            CredentialKind::Endorsement => &ENDORSEMENT_CREDENTIAL,
        }
    }
}

/// The quads of a credential document; its `proof`, if any, is left out (it is not signed).
pub fn credential_quads(document: &Map<String, Value>) -> Result<(CredentialKind, Vec<Quad<'_>>), CredentialError> {
    check_context(document.get("@context"))?;
    let kind = credential_kind(document)?;
    let mut walker = Walker::default();
    walker.node(document, kind.shape(), &Path::Root, &["@context", "proof"])?;
    Ok((kind, walker.quads))
}

/// The quads of proof options (the proof object without `proofValue`), read with the
/// credential's context, which the caller has checked.
pub fn proof_options_quads(proof: &Map<String, Value>) -> Result<Vec<Quad<'_>>, CredentialError> {
    let mut walker = Walker::default();
    walker.node(
        proof,
        &DATA_INTEGRITY_PROOF,
        &Path::Key(&Path::Root, "proof"),
        &["proofValue"],
    )?;
    Ok(walker.quads)
}

pub fn check_context(context: Option<&Value>) -> Result<(), CredentialError> {
    let expected = [CREDENTIALS_V2_CONTEXT, OB_CONTEXT];
    let matches = context.and_then(Value::as_array).is_some_and(|found| {
        found.len() == expected.len() && found.iter().zip(expected).all(|(f, e)| f.as_str() == Some(e))
    });
    if matches {
        Ok(())
    } else {
        Err(CredentialError::UnsupportedContext {
            found: context.map(Value::to_string).unwrap_or_else(|| "nothing".to_owned()),
        })
    }
}

fn credential_kind(document: &Map<String, Value>) -> Result<CredentialKind, CredentialError> {
    let types = type_values(document.get("type"));
    let has = |name: &str| types.as_ref().is_ok_and(|t| t.contains(&name));
    if has("OpenBadgeCredential") {
        Ok(CredentialKind::OpenBadge)
    } else if has("EndorsementCredential") {
        Ok(CredentialKind::Endorsement)
    } else {
        Err(shape_error(
            &Path::Key(&Path::Root, "type"),
            "expected [\"VerifiableCredential\", \"OpenBadgeCredential\"] or [\"VerifiableCredential\", \"EndorsementCredential\"]",
        ))
    }
}

/// `type` as a set of strings: a string or an array of strings.
fn type_values(value: Option<&Value>) -> Result<Vec<&str>, &'static str> {
    let mut types: Vec<&str> = match value {
        None => Vec::new(),
        Some(Value::String(single)) => vec![single.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or("type values must be strings"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("type must be a string or an array of strings"),
    };
    types.sort_unstable();
    types.dedup();
    Ok(types)
}

#[derive(Default)]
struct Walker<'a> {
    quads: Vec<Quad<'a>>,
    next_blank: BlankId,
    described: HashSet<&'a str>,
}

impl<'a> Walker<'a> {
    /// Emits the quads of one node object and returns the term that names it.
    fn node(
        &mut self,
        object: &'a Map<String, Value>,
        shape: &'static Shape,
        path: &Path<'_>,
        skip: &[&str],
    ) -> Result<Term<'a>, CredentialError> {
        let types = type_values(object.get("type")).map_err(|reason| shape_error(&Path::Key(path, "type"), reason))?;
        let mut expected: Vec<&str> = shape.types.iter().map(|(term, _)| *term).collect();
        expected.sort_unstable();
        if types != expected {
            let wanted = if expected.is_empty() {
                "no type".to_owned()
            } else {
                format!("type {expected:?}")
            };
            return Err(shape_error(
                path,
                &format!("a {} must have {wanted}, found {types:?}", shape.name),
            ));
        }

        let subject = match (object.get("id"), &shape.id) {
            (None, IdRule::Required) => return Err(shape_error(path, &format!("a {} needs an \"id\"", shape.name))),
            (Some(_), IdRule::Absent) => {
                return Err(shape_error(
                    &Path::Key(path, "id"),
                    &format!("a {} has no \"id\" here", shape.name),
                ))
            }
            (None, _) => {
                let blank = self.next_blank;
                self.next_blank += 1;
                Term::Blank(blank)
            }
            (Some(id), _) => {
                let id = iri(id, &Path::Key(path, "id"))?;
                if !self.described.insert(id) {
                    return Err(shape_error(
                        path,
                        &format!("{id} is described twice; describe each node once"),
                    ));
                }
                Term::iri(id)
            }
        };

        for (_, type_iri) in shape.types {
            self.quads
                .push(Quad::new(subject.clone(), RDF_TYPE, Term::iri(*type_iri)));
        }

        for (key, value) in object {
            if key == "id" || key == "type" || skip.contains(&key.as_str()) {
                continue;
            }
            let key_path = Path::Key(path, key);
            let Some(property) = shape.properties.iter().find(|p| p.term == key) else {
                let known: Vec<&str> = shape.properties.iter().map(|p| p.term).collect();
                return Err(shape_error(
                    &key_path,
                    &format!(
                        "not a property this verifier reads on a {} (it reads id, type, {})",
                        shape.name,
                        known.join(", ")
                    ),
                ));
            };
            match (value, property.many) {
                (Value::Array(items), true) => {
                    for (index, item) in items.iter().enumerate() {
                        let object = self.value(item, property, &Path::Index(&key_path, index))?;
                        self.quads.push(Quad::new(subject.clone(), property.iri, object));
                    }
                }
                (Value::Array(_), false) => {
                    return Err(shape_error(&key_path, "expected a single value, not an array"))
                }
                (single, _) => {
                    let object = self.value(single, property, &key_path)?;
                    self.quads.push(Quad::new(subject.clone(), property.iri, object));
                }
            }
        }
        Ok(subject)
    }

    fn value(&mut self, value: &'a Value, property: &Property, path: &Path<'_>) -> Result<Term<'a>, CredentialError> {
        match (&property.range, value) {
            (Range::Text(None), Value::String(text)) => Ok(Term::string(text.as_str())),
            (Range::Text(Some(datatype)), Value::String(text)) => Ok(Term::typed(text.as_str(), *datatype)),
            (Range::Text(_), _) => Err(shape_error(path, "expected a string")),
            (Range::Iri, value) => Ok(Term::iri(iri(value, path)?)),
            (Range::Boolean(datatype), Value::Bool(flag)) => {
                Ok(Term::typed(if *flag { "true" } else { "false" }, *datatype))
            }
            (Range::Boolean(_), _) => Err(shape_error(path, "expected true or false")),
            (Range::Node { shape, .. }, Value::Object(object)) => self.node(object, shape, path, &[]),
            (Range::Node { reference: true, .. }, Value::String(_)) => Ok(Term::iri(iri(value, path)?)),
            (Range::Node { shape, .. }, _) => Err(shape_error(path, &format!("expected a {} object", shape.name))),
            (Range::Vocab(table), Value::String(term)) => table
                .iter()
                .find(|(name, _)| name == term)
                .map(|(_, iri)| Term::iri(*iri))
                .ok_or_else(|| {
                    shape_error(
                        path,
                        &format!("expected one of {:?}", table.iter().map(|(n, _)| n).collect::<Vec<_>>()),
                    )
                }),
            (Range::Vocab(_), _) => Err(shape_error(path, "expected a string")),
        }
    }
}

/// An absolute ASCII IRI without the characters N-Quads forbids: anything else would be dropped
/// or resolved differently by a JSON-LD processor.
fn iri<'a>(value: &'a Value, path: &Path<'_>) -> Result<&'a str, CredentialError> {
    let text = value
        .as_str()
        .ok_or_else(|| shape_error(path, "expected an IRI string"))?;
    if is_supported_iri(text) {
        Ok(text)
    } else {
        Err(CredentialError::InvalidIri {
            path: path.to_string(),
            value: text.chars().take(80).collect(),
        })
    }
}

pub fn is_supported_iri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let rest_ok = !rest.is_empty()
        && rest.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'^' | b'`' | b'\\')
        });
    scheme_ok && rest_ok
}

fn shape_error(path: &Path<'_>, reason: &str) -> CredentialError {
    CredentialError::UnsupportedShape {
        path: path.to_string(),
        reason: reason.to_owned(),
    }
}

/// Where in the JSON we are, rendered only when there is an error to report.
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("credential"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const V2: &str = include_str!("context-credentials-v2.jsonld");
    const OB: &str = include_str!("context-ob-3.0.3.json");

    /// The definition of `term` as seen inside a node of type `scope`: the type-scoped context
    /// first, then the OB context, then credentials v2 (the OB context is processed last, so
    /// its top-level terms win). Returns (IRI, coercion).
    fn resolve(term: &str, scope: Option<&str>) -> Option<(String, Option<String>)> {
        let v2: Value = serde_json::from_str(V2).ok()?;
        let ob: Value = serde_json::from_str(OB).ok()?;
        let tops = [&ob["@context"], &v2["@context"]];
        let mut layers: Vec<&Value> = Vec::new();
        if let Some(scope) = scope {
            for top in tops {
                if let Some(scoped) = top.get(scope).and_then(|d| d.get("@context")) {
                    layers.push(scoped);
                }
            }
        }
        layers.extend(tops);
        let definition = layers.iter().find_map(|layer| layer.get(term))?;
        match definition {
            Value::String(iri) => Some((iri.clone(), None)),
            Value::Object(map) => Some((
                map.get("@id")?.as_str()?.to_owned(),
                map.get("@type").and_then(Value::as_str).map(str::to_owned),
            )),
            _ => None,
        }
    }

    fn check_shape(shape: &Shape, scope: Option<&str>) {
        for property in shape.properties {
            let (iri, coercion) = resolve(property.term, scope)
                .unwrap_or_else(|| panic!("{} undefined in {}", property.term, shape.name));
            assert_eq!(property.iri, iri, "{}.{}", shape.name, property.term);
            let expected = match &property.range {
                Range::Text(datatype) => datatype.map(str::to_owned),
                Range::Boolean(datatype) => Some((*datatype).to_owned()),
                Range::Iri | Range::Node { reference: true, .. } => Some("@id".to_owned()),
                Range::Node { reference: false, .. } => coercion.clone().filter(|c| c == "@id"),
                Range::Vocab(_) => Some("@vocab".to_owned()),
            };
            assert_eq!(coercion, expected, "{}.{} coercion", shape.name, property.term);
        }
        for (term, iri) in shape.types {
            assert_eq!(resolve(term, None).map(|d| d.0).as_deref(), Some(*iri), "type {term}");
        }
    }

    #[test]
    fn every_table_entry_matches_the_bundled_contexts() {
        check_shape(&OPEN_BADGE_CREDENTIAL, Some("VerifiableCredential"));
        check_shape(&ENDORSEMENT_CREDENTIAL, Some("VerifiableCredential"));
        check_shape(&PROFILE, Some("Profile"));
        check_shape(&IMAGE_SHAPE, Some("Image"));
        check_shape(&ACHIEVEMENT_SUBJECT, Some("AchievementSubject"));
        check_shape(&IDENTITY_OBJECT, Some("IdentityObject"));
        check_shape(&ACHIEVEMENT, Some("Achievement"));
        check_shape(&CRITERIA, None);
        check_shape(&EVIDENCE, Some("Evidence"));
        check_shape(&ENDORSEMENT_SUBJECT, Some("EndorsementSubject"));
        check_shape(&DATA_INTEGRITY_PROOF, Some("DataIntegrityProof"));
        // The proof purpose term comes from proofPurpose's own scoped context.
        let v2: Value = serde_json::from_str(V2).unwrap_or_default();
        let purpose =
            &v2["@context"]["DataIntegrityProof"]["@context"]["proofPurpose"]["@context"]["assertionMethod"]["@id"];
        assert_eq!(purpose, "https://w3id.org/security#assertionMethod");
    }

    #[test]
    fn the_two_contexts_declare_no_vocab_and_no_prefixes_that_would_rewrite_iris() {
        // With @vocab or a prefix term, undefined terms or "prefix:rest" ids would expand
        // differently from the tables; neither bundled context has one.
        for text in [V2, OB] {
            assert!(!text.contains("\"@vocab\": \"http"), "a top-level @vocab appeared");
            let context: Value = serde_json::from_str(text).unwrap_or_default();
            for (term, definition) in context["@context"].as_object().into_iter().flatten() {
                if let Some(iri) = definition.as_str() {
                    assert!(
                        !iri.ends_with(['/', '#', ':', '?', '[', ']', '@']),
                        "{term} could act as a prefix"
                    );
                }
            }
        }
    }

    fn vector() -> Value {
        json!({
            "@context": [CREDENTIALS_V2_CONTEXT, OB_CONTEXT],
            "id": "http://example.com/credentials/3527",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": "https://example.edu/issuers/565049", "type": ["Profile"], "name": "Example Corp"},
            "validFrom": "2010-01-01T00:00:00Z",
            "name": "Teamwork Badge",
            "credentialSubject": {
                "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
                "type": ["AchievementSubject"],
                "achievement": {
                    "id": "https://example.com/achievements/21st-century-skills/teamwork",
                    "type": ["Achievement"],
                    "criteria": {"narrative": "Team members are nominated."},
                    "description": "Collaboration.",
                    "name": "Teamwork"
                }
            }
        })
    }

    fn error_of(document: &Value) -> String {
        let map = document.as_object().cloned().unwrap_or_default();
        match credential_quads(&map) {
            Ok(_) => String::from("accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn accepts_the_test_vector_shape() {
        assert_eq!(error_of(&vector()), "accepted");
    }

    #[test]
    fn refuses_an_unknown_property_with_its_path() {
        let mut document = vector();
        document["credentialSubject"]["achievement"]["creditsAvailable"] = json!(3);
        let message = error_of(&document);
        assert!(
            message.contains("credential.credentialSubject.achievement.creditsAvailable"),
            "{message}"
        );
    }

    #[test]
    fn refuses_numbers_nulls_relative_iris_and_other_contexts() {
        let mut number = vector();
        number["name"] = json!(7);
        assert!(error_of(&number).contains("expected a string"));

        let mut null = vector();
        null["issuer"]["name"] = Value::Null;
        assert!(error_of(&null).contains("credential.issuer.name"));

        let mut relative = vector();
        relative["issuer"]["id"] = json!("issuers/565049");
        assert!(error_of(&relative).contains("credential.issuer.id"));

        let mut unicode = vector();
        unicode["id"] = json!("https://example.com/é");
        assert!(error_of(&unicode).contains("credential.id"));

        let mut context = vector();
        context["@context"] = json!([CREDENTIALS_V2_CONTEXT]);
        assert!(error_of(&context).contains("@context"));
    }

    #[test]
    fn refuses_a_missing_or_extra_type_that_would_change_the_scoped_context() {
        let mut missing = vector();
        missing["issuer"]["type"] = json!([]);
        assert!(error_of(&missing).contains("credential.issuer"));
        let mut extra = vector();
        extra["credentialSubject"]["achievement"]["type"] = json!(["Achievement", "Profile"]);
        assert!(error_of(&extra).contains("credential.credentialSubject.achievement"));
    }

    #[test]
    fn refuses_a_node_described_twice() {
        let mut document = vector();
        document["credentialSubject"]["achievement"]["id"] = json!("http://example.com/credentials/3527");
        assert!(error_of(&document).contains("described twice"));
    }

    #[test]
    fn iri_rules() {
        for good in [
            "urn:uuid:1d5e0bd4-3b0a-4c5e-9d36-2f0e0c2b9d11",
            "did:key:z6Mk",
            "data:image/png;base64,iVBO+/=",
            "https://a.example/x?y=1#z",
        ] {
            assert!(is_supported_iri(good), "{good}");
        }
        for bad in [
            "",
            "relative/path",
            "_:b0",
            "1http://x",
            "http:",
            "http://a b",
            "http://a<b>",
            "https://ex/é",
            "data:image/svg+xml;utf8,<svg>",
        ] {
            assert!(!is_supported_iri(bad), "{bad}");
        }
    }
}
