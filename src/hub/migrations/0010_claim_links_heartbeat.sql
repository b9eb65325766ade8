-- badge-kiosk hub, migration 12 (`syncpromise`).
-- Every claim link a kiosk gave out, whichever kiosk: a visitor served at kiosk A who
-- takes the same badge on a phone at kiosk B holds B's token, whose record is kept as a
-- duplicate; the token still opens the one award for that badge and code. One row per
-- token of a proven award record (accepted or duplicate), keyed to the record that
-- carries it by the SHA-256 of its signed bytes (stable when a replaced device's records
-- move to an archive id).
CREATE TABLE claim_links (
    claim_token TEXT PRIMARY KEY,   -- as the record's recipient reads (claim-token:<hex>)
    badge_id    TEXT NOT NULL,
    code_id     BLOB NOT NULL,
    record_hash BLOB NOT NULL
);
INSERT OR IGNORE INTO claim_links (claim_token, badge_id, code_id, record_hash)
    SELECT recipient, badge_id, code_id, record_hash FROM records
    WHERE recipient LIKE 'claim-token:%' AND kind IN ('attendance', 'pathway')
      AND outcome IN ('accepted', 'duplicate');

-- The kiosk's heartbeat (its queue, version, stand and clock, signed with its device key):
-- the largest counter accepted so far. A heartbeat whose counter is not larger (a replay)
-- changes nothing. NULL until the kiosk's first signed heartbeat.
ALTER TABLE kiosks ADD COLUMN heartbeat_counter INTEGER;
