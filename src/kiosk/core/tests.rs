use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::*;
use crate::domain::code::{AttendanceCode, CodeClaims};

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct FakeClock(pub Arc<AtomicI64>);

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const NOW_MS: i64 = 1_795_000_000_000;

fn kiosk(dir: &Path) -> (KioskCore, FakeClock) {
    let event = EventDir::demo(dir).unwrap();
    let clock = FakeClock(Arc::new(AtomicI64::new(NOW_MS)));
    let core = KioskCore::open(event, &dir.join("data"), Some("test-kiosk"), Box::new(clock.clone())).unwrap();
    (core, clock)
}

fn code(core: &KioskCore, role: Role, holder: Option<&str>) -> String {
    let key = core.event.event_key.clone().unwrap();
    AttendanceCode::sign(
        &core.definition().event.id,
        &key,
        CodeClaims {
            code_id: CodeId::random(),
            role,
            holder: holder.map(str::to_owned),
            valid_from: 1_700_000_000,
            valid_until: 1_900_000_000,
        },
    )
    .unwrap()
    .to_text()
}

#[test]
fn claim_twice_is_already_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, _) = kiosk(dir.path());
    let text = code(&core, Role::Visitor, Some("REG-1"));
    let visitor = core.identify(&text).unwrap();
    assert!(matches!(
        core.claim(&visitor, None, Delivery::Registration).unwrap(),
        ClaimOutcome::Saved { sequence: 1, .. }
    ));
    assert!(matches!(
        core.claim(&visitor, None, Delivery::Email("x@y.fr".into())).unwrap(),
        ClaimOutcome::AlreadyClaimed { .. }
    ));
    assert!(core
        .store()
        .audit(&core.device_key().verifying_key())
        .unwrap()
        .faults
        .is_empty());
}

#[test]
fn email_and_phone_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, _) = kiosk(dir.path());
    let visitor = core.identify(&code(&core, Role::Visitor, None)).unwrap();
    assert!(matches!(
        core.claim(&visitor, None, Delivery::Registration),
        Err(KioskError::BadEmail)
    ));
    assert!(matches!(
        core.claim(&visitor, None, Delivery::Email("nope".into())),
        Err(KioskError::BadEmail)
    ));
    core.claim(&visitor, None, Delivery::Email(" Marie@Example.fr ".into()))
        .unwrap();
    assert_eq!(
        core.store().record(1).unwrap().unwrap().email.as_deref(),
        Some("marie@example.fr")
    );
    let other = core.identify(&code(&core, Role::Visitor, None)).unwrap();
    let ClaimOutcome::Saved {
        claim_url: Some(url), ..
    } = core.claim(&other, None, Delivery::Phone).unwrap()
    else {
        panic!("expected a claim link");
    };
    assert!(url.starts_with("https://claim.example.org/claim/"), "{url}");
}

/// Claim links: the public claim address, else the enrolled hub, else `[sync] hub`, and
/// never the issuer's website (issue 17).
#[test]
fn claim_links_point_at_the_public_address_then_the_hub_never_the_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, _) = kiosk(dir.path());
    assert_eq!(core.claim_base().unwrap().as_deref(), Some("https://claim.example.org"));
    let issuer = core.definition().issuer.url.clone();

    core.event.definition.claim.public_url = None;
    assert_eq!(core.claim_base().unwrap(), None);
    let visitor = core.identify(&code(&core, Role::Visitor, None)).unwrap();
    assert!(matches!(
        core.claim(&visitor, None, Delivery::Phone),
        Err(KioskError::NoClaimAddress)
    ));
    assert_eq!(core.store().counts().unwrap().queued, 0, "nothing saved without a link");

    core.event.definition.sync.hub = Some("https://hub.example.net:8443/".into());
    assert_eq!(
        core.claim_base().unwrap().as_deref(),
        Some("https://hub.example.net:8443")
    );
    core.store()
        .set_setting(HUB_URL_SETTING, "https://10.0.0.2:8787")
        .unwrap();
    let ClaimOutcome::Saved {
        claim_url: Some(url), ..
    } = core.claim(&visitor, None, Delivery::Phone).unwrap()
    else {
        panic!("expected a claim link");
    };
    assert!(url.starts_with("https://10.0.0.2:8787/claim/"), "{url}");
    assert!(!url.starts_with(&issuer), "{url}");
}

#[test]
fn staff_cards_and_roles() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, _) = kiosk(dir.path());
    let staff = core
        .identify(&code(
            &core,
            Role::Staff {
                stand: "boulangerie".into(),
            },
            None,
        ))
        .unwrap();
    assert_eq!(core.staff_stand(&staff, None).unwrap(), "boulangerie");
    assert_eq!(core.staff_stand(&staff, Some("boulangerie")).unwrap(), "boulangerie");
    assert!(matches!(
        core.staff_stand(&staff, Some("cuisine")),
        Err(KioskError::Refused(CodeRefusal::WrongStand { .. }))
    ));
    assert!(matches!(
        core.claim(&staff, None, Delivery::Phone),
        Err(KioskError::Refused(CodeRefusal::RoleNotAllowed { .. }))
    ));
    let visitor = core.identify(&code(&core, Role::Visitor, None)).unwrap();
    assert!(core.staff_stand(&visitor, None).is_err());
}

#[test]
fn pathway_completes_once_with_counsellor() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, _) = kiosk(dir.path());
    let visitor = core.identify(&code(&core, Role::Visitor, Some("REG-9"))).unwrap();
    for stand in ["boulangerie", "patisserie", "boucherie"] {
        let outcome = core.record_step(&visitor, stand).unwrap();
        assert!(outcome.newly_recorded);
        assert!(!outcome.pathways[0].awarded_now);
    }
    let again = core.record_step(&visitor, "patisserie").unwrap();
    assert!(!again.newly_recorded);
    assert_eq!(again.pathways[0].progress.counted_visited, 3);
    assert_eq!(
        again.pathways[0].progress.required_missing,
        vec!["orientation".to_string()]
    );
    let done = core.record_step(&visitor, "orientation").unwrap();
    assert!(done.pathways[0].awarded_now);
    let after = core.record_step(&visitor, "cuisine").unwrap();
    assert!(after.pathways[0].already_awarded && !after.pathways[0].awarded_now);
    let counts = core.store().counts().unwrap();
    assert_eq!(counts.awards_by_badge, vec![("food-pathway".to_string(), 1)]);
}

#[test]
fn clock_never_runs_backwards_for_validity() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, clock) = kiosk(dir.path());
    let visitor = core.identify(&code(&core, Role::Visitor, Some("R"))).unwrap();
    core.claim(&visitor, None, Delivery::Registration).unwrap();
    // The board rebooted without a real-time clock: 1970.
    clock.0.store(0, Ordering::SeqCst);
    let now = core.now().unwrap();
    assert!(now.clock_behind);
    assert_eq!(now.now_ms, NOW_MS);
    // Codes are still checked against the trusted time, not 1970.
    assert!(core.identify(&code(&core, Role::Visitor, None)).is_ok());
}

#[test]
fn a_board_that_lost_its_clock_never_signs_before_its_latest_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, clock) = kiosk(dir.path());
    // The clock ran on for three hours after the last trusted time, and a badge was signed.
    let later = NOW_MS + 3 * 3_600_000;
    clock.0.store(later, Ordering::SeqCst);
    let visitor = core.identify(&code(&core, Role::Visitor, Some("R"))).unwrap();
    core.claim(&visitor, None, Delivery::Registration).unwrap();
    // Power cut, no real-time clock: back to 1970.
    clock.0.store(0, Ordering::SeqCst);
    let now = core.now().unwrap();
    assert!(now.clock_behind);
    assert_eq!(now.now_ms, later, "not the older trusted time {NOW_MS}");
    let next = core.identify(&code(&core, Role::Visitor, Some("S"))).unwrap();
    core.claim(&next, None, Delivery::Registration).unwrap();
    let times: Vec<i64> = core
        .store()
        .records(0, 10)
        .unwrap()
        .iter()
        .map(|stored| stored.record.content.created_at_ms)
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
}

#[test]
fn allow_listed_tickets_are_visitors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, _) = kiosk(dir.path());
    core.import_allow_list(b"barcode,registration\n1234567890123,R-77\n")
        .unwrap();
    let visitor = core.identify("1234567890123").unwrap();
    assert_eq!(visitor.holder.as_deref(), Some("R-77"));
    assert!(matches!(
        core.identify("999"),
        Err(KioskError::Refused(CodeRefusal::NotACode))
    ));
}

#[test]
fn revoked_codes_are_refused_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut core, _) = kiosk(dir.path());
    let text = code(&core, Role::Visitor, None);
    let visitor = core.identify(&text).unwrap();
    core.revoke(CodeId(visitor.code_id.clone().try_into().unwrap()))
        .unwrap();
    drop(core);
    let (core, _) = kiosk(dir.path());
    assert!(matches!(
        core.identify(&text),
        Err(KioskError::Refused(CodeRefusal::Revoked))
    ));
}
