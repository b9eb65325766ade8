-- badge-kiosk hub, migration 8: the ticketing allow-list on the hub. Kiosks accept plain
-- ticket barcodes from an imported allow-list; no key signs those tickets, so the hub
-- awards such a record only when the organiser imported the same list here. Keyed by the
-- 10-byte code id the kiosk puts in its records (a salted hash of the barcode, never the
-- barcode in clear).
CREATE TABLE allowed_tickets (
    code_id      BLOB PRIMARY KEY,
    registration TEXT,
    imported_ms  INTEGER NOT NULL
);
