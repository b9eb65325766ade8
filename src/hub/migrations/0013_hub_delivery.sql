-- badge-kiosk hub, migration 10: the hub emails every award that has an address (typed at
-- a kiosk, or the registration's) itself, through the claim-email outbox. One outbox row
-- per award (`award_key`, unique), with the Message-ID fixed when it is queued, so that a
-- message sent again after a crash between the mail server's answer and the hub's commit
-- carries the same id (mailboxes keep one). An award delivered by email gets a claim link
-- of its own (`awards.email_token`, as `claim-token:HEX`): the message links to it.
ALTER TABLE claim_emails ADD COLUMN award_key TEXT;
ALTER TABLE claim_emails ADD COLUMN message_id TEXT;
CREATE UNIQUE INDEX claim_emails_award ON claim_emails (award_key) WHERE award_key IS NOT NULL;
-- The claim page's requests are limited per recipient address too.
CREATE INDEX claim_emails_address ON claim_emails (email_sha256, requested_ms);
ALTER TABLE awards ADD COLUMN email_token TEXT;
CREATE UNIQUE INDEX awards_email_token ON awards (email_token) WHERE email_token IS NOT NULL;
