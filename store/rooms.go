package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"parley/room"
)

// The store keeps rooms' access and people's memberships (migration 5).
var _ room.RoomStore = (*SQLite)(nil)

// RoomAccess returns the stored access of room; found is false when none
// is stored (a room made before access was stored has messages but no
// access: the room package keeps it closed).
func (s *SQLite) RoomAccess(ctx context.Context, name string) (room.RoomAccess, bool, error) {
	var a room.RoomAccess
	var private, removed int
	err := s.read.QueryRowContext(ctx, `SELECT private, creator, removed FROM room_access WHERE name = ?`, name).
		Scan(&private, &a.Creator, &removed)
	if errors.Is(err, sql.ErrNoRows) {
		return room.RoomAccess{}, false, nil
	}
	if err != nil {
		return room.RoomAccess{}, false, fmt.Errorf("store: access of %s: %w", name, err)
	}
	a.Private, a.Removed = private != 0, removed != 0
	rows, err := s.read.QueryContext(ctx, `SELECT identity FROM room_invited WHERE room = ? ORDER BY identity`, name)
	if err != nil {
		return room.RoomAccess{}, false, fmt.Errorf("store: invited to %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return room.RoomAccess{}, false, fmt.Errorf("store: invited to %s: %w", name, err)
		}
		a.Invited = append(a.Invited, id)
	}
	if err := rows.Err(); err != nil {
		return room.RoomAccess{}, false, fmt.Errorf("store: invited to %s: %w", name, err)
	}
	return a, true, nil
}

// SetRoomAccess stores the access of room, replacing what was stored, in
// one transaction.
func (s *SQLite) SetRoomAccess(ctx context.Context, name string, a room.RoomAccess) error {
	if name == "" {
		return fmt.Errorf("store: set room access: %w: room is required", ErrInvalid)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: set access of %s: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO room_access (name, private, creator, removed) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET private = excluded.private, creator = excluded.creator, removed = excluded.removed`,
		name, boolInt(a.Private), a.Creator, boolInt(a.Removed)); err != nil {
		return fmt.Errorf("store: set access of %s: %w", name, classify(err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM room_invited WHERE room = ?`, name); err != nil {
		return fmt.Errorf("store: set access of %s: %w", name, classify(err))
	}
	for _, id := range a.Invited {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO room_invited (room, identity) VALUES (?, ?)`, name, id); err != nil {
			return fmt.Errorf("store: set access of %s: %w", name, classify(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: set access of %s: %w", name, classify(err))
	}
	return nil
}

// StoredRooms lists every room with stored messages or access, except
// the removed ones, sorted by name.
func (s *SQLite) StoredRooms(ctx context.Context) ([]string, error) {
	return s.strings(ctx, "stored rooms", `SELECT name FROM rooms WHERE name NOT IN (SELECT name FROM room_access WHERE removed = 1)
		UNION SELECT name FROM room_access WHERE removed = 0 ORDER BY 1`)
}

// Memberships lists the rooms identity is in, sorted by name.
func (s *SQLite) Memberships(ctx context.Context, identity string) ([]string, error) {
	return s.strings(ctx, "memberships of "+identity, `SELECT room FROM memberships WHERE identity = ? ORDER BY room`, identity)
}

// SetMembership records that identity is in room, or not.
func (s *SQLite) SetMembership(ctx context.Context, identity, name string, in bool) error {
	if identity == "" || name == "" {
		return fmt.Errorf("store: set membership: %w: identity and room are required", ErrInvalid)
	}
	q := `DELETE FROM memberships WHERE identity = ? AND room = ?`
	if in {
		q = `INSERT OR IGNORE INTO memberships (identity, room) VALUES (?, ?)`
	}
	if _, err := s.write.ExecContext(ctx, q, identity, name); err != nil {
		return fmt.Errorf("store: membership of %s in %s: %w", identity, name, classify(err))
	}
	return nil
}

// DropMemberships forgets that anyone is in room.
func (s *SQLite) DropMemberships(ctx context.Context, name string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM memberships WHERE room = ?`, name); err != nil {
		return fmt.Errorf("store: members of %s: %w", name, classify(err))
	}
	return nil
}

// strings runs a query of one text column on the read pool.
func (s *SQLite) strings(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
