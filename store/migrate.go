package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// SchemaVersion is the newest schema this parley knows: the number of
// migrations embedded in the binary. It is kept in PRAGMA user_version.
const SchemaVersion = 7

// applicationID marks an SQLite file as parley's (PRAGMA application_id),
// "PRLY" in ASCII.
const applicationID = 0x50524C59

//go:embed migrations/*.sql
var migrationFiles embed.FS

// A migration takes the schema from version-1 to version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order, checking that they
// are numbered 1, 2, 3, ... without gaps.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names { // fs.Glob sorts
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", base)
		}
		if v != len(out)+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", base, len(out)+1)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	if len(out) != SchemaVersion {
		return nil, fmt.Errorf("%d migrations embedded but SchemaVersion is %d", len(out), SchemaVersion)
	}
	return out, nil
}

// schemaVersion reads the database's application_id and user_version and
// refuses a database that is not parley's or is newer than this binary.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var app, version int
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return 0, fmt.Errorf("read application_id: %w", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, fmt.Errorf("read user_version: %w", err)
	}
	if app != applicationID && (app != 0 || version != 0) {
		return 0, fmt.Errorf("%w (application_id %#x, user_version %d)", ErrNotParley, app, version)
	}
	if version > SchemaVersion {
		return 0, &schemaTooNewError{found: version, known: SchemaVersion}
	}
	return version, nil
}

// migrate brings the schema of db (the write connection) up to
// SchemaVersion. Each migration runs in its own IMMEDIATE transaction that
// re-reads the version first, so two processes opening one file at once
// cannot apply a migration twice.
func migrate(ctx context.Context, db *sql.DB) error {
	all, err := migrations()
	if err != nil {
		return err
	}
	if _, err := schemaVersion(ctx, db); err != nil {
		return err
	}
	for _, m := range all {
		if err := applyMigration(ctx, db, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	v, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if v >= m.version {
		return nil
	}
	if v != m.version-1 {
		return fmt.Errorf("database is at version %d, cannot apply %d", v, m.version)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	// PRAGMAs take no parameters; both values are integers we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return err
	}
	return tx.Commit()
}
