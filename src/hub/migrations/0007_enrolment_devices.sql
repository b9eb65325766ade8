-- badge-kiosk hub, migration 7: enrolment is per device. The device key each use of a
-- token certified (a repeat answers only that key), and the organiser's leave to enrol
-- another device under a kiosk id already taken (`hub kiosk replace`).
ALTER TABLE enrolled_kiosks ADD COLUMN device_key BLOB;
ALTER TABLE kiosks ADD COLUMN replace_allowed INTEGER NOT NULL DEFAULT 0;
