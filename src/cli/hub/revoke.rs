//! `hub revoke CODE`: a visitor code every kiosk refuses after its next sync.

use anyhow::Result;

use super::open_hub;
use crate::app::code_id_of;
use crate::cli::args::HubRevokeArgs;
use crate::config::Config;

pub(super) fn run(config: &Config, args: HubRevokeArgs) -> Result<()> {
    let HubRevokeArgs { code, data, reason } = args;
    let (store, _) = open_hub(config, &data)?;
    let code_id = code_id_of(&code)?;
    let fresh = store.revoke_code(&code_id.0, &reason, chrono::Utc::now().timestamp_millis())?;
    println!(
        "{} {} ({}): every kiosk refuses it after its next sync",
        if fresh { "revoked" } else { "already revoked" },
        code_id,
        code_id.short()
    );
    Ok(())
}
