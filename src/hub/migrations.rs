//! The hub's numbered migrations, applied in order inside one transaction (like the
//! kiosk's queue). Never edit one that shipped: add the next number.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_enrolment_revocations.sql"),
    include_str!("migrations/0003_claim_emails.sql"),
    include_str!("migrations/0004_platform_issuing.sql"),
    include_str!("migrations/0005_kiosk_fleet.sql"),
    include_str!("migrations/0006_enrolment_devices.sql"),
];

/// Returns `Err(found)` when the database was written by a newer hub.
pub fn apply(connection: &Connection) -> Result<Result<(), i64>, rusqlite::Error> {
    let current: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if current > known {
        return Ok(Err(current));
    }
    let pending: Vec<(usize, &str)> = MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
        .map(|(index, sql)| (index, *sql))
        .collect();
    if pending.is_empty() {
        return Ok(Ok(()));
    }
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let outcome = pending.iter().try_for_each(|(index, sql)| {
        connection.execute_batch(sql)?;
        connection.pragma_update(None, "user_version", i64::try_from(index + 1).unwrap_or(i64::MAX))
    });
    match outcome {
        Ok(()) => connection.execute_batch("COMMIT").map(Ok),
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            Err(error)
        }
    }
}
