package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parley/access"
)

// The store keeps passkeys and browser-only accounts (migration 7, issue
// 17). It implements web.Credentials with plain types, so that it need not
// import the web package, and access.Accounts.
var (
	_ access.Accounts     = (*SQLite)(nil)
	_ access.PasskeyStore = (*SQLite)(nil)
)

// AddPasskey stores a new credential id of identity.
func (s *SQLite) AddPasskey(ctx context.Context, identity string, id, record []byte, created time.Time) error {
	if identity == "" || len(id) == 0 {
		return fmt.Errorf("store: add passkey: %w: identity and id are required", ErrInvalid)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO passkeys (id, identity, record, created) VALUES (?, ?, ?, ?)`,
		id, identity, record, unixNano(created)); err != nil {
		return fmt.Errorf("store: add passkey of %s: %w", identity, err)
	}
	return nil
}

// Passkeys returns the records of identity's credentials, oldest first.
func (s *SQLite) Passkeys(ctx context.Context, identity string) ([][]byte, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT record FROM passkeys WHERE identity = ? ORDER BY created`, identity)
	if err != nil {
		return nil, fmt.Errorf("store: passkeys of %s: %w", identity, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var rec []byte
		if err := rows.Scan(&rec); err != nil {
			return nil, fmt.Errorf("store: passkeys of %s: %w", identity, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: passkeys of %s: %w", identity, err)
	}
	return out, nil
}

// PasskeyOwner returns the identity and record of credential id ("" when
// there is none).
func (s *SQLite) PasskeyOwner(ctx context.Context, id []byte) (string, []byte, error) {
	var who string
	var rec []byte
	err := s.read.QueryRowContext(ctx, `SELECT identity, record FROM passkeys WHERE id = ?`, id).Scan(&who, &rec)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("store: passkey owner: %w", err)
	}
	return who, rec, nil
}

// UpdatePasskey replaces the record of credential id and notes its use.
func (s *SQLite) UpdatePasskey(ctx context.Context, id, record []byte, used time.Time) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE passkeys SET record = ?, last_used = ? WHERE id = ?`, record, unixNano(used), id); err != nil {
		return fmt.Errorf("store: update passkey: %w", err)
	}
	return nil
}

// RemovePasskeys removes every credential of identity and says how many.
func (s *SQLite) RemovePasskeys(ctx context.Context, identity string) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM passkeys WHERE identity = ?`, identity)
	if err != nil {
		return 0, fmt.Errorf("store: remove passkeys of %s: %w", identity, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// PasskeyList returns every passkey, by identity then age.
func (s *SQLite) PasskeyList(ctx context.Context) ([]access.PasskeyInfo, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT identity, created, last_used FROM passkeys ORDER BY identity, created`)
	if err != nil {
		return nil, fmt.Errorf("store: passkeys: %w", err)
	}
	defer rows.Close()
	var out []access.PasskeyInfo
	for rows.Next() {
		var p access.PasskeyInfo
		var created, used int64
		if err := rows.Scan(&p.Identity, &created, &used); err != nil {
			return nil, fmt.Errorf("store: passkeys: %w", err)
		}
		p.Created, p.LastUsed = fromUnixNano(created), fromUnixNano(used)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: passkeys: %w", err)
	}
	return out, nil
}

// PutAccount implements access.Accounts.
func (s *SQLite) PutAccount(ctx context.Context, a access.Account) error {
	if a.ID == "" || a.Name == "" {
		return fmt.Errorf("store: put account: %w: id and name are required", ErrInvalid)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO web_accounts (id, name, created) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name`, a.ID, a.Name, unixNano(a.Created)); err != nil {
		return fmt.Errorf("store: put account %s: %w", a.ID, err)
	}
	return nil
}

// Accounts implements access.Accounts.
func (s *SQLite) Accounts(ctx context.Context) ([]access.Account, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, name, created FROM web_accounts ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []access.Account
	for rows.Next() {
		var a access.Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &created); err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		a.Created = fromUnixNano(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return out, nil
}

// DeleteAccount implements access.Accounts.
func (s *SQLite) DeleteAccount(ctx context.Context, id string) (bool, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM web_accounts WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("store: delete account %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
