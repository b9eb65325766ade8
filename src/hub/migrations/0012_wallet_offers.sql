-- badge-kiosk hub, migration 14: offers to take a badge into a wallet app (issue 25).
-- One row per offer: a Learner Credential Wallet exchange (protocol 'vcapi', its id in the
-- exchange URL) or an OpenID4VCI credential offer (protocol 'oid4vci', its id in the
-- credential_offer_uri). Ids, challenges, codes and tokens are random and never derived
-- from the claim token; pre-authorized codes and access tokens are kept as SHA-256 only.
CREATE TABLE wallet_offers (
    id                 TEXT PRIMARY KEY,
    protocol           TEXT NOT NULL CHECK (protocol IN ('vcapi', 'oid4vci')),
    claim_token        TEXT NOT NULL,
    language           TEXT NOT NULL,
    created_ms         INTEGER NOT NULL,
    expires_ms         INTEGER NOT NULL,
    -- vcapi: the DIDAuthentication challenge; oid4vci: the pre-authorized code (clear,
    -- shown only in the offer itself until it is redeemed, then erased).
    secret             TEXT,
    code_sha256        BLOB UNIQUE,
    code_used_ms       INTEGER,
    token_sha256       BLOB UNIQUE,
    token_expires_ms   INTEGER,
    -- The credential was handed to a wallet, bound to this DID.
    taken_ms           INTEGER,
    holder             TEXT
);
CREATE INDEX wallet_offers_by_token ON wallet_offers (claim_token, created_ms);

-- OpenID4VCI nonces a proof used (until they expire), so each answers one proof. The
-- nonces themselves carry their expiry and a MAC: handing one out stores nothing.
CREATE TABLE wallet_nonces (
    nonce        TEXT PRIMARY KEY,
    expires_ms   INTEGER NOT NULL
);

-- Whether the running hub offers wallets, and why not: written by `hub serve`, read by
-- `hub status`.
CREATE TABLE wallet_setting (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    offered     INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
);
