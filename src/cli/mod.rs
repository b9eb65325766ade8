//! The command line: every kiosk operation, scriptable, through the same library code.

pub mod args;
mod bench;
mod commands;
mod hub_commands;
mod hub_issue;

pub use args::Cli;
pub use commands::{exit_code, run};
pub use hub_issue::{TryAgainLater, EXIT_TRY_AGAIN_LATER};
