//! `hub pins set|clear|show`: the staff and organiser PINs kiosks get in the signed bundle.

use anyhow::{bail, Context, Result};

use super::open_hub;
use crate::cli::args::{HubPinsCommand, PinRoleArg};
use crate::config::Config;
use crate::domain::clock::{Clock, SystemClock};
use crate::hub::store::PinRole;

fn role(arg: PinRoleArg) -> PinRole {
    match arg {
        PinRoleArg::Staff => PinRole::Staff,
        PinRoleArg::Organiser => PinRole::Organiser,
    }
}

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub(super) fn run(config: &Config, command: HubPinsCommand) -> Result<()> {
    match command {
        HubPinsCommand::Set { role: which, data } => {
            let mut pin = String::new();
            std::io::stdin()
                .read_line(&mut pin)
                .context("reading the PIN from standard input")?;
            let pin = pin.trim();
            if !crate::domain::pin::is_pin(pin) {
                bail!("a PIN is 4 to 8 digits: type it, then Enter");
            }
            if pin == crate::domain::pin::DEMO_STAFF_PIN || pin == crate::domain::pin::DEMO_ORGANISER_PIN {
                bail!("this is the demo event's PIN, which everyone knows: choose another");
            }
            let hash = crate::domain::pin::hash_pin(pin)?;
            let (store, _) = open_hub(config, &data)?;
            store.set_pin(role(which), Some(&hash), SystemClock.now_ms())?;
            println!(
                "{} PIN set (Argon2 hash): every kiosk takes it at its next sync; a PIN in a kiosk's own configuration still wins there",
                role(which).name()
            );
        }
        HubPinsCommand::Clear { role: which, data } => {
            let (store, _) = open_hub(config, &data)?;
            store.set_pin(role(which), None, SystemClock.now_ms())?;
            println!(
                "{} PIN removed: at their next sync, kiosks without a PIN of their own show that this mode is not set up",
                role(which).name()
            );
        }
        HubPinsCommand::Show { data } => {
            let (store, _) = open_hub(config, &data)?;
            for which in [PinRole::Staff, PinRole::Organiser] {
                match store.pin(which)? {
                    Some((_, at)) => println!("{}: set {}", which.name(), format_ms(at)),
                    None => println!(
                        "{}: not set (set it with `badge-kiosk hub pins set {} --data DIR`)",
                        which.name(),
                        which.name()
                    ),
                }
            }
        }
    }
    Ok(())
}
