package store

import (
	"context"
	"fmt"
)

// AllMemberships lists every identity's rooms, each sorted by name: what a
// node publishes when it first joins a cluster (natsaccess).
func (s *SQLite) AllMemberships(ctx context.Context) (map[string][]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT identity, room FROM memberships ORDER BY identity, room`)
	if err != nil {
		return nil, fmt.Errorf("store: all memberships: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("store: all memberships: %w", err)
		}
		out[id] = append(out[id], name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: all memberships: %w", err)
	}
	return out, nil
}
