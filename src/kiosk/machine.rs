//! The kiosk's screen state machine: pure, no Slint types, driven by a clock the caller
//! passes in. Inputs are scans, taps, ticks and the results of work done elsewhere; the
//! machine answers with the work to do next (`Effect`s). The UI renders `screen`.

use crate::domain::event::Language;
use crate::kiosk::{ClaimOutcome, Identified, StepOutcome};

/// Why a scan or a claim was refused, as the visitor sees it (each has its message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    AlreadyClaimed,
    OtherEvent,
    Expired,
    NotYetValid,
    Forged,
    Revoked,
    UnknownKey,
    Damaged,
    NotAVisitorCode,
    WrongStand,
    NotStaffCard,
    NotSaved,
    UpdateNeeded,
}

impl Refusal {
    /// Every refusal, for tests that each reads differently on screen. Kept next to
    /// `every_refusal_is_listed` below, which stops compiling when a variant is added.
    pub const ALL: [Refusal; 13] = [
        Refusal::AlreadyClaimed,
        Refusal::OtherEvent,
        Refusal::Expired,
        Refusal::NotYetValid,
        Refusal::Forged,
        Refusal::Revoked,
        Refusal::UnknownKey,
        Refusal::Damaged,
        Refusal::NotAVisitorCode,
        Refusal::WrongStand,
        Refusal::NotStaffCard,
        Refusal::NotSaved,
        Refusal::UpdateNeeded,
    ];

    /// What a visitor is told when the kiosk core says no. Anything that is not about
    /// the code itself means the award could not be stored.
    pub fn from_error(error: &crate::kiosk::KioskError) -> Self {
        use crate::domain::code::CodeRefusal;
        use crate::kiosk::KioskError;
        match error {
            KioskError::Refused(refusal) => match refusal {
                CodeRefusal::NotACode | CodeRefusal::Malformed | CodeRefusal::UnknownTicket => Refusal::Damaged,
                CodeRefusal::UnknownVersion(_) => Refusal::UpdateNeeded,
                CodeRefusal::OtherEvent => Refusal::OtherEvent,
                CodeRefusal::UnknownKey => Refusal::UnknownKey,
                CodeRefusal::Forged => Refusal::Forged,
                CodeRefusal::Revoked => Refusal::Revoked,
                CodeRefusal::NotYetValid => Refusal::NotYetValid,
                CodeRefusal::Expired => Refusal::Expired,
                CodeRefusal::RoleNotAllowed { expected, .. } if expected == "staff" => Refusal::NotStaffCard,
                CodeRefusal::RoleNotAllowed { .. } => Refusal::NotAVisitorCode,
                CodeRefusal::WrongStand { .. } => Refusal::WrongStand,
            },
            _ => Refusal::NotSaved,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinPurpose {
    Staff { stand: String },
    Organiser,
}

/// Which modes have a PIN set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinsSetUp {
    pub staff: bool,
    pub organiser: bool,
}

impl Default for PinsSetUp {
    fn default() -> Self {
        Self {
            staff: true,
            organiser: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoneKind {
    /// Sent to the email the visitor registered with.
    Registration,
    /// Sent to the email typed on the kiosk.
    Email,
    /// Claim link shown as a QR code.
    Phone { claim_url: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffFeedback {
    Recorded(StepOutcome),
    Refused(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Attract,
    /// A scan is being verified, or a claim saved: input is ignored.
    Busy,
    Claim {
        visitor: Identified,
    },
    EmailEntry {
        visitor: Identified,
        text: String,
        invalid: bool,
        /// The address is plausible and shown back for the visitor to confirm.
        confirming: bool,
    },
    Done {
        kind: DoneKind,
    },
    Refused {
        reason: Refusal,
    },
    PinEntry {
        purpose: PinPurpose,
        entered: usize,
        wrong: bool,
    },
    /// No PIN is set up for this mode (none configured on the kiosk, none from the hub):
    /// the screen says to ask the organiser; no digit is taken, so nothing locks.
    PinNotSetUp {
        purpose: PinPurpose,
    },
    LockedOut {
        until_ms: i64,
    },
    Staff {
        stand: String,
        feedback: Option<StaffFeedback>,
        visitors: u32,
    },
    Organiser,
}

/// User actions on the touchscreen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tap {
    ToggleLanguage,
    ClaimRegistered,
    ClaimByEmail,
    ClaimOnPhone,
    EmailChanged(String),
    EmailSubmit,
    PinDigit(char),
    PinBackspace,
    Back,
    Lock,
    SyncNow,
    ExportUsb,
    /// The organiser's "reset the trusted clock" (only on the organiser panel).
    ResetClock,
}

/// Results of work done off the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkResult {
    Identified {
        text: String,
        result: Result<Identified, Refusal>,
        already_claimed: bool,
    },
    StaffCard {
        result: Result<String, Refusal>,
    },
    Claimed(Result<ClaimOutcome, Refusal>),
    Step(Result<StepOutcome, Refusal>),
    /// `complete`: as many digits as the configured PIN has were entered.
    PinChecked {
        purpose: PinPurpose,
        correct: bool,
        complete: bool,
    },
}

/// Work for the caller to do; results come back as `WorkResult`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Identify {
        text: String,
    },
    ClaimRegistered {
        visitor: Identified,
    },
    ClaimEmail {
        visitor: Identified,
        email: String,
    },
    ClaimPhone {
        visitor: Identified,
    },
    RecordStep {
        text: String,
        stand: String,
    },
    CheckStaffCard {
        text: String,
    },
    CheckPin {
        purpose: PinPurpose,
        pin: String,
    },
    /// Persist the PIN lockout so a power cycle does not reset it.
    SaveLockout {
        failures: u32,
        locked_until_ms: i64,
    },
    RefreshOrganiser,
    SyncNow,
    ExportUsb,
    /// Forget the trusted-time floor hubs gave (see `Store::reset_trusted_time`).
    ResetClock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub idle_timeout_ms: i64,
    /// How long a result (done, refused) stays before going back to attract.
    pub result_ms: i64,
    pub debounce_ms: i64,
    /// Staff mode locks itself after this long without a scan.
    pub staff_idle_ms: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            idle_timeout_ms: 45_000,
            result_ms: 8_000,
            debounce_ms: 4_000,
            staff_idle_ms: 10 * 60_000,
        }
    }
}

/// Growing PIN lockout: 3 free tries, then 30 s, doubling up to an hour.
pub fn lockout_after(failures: u32) -> Option<i64> {
    if failures < 3 {
        return None;
    }
    let exponent = (failures - 3).min(7);
    Some((30_000i64 << exponent).min(3_600_000))
}

#[derive(Debug, Clone)]
pub struct Machine {
    pub screen: Screen,
    pub language: Language,
    default_language: Language,
    timing: Timing,
    last_activity_ms: i64,
    last_scan: Option<(String, i64)>,
    /// The scan being identified, and whether we are in staff mode for it.
    pending_scan: Option<String>,
    pin: String,
    pin_failures: u32,
    locked_until_ms: i64,
    pins: PinsSetUp,
    /// The claim in flight was by typed email (for the Done screen's wording).
    pending_email_claim: bool,
}

impl Machine {
    pub fn new(language: Language, timing: Timing, pin_failures: u32, locked_until_ms: i64) -> Self {
        Self {
            screen: Screen::Attract,
            language,
            default_language: language,
            timing,
            last_activity_ms: 0,
            last_scan: None,
            pending_scan: None,
            pin: String::new(),
            pin_failures,
            locked_until_ms,
            pins: PinsSetUp::default(),
            pending_email_claim: false,
        }
    }

    /// Which modes have a PIN (the controller tells, from the configuration and the
    /// event bundle).
    pub fn set_pins_set_up(&mut self, pins: PinsSetUp) {
        self.pins = pins;
    }

    fn go(&mut self, screen: Screen, now_ms: i64) {
        if matches!(screen, Screen::Attract) {
            // Nothing of the previous visitor stays on screen or in memory.
            self.language = self.default_language;
            self.pin.clear();
        }
        self.screen = screen;
        self.last_activity_ms = now_ms;
    }

    fn in_staff_mode(&self) -> Option<String> {
        match &self.screen {
            Screen::Staff { stand, .. } => Some(stand.clone()),
            _ => None,
        }
    }

    /// A code text from the camera or a keyboard-wedge scanner.
    pub fn scanned(&mut self, text: &str, now_ms: i64) -> Vec<Effect> {
        let text = text.trim();
        if text.is_empty() {
            return vec![];
        }
        if let Some((last, at)) = &self.last_scan {
            if last == text && now_ms - at < self.timing.debounce_ms {
                return vec![];
            }
        }
        let accepts = matches!(
            self.screen,
            Screen::Attract
                | Screen::Done { .. }
                | Screen::Refused { .. }
                | Screen::Claim { .. }
                | Screen::Staff { .. }
        );
        if !accepts {
            return vec![];
        }
        self.last_scan = Some((text.to_owned(), now_ms));
        self.pending_scan = Some(text.to_owned());
        if let Some(stand) = self.in_staff_mode() {
            self.last_activity_ms = now_ms;
            return vec![Effect::RecordStep {
                text: text.to_owned(),
                stand,
            }];
        }
        self.go(Screen::Busy, now_ms);
        vec![Effect::Identify { text: text.to_owned() }]
    }

    pub fn tap(&mut self, tap: Tap, now_ms: i64) -> Vec<Effect> {
        self.last_activity_ms = now_ms;
        match (tap, self.screen.clone()) {
            (Tap::ToggleLanguage, _) => {
                self.language = self.language.other();
                vec![]
            }
            (Tap::ClaimRegistered, Screen::Claim { visitor }) if visitor.holder.is_some() => {
                self.go(Screen::Busy, now_ms);
                self.pending_email_claim = false;
                vec![Effect::ClaimRegistered { visitor }]
            }
            (Tap::ClaimByEmail, Screen::Claim { visitor }) => {
                self.go(
                    Screen::EmailEntry {
                        visitor,
                        text: String::new(),
                        invalid: false,
                        confirming: false,
                    },
                    now_ms,
                );
                vec![]
            }
            (Tap::ClaimOnPhone, Screen::Claim { visitor }) => {
                self.go(Screen::Busy, now_ms);
                self.pending_email_claim = false;
                vec![Effect::ClaimPhone { visitor }]
            }
            (
                Tap::EmailChanged(text),
                Screen::EmailEntry {
                    visitor,
                    confirming: false,
                    ..
                },
            ) => {
                self.screen = Screen::EmailEntry {
                    visitor,
                    text,
                    invalid: false,
                    confirming: false,
                };
                vec![]
            }
            (
                Tap::EmailSubmit,
                Screen::EmailEntry {
                    visitor,
                    text,
                    confirming,
                    ..
                },
            ) => {
                let plausible = crate::domain::award::is_plausible_email(&text);
                if plausible && confirming {
                    self.go(Screen::Busy, now_ms);
                    self.pending_email_claim = true;
                    vec![Effect::ClaimEmail { visitor, email: text }]
                } else {
                    // A plausible address is shown back once: a typo here loses the badge.
                    self.screen = Screen::EmailEntry {
                        visitor,
                        text,
                        invalid: !plausible,
                        confirming: plausible,
                    };
                    vec![]
                }
            }
            (
                Tap::Back,
                Screen::EmailEntry {
                    visitor,
                    text,
                    confirming: true,
                    ..
                },
            ) => {
                self.screen = Screen::EmailEntry {
                    visitor,
                    text,
                    invalid: false,
                    confirming: false,
                };
                vec![]
            }
            (Tap::PinDigit(digit), Screen::PinEntry { purpose, .. }) if digit.is_ascii_digit() => {
                if self.pin.len() < 8 {
                    self.pin.push(digit);
                }
                self.screen = Screen::PinEntry {
                    purpose: purpose.clone(),
                    entered: self.pin.len(),
                    wrong: false,
                };
                // PINs are 4 digits unless configured longer; check from 4 on each digit.
                if self.pin.len() >= 4 {
                    return vec![Effect::CheckPin {
                        purpose,
                        pin: self.pin.clone(),
                    }];
                }
                vec![]
            }
            (Tap::PinBackspace, Screen::PinEntry { purpose, .. }) => {
                self.pin.pop();
                self.screen = Screen::PinEntry {
                    purpose,
                    entered: self.pin.len(),
                    wrong: false,
                };
                vec![]
            }
            (Tap::Back, Screen::EmailEntry { visitor, .. }) => {
                self.go(Screen::Claim { visitor }, now_ms);
                vec![]
            }
            (
                Tap::Back | Tap::Lock,
                Screen::Staff { .. } | Screen::Organiser | Screen::PinEntry { .. } | Screen::PinNotSetUp { .. },
            )
            | (Tap::Back, Screen::Claim { .. } | Screen::Done { .. } | Screen::Refused { .. }) => {
                self.go(Screen::Attract, now_ms);
                vec![]
            }
            (Tap::SyncNow, Screen::Organiser) => vec![Effect::SyncNow],
            (Tap::ExportUsb, Screen::Organiser) => vec![Effect::ExportUsb],
            (Tap::ResetClock, Screen::Organiser) => vec![Effect::ResetClock],
            _ => vec![],
        }
    }

    pub fn work_done(&mut self, result: WorkResult, now_ms: i64) -> Vec<Effect> {
        match result {
            WorkResult::Identified {
                text,
                result,
                already_claimed,
            } => {
                if self.pending_scan.as_deref() != Some(text.as_str()) || self.screen != Screen::Busy {
                    return vec![];
                }
                self.pending_scan = None;
                match result {
                    Ok(visitor) => match &visitor.role {
                        crate::domain::code::Role::Visitor if already_claimed => {
                            self.go(
                                Screen::Refused {
                                    reason: Refusal::AlreadyClaimed,
                                },
                                now_ms,
                            );
                            vec![]
                        }
                        crate::domain::code::Role::Visitor => {
                            self.go(Screen::Claim { visitor }, now_ms);
                            vec![]
                        }
                        crate::domain::code::Role::Staff { .. } => vec![Effect::CheckStaffCard { text }],
                        crate::domain::code::Role::Organiser => {
                            self.begin_pin(PinPurpose::Organiser, now_ms);
                            vec![]
                        }
                    },
                    Err(Refusal::Damaged) if text.len() < 8 => {
                        // Camera noise or a stray keypress: say nothing.
                        self.go(Screen::Attract, now_ms);
                        vec![]
                    }
                    Err(reason) => {
                        self.go(Screen::Refused { reason }, now_ms);
                        vec![]
                    }
                }
            }
            WorkResult::StaffCard { result } => {
                match result {
                    Ok(stand) => self.begin_pin(PinPurpose::Staff { stand }, now_ms),
                    Err(reason) => self.go(Screen::Refused { reason }, now_ms),
                }
                vec![]
            }
            WorkResult::Claimed(result) => {
                if self.screen != Screen::Busy {
                    return vec![];
                }
                let next = match result {
                    Ok(ClaimOutcome::Saved {
                        claim_url: Some(claim_url),
                        ..
                    }) => Screen::Done {
                        kind: DoneKind::Phone { claim_url },
                    },
                    Ok(ClaimOutcome::Saved { .. }) => Screen::Done {
                        kind: if self.pending_email_claim {
                            DoneKind::Email
                        } else {
                            DoneKind::Registration
                        },
                    },
                    Ok(ClaimOutcome::AlreadyClaimed { .. }) => Screen::Refused {
                        reason: Refusal::AlreadyClaimed,
                    },
                    Err(reason) => Screen::Refused { reason },
                };
                self.go(next, now_ms);
                vec![]
            }
            WorkResult::Step(result) => {
                if let Screen::Staff { stand, visitors, .. } = self.screen.clone() {
                    let visitors = visitors + u32::from(matches!(&result, Ok(outcome) if outcome.newly_recorded));
                    let feedback = Some(match result {
                        Ok(outcome) => StaffFeedback::Recorded(outcome),
                        Err(reason) => StaffFeedback::Refused(reason),
                    });
                    self.screen = Screen::Staff {
                        stand,
                        feedback,
                        visitors,
                    };
                    self.last_activity_ms = now_ms;
                }
                vec![]
            }
            WorkResult::PinChecked {
                purpose,
                correct,
                complete,
            } => {
                let Screen::PinEntry { purpose: current, .. } = &self.screen else {
                    return vec![];
                };
                if *current != purpose {
                    return vec![];
                }
                if correct {
                    self.pin.clear();
                    let had_failures = self.pin_failures > 0;
                    self.pin_failures = 0;
                    self.locked_until_ms = 0;
                    match purpose {
                        PinPurpose::Staff { stand } => self.go(
                            Screen::Staff {
                                stand,
                                feedback: None,
                                visitors: 0,
                            },
                            now_ms,
                        ),
                        PinPurpose::Organiser => self.go(Screen::Organiser, now_ms),
                    }
                    let mut effects = vec![];
                    if had_failures {
                        effects.push(Effect::SaveLockout {
                            failures: 0,
                            locked_until_ms: 0,
                        });
                    }
                    if self.screen == Screen::Organiser {
                        effects.push(Effect::RefreshOrganiser);
                    }
                    effects
                } else if complete || self.pin.len() >= 8 {
                    self.pin.clear();
                    self.pin_failures += 1;
                    let mut effects = vec![];
                    if let Some(delay) = lockout_after(self.pin_failures) {
                        self.locked_until_ms = now_ms + delay;
                        self.go(
                            Screen::LockedOut {
                                until_ms: self.locked_until_ms,
                            },
                            now_ms,
                        );
                    } else {
                        self.screen = Screen::PinEntry {
                            purpose,
                            entered: 0,
                            wrong: true,
                        };
                    }
                    effects.push(Effect::SaveLockout {
                        failures: self.pin_failures,
                        locked_until_ms: self.locked_until_ms,
                    });
                    effects
                } else {
                    vec![]
                }
            }
        }
    }

    fn begin_pin(&mut self, purpose: PinPurpose, now_ms: i64) {
        self.pin.clear();
        let set_up = match purpose {
            PinPurpose::Staff { .. } => self.pins.staff,
            PinPurpose::Organiser => self.pins.organiser,
        };
        if !set_up {
            self.go(Screen::PinNotSetUp { purpose }, now_ms);
        } else if now_ms < self.locked_until_ms {
            self.go(
                Screen::LockedOut {
                    until_ms: self.locked_until_ms,
                },
                now_ms,
            );
        } else {
            self.go(
                Screen::PinEntry {
                    purpose,
                    entered: 0,
                    wrong: false,
                },
                now_ms,
            );
        }
    }

    /// Called about once a second: timeouts.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Effect> {
        let idle = now_ms - self.last_activity_ms;
        let back_to_attract = match &self.screen {
            Screen::Attract | Screen::Busy | Screen::Organiser => false,
            Screen::Done { .. } | Screen::Refused { .. } | Screen::PinNotSetUp { .. } => idle >= self.timing.result_ms,
            Screen::LockedOut { until_ms } => now_ms >= *until_ms,
            Screen::Staff { .. } => idle >= self.timing.staff_idle_ms,
            Screen::Claim { .. } | Screen::EmailEntry { .. } | Screen::PinEntry { .. } => {
                idle >= self.timing.idle_timeout_ms
            }
        };
        let organiser_idle = matches!(self.screen, Screen::Organiser) && idle >= self.timing.staff_idle_ms;
        if back_to_attract || organiser_idle {
            self.go(Screen::Attract, now_ms);
        }
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::code::Role;
    use crate::domain::pathway::PathwayProgress;
    use crate::kiosk::PathwayStatus;

    #[test]
    fn every_refusal_is_listed() {
        // A new variant fails to compile here; give it the next position and add it to ALL.
        let position = |refusal: &Refusal| match refusal {
            Refusal::AlreadyClaimed => 0,
            Refusal::OtherEvent => 1,
            Refusal::Expired => 2,
            Refusal::NotYetValid => 3,
            Refusal::Forged => 4,
            Refusal::Revoked => 5,
            Refusal::UnknownKey => 6,
            Refusal::Damaged => 7,
            Refusal::NotAVisitorCode => 8,
            Refusal::WrongStand => 9,
            Refusal::NotStaffCard => 10,
            Refusal::NotSaved => 11,
            Refusal::UpdateNeeded => 12,
        };
        let positions: Vec<usize> = Refusal::ALL.iter().map(position).collect();
        assert_eq!(positions, (0..Refusal::ALL.len()).collect::<Vec<_>>());
    }

    fn visitor(holder: Option<&str>) -> Identified {
        Identified {
            code_id: vec![1; 10],
            role: Role::Visitor,
            holder: holder.map(str::to_owned),
            short_id: "AAAA-BBBB".into(),
            code: Vec::new(),
            ticket: None,
        }
    }

    fn machine() -> Machine {
        Machine::new(Language::Fr, Timing::default(), 0, 0)
    }

    fn identified(m: &mut Machine, text: &str, result: Result<Identified, Refusal>, now: i64) -> Vec<Effect> {
        m.work_done(
            WorkResult::Identified {
                text: text.into(),
                result,
                already_claimed: false,
            },
            now,
        )
    }

    #[test]
    fn visitor_claims_with_registration() {
        let mut m = machine();
        assert_eq!(
            m.scanned("BKCODE1", 1_000),
            vec![Effect::Identify { text: "BKCODE1".into() }]
        );
        assert_eq!(m.screen, Screen::Busy);
        // Scans are ignored while busy.
        assert!(m.scanned("BKCODE2", 1_100).is_empty());
        identified(&mut m, "BKCODE1", Ok(visitor(Some("R-1"))), 1_200);
        assert!(matches!(m.screen, Screen::Claim { .. }));
        let effects = m.tap(Tap::ClaimRegistered, 2_000);
        assert!(matches!(effects[0], Effect::ClaimRegistered { .. }));
        m.work_done(
            WorkResult::Claimed(Ok(ClaimOutcome::Saved {
                sequence: 1,
                badge_id: "a".into(),
                claim_url: None,
            })),
            2_100,
        );
        assert_eq!(
            m.screen,
            Screen::Done {
                kind: DoneKind::Registration
            }
        );
        m.tick(2_100 + Timing::default().result_ms);
        assert_eq!(m.screen, Screen::Attract);
    }

    #[test]
    fn email_claim_validates_then_saves() {
        let mut m = machine();
        m.scanned("BKX", 0);
        identified(&mut m, "BKX", Ok(visitor(None)), 10);
        // No registration: the "send to my registered email" button does nothing.
        assert!(m.tap(Tap::ClaimRegistered, 20).is_empty());
        m.tap(Tap::ClaimByEmail, 30);
        m.tap(Tap::EmailChanged("marie@".into()), 40);
        assert!(m.tap(Tap::EmailSubmit, 50).is_empty());
        assert!(matches!(m.screen, Screen::EmailEntry { invalid: true, .. }));
        m.tap(Tap::EmailChanged("marie@example.fr".into()), 60);
        // The first submit shows the address back; "change it" returns to typing.
        assert!(m.tap(Tap::EmailSubmit, 62).is_empty());
        assert!(matches!(m.screen, Screen::EmailEntry { confirming: true, .. }));
        m.tap(Tap::Back, 63);
        assert!(matches!(m.screen, Screen::EmailEntry { confirming: false, .. }));
        assert!(m.tap(Tap::EmailSubmit, 64).is_empty());
        let effects = m.tap(Tap::EmailSubmit, 70);
        assert!(matches!(&effects[0], Effect::ClaimEmail { email, .. } if email == "marie@example.fr"));
        m.work_done(
            WorkResult::Claimed(Ok(ClaimOutcome::Saved {
                sequence: 1,
                badge_id: "a".into(),
                claim_url: None,
            })),
            80,
        );
        assert_eq!(m.screen, Screen::Done { kind: DoneKind::Email });
    }

    #[test]
    fn phone_claim_shows_link() {
        let mut m = machine();
        m.scanned("BKX", 0);
        identified(&mut m, "BKX", Ok(visitor(None)), 10);
        m.tap(Tap::ClaimOnPhone, 20);
        m.work_done(
            WorkResult::Claimed(Ok(ClaimOutcome::Saved {
                sequence: 1,
                badge_id: "a".into(),
                claim_url: Some("https://h/claim/T".into()),
            })),
            30,
        );
        assert_eq!(
            m.screen,
            Screen::Done {
                kind: DoneKind::Phone {
                    claim_url: "https://h/claim/T".into()
                }
            }
        );
    }

    #[test]
    fn refusals_show_then_return_and_debounce() {
        let mut m = machine();
        m.scanned("BKFORGED", 0);
        identified(&mut m, "BKFORGED", Err(Refusal::Forged), 10);
        assert_eq!(
            m.screen,
            Screen::Refused {
                reason: Refusal::Forged
            }
        );
        // The same code again within the debounce window is ignored.
        assert!(m.scanned("BKFORGED", 1_000).is_empty());
        assert!(!m.scanned("BKFORGED", 5_000).is_empty());
        identified(&mut m, "BKFORGED", Err(Refusal::Forged), 5_010);
        m.tick(5_010 + Timing::default().result_ms);
        assert_eq!(m.screen, Screen::Attract);
        // Already claimed is its own refusal.
        m.scanned("BKOLD", 20_000);
        m.work_done(
            WorkResult::Identified {
                text: "BKOLD".into(),
                result: Ok(visitor(None)),
                already_claimed: true,
            },
            20_010,
        );
        assert_eq!(
            m.screen,
            Screen::Refused {
                reason: Refusal::AlreadyClaimed
            }
        );
    }

    #[test]
    fn idle_timeout_wipes_the_visitor() {
        let mut m = machine();
        m.scanned("BKX", 0);
        identified(&mut m, "BKX", Ok(visitor(Some("R-1"))), 10);
        m.tap(Tap::ToggleLanguage, 20);
        assert_eq!(m.language, Language::En);
        m.tick(20 + Timing::default().idle_timeout_ms - 1);
        assert!(matches!(m.screen, Screen::Claim { .. }));
        m.tick(20 + Timing::default().idle_timeout_ms);
        assert_eq!(m.screen, Screen::Attract);
        assert_eq!(m.language, Language::Fr);
    }

    #[test]
    fn staff_unlock_and_pathway_steps() {
        let mut m = machine();
        m.scanned("BKSTAFF", 0);
        let staff = Identified {
            role: Role::Staff {
                stand: "cuisine".into(),
            },
            ..visitor(None)
        };
        let effects = identified(&mut m, "BKSTAFF", Ok(staff), 10);
        assert_eq!(effects, vec![Effect::CheckStaffCard { text: "BKSTAFF".into() }]);
        m.work_done(
            WorkResult::StaffCard {
                result: Ok("cuisine".into()),
            },
            20,
        );
        let purpose = PinPurpose::Staff {
            stand: "cuisine".into(),
        };
        assert_eq!(
            m.screen,
            Screen::PinEntry {
                purpose: purpose.clone(),
                entered: 0,
                wrong: false
            }
        );
        for digit in ['1', '2', '3'] {
            assert!(m.tap(Tap::PinDigit(digit), 30).is_empty());
        }
        let effects = m.tap(Tap::PinDigit('4'), 40);
        assert_eq!(
            effects,
            vec![Effect::CheckPin {
                purpose: purpose.clone(),
                pin: "1234".into()
            }]
        );
        m.work_done(
            WorkResult::PinChecked {
                purpose,
                correct: true,
                complete: true,
            },
            50,
        );
        assert!(matches!(m.screen, Screen::Staff { .. }));
        let effects = m.scanned("BKVISITOR", 100);
        assert_eq!(
            effects,
            vec![Effect::RecordStep {
                text: "BKVISITOR".into(),
                stand: "cuisine".into()
            }]
        );
        let outcome = StepOutcome {
            stand: "cuisine".into(),
            newly_recorded: true,
            pathways: vec![PathwayStatus {
                badge_id: "p".into(),
                progress: PathwayProgress {
                    counted_visited: 3,
                    counted_needed: 3,
                    required_missing: vec![],
                    complete: true,
                },
                awarded_now: true,
                already_awarded: false,
            }],
        };
        m.work_done(WorkResult::Step(Ok(outcome)), 150);
        assert!(matches!(
            &m.screen,
            Screen::Staff {
                visitors: 1,
                feedback: Some(StaffFeedback::Recorded(_)),
                ..
            }
        ));
        // One visitor per second: the next scan is taken at once.
        assert!(!m.scanned("BKVISITOR2", 1_100).is_empty());
        m.tap(Tap::Lock, 2_000);
        assert_eq!(m.screen, Screen::Attract);
    }

    /// #20 item 4: a mode with no PIN set up says so, takes no digit and never locks.
    #[test]
    fn regression_20_4_a_mode_without_a_pin_says_so_without_lockout() {
        let mut m = machine();
        m.set_pins_set_up(PinsSetUp {
            staff: false,
            organiser: false,
        });
        let mut now = 0;
        for attempt in 1..=6u32 {
            now += 1_000;
            m.scanned(&format!("BKORG{attempt}"), now);
            m.work_done(
                WorkResult::Identified {
                    text: format!("BKORG{attempt}"),
                    result: Ok(Identified {
                        role: Role::Organiser,
                        ..visitor(None)
                    }),
                    already_claimed: false,
                },
                now,
            );
            assert_eq!(
                m.screen,
                Screen::PinNotSetUp {
                    purpose: PinPurpose::Organiser
                }
            );
            for digit in "12345678".chars() {
                assert!(m.tap(Tap::PinDigit(digit), now).is_empty(), "no PIN is checked");
            }
            assert_eq!(m.pin_failures, 0);
            assert_eq!(m.tap(Tap::Back, now), vec![]);
            assert_eq!(m.screen, Screen::Attract);
        }
        now += 1_000;
        m.scanned("BKSTAFF", now);
        m.work_done(
            WorkResult::Identified {
                text: "BKSTAFF".into(),
                result: Ok(Identified {
                    role: Role::Staff {
                        stand: "boulangerie".into(),
                    },
                    ..visitor(None)
                }),
                already_claimed: false,
            },
            now,
        );
        m.work_done(
            WorkResult::StaffCard {
                result: Ok("boulangerie".into()),
            },
            now,
        );
        assert_eq!(
            m.screen,
            Screen::PinNotSetUp {
                purpose: PinPurpose::Staff {
                    stand: "boulangerie".into()
                }
            }
        );
        // It goes back to the start on its own, like a refusal.
        m.tick(now + 60_000);
        assert_eq!(m.screen, Screen::Attract);
        assert_eq!(m.locked_until_ms, 0);
    }

    #[test]
    fn wrong_pins_lock_with_growing_delays() {
        let mut m = machine();
        let purpose = PinPurpose::Organiser;
        let mut now = 0;
        let mut lockouts = vec![];
        for attempt in 1..=5u32 {
            now += 1_000;
            m.scanned(&format!("BKORG{attempt}"), now);
            m.work_done(
                WorkResult::Identified {
                    text: format!("BKORG{attempt}"),
                    result: Ok(Identified {
                        role: Role::Organiser,
                        ..visitor(None)
                    }),
                    already_claimed: false,
                },
                now,
            );
            if let Screen::LockedOut { until_ms } = m.screen {
                now = until_ms;
                m.tick(now);
                continue;
            }
            for digit in "000".chars() {
                m.tap(Tap::PinDigit(digit), now);
            }
            m.tap(Tap::PinDigit('0'), now);
            let effects = m.work_done(
                WorkResult::PinChecked {
                    purpose: purpose.clone(),
                    correct: false,
                    complete: true,
                },
                now,
            );
            let Some(Effect::SaveLockout {
                failures,
                locked_until_ms,
            }) = effects.last().cloned()
            else {
                panic!("lockout state must be saved");
            };
            assert_eq!(failures, m.pin_failures);
            if locked_until_ms > now {
                lockouts.push(locked_until_ms - now);
            }
        }
        assert_eq!(lockouts, vec![30_000, 60_000]);
        // Restarting with the saved state keeps the lock.
        let mut restarted = Machine::new(Language::Fr, Timing::default(), 5, now + 10_000);
        restarted.scanned("BKORG9", now);
        restarted.work_done(
            WorkResult::Identified {
                text: "BKORG9".into(),
                result: Ok(Identified {
                    role: Role::Organiser,
                    ..visitor(None)
                }),
                already_claimed: false,
            },
            now,
        );
        assert!(matches!(restarted.screen, Screen::LockedOut { .. }));
    }

    #[test]
    fn lockout_schedule() {
        assert_eq!(lockout_after(2), None);
        assert_eq!(lockout_after(3), Some(30_000));
        assert_eq!(lockout_after(4), Some(60_000));
        assert_eq!(lockout_after(100), Some(3_600_000));
    }
}
