//! The event hub: the organiser's collection point for every kiosk's records.

pub mod console_queries;
#[cfg(test)]
mod ingest_tests;
pub mod issue;
pub mod listen;
pub mod mailer;
mod migrations;
pub mod outbox;
pub mod peer;
pub mod relay;
pub mod server;
pub mod signatures;
pub mod state;
pub mod store;
pub mod tls;
pub mod trust;
pub mod wallet_offers;
pub mod web;
