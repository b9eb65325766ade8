-- badge-kiosk hub, migration 1.
CREATE TABLE kiosks (
    kiosk_id      TEXT PRIMARY KEY,
    device_key    BLOB NOT NULL,
    head_sequence INTEGER NOT NULL DEFAULT 0,
    head_hash     BLOB,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    revoked       INTEGER NOT NULL DEFAULT 0
);

-- Every record received, once (idempotent on kiosk + sequence + hash).
CREATE TABLE records (
    kiosk_id      TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    record_hash   BLOB NOT NULL,
    previous_hash BLOB NOT NULL,
    kind          TEXT NOT NULL,
    badge_id      TEXT NOT NULL,
    code_id       BLOB NOT NULL,
    stand         TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    received_ms   INTEGER NOT NULL,
    outcome       TEXT NOT NULL,       -- accepted | duplicate
    signed_bytes  BLOB NOT NULL,
    PRIMARY KEY (kiosk_id, sequence)
);
CREATE INDEX records_code ON records (badge_id, code_id);

-- One award per badge class and code, whichever kiosk recorded it first; pathway badges
-- completed across kiosks are awarded here by the hub itself (source_kiosk NULL).
CREATE TABLE awards (
    badge_id        TEXT NOT NULL,
    code_id         BLOB NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    source_kiosk    TEXT,
    source_sequence INTEGER,
    created_at_ms   INTEGER NOT NULL,
    claim_token     TEXT,
    PRIMARY KEY (badge_id, code_id)
);
CREATE UNIQUE INDEX awards_claim ON awards (claim_token) WHERE claim_token IS NOT NULL;

CREATE TABLE chain_warnings (
    kiosk_id TEXT NOT NULL,
    message  TEXT NOT NULL,
    at_ms    INTEGER NOT NULL
);

CREATE TABLE enrol_tokens (
    token      TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    used_by    TEXT
);

CREATE TABLE imports (
    digest BLOB PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    records INTEGER NOT NULL
);
