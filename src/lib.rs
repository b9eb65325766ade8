//! badge-kiosk: an offline event kiosk and on-site claim terminal for Open Badges.
//!
//! `domain` is pure (codes, records, rules, signing); `store` is the SQLite queue;
//! `kiosk` ties them into the operations a tap or a CLI command performs; `app` opens the
//! kiosk for a configuration and holds what the touchscreen and the command line share;
//! `ui` binds the Slint screens; `cli` is the command line (only `main.rs` uses it). `ui`
//! and the camera are the `kiosk` feature (on by default); `fuzzing` (the `fuzzing`
//! feature, which `fuzz/` and the tests turn on) holds the bodies of the fuzz targets.

pub mod app;
pub mod backoff;
#[cfg(feature = "bench")]
pub mod bench;
pub mod blocking;
pub mod cli;
pub mod config;
pub mod credential;
pub mod datadir;
pub mod domain;
pub mod eventdir;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http_body;
pub mod hub;
pub mod kiosk;
pub mod migrate;
pub mod platform;
pub mod plural;
pub mod printing;
pub mod printing_output;
pub mod scan;
pub mod store;
pub mod sync;
#[cfg(feature = "kiosk")]
pub mod ui;

// Slint's generated code unwraps what it built itself; the crate's no-panic lints are for
// ours.
#[cfg(feature = "kiosk")]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod slint_generated {
    slint::include_modules!();
}
#[cfg(feature = "kiosk")]
pub use slint_generated::*;
