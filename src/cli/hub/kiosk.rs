//! `hub kiosk list|revoke|replace`: the fleet of enrolled kiosks.

use anyhow::{bail, Result};

use super::open_hub;
use crate::cli::args::KioskFleetCommand;
use crate::config::Config;

/// `hub kiosk list|revoke|replace`.
pub(super) fn run(config: &Config, command: KioskFleetCommand) -> Result<()> {
    use crate::hub::trust::printable;
    let now = chrono::Utc::now().timestamp_millis();
    match command {
        KioskFleetCommand::List { data } => {
            let (store, _) = open_hub(config, &data)?;
            let fleet = store.kiosk_fleet()?;
            if fleet.is_empty() {
                println!("no kiosk enrolled yet: make a code with `badge-kiosk hub enrol-token`");
            }
            for kiosk in fleet {
                println!(
                    "{}\tkey {}\tcertificate {}\tlast seen {}\t{}{}{}",
                    printable(&kiosk.kiosk_id),
                    kiosk.fingerprint,
                    kiosk.certificate_issued_ms.map_or_else(|| "-".into(), format_time),
                    format_time(kiosk.last_seen_ms),
                    crate::plural::count(kiosk.records, "record", "records"),
                    kiosk
                        .queue_waiting
                        .map(|n| format!(", {n} waiting on the kiosk"))
                        .unwrap_or_default(),
                    kiosk
                        .revoked
                        .map(|revocation| format!(
                            "\tREVOKED {} ({})",
                            format_time(revocation.at_ms),
                            printable(&revocation.reason)
                        ))
                        .unwrap_or_default(),
                );
            }
            Ok(())
        }
        KioskFleetCommand::Revoke { id, data, reason } => {
            let (store, _) = open_hub(config, &data)?;
            if !store.revoke_kiosk(&id, &reason, now)? {
                bail!(
                    "no kiosk {} on this hub: see the ids with `badge-kiosk hub kiosk list --data {}`",
                    printable(&id),
                    data.display()
                );
            }
            println!(
                "kiosk {} revoked: its next uploads are refused ({}); what it sent before stays on the hub",
                printable(&id),
                printable(&reason)
            );
            Ok(())
        }
        KioskFleetCommand::Replace { id, data } => {
            let (store, _) = open_hub(config, &data)?;
            if !store.allow_kiosk_replacement(&id)? {
                bail!(
                    "no kiosk {} on this hub: a new kiosk can simply enrol under that id",
                    printable(&id)
                );
            }
            println!(
                "the next kiosk that enrols as {} replaces the old one: the old device's certificate is no longer \
                 accepted and its records stay on the hub under an archive id",
                printable(&id)
            );
            Ok(())
        }
    }
}

fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}
