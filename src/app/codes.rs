//! Making signed attendance codes: visitor tickets, staff cards, organiser cards.

use std::path::PathBuf;

use thiserror::Error;

use crate::domain::code::{AttendanceCode, CodeClaims, CodeError, CodeId, CodeRefusal, Role};
use crate::eventdir::EventDir;

/// Which codes to make. `badge-kiosk codes` fills it from its flags; the tests by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    /// Number of visitor codes (ignored with `registrations` or `demo`).
    pub count: usize,
    /// Staff cards for these stands (`all` for every stand).
    pub staff: Vec<String>,
    /// Number of organiser cards.
    pub organisers: usize,
    /// Registration references for visitor codes, one per line (replaces `count`).
    pub registrations: Option<PathBuf>,
    /// Days the codes stay valid after the event ends.
    pub valid_days_after: u32,
    /// The demo set: 10 visitors, one staff card per stand, one organiser card, valid for
    /// ten years.
    pub demo: bool,
}

impl Default for CodeRequest {
    fn default() -> Self {
        Self {
            count: 0,
            staff: Vec::new(),
            organisers: 0,
            registrations: None,
            valid_days_after: 30,
            demo: false,
        }
    }
}

/// One printable code with its label texts.
pub struct CodeToPrint {
    pub text: String,
    pub short_id: String,
    pub role: Role,
    pub holder: Option<String>,
}

#[derive(Debug, Error)]
pub enum CodesError {
    #[error("making codes needs the event key (event.key in {}): run this on the organiser's machine", .dir.display())]
    NoEventKey { dir: PathBuf },
    #[error(transparent)]
    Date(#[from] chrono::ParseError),
    #[error("reading {}", .path.display())]
    ReadRegistrations {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the event has no stand {stand:?}; stands are: {known}")]
    UnknownStand { stand: String, known: String },
    #[error("{0}")]
    Sign(CodeError),
}

/// Signs the codes `request` asks for with the event key; nothing is written.
pub fn make_codes(event: &EventDir, request: &CodeRequest) -> Result<Vec<CodeToPrint>, CodesError> {
    let Some(key) = &event.event_key else {
        return Err(CodesError::NoEventKey { dir: event.dir.clone() });
    };
    let definition = &event.definition;
    let date = |text: &str| -> Result<u32, CodesError> {
        let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")?;
        let midnight = date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
        Ok(u32::try_from(midnight.max(0)).unwrap_or(u32::MAX))
    };
    let (valid_from, valid_until) = if request.demo {
        // The demo must work whenever someone tries it.
        (date("2026-01-01")?, date("2036-01-01")?)
    } else {
        let from = date(&definition.event.starts)?.saturating_sub(7 * 86_400);
        let until = date(&definition.event.ends)?.saturating_add(86_400 * (1 + request.valid_days_after));
        (from, until)
    };
    let mut wanted: Vec<(Role, Option<String>)> = Vec::new();
    let (count, staff, organisers) = if request.demo {
        (10, vec!["all".to_string()], 1)
    } else {
        (request.count, request.staff.clone(), request.organisers)
    };
    match &request.registrations {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|source| CodesError::ReadRegistrations {
                path: file.clone(),
                source,
            })?;
            for reference in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
                wanted.push((Role::Visitor, Some(reference.to_owned())));
            }
        }
        None => {
            for index in 0..count {
                // Demo tickets carry a registration so the "sent to your email" path shows.
                let holder = request
                    .demo
                    .then(|| format!("DEMO-{:04}", index + 1))
                    .filter(|_| index % 2 == 0);
                wanted.push((Role::Visitor, holder));
            }
        }
    }
    for stand in &staff {
        if stand == "all" {
            for stand in &definition.stands {
                wanted.push((
                    Role::Staff {
                        stand: stand.id.clone(),
                    },
                    None,
                ));
            }
        } else if definition.stand(stand).is_some() {
            wanted.push((Role::Staff { stand: stand.clone() }, None));
        } else {
            return Err(CodesError::UnknownStand {
                stand: stand.clone(),
                known: definition
                    .stands
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    for _ in 0..organisers {
        wanted.push((Role::Organiser, None));
    }
    let mut codes = Vec::with_capacity(wanted.len());
    for (role, holder) in wanted {
        let code_id = CodeId::random();
        let code = AttendanceCode::sign(
            &definition.event.id,
            key,
            CodeClaims {
                code_id,
                role: role.clone(),
                holder: holder.clone(),
                valid_from,
                valid_until,
            },
        )
        .map_err(CodesError::Sign)?;
        codes.push(CodeToPrint {
            text: code.to_text(),
            short_id: code_id.short(),
            role,
            holder,
        });
    }
    Ok(codes)
}

/// A code id given as 20 hex digits, or the code's full text.
pub fn code_id_of(text: &str) -> Result<CodeId, CodeRefusal> {
    match CodeId::from_hex(text.trim()) {
        Some(id) => Ok(id),
        None => Ok(AttendanceCode::parse(text)?.claims.code_id),
    }
}
