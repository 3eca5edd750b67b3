package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"parley/room"
)

// Cluster mode (--nats, issue 15): the database is the node's local index
// of the rooms' JetStream streams, fed by natslog.Index through the methods
// below (migration 0009). An indexed room's messages carry the stream's
// sequence numbers, so scrollback, /jump and Search read them as they read
// a single node's history. The stream stays the source of truth: the index
// can always be dropped (IndexReset) and fed again from it.
//
// A room whose messages here have no cluster_index row is history from
// before the cluster (LocalHistory): `parley cluster import` publishes it
// into the room's stream and marks it imported (MarkImported), and the
// index then replaces it with the stream's copy.

// IndexState returns what the database holds of roomName as an index of
// its stream: the last stream sequence applied (0: none), the creation
// time of the stream it follows (zero: not known), and whether its messages
// are imported history waiting to be replaced by the stream's.
func (s *SQLite) IndexState(ctx context.Context, roomName string) (applied uint64, streamCreated time.Time, imported bool, err error) {
	var a, created int64
	var imp int
	err = s.read.QueryRowContext(ctx, `SELECT applied, stream_created, imported FROM cluster_index WHERE room = ?`, roomName).
		Scan(&a, &created, &imp)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("store: index state of %s: %w", roomName, err)
	}
	return uint64(a), fromUnixNano(created), imp != 0, nil
}

// IndexApply stores msgs, the next messages of roomName's stream in order,
// and records through (the stream sequence of the last message read, which
// may be past the last of msgs when some were skipped) as applied and
// streamCreated as the stream followed: all in one transaction, so that
// after a crash the index resumes exactly after what it stored. Every
// message must be numbered above the room's applied sequence and at most
// through; a room whose messages are imported history must be reset first.
func (s *SQLite) IndexApply(ctx context.Context, roomName string, streamCreated time.Time, through uint64, msgs []room.Message) error {
	if roomName == "" || through == 0 || through > math.MaxInt64 {
		return fmt.Errorf("store: index %q through %d: %w", roomName, through, ErrInvalid)
	}
	var topic string
	hasTopic := false
	for i, m := range msgs {
		if err := checkRoomMessage(m); err != nil {
			return fmt.Errorf("store: index %s: message %d of %d: %w", roomName, i+1, len(msgs), err)
		}
		if m.Room != roomName || m.Seq > through || (i > 0 && m.Seq <= msgs[i-1].Seq) {
			return fmt.Errorf("store: index %s: message %d of %d (%s #%d) is out of order: %w", roomName, i+1, len(msgs), m.Room, m.Seq, ErrInvalid)
		}
		if m.Kind == room.KindTopic {
			topic, hasTopic = m.Text, true
		}
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: index %s: begin: %w", roomName, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var applied int64
	var imported int
	err = tx.QueryRowContext(ctx, `SELECT applied, imported FROM cluster_index WHERE room = ?`, roomName).Scan(&applied, &imported)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: index %s: state: %w", roomName, err)
	}
	switch {
	case imported != 0:
		return fmt.Errorf("store: index %s: its messages are imported history: reset it first: %w", roomName, ErrInvalid)
	case through <= uint64(applied):
		return fmt.Errorf("store: index %s through %d: %w (applied %d)", roomName, through, ErrDuplicate, applied)
	case len(msgs) > 0 && msgs[0].Seq <= uint64(applied):
		return fmt.Errorf("store: index %s at %d: %w (applied %d)", roomName, msgs[0].Seq, ErrDuplicate, applied)
	}
	if len(msgs) > 0 {
		rows := make([][9]any, len(msgs))
		for i, m := range msgs {
			rows[i] = [9]any{m.Room, int64(m.Seq), unixNano(m.Time), int64(m.Kind), m.FromID, m.From, m.ToID, m.To, m.Text}
		}
		batch, err := json.Marshal(rows)
		if err != nil {
			return fmt.Errorf("store: index %s: %w", roomName, err)
		}
		if _, err := tx.StmtContext(ctx, s.insertBatch).ExecContext(ctx, batch); err != nil {
			return fmt.Errorf("store: index %d messages of %s at %d: %w", len(msgs), roomName, msgs[0].Seq, classify(err))
		}
	}
	if _, err := tx.StmtContext(ctx, s.upsertRoom).ExecContext(ctx, roomName, int64(through), topic, hasTopic); err != nil {
		return fmt.Errorf("store: index %s: update room: %w", roomName, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cluster_index (room, applied, stream_created) VALUES (?, ?, ?)
		ON CONFLICT (room) DO UPDATE SET applied = excluded.applied, stream_created = excluded.stream_created`,
		roomName, int64(through), unixNano(streamCreated)); err != nil {
		return fmt.Errorf("store: index %s: record applied: %w", roomName, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: index %s through %d: commit: %w", roomName, through, err)
	}
	return nil
}

// IndexReset forgets roomName's messages, sequence number and topic, and
// its index state, so that it is indexed again from the stream's start:
// the stream was made again, or its messages here are imported history.
// The room's access and memberships are kept.
func (s *SQLite) IndexReset(ctx context.Context, roomName string) error {
	if roomName == "" {
		return fmt.Errorf("store: reset index: %w: no room", ErrInvalid)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: reset index of %s: begin: %w", roomName, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, q := range []string{
		`DELETE FROM messages WHERE room = ?`,
		`UPDATE rooms SET last_seq = 0, topic = '' WHERE name = ?`,
		`DELETE FROM cluster_index WHERE room = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, roomName); err != nil {
			return fmt.Errorf("store: reset index of %s: %w", roomName, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: reset index of %s: commit: %w", roomName, err)
	}
	return nil
}

// LocalRoom is a room whose messages in the database, or some of them,
// are not an index of its stream: history from before the cluster, or
// said while the node ran without --nats after it had indexed the room.
type LocalRoom struct {
	// Name is the room's folded name.
	Name string
	// After is the stream sequence the room's index had applied: the
	// local messages are those numbered above it (0: all of them).
	After uint64
	// Messages is how many local messages are stored.
	Messages int64
	// First and Last are the sequence numbers of the oldest and newest.
	First, Last uint64
	// Imported is true once `parley cluster import` has published them
	// into the room's stream (MarkImported).
	Imported bool
}

// LocalHistory lists, by name, the rooms with local messages: history from
// before the cluster (not fed from a stream), imported or not, and messages
// stored after the room's index by a node that ran without --nats.
func (s *SQLite) LocalHistory(ctx context.Context) ([]LocalRoom, error) {
	rows, err := s.read.QueryContext(ctx, `WITH state AS (
			SELECT r.name AS name, coalesce(c.imported, 0) AS imported, coalesce(c.applied, 0) AS after
			FROM rooms r LEFT JOIN cluster_index c ON c.room = r.name
			WHERE c.room IS NULL OR c.imported = 1 OR r.last_seq > c.applied)
		SELECT name, imported, after,
			(SELECT count(*) FROM messages m WHERE m.room = name AND m.seq > after),
			(SELECT min(seq) FROM messages m WHERE m.room = name AND m.seq > after),
			(SELECT max(seq) FROM messages m WHERE m.room = name AND m.seq > after)
		FROM state
		WHERE EXISTS (SELECT 1 FROM messages m WHERE m.room = name AND m.seq > after)
		ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: local history: %w", err)
	}
	defer rows.Close()
	var out []LocalRoom
	for rows.Next() {
		var lr LocalRoom
		var imp int
		var after, first, last int64
		if err := rows.Scan(&lr.Name, &imp, &after, &lr.Messages, &first, &last); err != nil {
			return nil, fmt.Errorf("store: local history: %w", err)
		}
		lr.Imported, lr.After, lr.First, lr.Last = imp != 0, uint64(after), uint64(first), uint64(last)
		out = append(out, lr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: local history: %w", err)
	}
	return out, nil
}

// After returns up to n messages of roomName numbered above after, oldest
// first: page forwards by passing the Seq of the last one returned.
func (s *SQLite) After(ctx context.Context, roomName string, after uint64, n int) ([]room.Message, error) {
	if roomName == "" {
		return nil, fmt.Errorf("store: history: %w: no room", ErrInvalid)
	}
	if n <= 0 || after >= math.MaxInt64 {
		return nil, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+messageColumns("messages")+` FROM messages
		WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?`, roomName, int64(after), n)
	if err != nil {
		return nil, fmt.Errorf("store: history of %s after %d: %w", roomName, after, err)
	}
	msgs, err := scanMessages(rows, n)
	if err != nil {
		return nil, fmt.Errorf("store: history of %s after %d: %w", roomName, after, err)
	}
	return msgs, nil
}

// MarkImported records that roomName's local messages (LocalHistory) are
// published into its stream: a node in cluster mode replaces the room's
// messages with the stream's copy (IndexState reports it imported). What
// the index had applied is kept, so that the local messages stay those
// after it until then.
func (s *SQLite) MarkImported(ctx context.Context, roomName string) error {
	if _, err := s.write.ExecContext(ctx, `INSERT INTO cluster_index (room, applied, stream_created, imported) VALUES (?, 0, 0, 1)
		ON CONFLICT (room) DO UPDATE SET imported = 1`, roomName); err != nil {
		return fmt.Errorf("store: mark %s imported: %w", roomName, err)
	}
	return nil
}

// ImportNode returns the number `parley cluster import` puts in the IDs of
// the messages it publishes from this database: random, made on first use
// and kept, so that a second run recognises the messages of the first.
func (s *SQLite) ImportNode(ctx context.Context) (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("store: import node: %w", err)
	}
	fresh := binary.BigEndian.Uint64(b[:]) | 1 // never 0
	if _, err := s.write.ExecContext(ctx, `INSERT INTO cluster_meta (key, value) VALUES ('import_node', ?)
		ON CONFLICT (key) DO NOTHING`, strconv.FormatUint(fresh, 10)); err != nil {
		return 0, fmt.Errorf("store: import node: %w", err)
	}
	var v string
	if err := s.write.QueryRowContext(ctx, `SELECT value FROM cluster_meta WHERE key = 'import_node'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: import node: %w", err)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: import node %q: %w", v, err)
	}
	return n, nil
}
