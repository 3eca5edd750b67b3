package room

import "context"

// History stores the messages of rooms durably. The default Log
// (NewHistoryLog) calls Append from a room's sequencer goroutine before
// anyone is shown the messages, so a message that History refuses is never
// seen; the Hub reads it for the recent messages of a room it opens, for
// scrollback and for search. Implementations must be safe for concurrent
// use by several rooms.
type History interface {
	// Append stores msgs, which are already sequenced, all or none.
	Append(ctx context.Context, msgs []Message) error
	// Before returns up to n messages of room with a sequence number below
	// before (0 means the newest), oldest first.
	Before(ctx context.Context, room string, before uint64, n int) ([]Message, error)
	// LastSeq returns the highest sequence number stored for room, 0 if none.
	LastSeq(ctx context.Context, room string) (uint64, error)
}

// PrivateHistory stores private messages. A private message is stored
// before either person sees it; its id orders a person's conversations.
type PrivateHistory interface {
	AppendPrivate(ctx context.Context, m Message) (id int64, err error)
	// PrivateBefore returns up to n private messages that identity sent or
	// received with an id below beforeID (0 means the newest), oldest
	// first, with Seq holding the id.
	PrivateBefore(ctx context.Context, identity string, beforeID int64, n int) ([]Message, error)
}

// Searcher finds messages by words.
type Searcher interface {
	// Search returns up to limit messages of room, and identity's private
	// messages, matching every word of query, newest first.
	Search(ctx context.Context, room, identity, query string, limit int) ([]Message, error)
}

// Preferences keeps what each identity chose (name, away, screen settings)
// and how far it has read each room.
type Preferences interface {
	SetSetting(ctx context.Context, identity, key, value string) error
	Settings(ctx context.Context, identity string) (map[string]string, error)
	SetReadMark(ctx context.Context, identity, room string, seq uint64) error
	ReadMark(ctx context.Context, identity, room string) (uint64, error)
}

// topicStore is implemented by a History that remembers each room's topic
// beyond the messages it keeps.
type topicStore interface {
	Topic(ctx context.Context, room string) (string, error)
}

// ring keeps the newest messages of one room in memory, oldest first.
// It is owned by the Hub and guarded by Hub.mu.
type ring struct {
	buf   []Message
	start int // index of the oldest message
	n     int // number of messages held
	// snap is the last result of last, shared by everyone who asked for the
	// same k since the newest push: a thousand people arriving in a quiet
	// room share one backlog instead of holding a copy each.
	snap  []Message
	snapK int
}

func newRing(size int) *ring { return &ring{buf: make([]Message, size)} }

// push adds m, dropping the oldest message when full.
func (r *ring) push(m Message) {
	if len(r.buf) == 0 {
		return
	}
	r.snap = nil
	i := (r.start + r.n) % len(r.buf)
	r.buf[i] = m
	if r.n < len(r.buf) {
		r.n++
	} else {
		r.start = (r.start + 1) % len(r.buf)
	}
}

// last returns the newest k messages, oldest first, in a slice that may be
// shared: nobody may modify it.
func (r *ring) last(k int) []Message {
	if k > r.n {
		k = r.n
	}
	if r.snap != nil && r.snapK == k {
		return r.snap
	}
	out := make([]Message, k)
	for j := 0; j < k; j++ {
		out[j] = r.buf[(r.start+r.n-k+j)%len(r.buf)]
	}
	r.snap, r.snapK = out, k
	return out
}
