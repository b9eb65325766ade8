-- badge-kiosk hub, migration 11: the event bundle's number and the kiosks' PINs.
-- Kiosks judge a bundle's freshness by a number, never by the hub's clock (a clock that
-- ran ahead then was fixed would make every later bundle look older). The number grows
-- whenever what the bundle says changes; `content_hash` is the SHA-256 of the bundle's
-- content without its number and signing time.
CREATE TABLE bundle_number (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    number       INTEGER NOT NULL,
    content_hash BLOB NOT NULL
);

-- The staff and organiser PINs the organiser set (`hub pins set`, the console), as Argon2
-- PHC strings (never in clear); they reach every kiosk in the signed bundle (v2).
CREATE TABLE kiosk_pins (
    role      TEXT PRIMARY KEY CHECK (role IN ('staff', 'organiser')),
    hash      TEXT NOT NULL,
    set_at_ms INTEGER NOT NULL
);
