package store

import (
	"context"

	"parley/room"
)

// The interfaces below are the additions proposed for package room, which
// owns them (the store only implements them). They are declared here until
// room has them, so that the store cannot drift from the proposal; once room
// declares them, replace these with var _ room.X = (*SQLite)(nil).

// proposedPrivateHistory stores private messages.
type proposedPrivateHistory interface {
	AppendPrivate(ctx context.Context, m room.Message) (id int64, err error)
	PrivateBefore(ctx context.Context, identity string, beforeID int64, n int) ([]room.Message, error)
}

// proposedSearcher finds stored messages a person may see.
type proposedSearcher interface {
	Search(ctx context.Context, room, identity, query string, limit int) ([]room.Message, error)
}

// proposedPreferences keeps per-person settings and read marks.
type proposedPreferences interface {
	SetSetting(ctx context.Context, identity, key, value string) error
	Settings(ctx context.Context, identity string) (map[string]string, error)
	SetReadMark(ctx context.Context, identity, room string, seq uint64) error
	ReadMark(ctx context.Context, identity, room string) (uint64, error)
}

// proposedTopics gives a room its topic however old (for room.loadRoom).
type proposedTopics interface {
	Topic(ctx context.Context, room string) (string, error)
}

var (
	_ proposedPrivateHistory = (*SQLite)(nil)
	_ proposedSearcher       = (*SQLite)(nil)
	_ proposedPreferences    = (*SQLite)(nil)
	_ proposedTopics         = (*SQLite)(nil)
)
