//! The event bundle's number and the PINs the organiser set (migration 11).

use rusqlite::{params, OptionalExtension};

use super::{HubError, HubStore};

/// Which PIN: staff mode (a stand's staff card) or the organiser panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinRole {
    Staff,
    Organiser,
}

impl PinRole {
    pub fn name(self) -> &'static str {
        match self {
            PinRole::Staff => "staff",
            PinRole::Organiser => "organiser",
        }
    }
}

impl HubStore {
    /// The bundle number for a bundle whose content (without number and time) hashes to
    /// `content_hash`: the same as last time when nothing changed, one more otherwise.
    pub fn bundle_number(&self, content_hash: &[u8; 32]) -> Result<u64, HubError> {
        let current: Option<(i64, Vec<u8>)> = self
            .connection
            .query_row(
                "SELECT number, content_hash FROM bundle_number WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let number = match current {
            Some((number, hash)) if hash == content_hash => return Ok(u64::try_from(number).unwrap_or_default()),
            Some((number, _)) => number.saturating_add(1),
            None => 1,
        };
        self.connection.execute(
            "INSERT INTO bundle_number (id, number, content_hash) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET number = excluded.number, content_hash = excluded.content_hash",
            params![number, content_hash.as_slice()],
        )?;
        Ok(u64::try_from(number).unwrap_or_default())
    }

    /// Sets (or, with `None`, clears) a PIN's Argon2 hash.
    pub fn set_pin(&self, role: PinRole, hash: Option<&str>, now_ms: i64) -> Result<(), HubError> {
        match hash {
            Some(hash) => self.connection.execute(
                "INSERT INTO kiosk_pins (role, hash, set_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(role) DO UPDATE SET hash = excluded.hash, set_at_ms = excluded.set_at_ms",
                params![role.name(), hash, now_ms],
            )?,
            None => self
                .connection
                .execute("DELETE FROM kiosk_pins WHERE role = ?1", [role.name()])?,
        };
        Ok(())
    }

    /// A PIN's Argon2 hash and when it was set, if the organiser set one.
    pub fn pin(&self, role: PinRole) -> Result<Option<(String, i64)>, HubError> {
        Ok(self
            .connection
            .query_row(
                "SELECT hash, set_at_ms FROM kiosk_pins WHERE role = ?1",
                [role.name()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> HubStore {
        let definition = crate::domain::event::EventDefinition::parse(
            include_str!("../../../assets/demo-event/event.toml"),
            std::path::Path::new("event.toml"),
        )
        .unwrap();
        HubStore::open_in_memory(definition).unwrap()
    }

    #[test]
    fn the_number_grows_only_when_the_content_changes() {
        let store = store();
        assert_eq!(store.bundle_number(&[1; 32]).unwrap(), 1);
        assert_eq!(store.bundle_number(&[1; 32]).unwrap(), 1);
        assert_eq!(store.bundle_number(&[2; 32]).unwrap(), 2);
        assert_eq!(store.bundle_number(&[1; 32]).unwrap(), 3);
    }

    #[test]
    fn pins_are_set_replaced_and_cleared() {
        let store = store();
        assert_eq!(store.pin(PinRole::Staff).unwrap(), None);
        store.set_pin(PinRole::Staff, Some("$argon2id$a"), 5).unwrap();
        store.set_pin(PinRole::Staff, Some("$argon2id$b"), 6).unwrap();
        assert_eq!(store.pin(PinRole::Staff).unwrap(), Some(("$argon2id$b".into(), 6)));
        assert_eq!(store.pin(PinRole::Organiser).unwrap(), None);
        store.set_pin(PinRole::Staff, None, 7).unwrap();
        assert_eq!(store.pin(PinRole::Staff).unwrap(), None);
    }
}
