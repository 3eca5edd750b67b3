-- Keys kept out whatever authorized_keys says, until a time or until lifted.
CREATE TABLE bans (
    -- The SHA256 fingerprint of the banned key ("SHA256:...").
    fingerprint TEXT    PRIMARY KEY,
    -- The name the key had when banned, for lists and unban by name.
    name        TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL DEFAULT '',
    -- The admin who banned: fingerprint and name.
    by_id       TEXT    NOT NULL DEFAULT '',
    by_name     TEXT    NOT NULL DEFAULT '',
    -- Unix nanoseconds; until 0 means until lifted.
    created     INTEGER NOT NULL,
    until       INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- Invite codes, stored only as the SHA-256 of the code.
CREATE TABLE invites (
    hash      BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    uses_left INTEGER NOT NULL CHECK (uses_left >= 0),
    -- Unix nanoseconds.
    expires   INTEGER NOT NULL,
    by_id     TEXT    NOT NULL DEFAULT '',
    by_name   TEXT    NOT NULL DEFAULT '',
    created   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
