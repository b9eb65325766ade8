-- badge-kiosk hub, migration 5: the kiosk fleet. What each kiosk last told the hub about
-- itself (NULL until it sends it), its certificate's issue time (so "the newest
-- certificate wins" compares issue times, not arrival order) and why the organiser
-- revoked it. A revoked kiosk's earlier records stay in `records` for review.
ALTER TABLE kiosks ADD COLUMN certificate_issued_ms INTEGER;
ALTER TABLE kiosks ADD COLUMN queue_waiting INTEGER;
ALTER TABLE kiosks ADD COLUMN clock_offset_ms INTEGER;
ALTER TABLE kiosks ADD COLUMN software_version TEXT;
ALTER TABLE kiosks ADD COLUMN stand TEXT;
ALTER TABLE kiosks ADD COLUMN revoked_reason TEXT;
ALTER TABLE kiosks ADD COLUMN revoked_ms INTEGER;
