-- Cluster mode (--nats): this database is the node's local index of the
-- rooms' JetStream streams (scrollback, /jump, /search), fed from them.
-- A room's messages in an indexed room carry the stream's sequence numbers.

-- One row per room this database indexes, or whose history from before the
-- cluster `parley cluster import` has published into the room's stream.
CREATE TABLE cluster_index (
    -- The room's folded name.
    room           TEXT    PRIMARY KEY,
    -- The last stream sequence applied here (0: none yet).
    applied        INTEGER NOT NULL DEFAULT 0 CHECK (applied >= 0),
    -- The creation time (Unix nanoseconds) of the stream this index follows;
    -- a stream created at another time was deleted and made again, and the
    -- room is indexed again from its start. 0: not known yet.
    stream_created INTEGER NOT NULL DEFAULT 0,
    -- 1: the room's messages here are the history from before the cluster,
    -- already published into the stream by `parley cluster import`: the
    -- node replaces them with the stream's when it starts.
    imported       INTEGER NOT NULL DEFAULT 0 CHECK (imported IN (0, 1))
) STRICT, WITHOUT ROWID;

-- Facts about this database in cluster mode: 'import_node', the random
-- number `parley cluster import` puts in the message IDs it publishes, so
-- that running it again recognises its own messages.
CREATE TABLE cluster_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
