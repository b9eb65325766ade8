//! The command line: every kiosk and hub operation, scriptable, through the same library
//! code as the touchscreen. `args` holds the flags (clap); each command, or group of
//! commands, has its own file that turns its flags into calls on `app`, `kiosk`, `hub`…;
//! `run` dispatches. Nothing outside `cli/` and `main.rs` uses this module.

pub mod args;
#[cfg(feature = "bench")]
mod bench;
mod claim;
mod clock;
mod codes;
mod credential;
mod event;
mod hub;
mod pin_hash;
mod progress;
mod queue;
mod revoke;
mod scan;
mod tickets;
mod transfer;

use std::path::PathBuf;

use anyhow::Result;

pub use args::Cli;
use args::Command;
pub use hub::issue::{TryAgainLater, EXIT_TRY_AGAIN_LATER};

use crate::app::RunOptions;
use crate::config::Config;
use crate::kiosk::KioskError;

/// Resolves configuration: defaults, file, environment, then flags.
pub fn load_config(cli: &Cli) -> Result<Config> {
    let default_file = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config/badge-kiosk/config.toml"));
    let file = cli.config.clone().or(default_file);
    let mut config = Config::load(file.as_deref(), std::env::vars())?;
    if let Some(dir) = &cli.event_dir {
        config.event_dir = Some(dir.clone());
    }
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(id) = &cli.kiosk_id {
        config.kiosk_id = Some(id.clone());
    }
    Ok(config)
}

pub fn run(cli: Cli, run_ui: impl FnOnce(Config, RunOptions) -> Result<()>) -> Result<()> {
    let config = load_config(&cli)?;
    match cli.command {
        None => run_ui(config, RunOptions::default()),
        Some(Command::Run(args)) => run_ui(config, args.into()),
        Some(Command::Event(command)) => event::run(&config, command),
        Some(Command::Codes(args)) => codes::run(&config, args),
        Some(Command::Scan(args)) => scan::run(&config, args),
        Some(Command::Claim(args)) => claim::claim(&config, args),
        Some(Command::Step(args)) => claim::step(&config, args),
        Some(Command::Queue(command)) => queue::run(&config, command),
        Some(Command::Clock(command)) => clock::run(&config, command),
        Some(Command::PinHash) => pin_hash::run(),
        Some(Command::Tickets(args)) => tickets::run(&config, args),
        Some(Command::Sync(args)) => transfer::sync(&config, args),
        Some(Command::Enrol(args)) => transfer::enrol(&config, args),
        Some(Command::Export(args)) => transfer::export(&config, args),
        Some(Command::Hub(command)) => hub::run(&config, command),
        #[cfg(feature = "bench")]
        Some(Command::Bench(command)) => bench::run(command),
        Some(Command::Credential(command)) => credential::run(&config, command),
        Some(Command::Revoke(args)) => revoke::run(&config, args),
    }
}

/// A command that already printed its verdict for every input (`scan`, `claim`) and only
/// has to end with a non-zero exit code: `main` prints nothing more.
#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct Reported {
    code: i32,
    summary: String,
}

impl Reported {
    fn new(code: i32, summary: String) -> Self {
        Self { code, summary }
    }
}

/// Whether the command already told the user everything (see [`Reported`]).
pub fn already_reported(error: &anyhow::Error) -> bool {
    error.downcast_ref::<Reported>().is_some()
}

/// Exit codes: 0 ok, 1 error, 2 a code was refused, 75 gave up waiting for a badge
/// platform (`hub issue`; nothing lost, run it again later).
pub fn exit_code(error: &anyhow::Error) -> i32 {
    if let Some(reported) = error.downcast_ref::<Reported>() {
        reported.code
    } else if error.downcast_ref::<TryAgainLater>().is_some() {
        EXIT_TRY_AGAIN_LATER
    } else if error
        .downcast_ref::<KioskError>()
        .is_some_and(|e| matches!(e, KioskError::Refused(_)))
    {
        2
    } else {
        1
    }
}

/// The tokio runtime of the commands that talk to the network (sync, enrol, hub serve,
/// hub issue).
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
