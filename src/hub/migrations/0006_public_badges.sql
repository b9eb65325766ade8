-- badge-kiosk hub, migration 6: a public page for each badge taken on a phone, which the
-- visitor can share (/badge/<public id>). The public id is a one-way hash of the claim
-- token: it finds the award, it never gives the token (the claim link) away.
CREATE TABLE public_badges (
    public_id    TEXT PRIMARY KEY,
    claim_token  TEXT NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL
);
