//! `codes`: signed attendance codes written as the files an organiser prints.

use anyhow::{bail, Context, Result};

use super::args::CodesArgs;
use crate::app::{make_codes, open_event};
use crate::config::Config;

pub(super) fn run(config: &Config, args: CodesArgs) -> Result<()> {
    let event = open_event(config)?;
    let codes = make_codes(&event, &args.request())?;
    if codes.is_empty() {
        bail!("nothing to make: give --count N, --staff STAND, --organisers N or --demo");
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let written = crate::printing_output::write_all(&event, &codes, &args.out)?;
    for path in written {
        println!("wrote {}", path.display());
    }
    println!("{} codes for event {}", codes.len(), event.definition.event.id);
    Ok(())
}
