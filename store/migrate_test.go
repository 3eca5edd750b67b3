package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"parley/room"
)

// schemaV1 is the schema as parley first shipped it (user_version 1),
// written out by hand: databases in the field look like this, whatever
// later happens to the migration files.
const schemaV1 = `
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room TEXT NOT NULL,
    seq INTEGER,
    time INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    from_id TEXT NOT NULL DEFAULT '',
    from_name TEXT NOT NULL DEFAULT '',
    to_id TEXT NOT NULL DEFAULT '',
    to_name TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    UNIQUE (room, seq),
    CHECK ((room <> '' AND seq > 0) OR (room = '' AND seq IS NULL AND from_id <> '' AND to_id <> ''))
) STRICT;
CREATE INDEX messages_private_from ON messages (from_id, id) WHERE room = '';
CREATE INDEX messages_private_to ON messages (to_id, id) WHERE room = '';
CREATE INDEX messages_time ON messages (time);
CREATE TABLE rooms (
    name TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    topic TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
`

// rawDB opens path with no pragmas and no migrations.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestMigrateUpFromVersion1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "old.db")

	old := rawDB(t, path)
	exec(t, old, schemaV1)
	for seq := 1; seq <= 3; seq++ {
		exec(t, old, `INSERT INTO messages (room, seq, time, kind, from_id, from_name, text) VALUES ('lobby', ?, ?, ?, 'SHA256:alice', 'alice', ?)`,
			seq, base.UnixNano()+int64(seq), int(room.KindChat), fmt.Sprintf("old message %d about bicycles", seq))
	}
	exec(t, old, `INSERT INTO messages (room, seq, time, kind, from_id, from_name, to_id, to_name, text) VALUES ('', NULL, ?, ?, 'SHA256:alice', 'alice', 'SHA256:bob', 'bob', 'old whisper about bicycles')`,
		base.UnixNano(), int(room.KindPrivate))
	exec(t, old, `INSERT INTO rooms (name, last_seq, topic) VALUES ('lobby', 3, 'wheels')`)
	exec(t, old, fmt.Sprintf("PRAGMA application_id = %d", applicationID))
	exec(t, old, "PRAGMA user_version = 1")
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.read.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("user_version after Open = %d, %v; want %d", v, err, SchemaVersion)
	}
	// The rows are intact...
	msgs, err := s.Before(ctx, "lobby", 0, 10)
	if err != nil || fmt.Sprint(seqs(msgs)) != "[1 2 3]" || msgs[2].Text != "old message 3 about bicycles" || !msgs[0].Time.Equal(base.Add(1)) {
		t.Fatalf("old room messages: %+v, %v", msgs, err)
	}
	if last, _ := s.LastSeq(ctx, "lobby"); last != 3 {
		t.Errorf("LastSeq = %d", last)
	}
	if topic, _ := s.Topic(ctx, "lobby"); topic != "wheels" {
		t.Errorf("Topic = %q", topic)
	}
	// ...were indexed by the migration that added search...
	found, err := s.Search(ctx, "lobby", "SHA256:bob", "bicycles", 10)
	if err != nil || len(found) != 4 {
		t.Errorf("search over migrated rows: %q, %v", texts(found), err)
	}
	// ...private messages stored before offline delivery existed count as
	// seen (they were delivered live), so none is shown again as waiting...
	var whisper int64
	if err := s.read.QueryRowContext(ctx, "SELECT id FROM messages WHERE room = ''").Scan(&whisper); err != nil {
		t.Fatal(err)
	}
	if mark, err := s.ReadMark(ctx, "SHA256:bob", ""); err != nil || mark != uint64(whisper) {
		t.Errorf("bob's private read mark after migrating = %d, %v; want %d (the old whisper)", mark, err, whisper)
	}
	// ...and the new tables work, as does appending after the old rows.
	if err := s.SetSetting(ctx, "SHA256:alice", "theme", "dark"); err != nil {
		t.Error(err)
	}
	fill(t, s, "lobby", 4, 5, 2)
	if found, _ := s.Search(ctx, "lobby", "", "message 5", 10); len(found) != 1 {
		t.Errorf("new message not indexed: %q", texts(found))
	}

	// An upgraded database has the same schema as a new one.
	fresh := openTest(t)
	if a, b := schemaOf(t, s.read), schemaOf(t, fresh.read); a != b {
		t.Errorf("upgraded schema differs from a new one:\nupgraded:\n%s\nnew:\n%s", a, b)
	}

	// Opening again applies nothing and changes nothing.
	if err := s.Check(ctx); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path)
	if last, _ := s2.LastSeq(ctx, "lobby"); last != 5 {
		t.Errorf("after reopening: LastSeq = %d", last)
	}
}

// schemaOf lists the schema objects with their SQL, without comments or
// layout, which SQLite keeps verbatim.
func schemaOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT type, name, coalesce(sql, '') FROM sqlite_schema ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	comments := regexp.MustCompile(`--[^\n]*`)
	var b strings.Builder
	for rows.Next() {
		var typ, name, text string
		if err := rows.Scan(&typ, &name, &text); err != nil {
			t.Fatal(err)
		}
		text = strings.Join(strings.Fields(comments.ReplaceAllString(text, "")), " ")
		text = strings.NewReplacer("( ", "(", " )", ")").Replace(text)
		fmt.Fprintf(&b, "%s %s: %s\n", typ, name, text)
	}
	return b.String()
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	db := rawDB(t, path)
	exec(t, db, "CREATE TABLE from_the_future (x)")
	exec(t, db, fmt.Sprintf("PRAGMA application_id = %d", applicationID))
	exec(t, db, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+1))
	db.Close()

	s, err := Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a newer schema")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("error %v is not ErrSchemaTooNew", err)
	}
	want := fmt.Sprintf("database schema version %d is newer than this parley (%d); upgrade parley", SchemaVersion+1, SchemaVersion)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	// Refusing changed nothing: not even the journal mode.
	db = rawDB(t, path)
	var mode string
	var v int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("journal_mode = %q, %v; want delete", mode, err)
	}
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion+1 {
		t.Errorf("user_version = %d, %v", v, err)
	}
}

func TestForeignDatabaseIsRefused(t *testing.T) {
	for name, setup := range map[string][]string{
		"other application": {"CREATE TABLE t (x)", "PRAGMA application_id = 42"},
		"versioned, no id":  {"CREATE TABLE t (x)", "PRAGMA user_version = 2"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "other.db")
			db := rawDB(t, path)
			for _, q := range setup {
				exec(t, db, q)
			}
			db.Close()
			if s, err := Open(context.Background(), path); !errors.Is(err, ErrNotParley) {
				if err == nil {
					s.Close()
				}
				t.Errorf("Open = %v, want ErrNotParley", err)
			}
		})
	}
}

func TestMigrationsAreNumbered(t *testing.T) {
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range all {
		if m.version != i+1 || strings.TrimSpace(m.sql) == "" {
			t.Errorf("migration %d: %+v", i, m.name)
		}
	}
	// The hand-written v1 above must match what the first migration makes.
	a := filepath.Join(t.TempDir(), "a.db")
	db := rawDB(t, a)
	exec(t, db, all[0].sql)
	b := filepath.Join(t.TempDir(), "b.db")
	db2 := rawDB(t, b)
	exec(t, db2, schemaV1)
	if x, y := schemaOf(t, db), schemaOf(t, db2); x != y {
		t.Errorf("0001 differs from schemaV1:\n%s\n%s", x, y)
	}
}
