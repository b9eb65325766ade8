//! The event hub: the organiser's collection point for every kiosk's records.

pub mod issue;
mod migrations;
pub mod server;
pub mod store;
