//! The pure domain: no Slint, SQLite, camera or network in here.

pub mod allowlist;
pub mod award;
pub mod base32;
pub mod bundle;
pub mod clock;
pub mod code;
pub mod enrolment;
pub mod event;
pub mod keys;
pub mod pathway;
pub mod pin;
pub mod registrations;
pub mod revocations;
pub mod wire;
