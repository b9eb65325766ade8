//! The kiosk's application core: one event, one queue, one device key. The CLI and the
//! touchscreen both go through it, so `badge-kiosk claim` does exactly what a tap does.
//! It blocks (SQLite), so the UI calls it from a worker thread, never the UI thread.

use std::collections::HashSet;
use std::path::Path;

use ed25519_dalek::SigningKey;
use thiserror::Error;

use crate::domain::allowlist;
use crate::domain::award::{email_hash, is_plausible_email, AwardContent, Recipient, RecordKind};
use crate::domain::clock::{trusted_time, Clock, TrustedTime};
use crate::domain::code::{CodeId, CodeRefusal, CodeVerifier, Role};
use crate::domain::event::{BadgeClass, BadgeKind, EventDefinition};
use crate::domain::keys::KioskCertificate;
use crate::domain::pathway::PathwayProgress;
use crate::eventdir::{EventDir, EventDirError};
use crate::store::{AppendOutcome, Store, StoreError};

pub use crate::store::identity::{open_identity, IdentityError, KioskIdentity, HUB_URL_SETTING};

#[derive(Debug, Error)]
pub enum KioskError {
    #[error(transparent)]
    Refused(#[from] CodeRefusal),
    #[error(transparent)]
    NotSaved(#[from] StoreError),
    #[error(transparent)]
    EventDir(#[from] EventDirError),
    #[error("this email address looks mistyped: check it and try again")]
    BadEmail,
    #[error("the event has no badge {0:?}: check event.toml")]
    UnknownBadge(String),
    #[error("the event has no stand {0:?}: check event.toml or the kiosk's `stand` setting")]
    UnknownStand(String),
    #[error(
        "this kiosk is not enrolled for the event: scan the enrolment code from the hub, or give it the event key"
    )]
    NotEnrolled,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(
        "this event has no claim address for phones: set public_url under [claim] in event.toml, or enrol the kiosk to a hub"
    )]
    NoClaimAddress,
}

/// A scanned text that is a valid code of this event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub code_id: Vec<u8>,
    pub role: Role,
    /// Registration reference, when the ticket carries one.
    pub holder: Option<String>,
    /// What a help desk reads out: `7KQ2-M9PD`.
    pub short_id: String,
    /// The signed code's bytes, carried in version 2 records so the hub can check the event
    /// key signed it; empty for a ticket from an imported allow-list.
    pub code: Vec<u8>,
    /// An allow-listed ticket's text as scanned, carried in version 3 records so the hub can
    /// check it against its own copy of the list (the kiosk's hashes prove nothing there).
    pub ticket: Option<String>,
}

/// How the visitor chose to receive the badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// To the email the visitor registered with (the ticket carries a registration).
    Registration,
    Email(String),
    /// A claim link shown as a QR code, valid once the kiosk has synced.
    Phone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Saved {
        sequence: u64,
        badge_id: String,
        claim_url: Option<String>,
    },
    AlreadyClaimed {
        created_at_ms: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathwayStatus {
    pub badge_id: String,
    pub progress: PathwayProgress,
    /// The pathway badge was awarded by this very step.
    pub awarded_now: bool,
    pub already_awarded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub stand: String,
    /// False when this visitor was already recorded at this stand.
    pub newly_recorded: bool,
    pub pathways: Vec<PathwayStatus>,
}

/// The bytes of a `BK…` code's text (what version 2 records carry).
fn code_bytes(text: &str) -> Vec<u8> {
    text.trim()
        .strip_prefix(crate::domain::code::CODE_PREFIX)
        .and_then(|body| crate::domain::base32::decode(body).ok())
        .unwrap_or_default()
}

pub struct KioskCore {
    pub event: EventDir,
    store: Store,
    verifier: CodeVerifier,
    device_key: SigningKey,
    kiosk_id: String,
    certificate: KioskCertificate,
    clock: Box<dyn Clock>,
}

impl KioskCore {
    /// Opens (creating if needed) the kiosk's data directory for this event. A kiosk that
    /// holds the event key certifies its own device key; otherwise it needs a
    /// certificate from enrolment.
    pub fn open(
        event: EventDir,
        data_dir: &Path,
        kiosk_id: Option<&str>,
        clock: Box<dyn Clock>,
    ) -> Result<Self, KioskError> {
        let KioskIdentity {
            store,
            device_key,
            kiosk_id,
        } = open_identity(data_dir, kiosk_id)?;
        let event_id = event.definition.event.id.clone();
        let event_keys = event.definition.public_keys();
        let stored_certificate = store
            .setting("kiosk.certificate")?
            .and_then(|text| hex::decode(text).ok())
            .and_then(|bytes| KioskCertificate::from_bytes(&bytes).ok())
            .filter(|cert| {
                cert.kiosk_id == kiosk_id
                    && cert.device_key == device_key.verifying_key()
                    && cert.verify(&event_id, &event_keys).is_ok()
            });
        let certificate = match (stored_certificate, &event.event_key) {
            (Some(cert), _) => cert,
            (None, Some(event_key)) => {
                let now_s = clock.now_ms() / 1000;
                let cert = KioskCertificate::issue(event_key, &event_id, &kiosk_id, device_key.verifying_key(), now_s)
                    .map_err(|_| KioskError::NotEnrolled)?;
                store.set_setting(
                    "kiosk.certificate",
                    &hex::encode(cert.to_bytes().map_err(|_| KioskError::NotEnrolled)?),
                )?;
                cert
            }
            (None, None) => return Err(KioskError::NotEnrolled),
        };
        let revoked: HashSet<CodeId> = store
            .revoked()?
            .into_iter()
            .filter_map(|bytes| <[u8; 10]>::try_from(bytes).ok().map(CodeId))
            .collect();
        let verifier = CodeVerifier::new(&event_id, event_keys, revoked);
        store.set_hub_time_window(event.definition.hub_time_window())?;
        Ok(Self {
            event,
            store,
            verifier,
            device_key,
            kiosk_id,
            certificate,
            clock,
        })
    }

    pub fn definition(&self) -> &EventDefinition {
        &self.event.definition
    }
    pub fn kiosk_id(&self) -> &str {
        &self.kiosk_id
    }
    pub fn certificate(&self) -> &KioskCertificate {
        &self.certificate
    }
    pub fn device_key(&self) -> &SigningKey {
        &self.device_key
    }
    pub fn store(&self) -> &Store {
        &self.store
    }
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The certificate's issue time is signed by the event key, so it is trusted too (a
    /// board that boots in 1970 right after enrolment still signs with a sane time), but
    /// like any hub time only inside the event's dates, and no longer once the organiser
    /// reset the clock (a kiosk enrolled while the hub's clock was wrong).
    pub fn now(&self) -> Result<TrustedTime, KioskError> {
        let issued_ms = self.certificate.issued_at.saturating_mul(1000);
        let believed = !self.store.clock_was_reset()?
            && self
                .definition()
                .hub_time_window()
                .is_some_and(|window| window.contains(issued_ms));
        let floor = self.store.trusted_time_floor()?;
        let floor = if believed { floor.max(issued_ms) } else { floor };
        Ok(trusted_time(self.clock.now_ms(), floor))
    }

    /// Where this kiosk syncs: the address it was enrolled from (what it could actually
    /// reach), else the event's `[sync] hub`.
    pub fn hub_url(&self) -> Result<Option<String>, KioskError> {
        Ok(self
            .store
            .setting(HUB_URL_SETTING)?
            .or_else(|| self.definition().sync.hub.clone()))
    }

    /// How the hub last said it will email the badges (None: no hub has said yet).
    pub fn email_delivery(&self) -> Result<Option<crate::sync::protocol::EmailDelivery>, KioskError> {
        Ok(self
            .store
            .setting(crate::sync::protocol::EmailDelivery::SETTING)?
            .as_deref()
            .and_then(crate::sync::protocol::EmailDelivery::parse))
    }

    /// Decodes and verifies a scanned text: a signed code of this event, or a ticket
    /// barcode on the imported allow-list.
    pub fn identify(&self, text: &str) -> Result<Identified, KioskError> {
        let now_s = self.now()?.now_ms / 1000;
        match self.verifier.verify(text, now_s) {
            // Revocations also arrive in the background (the hub's bundle at each sync),
            // into the queue's table, after this core was opened.
            Ok(verified) if self.store.is_revoked(&verified.claims.code_id.0)? => Err(CodeRefusal::Revoked.into()),
            Ok(verified) => Ok(Identified {
                ticket: None,
                code: code_bytes(text),
                code_id: verified.claims.code_id.0.to_vec(),
                short_id: verified.claims.code_id.short(),
                role: verified.claims.role,
                holder: verified.claims.holder,
            }),
            Err(CodeRefusal::NotACode) => {
                let text = text.trim();
                if text.is_empty() || text.len() > 128 {
                    return Err(CodeRefusal::NotACode.into());
                }
                let hash = allowlist::ticket_hash(&self.event.definition.event.id, text);
                match self.store.allowed_ticket(&hash)? {
                    Some(registration) => {
                        let code_id = allowlist::ticket_code_id(&hash);
                        Ok(Identified {
                            ticket: Some(text.to_owned()),
                            code: Vec::new(),
                            short_id: CodeId(code_id).short(),
                            code_id: code_id.to_vec(),
                            role: Role::Visitor,
                            holder: registration,
                        })
                    }
                    None => Err(CodeRefusal::NotACode.into()),
                }
            }
            Err(refusal) => Err(refusal.into()),
        }
    }

    /// Checks that a code may unlock staff mode here; returns the stand it stands for.
    pub fn staff_stand(&self, identified: &Identified, kiosk_stand: Option<&str>) -> Result<String, KioskError> {
        match &identified.role {
            Role::Staff { stand } => {
                if let Some(kiosk_stand) = kiosk_stand {
                    if kiosk_stand != stand {
                        return Err(CodeRefusal::WrongStand {
                            card_stand: stand.clone(),
                            kiosk_stand: kiosk_stand.to_owned(),
                        }
                        .into());
                    }
                }
                if self.event.definition.stand(stand).is_none() {
                    return Err(KioskError::UnknownStand(stand.clone()));
                }
                Ok(stand.clone())
            }
            other => Err(CodeRefusal::RoleNotAllowed {
                expected: "staff".into(),
                found: other.label(),
            }
            .into()),
        }
    }

    fn require_visitor(identified: &Identified) -> Result<(), KioskError> {
        if identified.role == Role::Visitor {
            Ok(())
        } else {
            Err(CodeRefusal::RoleNotAllowed {
                expected: "visitor".into(),
                found: identified.role.label(),
            }
            .into())
        }
    }

    pub fn attendance_badge(&self) -> Result<&BadgeClass, KioskError> {
        self.event
            .definition
            .attendance_badge()
            .ok_or_else(|| KioskError::UnknownBadge("attendance".into()))
    }

    pub fn has_claimed(&self, identified: &Identified, badge_id: &str) -> Result<bool, KioskError> {
        Ok(self
            .store
            .has_award(&self.event.definition.event.id, badge_id, &identified.code_id)?)
    }

    /// Claims the event's attendance badge (or `badge_id`) for a visitor code.
    pub fn claim(
        &mut self,
        identified: &Identified,
        badge_id: Option<&str>,
        delivery: Delivery,
    ) -> Result<ClaimOutcome, KioskError> {
        Self::require_visitor(identified)?;
        let badge_id = match badge_id {
            Some(id) => self
                .event
                .definition
                .badge(id)
                .filter(|badge| badge.kind == BadgeKind::Attendance)
                .ok_or_else(|| KioskError::UnknownBadge(id.to_owned()))?
                .id
                .clone(),
            None => self.attendance_badge()?.id.clone(),
        };
        let event_id = self.event.definition.event.id.clone();
        let mut claim_url = None;
        let mut email = None;
        let recipient = match delivery {
            Delivery::Registration => match &identified.holder {
                Some(reference) => Recipient::Registration(reference.clone()),
                None => return Err(KioskError::BadEmail),
            },
            Delivery::Email(address) => {
                if !is_plausible_email(&address) {
                    return Err(KioskError::BadEmail);
                }
                let hash = email_hash(&event_id, &address);
                email = Some(crate::domain::award::normalise_email(&address));
                Recipient::EmailHash(hash)
            }
            Delivery::Phone => {
                use rand::RngCore;
                let base = self.claim_base()?.ok_or(KioskError::NoClaimAddress)?;
                let mut token = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut token);
                claim_url = Some(format!("{base}/claim/{}", crate::domain::base32::encode(&token)));
                Recipient::ClaimToken(token)
            }
        };
        let content = AwardContent {
            event_id,
            badge_id: badge_id.clone(),
            code_id: identified.code_id.clone(),
            kind: RecordKind::AttendanceAward,
            stand: String::new(),
            recipient,
            created_at_ms: self.now()?.now_ms,
        };
        match self.append(content, email.as_deref(), identified)? {
            AppendOutcome::Appended(record) => Ok(ClaimOutcome::Saved {
                sequence: record.sequence,
                badge_id,
                claim_url,
            }),
            AppendOutcome::AlreadyRecorded { created_at_ms, .. } => Ok(ClaimOutcome::AlreadyClaimed { created_at_ms }),
        }
    }

    /// Where claim links point, in this order: the event's public claim address
    /// (`[claim] public_url`, the one a phone on mobile data reaches), else the hub this
    /// kiosk was enrolled with, else `[sync] hub`. Never the issuer's website: nothing
    /// there serves claims. None: no claim link can be made.
    pub fn claim_base(&self) -> Result<Option<String>, KioskError> {
        if let Some(public) = self.definition().claim.base() {
            return Ok(Some(public.to_owned()));
        }
        Ok(self
            .hub_url()?
            .map(|hub| hub.trim().trim_end_matches('/').to_owned())
            .filter(|hub| !hub.is_empty()))
    }

    /// Records that a visitor was seen at `stand`, and awards every pathway badge the
    /// visitor thereby completes.
    pub fn record_step(&mut self, identified: &Identified, stand: &str) -> Result<StepOutcome, KioskError> {
        Self::require_visitor(identified)?;
        if self.event.definition.stand(stand).is_none() {
            return Err(KioskError::UnknownStand(stand.to_owned()));
        }
        let event_id = self.event.definition.event.id.clone();
        let pathways: Vec<(String, crate::domain::event::PathwayRule)> = self
            .event
            .definition
            .pathway_badges()
            .filter(|(_, rule)| PathwayProgress::relevant(rule, stand))
            .map(|(badge, rule)| (badge.id.clone(), rule.clone()))
            .collect();
        let mut outcome = StepOutcome {
            stand: stand.to_owned(),
            newly_recorded: false,
            pathways: Vec::new(),
        };
        for (badge_id, rule) in pathways {
            let now_ms = self.now()?.now_ms;
            let step = AwardContent {
                event_id: event_id.clone(),
                badge_id: badge_id.clone(),
                code_id: identified.code_id.clone(),
                kind: RecordKind::PathwayStep,
                stand: stand.to_owned(),
                recipient: Recipient::None,
                created_at_ms: now_ms,
            };
            if matches!(self.append(step, None, identified)?, AppendOutcome::Appended(_)) {
                outcome.newly_recorded = true;
            }
            let visited = self.store.steps_for(&event_id, &badge_id, &identified.code_id)?;
            let progress = PathwayProgress::evaluate(&rule, visited.iter().map(String::as_str));
            let mut status = PathwayStatus {
                badge_id: badge_id.clone(),
                progress: progress.clone(),
                awarded_now: false,
                already_awarded: false,
            };
            if progress.complete {
                let recipient = identified
                    .holder
                    .clone()
                    .map_or(Recipient::None, Recipient::Registration);
                let award = AwardContent {
                    event_id: event_id.clone(),
                    badge_id: badge_id.clone(),
                    code_id: identified.code_id.clone(),
                    kind: RecordKind::PathwayAward,
                    stand: stand.to_owned(),
                    recipient,
                    created_at_ms: now_ms,
                };
                match self.append(award, None, identified)? {
                    AppendOutcome::Appended(_) => status.awarded_now = true,
                    AppendOutcome::AlreadyRecorded { .. } => status.already_awarded = true,
                }
            }
            outcome.pathways.push(status);
        }
        Ok(outcome)
    }

    /// Signs a version 3 record for an allow-listed ticket, version 2 for a signed code.
    fn append(
        &mut self,
        content: AwardContent,
        email: Option<&str>,
        identified: &Identified,
    ) -> Result<AppendOutcome, KioskError> {
        Ok(match &identified.ticket {
            Some(ticket) => self
                .store
                .append_with_ticket(&self.device_key, &self.kiosk_id, content, email, ticket)?,
            None => self.store.append_with_code(
                &self.device_key,
                &self.kiosk_id,
                content,
                email,
                Some(identified.code.clone()),
            )?,
        })
    }

    pub fn import_allow_list(&mut self, csv: &[u8]) -> Result<allowlist::ImportSummary, String> {
        let summary = allowlist::import_csv(&self.event.definition.event.id, csv).map_err(|error| error.to_string())?;
        self.store
            .replace_allow_list(&summary.tickets)
            .map_err(|error| error.to_string())?;
        Ok(summary)
    }

    pub fn revoke(&mut self, code_id: CodeId) -> Result<(), KioskError> {
        self.store.revoke(&code_id.0)?;
        self.verifier.revoke(code_id);
        Ok(())
    }

    /// Every record with the typed email it still holds (for the USB export).
    pub fn records_for_export(&self) -> Result<Vec<crate::store::StoredRecord>, KioskError> {
        Ok(self.store.records(0, usize::MAX)?)
    }
}

#[cfg(test)]
mod tests;
