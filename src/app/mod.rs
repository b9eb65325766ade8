//! The application layer: what the command line, the touchscreen and the tests do the same
//! way, with typed errors and plain request structs (no clap or Slint types).
//!
//! - [`open_event`] and [`open_kiosk`]: the event and the kiosk for a configuration
//!   (configured directory, else the enrolled event, else the demo), with
//!   [`OpenError::NotEnrolled`] for a kiosk that must show its enrolment screen;
//! - [`sync_settings`]: how this kiosk syncs with its hub;
//! - [`write_export`]: the USB export a hub out of reach imports;
//! - [`make_codes`]: signed attendance codes from a [`CodeRequest`].
//!
//! Where files live on disk is [`crate::datadir`]'s business, not this module's.

mod codes;
pub mod controller;
mod export;
mod open;

pub use codes::{code_id_of, make_codes, CodeRequest, CodeToPrint, CodesError};
pub use export::{write_export, Export, ExportError};
pub use open::{open_event, open_kiosk, queue_path, sync_settings, OpenError, SyncSettingsError};

/// How the touchscreen kiosk starts, beyond its configuration: what `badge-kiosk run`'s
/// flags ask for, without the flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Full screen, no window decorations (for the kiosk itself).
    pub fullscreen: bool,
    /// Camera index, or `none` to use only a USB barcode scanner (overrides the configuration).
    pub camera: Option<String>,
    /// Window size for desktops, e.g. `800x480`.
    pub size: Option<String>,
    /// The stand this kiosk is installed at (overrides the configuration).
    pub stand: Option<String>,
}
