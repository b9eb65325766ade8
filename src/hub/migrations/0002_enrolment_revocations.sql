-- badge-kiosk hub, migration 2: codes revoked by the organiser travel to every kiosk in
-- the signed event bundle; enrolment codes expire and may serve several kiosks.
CREATE TABLE revoked_codes (
    code_id BLOB PRIMARY KEY,
    reason  TEXT NOT NULL,
    at_ms   INTEGER NOT NULL
);

ALTER TABLE enrol_tokens ADD COLUMN expires_ms INTEGER;
ALTER TABLE enrol_tokens ADD COLUMN uses_left INTEGER NOT NULL DEFAULT 1;

CREATE TABLE enrolled_kiosks (
    token    TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    PRIMARY KEY (token, kiosk_id)
);

-- Claim links opened on a phone: the claim rate on the dashboard.
ALTER TABLE awards ADD COLUMN claimed_ms INTEGER;
