//! The ticketing export the organiser imports on the hub: registration reference (the one
//! printed in each visitor's code), email and name. Pure parsing: the hub stores the result.
//!
//! Ticketing tools name their columns differently ("Order reference", "E-mail", "Prénom"…)
//! and spreadsheets in French locales write `;` instead of `,`, so headers are matched
//! loosely and the separator is guessed from the header line. Every line that cannot be
//! used is reported with its number and what to fix; the others are imported.

use std::collections::BTreeMap;

use thiserror::Error;

use super::award::{is_plausible_email, normalise_email};

/// One registration of the ticketing export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub reference: String,
    /// Normalised (trimmed, lower case), as the kiosk hashes it.
    pub email: String,
    pub name: Option<String>,
}

/// A line that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    /// In English, for the CLI; the console words [`LineError::problem`] in its language.
    pub message: String,
    pub problem: LineProblem,
}

/// Why a line was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblem {
    /// Not readable as CSV (the parser's words).
    Unreadable(String),
    NoReference,
    NoEmail {
        reference: String,
    },
    NotAnEmail {
        email: String,
        reference: String,
    },
}

/// What parsing found: usable registrations (one per reference, the last line wins) and
/// the lines left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedRegistrations {
    pub registrations: Vec<Registration>,
    pub errors: Vec<LineError>,
}

/// The file as a whole cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistrationsError {
    #[error("the file is empty: export the registrations from the ticketing tool as CSV, with a header line")]
    Empty,
    #[error(
        "no {missing} column in the header ({found}): name the columns e.g. \"reference\", \"email\" and \"name\" \
         and import the file again"
    )]
    MissingColumn { missing: &'static str, found: String },
    #[error("the file is not readable CSV ({0}): export it again as CSV (UTF-8)")]
    Unreadable(String),
}

/// Header names accepted for each column, compared after [`header_key`].
const REFERENCE_NAMES: &[&str] = &[
    "reference",
    "ref",
    "registration",
    "registrationreference",
    "registrationref",
    "registrationid",
    "registrationnumber",
    "ticket",
    "ticketid",
    "ticketreference",
    "ticketnumber",
    "ticketcode",
    "barcode",
    "order",
    "orderid",
    "orderreference",
    "ordernumber",
    "booking",
    "bookingreference",
    "bookingid",
    "attendeeid",
    "participantid",
    "id",
    "inscription",
    "numeroinscription",
    "numerodinscription",
    "referenceinscription",
    "numerobillet",
    "numerodebillet",
    "billet",
    "code",
];
const EMAIL_NAMES: &[&str] = &[
    "email",
    "mail",
    "emailaddress",
    "mailaddress",
    "attendeeemail",
    "participantemail",
    "courriel",
    "adressemail",
    "adresseemail",
    "adressecourriel",
    "adresseelectronique",
];
const NAME_NAMES: &[&str] = &[
    "name",
    "fullname",
    "attendeename",
    "participantname",
    "nomcomplet",
    "nometprenom",
    "prenometnom",
    "participant",
];
const FIRST_NAMES: &[&str] = &["firstname", "givenname", "forename", "prenom"];
const LAST_NAMES: &[&str] = &["lastname", "surname", "familyname", "nom", "nomdefamille"];

/// Lower case, accents folded, everything but letters and digits dropped:
/// "E-mail" → "email", "Numéro d'inscription" → "numerodinscription".
pub fn header_key(header: &str) -> String {
    header
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'û' | 'ü' | 'ù' | 'ú' => 'u',
            'ç' => 'c',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn find(headers: &[String], names: &[&str]) -> Option<usize> {
    // The earliest name in the list wins ("reference" before "id").
    names
        .iter()
        .find_map(|name| headers.iter().position(|header| header == name))
}

/// Parses a ticketing export. Fails only when the file as a whole is unusable; bad lines
/// are listed in [`ParsedRegistrations::errors`].
pub fn parse_registrations(text: &str) -> Result<ParsedRegistrations, RegistrationsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(header_line) = text.lines().find(|line| !line.trim().is_empty()) else {
        return Err(RegistrationsError::Empty);
    };
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| header_line.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let raw_headers = reader
        .headers()
        .map_err(|error| RegistrationsError::Unreadable(error.to_string()))?
        .clone();
    let headers: Vec<String> = raw_headers.iter().map(header_key).collect();
    let found = raw_headers.iter().collect::<Vec<_>>().join(", ");
    let reference = find(&headers, REFERENCE_NAMES).ok_or_else(|| RegistrationsError::MissingColumn {
        missing: "registration reference",
        found: found.clone(),
    })?;
    let email = find(&headers, EMAIL_NAMES).ok_or_else(|| RegistrationsError::MissingColumn {
        missing: "email",
        found: found.clone(),
    })?;
    let name = find(&headers, NAME_NAMES);
    let first = find(&headers, FIRST_NAMES);
    // "nom" is the last name only beside a first-name column; alone it is the name.
    let last = find(&headers, LAST_NAMES).filter(|index| Some(*index) != name);

    let mut by_reference: BTreeMap<String, (usize, Registration)> = BTreeMap::new();
    let mut errors = Vec::new();
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                errors.push(LineError {
                    line,
                    message: format!("unreadable ({error}); fix the quotes on this line"),
                    problem: LineProblem::Unreadable(error.to_string()),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let field = |index: usize| record.get(index).unwrap_or("").trim();
        let reference_text = field(reference);
        let email_text = field(email);
        if reference_text.is_empty() {
            errors.push(LineError {
                line,
                message: "no registration reference: add it or remove the line".into(),
                problem: LineProblem::NoReference,
            });
            continue;
        }
        if email_text.is_empty() {
            errors.push(LineError {
                line,
                message: format!("no email for registration {reference_text}: add it or remove the line"),
                problem: LineProblem::NoEmail {
                    reference: reference_text.to_owned(),
                },
            });
            continue;
        }
        if !is_plausible_email(email_text) {
            errors.push(LineError {
                line,
                message: format!(
                    "\"{email_text}\" (registration {reference_text}) is not an email address: correct it and import \
                     the file again"
                ),
                problem: LineProblem::NotAnEmail {
                    email: email_text.to_owned(),
                    reference: reference_text.to_owned(),
                },
            });
            continue;
        }
        let full_name = match (name, first, last) {
            (Some(index), _, _) if !field(index).is_empty() => Some(field(index).to_owned()),
            (_, Some(f), Some(l)) => Some(format!("{} {}", field(f), field(l)).trim().to_owned()),
            (_, Some(f), None) => Some(field(f).to_owned()),
            (_, None, Some(l)) => Some(field(l).to_owned()),
            _ => None,
        }
        .filter(|n| !n.is_empty());
        by_reference.insert(
            reference_text.to_owned(),
            (
                line,
                Registration {
                    reference: reference_text.to_owned(),
                    email: normalise_email(email_text),
                    name: full_name,
                },
            ),
        );
    }
    let mut registrations: Vec<(usize, Registration)> = by_reference.into_values().collect();
    registrations.sort_by_key(|(line, _)| *line);
    Ok(ParsedRegistrations {
        registrations: registrations.into_iter().map(|(_, r)| r).collect(),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_export_with_usual_headers() {
        let parsed =
            parse_registrations("Reference,E-mail,Name\nR-001,Ana@Example.org ,Ana Lopez\nR-002,bob@example.org,\n")
                .unwrap();
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(
            parsed.registrations,
            vec![
                Registration {
                    reference: "R-001".into(),
                    email: "ana@example.org".into(),
                    name: Some("Ana Lopez".into()),
                },
                Registration {
                    reference: "R-002".into(),
                    email: "bob@example.org".into(),
                    name: None,
                },
            ]
        );
    }

    #[test]
    fn french_spreadsheet_with_semicolons_bom_and_split_names() {
        let text = "\u{feff}Numéro d'inscription;Prénom;Nom;Adresse e-mail\n42;Marie;Curie;marie@example.fr\n";
        let parsed = parse_registrations(text).unwrap();
        assert_eq!(parsed.registrations.len(), 1);
        assert_eq!(parsed.registrations[0].reference, "42");
        assert_eq!(parsed.registrations[0].name.as_deref(), Some("Marie Curie"));
        assert_eq!(parsed.registrations[0].email, "marie@example.fr");
    }

    #[test]
    fn bad_lines_are_listed_with_their_number_and_the_rest_imported() {
        let text = "ticket id,email\nT1,ok@example.org\n,x@example.org\nT3,\nT4,not-an-email\n\nT6,six@example.org\n";
        let parsed = parse_registrations(text).unwrap();
        let refs: Vec<&str> = parsed.registrations.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(refs, vec!["T1", "T6"]);
        let lines: Vec<usize> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(parsed.errors[2].message.contains("not-an-email"));
        assert!(parsed.errors[2].message.contains("correct it"));
    }

    #[test]
    fn the_same_reference_twice_keeps_the_last_line() {
        let parsed = parse_registrations("ref,mail\nA,old@example.org\nA,new@example.org\n").unwrap();
        assert_eq!(parsed.registrations.len(), 1);
        assert_eq!(parsed.registrations[0].email, "new@example.org");
    }

    #[test]
    fn missing_columns_name_what_was_found() {
        let error = parse_registrations("who,where\na,b\n").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("registration reference"), "{text}");
        assert!(text.contains("who, where"), "{text}");
        assert_eq!(parse_registrations("\n\n"), Err(RegistrationsError::Empty));
        assert!(matches!(
            parse_registrations("reference,name\n1,a\n"),
            Err(RegistrationsError::MissingColumn { missing: "email", .. })
        ));
    }

    #[test]
    fn header_keys_fold_case_accents_and_punctuation() {
        assert_eq!(header_key("E-Mail"), "email");
        assert_eq!(header_key("Numéro d'inscription"), "numerodinscription");
        assert_eq!(header_key(" Order Reference "), "orderreference");
    }
}
