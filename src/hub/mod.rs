//! The event hub: the organiser's collection point for every kiosk's records.

mod migrations;
pub mod server;
pub mod store;
