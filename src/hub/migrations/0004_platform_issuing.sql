-- badge-kiosk hub, migration 3: handing awards to the badge platform (Open Badge Factory,
-- Canvas Credentials) from the hub.

-- The clear email a visitor typed at a kiosk, sent with its record and checked against the
-- record's signed hash. Erased (set NULL) by `hub purge` once the platform confirmed the
-- award plus the retention period; the row stays so a redelivery cannot bring it back.
CREATE TABLE record_emails (
    kiosk_id    TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    email       TEXT,
    received_ms INTEGER NOT NULL,
    erased_ms   INTEGER,
    PRIMARY KEY (kiosk_id, sequence)
);

-- The ticketing export: registration reference (printed in the visitor's code) → email.
CREATE TABLE registrations (
    reference   TEXT PRIMARY KEY,
    email       TEXT,
    name        TEXT,
    imported_ms INTEGER NOT NULL,
    erased_ms   INTEGER
);

-- The issue ledger: one row per award and platform. 'sending' is written (and committed)
-- before the call that carries the award leaves, with the call's log entry.
CREATE TABLE platform_issues (
    platform     TEXT NOT NULL,               -- obf | badgr
    award_key    TEXT NOT NULL,               -- badge_id || '/' || lower(hex(code_id))
    state        TEXT NOT NULL,               -- sending | confirmed | failed
    log_entry    TEXT,
    platform_ref TEXT,
    reason       TEXT,
    updated_ms   INTEGER NOT NULL,
    confirmed_ms INTEGER,
    PRIMARY KEY (platform, award_key)
);
CREATE INDEX platform_issues_state ON platform_issues (state, confirmed_ms);
CREATE INDEX awards_recipient ON awards (recipient);
