//! `hub …`: the organiser's hub. Each command has its own file; this one dispatches and
//! opens the hub's database for them.

mod enrol_token;
mod import;
pub(super) mod issue;
mod kiosk;
mod passwd;
mod pins;
mod purge;
mod recipients;
mod registrations;
pub(crate) mod relay;
mod revoke;
mod serve;
mod status;
mod tickets;

use anyhow::{Context, Result};

use crate::app::open_event;
use crate::cli::args::HubCommand;
use crate::config::Config;
use crate::eventdir::EventDir;
use crate::hub::store::HubStore;

pub(super) fn run(config: &Config, command: HubCommand) -> Result<()> {
    match command {
        HubCommand::Serve(args) => serve::run(config, args),
        HubCommand::Relay(args) => relay::relay(config, args),
        HubCommand::Passwd(args) => passwd::run(&args.data),
        HubCommand::Pins(command) => pins::run(config, command),
        HubCommand::Import(args) => import::run(config, args),
        HubCommand::EnrolToken(args) => enrol_token::run(config, args),
        HubCommand::Kiosk(command) => kiosk::run(config, command),
        HubCommand::Revoke(args) => revoke::run(config, args),
        HubCommand::Status(args) => status::run(config, args),
        HubCommand::Issue(args) => issue::run(config, args),
        HubCommand::Recipients(args) => recipients::run(config, args),
        HubCommand::Registrations(command) => registrations::run(config, command),
        HubCommand::Purge(args) => purge::run(config, args),
        HubCommand::Tickets(args) => tickets::run(config, args),
    }
}

/// The hub's database in `data` (created if needed), for the configured event.
pub(super) fn open_hub(config: &Config, data: &std::path::Path) -> Result<(HubStore, EventDir)> {
    let event = open_event(config)?;
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let store = HubStore::open(&crate::datadir::hub_database(data), event.definition.clone())?;
    Ok((store, event))
}

/// The host part of a URL (`https://10.0.0.2:8787/x` → `10.0.0.2`), for the certificate.
pub(super) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
            .to_owned(),
    }
}
