-- badge-kiosk hub, migration 3: visitors ask on the claim page for their badge by email.
-- An outbox: the clear address is kept only until the message is sent or refused for
-- good (then NULL); its SHA-256 stays for counting, a masked hint for the organiser.
CREATE TABLE claim_emails (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    claim_token  TEXT NOT NULL,
    email        TEXT,                 -- clear address; erased once sent or failed
    email_sha256 BLOB NOT NULL,        -- SHA-256 of the normalised address
    email_hint   TEXT NOT NULL,        -- e.g. m…@example.fr, for the dashboard and logs
    language     TEXT NOT NULL DEFAULT 'fr',
    requested_ms INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    failed_ms    INTEGER,              -- refused for good (5xx, bad address), with last_error
    sent_ms      INTEGER
);
CREATE INDEX claim_emails_token ON claim_emails (claim_token, requested_ms);
CREATE INDEX claim_emails_outbox ON claim_emails (sent_ms, failed_ms, attempts);
