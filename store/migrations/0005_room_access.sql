-- Who may enter each room, kept apart from its messages so that it outlives
-- them (retention) and is known before any of them is read. A room that has
-- messages but no row here (one made before this migration) has unknown
-- access: parley keeps it closed to all but admins until an admin says
-- whether it is private or open.
CREATE TABLE room_access (
    -- The room's folded name.
    name    TEXT    PRIMARY KEY,
    -- 1: only invited identities (and admins) may enter or read it.
    private INTEGER NOT NULL CHECK (private IN (0, 1)),
    -- The identity that made the room (or made it private), '' unknown.
    creator TEXT    NOT NULL DEFAULT '',
    -- 1: removed by an admin. Not listed nor opened at start; entering it
    -- again is allowed only to those its access lets in.
    removed INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1))
) STRICT, WITHOUT ROWID;

-- The identities invited into a private room.
CREATE TABLE room_invited (
    room     TEXT NOT NULL REFERENCES room_access (name) ON DELETE CASCADE,
    identity TEXT NOT NULL,
    PRIMARY KEY (room, identity)
) STRICT, WITHOUT ROWID;

-- The rooms each identity is in, restored when it connects again.
CREATE TABLE memberships (
    identity TEXT NOT NULL,
    room     TEXT NOT NULL,
    PRIMARY KEY (identity, room)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_room ON memberships (room);
