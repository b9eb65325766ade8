-- badge-kiosk queue, migration 1. Never edit an applied migration: add a new file.

-- One row per signed record, in the order they were appended.
CREATE TABLE records (
    position      INTEGER PRIMARY KEY AUTOINCREMENT,
    sequence      INTEGER NOT NULL UNIQUE,
    kind          TEXT    NOT NULL,               -- attendance | pathway | step
    event_id      TEXT    NOT NULL,
    badge_id      TEXT    NOT NULL,
    code_id       BLOB    NOT NULL,
    stand         TEXT    NOT NULL DEFAULT '',
    recipient     TEXT    NOT NULL DEFAULT '',    -- description, never a clear email
    created_at_ms INTEGER NOT NULL,
    record_hash   BLOB    NOT NULL,
    signed_bytes  BLOB    NOT NULL,               -- body ‖ signature, the frozen v1 layout
    -- Clear email typed by the visitor: kept only until the platform confirms the issue
    -- plus the retention window, then erased by `queue purge`.
    email         TEXT,
    sync_state    TEXT    NOT NULL DEFAULT 'queued', -- queued | synced | failed
    sync_error    TEXT,
    sync_attempts INTEGER NOT NULL DEFAULT 0,
    synced_at_ms  INTEGER
);

-- "Already claimed": one award per code and badge class, one step per code and stand.
CREATE UNIQUE INDEX records_one_award ON records (event_id, badge_id, code_id) WHERE kind <> 'step';
CREATE UNIQUE INDEX records_one_step ON records (event_id, badge_id, code_id, stand) WHERE kind = 'step';
CREATE INDEX records_sync ON records (sync_state, sequence);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE allowed_tickets (
    hash         BLOB PRIMARY KEY,
    registration TEXT
);

CREATE TABLE revoked_codes (
    code_id BLOB PRIMARY KEY
);
