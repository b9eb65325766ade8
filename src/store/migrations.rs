//! Numbered migrations, applied in order inside one transaction. Never edit one that
//! shipped: add the next number.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_initial.sql")];

pub fn apply(connection: &Connection) -> Result<(), StoreError> {
    let current: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if current > known {
        return Err(StoreError::NewerSchema { found: current, known });
    }
    let pending: Vec<(usize, &str)> = MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
        .map(|(index, sql)| (index, *sql))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let outcome = pending.iter().try_for_each(|(index, sql)| {
        connection.execute_batch(sql)?;
        connection.pragma_update(None, "user_version", i64::try_from(index + 1).unwrap_or(i64::MAX))
    });
    match outcome {
        Ok(()) => {
            connection.execute_batch("COMMIT")?;
            Ok(())
        }
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            Err(error.into())
        }
    }
}
