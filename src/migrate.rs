//! Numbered SQL migrations for both SQLite files the product keeps (the kiosk's queue and
//! the hub's database): applied in order inside one IMMEDIATE transaction, the schema
//! version kept in `PRAGMA user_version`. Never edit a migration that shipped: add the
//! next number.

use rusqlite::Connection;

/// The database was written by a newer version than this binary knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewerSchema {
    pub found: i64,
    pub known: i64,
}

/// Applies the migrations the database has not seen yet; `Ok(Err(_))` when the database
/// is newer than `migrations`, in which case nothing is touched.
pub fn apply(connection: &Connection, migrations: &[&str]) -> Result<Result<(), NewerSchema>, rusqlite::Error> {
    let current: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    if current > known {
        return Ok(Err(NewerSchema { found: current, known }));
    }
    let pending: Vec<(usize, &str)> = migrations
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

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATIONS: &[&str] = &["CREATE TABLE a (x);", "ALTER TABLE a ADD COLUMN y;"];

    #[test]
    fn applies_each_migration_once_and_refuses_a_newer_database() {
        let connection = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&connection, &MIGRATIONS[..1]).unwrap(), Ok(()));
        assert_eq!(apply(&connection, MIGRATIONS).unwrap(), Ok(()));
        assert_eq!(apply(&connection, MIGRATIONS).unwrap(), Ok(()));
        connection.execute("INSERT INTO a (x, y) VALUES (1, 2)", []).unwrap();
        assert_eq!(
            apply(&connection, &MIGRATIONS[..1]).unwrap(),
            Err(NewerSchema { found: 2, known: 1 })
        );
    }

    #[test]
    fn a_failing_migration_leaves_the_database_as_it_was() {
        let connection = Connection::open_in_memory().unwrap();
        assert!(apply(&connection, &["CREATE TABLE a (x);", "NOT SQL"]).is_err());
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, 0);
        assert!(connection.execute("INSERT INTO a (x) VALUES (1)", []).is_err());
    }
}
