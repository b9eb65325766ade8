-- badge-kiosk hub, migration 13: the per-kiosk record quota. Records beyond it are not
-- stored (they stay queued on the kiosk); the console shows how many and when.
ALTER TABLE kiosks ADD COLUMN over_quota INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kiosks ADD COLUMN over_quota_ms INTEGER;

-- Kiosk devices the organiser revoked, by device key: kept apart from `kiosks` so that a
-- public hub refuses a device a venue hub revoked (relayed, signed by the event key) even
-- when it never heard of that kiosk, and whatever happens to the kiosk id later.
CREATE TABLE revoked_devices (
    device_key BLOB PRIMARY KEY,
    kiosk_id   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
INSERT OR IGNORE INTO revoked_devices (device_key, kiosk_id, reason, at_ms)
    SELECT device_key, kiosk_id, COALESCE(revoked_reason, ''), COALESCE(revoked_ms, 0) FROM kiosks WHERE revoked = 1;
