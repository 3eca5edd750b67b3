package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parley/web"
)

// The web page's signed-in browsers (web.Sessions), in the web_sessions
// table (migration 0008): only the SHA-256 of each cookie token is stored.

var _ web.Sessions = (*SQLite)(nil)

const webSessionColumns = "hash, handle, identity, created, last_seen, expires, agent, addr"

// CreateSession implements web.Sessions.
func (s *SQLite) CreateSession(ctx context.Context, r web.SessionRecord) error {
	if r.Identity == "" || r.Handle == "" {
		return fmt.Errorf("store: create web session: %w: identity and handle are required", ErrInvalid)
	}
	_, err := s.write.ExecContext(ctx, "INSERT INTO web_sessions ("+webSessionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		r.Hash[:], r.Handle, r.Identity, r.Created.UnixNano(), r.LastSeen.UnixNano(), r.Expires.UnixNano(), r.Agent, r.Addr)
	if err != nil {
		return fmt.Errorf("store: create web session of %s: %w", r.Identity, err)
	}
	return nil
}

// SessionByHash implements web.Sessions.
func (s *SQLite) SessionByHash(ctx context.Context, hash [32]byte) (web.SessionRecord, bool, error) {
	row := s.read.QueryRowContext(ctx, "SELECT "+webSessionColumns+" FROM web_sessions WHERE hash = ?", hash[:])
	r, err := scanWebSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return web.SessionRecord{}, false, nil
	}
	if err != nil {
		return web.SessionRecord{}, false, fmt.Errorf("store: web session: %w", err)
	}
	return r, true, nil
}

// TouchSession implements web.Sessions.
func (s *SQLite) TouchSession(ctx context.Context, hash [32]byte, seen time.Time) error {
	if _, err := s.write.ExecContext(ctx, "UPDATE web_sessions SET last_seen = ? WHERE hash = ?", seen.UnixNano(), hash[:]); err != nil {
		return fmt.Errorf("store: touch web session: %w", err)
	}
	return nil
}

// SessionsOf implements web.Sessions.
func (s *SQLite) SessionsOf(ctx context.Context, identity string) ([]web.SessionRecord, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+webSessionColumns+" FROM web_sessions WHERE identity = ?", identity)
	if err != nil {
		return nil, fmt.Errorf("store: web sessions of %s: %w", identity, err)
	}
	defer rows.Close()
	var out []web.SessionRecord
	for rows.Next() {
		r, err := scanWebSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: web sessions of %s: %w", identity, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: web sessions of %s: %w", identity, err)
	}
	return out, nil
}

// DeleteSession implements web.Sessions.
func (s *SQLite) DeleteSession(ctx context.Context, identity, handle string) (bool, error) {
	res, err := s.write.ExecContext(ctx, "DELETE FROM web_sessions WHERE identity = ? AND handle = ?", identity, handle)
	if err != nil {
		return false, fmt.Errorf("store: delete web session of %s: %w", identity, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: delete web session of %s: %w", identity, err)
	}
	return n > 0, nil
}

// DeleteSessionsOf implements web.Sessions.
func (s *SQLite) DeleteSessionsOf(ctx context.Context, identity string) error {
	if _, err := s.write.ExecContext(ctx, "DELETE FROM web_sessions WHERE identity = ?", identity); err != nil {
		return fmt.Errorf("store: delete web sessions of %s: %w", identity, err)
	}
	return nil
}

// DeleteExpiredSessions implements web.Sessions.
func (s *SQLite) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, "DELETE FROM web_sessions WHERE expires <= ?", now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired web sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired web sessions: %w", err)
	}
	return int(n), nil
}

func scanWebSession(row interface{ Scan(...any) error }) (web.SessionRecord, error) {
	var (
		r                        web.SessionRecord
		hash                     []byte
		created, seen, expiresAt int64
	)
	if err := row.Scan(&hash, &r.Handle, &r.Identity, &created, &seen, &expiresAt, &r.Agent, &r.Addr); err != nil {
		return web.SessionRecord{}, err
	}
	if len(hash) != len(r.Hash) {
		return web.SessionRecord{}, fmt.Errorf("%w: a session hash of %d bytes", ErrInvalid, len(hash))
	}
	copy(r.Hash[:], hash)
	r.Created, r.LastSeen, r.Expires = time.Unix(0, created).UTC(), time.Unix(0, seen).UTC(), time.Unix(0, expiresAt).UTC()
	return r, nil
}
