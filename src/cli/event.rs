//! `event init|show`: create an event directory with its key, or show the configured one.

use std::path::Path;

use anyhow::Result;

use super::args::EventCommand;
use crate::app::open_kiosk;
use crate::config::Config;
use crate::domain::keys;
use crate::eventdir::EventDir;

pub(super) fn run(config: &Config, command: EventCommand) -> Result<()> {
    match command {
        EventCommand::Init { dir, id } => init(&dir, id),
        EventCommand::Show => show(config),
    }
}

fn init(dir: &Path, id: Option<String>) -> Result<()> {
    let id = id.unwrap_or_else(|| {
        dir.file_name()
            .map(|name| {
                name.to_string_lossy()
                    .to_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
            })
            .unwrap_or_else(|| "my-event".into())
    });
    let (event, fingerprint) = EventDir::init(dir, &id)?;
    println!("created event {:?} in {}", event.definition.event.id, dir.display());
    println!(
        "event key: {} (mode 0600, back it up: it signs every code)",
        dir.join("event.key").display()
    );
    println!("public key fingerprint: {fingerprint}");
    println!(
        "next: edit {}, then `badge-kiosk --event {} codes --count 100`",
        dir.join("event.toml").display(),
        dir.display()
    );
    Ok(())
}

fn show(config: &Config) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let definition = kiosk.definition();
    println!("event: {} — {}", definition.event.id, definition.event.name.fr);
    println!("dates: {} to {}", definition.event.starts, definition.event.ends);
    for key in definition.public_keys() {
        let own = kiosk.event.event_key.as_ref().is_some_and(|k| k.verifying_key() == key);
        println!(
            "event key: {}{}",
            keys::fingerprint(&key),
            if own { " (secret key present)" } else { "" }
        );
    }
    println!(
        "kiosk: {} (device key {})",
        kiosk.kiosk_id(),
        keys::fingerprint(&kiosk.device_key().verifying_key())
    );
    for badge in &definition.badges {
        println!("badge: {} ({:?}) — {}", badge.id, badge.kind, badge.name.fr);
    }
    for stand in &definition.stands {
        println!("stand: {} — {}", stand.id, stand.name.fr);
    }
    if let Some(hub) = kiosk.hub_url()? {
        println!("hub: {hub}");
    }
    let time = kiosk.now()?;
    if time.clock_behind {
        println!(
            "warning: the system clock is behind the last trusted time ({}); records are signed with the trusted time. Set the clock or sync with the hub.",
            chrono::DateTime::from_timestamp_millis(time.now_ms).map(|t| t.to_rfc3339()).unwrap_or_default()
        );
    }
    if kiosk.event.is_demo {
        println!("note: this is the demo event; its key is public. Use `badge-kiosk event init` for a real event.");
    }
    Ok(())
}
