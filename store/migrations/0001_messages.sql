-- Messages of rooms, and private messages between two people.
CREATE TABLE messages (
    -- Commit order, never reused (AUTOINCREMENT, so retention cannot bring an
    -- old id back). Private messages are ordered and paged by it.
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The room's folded name; '' for a private message.
    room      TEXT    NOT NULL,
    -- The room's sequence number (1, 2, 3, ...); NULL for a private message.
    seq       INTEGER,
    -- When the server accepted the message, in Unix nanoseconds (0: unknown).
    time      INTEGER NOT NULL,
    -- room.Kind.
    kind      INTEGER NOT NULL,
    from_id   TEXT    NOT NULL DEFAULT '',
    from_name TEXT    NOT NULL DEFAULT '',
    to_id     TEXT    NOT NULL DEFAULT '',
    to_name   TEXT    NOT NULL DEFAULT '',
    text      TEXT    NOT NULL DEFAULT '',
    UNIQUE (room, seq),
    CHECK ((room <> '' AND seq > 0)
        OR (room = '' AND seq IS NULL AND from_id <> '' AND to_id <> ''))
) STRICT;

-- A person's private messages, newest first, whichever side they were on.
CREATE INDEX messages_private_from ON messages (from_id, id) WHERE room = '';
CREATE INDEX messages_private_to ON messages (to_id, id) WHERE room = '';
-- Retention deletes by age.
CREATE INDEX messages_time ON messages (time);

-- What a room must remember even when retention has deleted its messages.
CREATE TABLE rooms (
    name     TEXT    PRIMARY KEY,
    -- The highest sequence number ever stored, so numbering never restarts.
    last_seq INTEGER NOT NULL,
    -- The current topic, however long ago it was set.
    topic    TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
