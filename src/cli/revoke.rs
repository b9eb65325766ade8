//! `revoke CODE`: refuse a code on this kiosk (`hub revoke` does it for every kiosk).

use anyhow::Result;

use super::args::RevokeArgs;
use crate::app::{code_id_of, open_kiosk};
use crate::config::Config;

pub(super) fn run(config: &Config, args: RevokeArgs) -> Result<()> {
    let mut kiosk = open_kiosk(config)?;
    let code_id = code_id_of(&args.code)?;
    kiosk.revoke(code_id)?;
    println!(
        "revoked {} ({}) on this kiosk; to refuse it on every kiosk, run `badge-kiosk hub revoke` on the hub",
        code_id,
        code_id.short()
    );
    Ok(())
}
