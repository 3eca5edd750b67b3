-- Signed-in browsers outlive a restart (issue 17): one row per session.
-- Only the SHA-256 of the cookie token is kept, so a copy of the database
-- signs no one in. handle names the session to its owner (list, revoke).
CREATE TABLE web_sessions (
	hash      BLOB PRIMARY KEY,
	handle    TEXT NOT NULL UNIQUE,
	identity  TEXT NOT NULL,
	created   INTEGER NOT NULL, -- Unix nanoseconds
	last_seen INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	agent     TEXT NOT NULL DEFAULT '',
	addr      TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
CREATE INDEX web_sessions_identity ON web_sessions (identity);
CREATE INDEX web_sessions_expires ON web_sessions (expires);
