-- badge-kiosk hub, migration 9: a venue hub relays its kiosks' records to the organiser's
-- public hub (`hub serve --relay-to`, `hub relay`). To replay a record verbatim the relay
-- needs the certificate that certified the device key which signed it: every certificate
-- an accepted upload carried is kept as sent (its frozen bytes), one per kiosk id and
-- device key, so records of a replaced device go with their own device's certificate.
CREATE TABLE kiosk_certificates (
    kiosk_id    TEXT NOT NULL,      -- as the certificate names it (never an archive id)
    device_key  BLOB NOT NULL,
    certificate BLOB NOT NULL,      -- the frozen bytes, as the kiosk sent them
    issued_ms   INTEGER NOT NULL,   -- the issue time the event key signed
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (kiosk_id, device_key)
);

-- Where each record stands with each public hub it is relayed to, by the SHA-256 of its
-- signed bytes (stable when a replaced device's records move to an archive id).
-- 'relayed': the public hub answered, signed with the event key, that it holds the record.
-- 'refused': the public hub refused it for good (signed answer), `reason` says why.
-- No row: not relayed yet (or only transient failures so far).
CREATE TABLE relay_records (
    target      TEXT NOT NULL,      -- the public hub's URL
    record_hash BLOB NOT NULL,
    state       TEXT NOT NULL,      -- relayed | refused
    reason      TEXT,
    at_ms       INTEGER NOT NULL,
    PRIMARY KEY (target, record_hash)
);
-- The relay's figures join its states back to the records by hash.
CREATE INDEX records_hash ON records (record_hash);
