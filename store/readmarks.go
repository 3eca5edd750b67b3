package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
)

// SetReadMark records that identity has seen roomName up to sequence number
// seq. Marks only move forward: an older seq (from a second session that is
// behind) leaves the mark where it is. The room "" holds the id of the last
// private message seen.
func (s *SQLite) SetReadMark(ctx context.Context, identity, roomName string, seq uint64) error {
	if identity == "" {
		return fmt.Errorf("store: set read mark: %w: no identity", ErrInvalid)
	}
	if seq > math.MaxInt64 {
		return fmt.Errorf("store: set read mark: %w: sequence number %d out of range", ErrInvalid, seq)
	}
	if _, err := s.putReadMark.ExecContext(ctx, identity, roomName, int64(seq)); err != nil {
		return fmt.Errorf("store: set read mark of %s in %s: %w", identity, roomName, err)
	}
	return nil
}

// ReadMark returns the last sequence number of roomName that identity has
// seen, 0 if none.
func (s *SQLite) ReadMark(ctx context.Context, identity, roomName string) (uint64, error) {
	var seq int64
	err := s.readMark.QueryRowContext(ctx, identity, roomName).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read mark of %s in %s: %w", identity, roomName, err)
	}
	return uint64(seq), nil
}
