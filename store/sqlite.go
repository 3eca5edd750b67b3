package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"parley/room"

	_ "modernc.org/sqlite" // registers the "sqlite" driver: pure Go, no cgo
)

// Defaults for the Options left unset.
const (
	// DefaultBusyTimeout is how long a connection waits for a lock held by
	// another process (a backup, the sqlite3 shell) before failing.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultReaders is the size of the read-only connection pool.
	DefaultReaders = 4
)

// journalSizeLimit caps the WAL file left behind after a checkpoint.
const journalSizeLimit = 64 << 20

// closeTimeout bounds the housekeeping done by Close.
const closeTimeout = 5 * time.Second

// The ports of room a SQLite implements (room.RoomStore in rooms.go,
// room.NameIndex in private.go).
var (
	_ room.History        = (*SQLite)(nil)
	_ room.PrivateHistory = (*SQLite)(nil)
	_ room.Searcher       = (*SQLite)(nil)
	_ room.Preferences    = (*SQLite)(nil)
	// room asks a History for this by type assertion (its unexported
	// topicStore), so that the topic outlives the messages a room loads.
	_ interface {
		Topic(ctx context.Context, room string) (string, error)
	} = (*SQLite)(nil)
)

// SQLite is parley's store in one SQLite database file. It is safe for
// concurrent use. Create it with Open and release it with Close.
type SQLite struct {
	path string

	// write holds the only write connection (SetMaxOpenConns(1)); its
	// transactions begin IMMEDIATE. Concurrent writers queue for it.
	write *sql.DB
	// read is a pool of query_only connections; in WAL mode they read a
	// consistent snapshot without waiting for the writer.
	read *sql.DB

	// Prepared on write.
	insertBatch   *sql.Stmt
	insertPrivate *sql.Stmt
	roomLastSeq   *sql.Stmt
	upsertRoom    *sql.Stmt
	putSetting    *sql.Stmt
	deleteSetting *sql.Stmt
	putReadMark   *sql.Stmt
	// Prepared on read.
	before        *sql.Stmt
	lastSeq       *sql.Stmt
	topic         *sql.Stmt
	privateBefore *sql.Stmt
	settings      *sql.Stmt
	readMark      *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

// An Option changes how Open opens the database.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	readers     int
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// process before failing (DefaultBusyTimeout if d <= 0).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.busyTimeout = d
		}
	}
}

// WithReaders sets the size of the read-only connection pool
// (DefaultReaders if n <= 0).
func WithReaders(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.readers = n
		}
	}
}

// Open opens the database file at path, creating it (readable by its owner
// only: it holds private messages) when missing, and brings its schema up to
// SchemaVersion. It fails with ErrSchemaTooNew for a database written by a
// newer parley and ErrNotParley for an unrelated SQLite file.
//
// The database is put in WAL mode and every connection runs with
// synchronous=FULL, busy_timeout and foreign_keys on; see the package
// documentation for why.
func Open(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	o := options{busyTimeout: DefaultBusyTimeout, readers: DefaultReaders}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open %q: %w: need the path of a file", path, ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s, err := open(ctx, abs, o)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	return s, nil
}

func open(ctx context.Context, path string, o options) (_ *SQLite, err error) {
	// Create the file ourselves so that it is private: SQLite would use
	// 0644, and gives the -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // the caller's message names the path already
			err = pe.Err
		}
		return nil, fmt.Errorf("open the file for writing: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	s := &SQLite{path: path}
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()

	busy := strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)
	s.write, err = sql.Open("sqlite", dsn(path, url.Values{
		"_busy_timeout": {busy},
		"_synchronous":  {"FULL"},
		"_foreign_keys": {"1"},
		"_txlock":       {"immediate"},
		"_pragma":       {fmt.Sprintf("journal_size_limit(%d)", journalSizeLimit)},
	}))
	if err != nil {
		return nil, err
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)

	// Refuse a foreign or newer database before changing anything in it.
	if _, err := schemaVersion(ctx, s.write); err != nil {
		return nil, err
	}
	var mode string
	if err := s.write.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return nil, fmt.Errorf("set WAL mode: %w", err)
	}
	if mode != "wal" {
		return nil, fmt.Errorf("set WAL mode: the database stays in %q mode (is it on a network file system?)", mode)
	}
	if err := migrate(ctx, s.write); err != nil {
		return nil, err
	}
	// Let SQLite gather the statistics its planner lacks, cheaply.
	if _, err := s.write.ExecContext(ctx, "PRAGMA optimize = 0x10002"); err != nil {
		return nil, fmt.Errorf("optimize: %w", err)
	}

	s.read, err = sql.Open("sqlite", dsn(path, url.Values{
		"_busy_timeout": {busy},
		"_foreign_keys": {"1"},
		"_query_only":   {"1"},
	}))
	if err != nil {
		return nil, err
	}
	s.read.SetMaxOpenConns(o.readers)
	s.read.SetMaxIdleConns(o.readers)
	if err := s.read.PingContext(ctx); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// dsn builds the driver's name for the file at the absolute path: a file:
// URI, so that any character in the path is escaped rather than parsed.
func dsn(path string, params url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: params.Encode()}
	return u.String()
}

// prepare compiles the statements used on every call.
func (s *SQLite) prepare(ctx context.Context) error {
	for _, p := range []struct {
		db   *sql.DB
		stmt **sql.Stmt
		sql  string
	}{
		{s.write, &s.insertBatch, sqlInsertBatch},
		{s.write, &s.insertPrivate, `INSERT INTO messages (room, seq, time, kind, from_id, from_name, to_id, to_name, text)
			VALUES ('', NULL, ?, ?, ?, ?, ?, ?, ?)`},
		{s.write, &s.roomLastSeq, `SELECT last_seq FROM rooms WHERE name = ?`},
		{s.write, &s.upsertRoom, `INSERT INTO rooms (name, last_seq, topic) VALUES (?1, ?2, ?3)
			ON CONFLICT (name) DO UPDATE SET
				last_seq = max(last_seq, excluded.last_seq),
				topic = iif(?4, excluded.topic, topic)`},
		{s.write, &s.putSetting, `INSERT INTO settings (identity, key, value) VALUES (?, ?, ?)
			ON CONFLICT (identity, key) DO UPDATE SET value = excluded.value`},
		{s.write, &s.deleteSetting, `DELETE FROM settings WHERE identity = ? AND key = ?`},
		{s.write, &s.putReadMark, `INSERT INTO read_marks (identity, room, seq) VALUES (?, ?, ?)
			ON CONFLICT (identity, room) DO UPDATE SET seq = max(seq, excluded.seq)`},

		{s.read, &s.before, sqlBefore},
		{s.read, &s.lastSeq, `SELECT last_seq FROM rooms WHERE name = ?`},
		{s.read, &s.topic, `SELECT topic FROM rooms WHERE name = ?`},
		{s.read, &s.privateBefore, sqlPrivateBefore},
		{s.read, &s.settings, `SELECT key, value FROM settings WHERE identity = ?`},
		{s.read, &s.readMark, `SELECT seq FROM read_marks WHERE identity = ? AND room = ?`},
	} {
		st, err := p.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", strings.Join(strings.Fields(p.sql), " "), err)
		}
		*p.stmt = st
	}
	return nil
}

// Path returns the absolute path of the database file.
func (s *SQLite) Path() string { return s.path }

// Ping reports whether the store can serve: both the read pool and the
// write connection answer. The write connection is shared, so Ping waits
// while another write is in progress (bound it with ctx).
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping read pool: %w", err)
	}
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping write connection: %w", err)
	}
	return nil
}

// Check verifies the whole database file (PRAGMA integrity_check) and that
// the search index matches the messages. It reads everything: run it from
// an admin command or at startup after a crash, not on every request.
func (s *SQLite) Check(ctx context.Context) error {
	rows, err := s.write.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return fmt.Errorf("store: integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("store: integrity check: %s", strings.Join(problems, "; "))
	}
	// rank = 1 also compares the index with the content of messages.
	if _, err := s.write.ExecContext(ctx, `INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		return fmt.Errorf("store: search index check: %w", err)
	}
	return nil
}

// Close lets SQLite refresh its query planner statistics, then closes every
// connection, which checkpoints the WAL into the database file. Calling it
// again returns the first result.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		// Best effort: failing to optimize loses nothing.
		_, _ = s.write.ExecContext(ctx, "PRAGMA optimize")
		s.closeErr = s.closeDBs()
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("store: close %s: %w", s.path, s.closeErr)
		}
	})
	return s.closeErr
}

// closeDBs closes the statements and both pools, whichever exist.
func (s *SQLite) closeDBs() error {
	var errs []error
	for _, st := range []*sql.Stmt{
		s.insertBatch, s.insertPrivate, s.roomLastSeq, s.upsertRoom, s.putSetting, s.deleteSetting, s.putReadMark,
		s.before, s.lastSeq, s.topic, s.privateBefore, s.settings, s.readMark,
	} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	return errors.Join(errs...)
}
