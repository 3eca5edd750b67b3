-- Per-person preferences (nick, theme, bell, tz, timestamps, ...), keyed by
-- identity (the key fingerprint). The store does not interpret them.
CREATE TABLE settings (
    identity TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (identity, key)
) STRICT, WITHOUT ROWID;

-- How far each person has read each room: the last sequence number seen.
-- The room '' holds the id of the last private message seen.
CREATE TABLE read_marks (
    identity TEXT    NOT NULL,
    room     TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (identity, room)
) STRICT, WITHOUT ROWID;
