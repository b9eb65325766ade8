//! The layout of the data directories, named in one place so that the kiosk, the command
//! line, the touchscreen and the hub cannot disagree about where a file lives. It sits at
//! the bottom of the module graph (it depends on nothing), so every layer can use it.
//!
//! A kiosk's data directory (`--data-dir`, `data_dir` in the configuration):
//!
//! ```text
//! <data>/event/                      the event an enrolled kiosk received from its hub
//! <data>/demo-event/                 the embedded demo event, written out at start-up
//! <data>/<event id>/queue.sqlite     the signed award queue (WAL files beside it)
//! <data>/<event id>/device.key       the kiosk's device key (0600)
//! ```
//!
//! A hub's data directory (`hub … --data DIR`):
//!
//! ```text
//! DIR/hub.sqlite                     the hub's database
//! DIR/tls/                           the hub's own certificate and key (0700)
//! DIR/console-password               the organiser console's Argon2id hash (0600)
//! ```
//!
//! The queue and the device key are per event, so one machine can serve several events in
//! turn without mixing their records.

use std::path::{Path, PathBuf};

/// Where an enrolled kiosk keeps the event its hub sent.
pub const ENROLLED_EVENT_DIR: &str = "event";
/// Where the embedded demo event is written out.
pub const DEMO_EVENT_DIR: &str = "demo-event";
/// The signed award queue, inside the kiosk's directory for one event.
pub const QUEUE_FILE: &str = "queue.sqlite";
/// The kiosk's device key, beside its queue.
pub const DEVICE_KEY_FILE: &str = "device.key";
/// The hub's database.
pub const HUB_DATABASE_FILE: &str = "hub.sqlite";
/// The hub's own TLS certificate and key.
pub const HUB_TLS_DIR: &str = "tls";
/// The organiser console's password hash.
pub const CONSOLE_PASSWORD_FILE: &str = "console-password";

/// The kiosk's directory for one event: its queue and device key.
pub fn kiosk_event_dir(data_dir: &Path, event_id: &str) -> PathBuf {
    data_dir.join(event_id)
}

/// The kiosk's queue for one event.
pub fn queue_path(data_dir: &Path, event_id: &str) -> PathBuf {
    kiosk_event_dir(data_dir, event_id).join(QUEUE_FILE)
}

/// Where an enrolled kiosk's event lives.
pub fn enrolled_event_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(ENROLLED_EVENT_DIR)
}

/// The hub's database in its data directory.
pub fn hub_database(hub_data_dir: &Path) -> PathBuf {
    hub_data_dir.join(HUB_DATABASE_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Existing kiosks and hubs hold their files at these paths: renaming one strands them.
    #[test]
    fn the_layout_is_what_installed_machines_hold() {
        let data = Path::new("/var/lib/badge-kiosk");
        assert_eq!(
            queue_path(data, "salon-2027"),
            Path::new("/var/lib/badge-kiosk/salon-2027/queue.sqlite")
        );
        assert_eq!(enrolled_event_dir(data), Path::new("/var/lib/badge-kiosk/event"));
        assert_eq!(hub_database(data), Path::new("/var/lib/badge-kiosk/hub.sqlite"));
        assert_eq!(
            (DEVICE_KEY_FILE, DEMO_EVENT_DIR, HUB_TLS_DIR, CONSOLE_PASSWORD_FILE),
            ("device.key", "demo-event", "tls", "console-password")
        );
    }
}
