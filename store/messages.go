package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"parley/room"
)

// messageColumns lists, for the messages table under the name or alias t,
// the columns scanMessages reads, in its order. A private message's Seq is
// its id (see PrivateBefore).
func messageColumns(t string) string {
	return strings.ReplaceAll(`CASE WHEN $.room = '' THEN $.id ELSE $.seq END, `+
		`$.time, $.room, $.kind, $.from_name, $.from_id, $.to_name, $.to_id, $.text`, "$", t)
}

// sqlBefore pages back through a room (room, before, n), newest first,
// along the UNIQUE (room, seq) index.
var sqlBefore = `SELECT ` + messageColumns("messages") + ` FROM messages
	WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?`

// sqlInsertBatch stores a batch given as a JSON array of rows
// [room, seq, time, kind, from_id, from_name, to_id, to_name, text] in one
// statement.
var sqlInsertBatch = `INSERT INTO messages (room, seq, time, kind, from_id, from_name, to_id, to_name, text)
	SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8
	FROM json_each(?) ORDER BY key`

// deleteChunk is how many messages DeleteBefore removes per transaction, so
// that retention never holds the write connection for long.
var deleteChunk = 1000

// Append stores msgs, which the room has already numbered, in one
// transaction: all or none, with one fsync for the whole batch. Every
// message must belong to a room and have a sequence number above the last
// one stored for that room; otherwise Append stores nothing and returns an
// error wrapping ErrDuplicate (a number already used) or ErrInvalid.
//
// Text is stored as UTF-8: invalid bytes (which package safetext never lets
// through) are stored as U+FFFD.
func (s *SQLite) Append(ctx context.Context, msgs []room.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	// Nearly always one room per batch; a slice beats a map here.
	type span struct {
		name     string
		min, max uint64
		topic    string
		hasTopic bool
	}
	var spans []span
	for i, m := range msgs {
		if err := checkRoomMessage(m); err != nil {
			return fmt.Errorf("store: append: message %d of %d: %w", i+1, len(msgs), err)
		}
		j := 0
		for j < len(spans) && spans[j].name != m.Room {
			j++
		}
		if j == len(spans) {
			spans = append(spans, span{name: m.Room, min: m.Seq, max: m.Seq})
		}
		sp := &spans[j]
		sp.min, sp.max = min(sp.min, m.Seq), max(sp.max, m.Seq)
		if m.Kind == room.KindTopic {
			sp.topic, sp.hasTopic = m.Text, true
		}
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: append: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	// One INSERT for the whole batch, not one per message: FTS5 flushes its
	// pending index entries at every statement savepoint, so an INSERT per
	// message would cost an index segment (and merging) per message, which
	// cut throughput at 256 messages a batch to less than half.
	rows := make([][9]any, len(msgs))
	for i, m := range msgs {
		rows[i] = [9]any{m.Room, int64(m.Seq), unixNano(m.Time), int64(m.Kind), m.FromID, m.From, m.ToID, m.To, m.Text}
	}
	batch, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("store: append: %w", err)
	}
	if _, err := tx.StmtContext(ctx, s.insertBatch).ExecContext(ctx, batch); err != nil {
		return fmt.Errorf("store: append %d messages to %s at %d: %w", len(msgs), msgs[0].Room, msgs[0].Seq, classify(err))
	}
	last := tx.StmtContext(ctx, s.roomLastSeq)
	up := tx.StmtContext(ctx, s.upsertRoom)
	for _, sp := range spans {
		// UNIQUE(room, seq) catches a number still stored; this catches
		// one that retention has deleted, so numbering never goes back.
		var prev int64
		if err := last.QueryRowContext(ctx, sp.name).Scan(&prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: append to %s: last sequence: %w", sp.name, err)
		}
		if sp.min <= uint64(prev) {
			return fmt.Errorf("store: append to %s at %d: %w (last stored is %d)", sp.name, sp.min, ErrDuplicate, prev)
		}
		if _, err := up.ExecContext(ctx, sp.name, int64(sp.max), sp.topic, sp.hasTopic); err != nil {
			return fmt.Errorf("store: append to %s: update room: %w", sp.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: append %d messages: commit: %w", len(msgs), err)
	}
	return nil
}

// checkRoomMessage refuses what does not belong in a room's history.
func checkRoomMessage(m room.Message) error {
	switch {
	case m.Room == "":
		return fmt.Errorf("%w: no room (private messages go through AppendPrivate)", ErrInvalid)
	case m.Seq == 0 || m.Seq > math.MaxInt64:
		return fmt.Errorf("%w: sequence number %d out of range", ErrInvalid, m.Seq)
	case m.Kind == 0 || m.Kind == room.KindPrivate || m.Kind == room.KindNotice || m.Kind == room.KindError:
		return fmt.Errorf("%w: a %s message is not part of a room's history", ErrInvalid, m.Kind)
	}
	return nil
}

// Before returns up to n messages of roomName with a sequence number below
// before (0 means from the newest), oldest first. Page backwards by passing
// the Seq of the first message returned.
func (s *SQLite) Before(ctx context.Context, roomName string, before uint64, n int) ([]room.Message, error) {
	if roomName == "" {
		return nil, fmt.Errorf("store: history: %w: no room", ErrInvalid)
	}
	if n <= 0 {
		return nil, nil
	}
	bound := int64(math.MaxInt64)
	if before != 0 && before < math.MaxInt64 {
		bound = int64(before)
	}
	rows, err := s.before.QueryContext(ctx, roomName, bound, n)
	if err != nil {
		return nil, fmt.Errorf("store: history of %s before %d: %w", roomName, before, err)
	}
	msgs, err := scanMessages(rows, n)
	if err != nil {
		return nil, fmt.Errorf("store: history of %s before %d: %w", roomName, before, err)
	}
	reverse(msgs)
	return msgs, nil
}

// LastSeq returns the highest sequence number ever stored for roomName, 0 if
// none. It does not go back when retention deletes messages.
func (s *SQLite) LastSeq(ctx context.Context, roomName string) (uint64, error) {
	var last int64
	err := s.lastSeq.QueryRowContext(ctx, roomName).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: last sequence of %s: %w", roomName, err)
	}
	return uint64(last), nil
}

// Topic returns the topic most recently set in roomName ("" if none), however
// long ago: unlike the messages, it survives retention and is not limited to
// the recent history a room loads.
func (s *SQLite) Topic(ctx context.Context, roomName string) (string, error) {
	var topic string
	err := s.topic.QueryRowContext(ctx, roomName).Scan(&topic)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: topic of %s: %w", roomName, err)
	}
	return topic, nil
}

// DeleteBefore deletes the messages, of rooms and private ones, accepted
// before t, and returns how many it deleted. It works in small transactions
// so that messages keep being stored meanwhile; on error, the count says how
// many were deleted before it. Sequence numbers, topics, settings and read
// marks are kept.
func (s *SQLite) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	cut := unixNano(t)
	var total int64
	for {
		res, err := s.write.ExecContext(ctx,
			`DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE time < ? ORDER BY time LIMIT ?)`,
			cut, deleteChunk)
		if err != nil {
			return total, fmt.Errorf("store: delete messages before %s: %w", t.Format(time.RFC3339), err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: delete messages before %s: %w", t.Format(time.RFC3339), err)
		}
		total += n
		if n < int64(deleteChunk) {
			return total, nil
		}
	}
}

// scanMessages reads rows of messageColumns and closes rows.
func scanMessages(rows *sql.Rows, capHint int) ([]room.Message, error) {
	defer rows.Close()
	msgs := make([]room.Message, 0, min(capHint, 1024))
	for rows.Next() {
		var (
			m    room.Message
			seq  int64
			ns   int64
			kind int64
		)
		if err := rows.Scan(&seq, &ns, &m.Room, &kind, &m.From, &m.FromID, &m.To, &m.ToID, &m.Text); err != nil {
			return nil, err
		}
		m.Seq, m.Time, m.Kind = uint64(seq), fromUnixNano(ns), room.Kind(kind)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return msgs, nil
}

func reverse(msgs []room.Message) {
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
}

// unixNano stores a time; the zero time is stored as 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
