package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"parley/room"
)

// sqlPrivateBefore pages back through a person's private messages
// (identity, before, n), newest first. Each side of the UNION walks one of
// the partial indexes backwards and stops after n rows, which an OR in one
// WHERE would not do.
var sqlPrivateBefore = `SELECT ` + messageColumns("messages") + ` FROM messages WHERE id IN (
		SELECT id FROM (SELECT id FROM messages WHERE room = '' AND from_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3)
		UNION
		SELECT id FROM (SELECT id FROM messages WHERE room = '' AND to_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3)
	) ORDER BY id DESC LIMIT ?3`

// AppendPrivate stores one private message (Kind KindPrivate, no Room, both
// FromID and ToID set) and returns its id. Ids increase in the order
// messages are stored and are never reused; they are shared by all
// conversations, so they have gaps from each person's point of view.
//
// The room package numbers private messages 0; the store hands them back
// with Seq set to this id (see PrivateBefore), so a session showing a
// private message live can set Seq to the id as well.
func (s *SQLite) AppendPrivate(ctx context.Context, m room.Message) (int64, error) {
	switch {
	case m.Kind != room.KindPrivate:
		return 0, fmt.Errorf("store: append private message: %w: kind %s", ErrInvalid, m.Kind)
	case m.Room != "":
		return 0, fmt.Errorf("store: append private message: %w: it names room %s", ErrInvalid, m.Room)
	case m.FromID == "" || m.ToID == "":
		return 0, fmt.Errorf("store: append private message: %w: sender and recipient identities are required", ErrInvalid)
	}
	res, err := s.insertPrivate.ExecContext(ctx, unixNano(m.Time), int64(m.Kind),
		m.FromID, m.From, m.ToID, m.To, m.Text)
	if err != nil {
		return 0, fmt.Errorf("store: append private message from %s to %s: %w", m.FromID, m.ToID, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: append private message from %s to %s: id: %w", m.FromID, m.ToID, err)
	}
	return id, nil
}

// PrivateBefore returns up to n private messages that identity sent or
// received, with an id below beforeID (0 or less means from the newest),
// oldest first. Each message's Seq is its id: page backwards by passing the
// Seq of the first message returned. Nobody else's private messages are
// ever returned.
func (s *SQLite) PrivateBefore(ctx context.Context, identity string, beforeID int64, n int) ([]room.Message, error) {
	if identity == "" {
		return nil, fmt.Errorf("store: private messages: %w: no identity", ErrInvalid)
	}
	if n <= 0 {
		return nil, nil
	}
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	rows, err := s.privateBefore.QueryContext(ctx, identity, beforeID, n)
	if err != nil {
		return nil, fmt.Errorf("store: private messages of %s before %d: %w", identity, beforeID, err)
	}
	msgs, err := scanMessages(rows, n)
	if err != nil {
		return nil, fmt.Errorf("store: private messages of %s before %d: %w", identity, beforeID, err)
	}
	reverse(msgs)
	return msgs, nil
}

// IdentityByName returns the identity that chose name (its saved "nick"
// setting, ignoring ASCII case) and the name as saved, so that a private
// message can be left for someone who is not connected. When several did
// (names are unique only among people online), the first by identity wins.
func (s *SQLite) IdentityByName(ctx context.Context, name string) (id, saved string, ok bool, err error) {
	err = s.read.QueryRowContext(ctx,
		`SELECT identity, value FROM settings WHERE key = 'nick' AND value = ? COLLATE NOCASE ORDER BY identity LIMIT 1`,
		name).Scan(&id, &saved)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("store: identity called %q: %w", name, err)
	}
	return id, saved, true, nil
}

var _ room.NameIndex = (*SQLite)(nil)
