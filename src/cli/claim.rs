//! `claim CODE` and `step CODE --stand S`: what a tap on the kiosk and a staff scan do.

use anyhow::Result;

use super::args::{ClaimArgs, StepArgs};
use super::Reported;
use crate::app::open_kiosk;
use crate::config::Config;
use crate::kiosk::{ClaimOutcome, Delivery};

/// Codes one per line from standard input are handled as they arrive, so a USB barcode
/// scanner (or a test) can feed a running claim and read each answer before the next code.
fn read_codes(code: &str) -> Box<dyn Iterator<Item = std::io::Result<String>>> {
    if code == "-" {
        Box::new(
            std::io::stdin()
                .lines()
                .map(|line| line.map(|l| l.trim().to_owned()))
                .filter(|line| !matches!(line, Ok(l) if l.is_empty())),
        )
    } else {
        Box::new(std::iter::once(Ok(code.to_owned())))
    }
}

pub(super) fn claim(config: &Config, args: ClaimArgs) -> Result<()> {
    let mut kiosk = open_kiosk(config)?;
    let mut refused = 0;
    for code in read_codes(&args.code) {
        let code = code?;
        let outcome = kiosk.identify(&code).and_then(|visitor| {
            let delivery = match (&args.email, args.phone, &visitor.holder) {
                (Some(email), _, _) => Delivery::Email(email.clone()),
                (None, true, _) => Delivery::Phone,
                (None, false, Some(_)) => Delivery::Registration,
                (None, false, None) => Delivery::Phone,
            };
            kiosk.claim(&visitor, None, delivery).map(|outcome| (visitor, outcome))
        });
        match outcome {
            Ok((
                visitor,
                ClaimOutcome::Saved {
                    sequence,
                    badge_id,
                    claim_url,
                },
            )) => {
                print!("saved: {badge_id} for {} (record #{sequence})", visitor.short_id);
                if let Some(url) = claim_url {
                    print!(" claim link: {url}");
                }
                println!();
            }
            Ok((visitor, ClaimOutcome::AlreadyClaimed { created_at_ms })) => {
                let at = chrono::DateTime::from_timestamp_millis(created_at_ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                println!("already claimed: {} claimed this badge at {at}", visitor.short_id);
            }
            Err(error) => {
                refused += 1;
                println!("refused: {error}");
            }
        }
    }
    if refused > 0 {
        return Err(Reported::new(2, crate::plural::count(refused, "code refused", "codes refused")).into());
    }
    Ok(())
}

pub(super) fn step(config: &Config, args: StepArgs) -> Result<()> {
    let mut kiosk = open_kiosk(config)?;
    let visitor = kiosk.identify(&args.code)?;
    let outcome = kiosk.record_step(&visitor, &args.stand)?;
    println!(
        "{} at {}: {}",
        visitor.short_id,
        args.stand,
        if outcome.newly_recorded {
            "recorded"
        } else {
            "already recorded"
        }
    );
    for pathway in outcome.pathways {
        let progress = &pathway.progress;
        print!(
            "  {}: {} of {} stands",
            pathway.badge_id, progress.counted_visited, progress.counted_needed
        );
        if !progress.required_missing.is_empty() {
            print!(", still needs {}", progress.required_missing.join(", "));
        }
        if pathway.awarded_now {
            print!(" — pathway complete, badge awarded");
        } else if pathway.already_awarded {
            print!(" — badge already awarded");
        }
        println!();
    }
    Ok(())
}
