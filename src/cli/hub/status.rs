//! `hub status`: the hub's counts, and where the awards stand with the badge platforms.

use anyhow::Result;

use super::open_hub;
use crate::cli::args::HubStatusArgs;
use crate::config::Config;
use crate::hub::issue;
use crate::platform::Platform;

pub(super) fn run(config: &Config, args: HubStatusArgs) -> Result<()> {
    let HubStatusArgs { data } = args;
    let (store, _) = open_hub(config, &data)?;
    let counts = store.counts()?;
    for (badge, n) in counts.awards_by_badge {
        println!("awards {badge}: {n}");
    }
    for (stand, n) in counts.steps_by_stand {
        println!("visitors at {stand}: {n}");
    }
    for (kiosk, n) in counts.records_by_kiosk {
        println!("records from {}: {n}", crate::hub::trust::printable(&kiosk));
    }
    println!("cross-kiosk duplicates: {}", counts.duplicates);
    super::relay::print_status(&store)?;
    if let Some(wallet) = store.wallet_setting()? {
        println!(
            "wallets: {} ({} offers made, {} badges taken into a wallet)",
            wallet.detail, wallet.offers, wallet.taken
        );
    }
    for platform in [Platform::Obf, Platform::Badgr] {
        let issues = issue::award_issues(store.connection(), platform)?;
        let counts = issue::counts(&issues);
        if counts.confirmed + counts.failed + counts.sending > 0 {
            println!(
                "{}: {} issued, {} refused, {} queued, {} sent awaiting a check, {} need an email \
                 (details: badge-kiosk hub recipients --platform {})",
                platform.label(),
                counts.confirmed,
                counts.failed,
                counts.queued,
                counts.sending,
                counts.needs_email,
                platform.key()
            );
        }
    }
    Ok(())
}
