//! `pin-hash`: a staff or organiser PIN in the form the configuration takes.

use anyhow::{bail, Context, Result};

pub(super) fn run() -> Result<()> {
    let mut pin = String::new();
    std::io::stdin()
        .read_line(&mut pin)
        .context("reading the PIN from standard input")?;
    let pin = pin.trim();
    if !crate::domain::pin::is_pin(pin) {
        bail!("a PIN is 4 to 8 digits: type it, then Enter");
    }
    println!("{}", crate::domain::pin::hash_pin(pin)?);
    Ok(())
}
