//! The hub's numbered migrations (the runner, shared with the kiosk's queue, is
//! `crate::migrate`). Never edit one that shipped: add the next number.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_enrolment_revocations.sql"),
    include_str!("migrations/0003_claim_emails.sql"),
    include_str!("migrations/0004_platform_issuing.sql"),
    include_str!("migrations/0005_kiosk_fleet.sql"),
    include_str!("migrations/0006_public_badges.sql"),
    include_str!("migrations/0007_enrolment_devices.sql"),
    include_str!("migrations/0008_allowed_tickets.sql"),
    include_str!("migrations/0009_relay.sql"),
    include_str!("migrations/0010_claim_links_heartbeat.sql"),
    include_str!("migrations/0011_bundle_number_pins.sql"),
    include_str!("migrations/0012_wallet_offers.sql"),
    include_str!("migrations/0013_hub_delivery.sql"),
    include_str!("migrations/0014_ingest_limits.sql"),
];

/// Returns `Err(found)` when the database was written by a newer hub.
pub fn apply(connection: &Connection) -> Result<Result<(), i64>, rusqlite::Error> {
    Ok(crate::migrate::apply(connection, MIGRATIONS)?.map_err(|newer| newer.found))
}
