//! `clock show|reset`: the trusted floor a hub's signed time raised, and its reset.

use anyhow::Result;

use super::args::ClockCommand;
use crate::app::open_kiosk;
use crate::config::Config;

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `clock show|reset`: the trusted floor a hub's signed time raised, and its reset.
pub(super) fn run(config: &Config, command: ClockCommand) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    if let ClockCommand::Reset = command {
        let floor = kiosk.store().reset_trusted_time()?;
        println!(
            "trusted clock reset: the floor is now {}; the kiosk signs with its system clock until the next sync brings the hub's signed time (believed only within the event's dates)",
            if floor > 0 { format_ms(floor) } else { "none".into() }
        );
    }
    let floor = kiosk.store().trusted_time_floor()?;
    let now = kiosk.now()?;
    println!(
        "system clock {}, trusted floor {}, signing with {}{}",
        format_ms(chrono::Utc::now().timestamp_millis()),
        if floor > 0 { format_ms(floor) } else { "none".into() },
        format_ms(now.now_ms),
        if now.clock_behind {
            " (the system clock is behind the floor)"
        } else {
            ""
        }
    );
    Ok(())
}
