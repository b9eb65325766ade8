//! Binds the Slint screens to the kiosk core.

use anyhow::Result;
use slint::ComponentHandle;

use crate::cli::args::RunArgs;
use crate::config::Config;

pub fn run(_config: Config, _args: RunArgs) -> Result<()> {
    let window = crate::AppWindow::new()?;
    window.run()?;
    Ok(())
}
