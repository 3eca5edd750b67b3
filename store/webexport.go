package store

import (
	"context"
	"fmt"
	"time"

	"parley/web"
)

// The web page's state read whole, for a node that joins a cluster and
// publishes what its store holds (app/clusterweb.go, issue 15).

// StoredPasskey is one passkey as the store keeps it.
type StoredPasskey struct {
	Identity          string
	ID, Record        []byte
	Created, LastUsed time.Time // LastUsed zero: never
}

// AllPasskeys returns every passkey, whole.
func (s *SQLite) AllPasskeys(ctx context.Context) ([]StoredPasskey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT identity, id, record, created, last_used FROM passkeys ORDER BY created`)
	if err != nil {
		return nil, fmt.Errorf("store: all passkeys: %w", err)
	}
	defer rows.Close()
	var out []StoredPasskey
	for rows.Next() {
		var p StoredPasskey
		var created, used int64
		if err := rows.Scan(&p.Identity, &p.ID, &p.Record, &created, &used); err != nil {
			return nil, fmt.Errorf("store: all passkeys: %w", err)
		}
		p.Created, p.LastUsed = fromUnixNano(created), fromUnixNano(used)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: all passkeys: %w", err)
	}
	return out, nil
}

// LiveWebSessions returns every browser session that expires after now.
func (s *SQLite) LiveWebSessions(ctx context.Context, now time.Time) ([]web.SessionRecord, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+webSessionColumns+" FROM web_sessions WHERE expires > ?", now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("store: live web sessions: %w", err)
	}
	defer rows.Close()
	var out []web.SessionRecord
	for rows.Next() {
		r, err := scanWebSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: live web sessions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: live web sessions: %w", err)
	}
	return out, nil
}
