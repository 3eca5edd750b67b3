-- Passkeys and browser-only people (issue 17): a WebAuthn credential
-- belongs to an identity (an SSH key's fingerprint, or a browser-only
-- account's id); a browser-only account is a person who joined from the web
-- page with an invite code and a passkey, with no SSH key.
CREATE TABLE passkeys (
    -- The credential id the authenticator chose.
    id        BLOB    PRIMARY KEY,
    -- Whose it is: "SHA256:..." or "web:...".
    identity  TEXT    NOT NULL,
    -- The JSON of the credential record (public key, sign count, flags),
    -- opaque to the store.
    record    BLOB    NOT NULL,
    -- Unix nanoseconds; last_used 0 means never.
    created   INTEGER NOT NULL,
    last_used INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX passkeys_identity ON passkeys (identity);

CREATE TABLE web_accounts (
    -- "web:" and 16 random base32 characters.
    id      TEXT    PRIMARY KEY,
    name    TEXT    NOT NULL,
    -- Unix nanoseconds: when the invite was used.
    created INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
