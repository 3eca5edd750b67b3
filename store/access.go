package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parley/access"
)

// The store keeps the access lists (bans and invites) too.
var _ access.Store = (*SQLite)(nil)

// PutBan records a ban, replacing any ban of the same fingerprint.
func (s *SQLite) PutBan(ctx context.Context, b access.Ban) error {
	if b.Fingerprint == "" {
		return fmt.Errorf("store: put ban: %w: fingerprint is required", ErrInvalid)
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO bans (fingerprint, name, reason, by_id, by_name, created, until)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (fingerprint) DO UPDATE SET name = excluded.name, reason = excluded.reason,
			by_id = excluded.by_id, by_name = excluded.by_name, created = excluded.created, until = excluded.until`,
		b.Fingerprint, b.Name, b.Reason, b.By, b.ByName, unixNano(b.Created), unixNano(b.Until))
	if err != nil {
		return fmt.Errorf("store: put ban of %s: %w", b.Fingerprint, err)
	}
	return nil
}

// DeleteBan lifts the ban of fingerprint and reports whether there was one.
func (s *SQLite) DeleteBan(ctx context.Context, fingerprint string) (bool, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM bans WHERE fingerprint = ?`, fingerprint)
	if err != nil {
		return false, fmt.Errorf("store: delete ban of %s: %w", fingerprint, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Bans returns every stored ban, expired ones included.
func (s *SQLite) Bans(ctx context.Context) ([]access.Ban, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT fingerprint, name, reason, by_id, by_name, created, until FROM bans ORDER BY created`)
	if err != nil {
		return nil, fmt.Errorf("store: bans: %w", err)
	}
	defer rows.Close()
	var out []access.Ban
	for rows.Next() {
		var b access.Ban
		var created, until int64
		if err := rows.Scan(&b.Fingerprint, &b.Name, &b.Reason, &b.By, &b.ByName, &created, &until); err != nil {
			return nil, fmt.Errorf("store: bans: %w", err)
		}
		b.Created, b.Until = fromUnixNano(created), fromUnixNano(until)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: bans: %w", err)
	}
	return out, nil
}

// PutInvite stores a new invite, and forgets the spent and expired ones.
func (s *SQLite) PutInvite(ctx context.Context, inv access.Invite) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: put invite: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM invites WHERE uses_left <= 0 OR expires <= ?`, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("store: put invite: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO invites (hash, uses_left, expires, by_id, by_name, created) VALUES (?, ?, ?, ?, ?, ?)`,
		inv.Hash[:], inv.UsesLeft, unixNano(inv.Expires), inv.By, inv.ByName, unixNano(inv.Created)); err != nil {
		return fmt.Errorf("store: put invite: %w", classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: put invite: %w", err)
	}
	return nil
}

// RedeemInvite takes one use of the invite with hash, atomically, if it
// has one left and has not expired at now.
func (s *SQLite) RedeemInvite(ctx context.Context, hash [sha256.Size]byte, now time.Time) (bool, error) {
	var left int
	err := s.write.QueryRowContext(ctx, `UPDATE invites SET uses_left = uses_left - 1
		WHERE hash = ? AND uses_left > 0 AND expires > ? RETURNING uses_left`, hash[:], now.UnixNano()).Scan(&left)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: redeem invite: %w", err)
	}
	return true, nil
}

// RefundInvite gives back one use of the invite with hash.
func (s *SQLite) RefundInvite(ctx context.Context, hash [sha256.Size]byte) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE invites SET uses_left = uses_left + 1 WHERE hash = ?`, hash[:]); err != nil {
		return fmt.Errorf("store: refund invite: %w", err)
	}
	return nil
}

// InvitesOpenUntil returns the latest expiry of an invite that is usable
// at now, or the zero time.
func (s *SQLite) InvitesOpenUntil(ctx context.Context, now time.Time) (time.Time, error) {
	var until sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT max(expires) FROM invites WHERE uses_left > 0 AND expires > ?`, now.UnixNano()).Scan(&until)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: open invites: %w", err)
	}
	if !until.Valid {
		return time.Time{}, nil
	}
	return fromUnixNano(until.Int64), nil
}
