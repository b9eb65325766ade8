//! The command line: every kiosk operation, scriptable, through the same library code.

pub mod args;
mod bench;
mod commands;
mod hub_commands;
mod hub_issue;
mod hub_relay;

pub use args::Cli;
pub use commands::{exit_code, make_codes, open_event, open_kiosk, run, sync_settings, CodeToPrint};
pub use hub_commands::write_export;
pub use hub_issue::{TryAgainLater, EXIT_TRY_AGAIN_LATER};
