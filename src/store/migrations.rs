//! The queue's numbered migrations (the runner is `crate::migrate`). Never edit one that
//! shipped: add the next number.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_initial.sql")];

pub fn apply(connection: &Connection) -> Result<(), StoreError> {
    crate::migrate::apply(connection, MIGRATIONS)?.map_err(|newer| StoreError::NewerSchema {
        found: newer.found,
        known: newer.known,
    })
}
