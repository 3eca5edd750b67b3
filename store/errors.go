package store

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrSchemaTooNew means the database was written by a newer parley,
	// whose schema this one does not know. Upgrade parley.
	ErrSchemaTooNew = errors.New("database schema is newer than this parley")
	// ErrNotParley means the file is an SQLite database that parley did not
	// create.
	ErrNotParley = errors.New("not a parley database")
	// ErrDuplicate means a message's room sequence number is already used:
	// the caller's idea of the room's last sequence number is stale (for
	// example a second parley writing to the same database). Re-read LastSeq.
	ErrDuplicate = errors.New("sequence number already stored")
	// ErrInvalid means an argument was refused before touching the database:
	// a message that does not belong where it was sent, an empty identity,
	// a search query that is too long.
	ErrInvalid = errors.New("invalid argument")
)

// schemaTooNewError reports a database schema newer than the binary's.
type schemaTooNewError struct{ found, known int }

func (e *schemaTooNewError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this parley (%d); upgrade parley", e.found, e.known)
}

func (e *schemaTooNewError) Unwrap() error { return ErrSchemaTooNew }

// classify marks errors that callers may want to tell apart with the
// package's sentinels, keeping the driver's error in the chain.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", ErrDuplicate, err)
		}
	}
	return err
}

// sqliteCode returns the SQLite (extended) result code in err's chain, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}
