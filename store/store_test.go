package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/room"

	sqlite3 "modernc.org/sqlite/lib"
)

// base is when the test messages were sent: message seq is base + seq seconds.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// openTest opens a store in a fresh temporary directory and, when the test
// ends, checks the file's integrity (PRAGMA integrity_check and the search
// index) before closing it.
func openTest(tb testing.TB, opts ...Option) *SQLite {
	tb.Helper()
	return openAt(tb, filepath.Join(tb.TempDir(), "parley.db"), opts...)
}

func openAt(tb testing.TB, path string, opts ...Option) *SQLite {
	tb.Helper()
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Check(context.Background()); err != nil {
			tb.Errorf("after the test: %v", err)
		}
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// chat is message seq of roomName.
func chat(roomName string, seq uint64, text string) room.Message {
	return room.Message{
		Seq: seq, Time: base.Add(time.Duration(seq) * time.Second), Room: roomName, Kind: room.KindChat,
		From: "alice", FromID: "SHA256:alice", Text: text,
	}
}

// fill stores seqs from..to of roomName, in batches of size.
func fill(tb testing.TB, s *SQLite, roomName string, from, to uint64, size int) {
	tb.Helper()
	var batch []room.Message
	for seq := from; seq <= to; seq++ {
		batch = append(batch, chat(roomName, seq, fmt.Sprintf("message %d of %s", seq, roomName)))
		if len(batch) == size || seq == to {
			if err := s.Append(context.Background(), batch); err != nil {
				tb.Fatalf("Append %d..%d: %v", batch[0].Seq, seq, err)
			}
			batch = batch[:0]
		}
	}
}

func dm(fromID, toID, text string, at time.Time) room.Message {
	return room.Message{Time: at, Kind: room.KindPrivate, From: strings.TrimPrefix(fromID, "SHA256:"), FromID: fromID,
		To: strings.TrimPrefix(toID, "SHA256:"), ToID: toID, Text: text}
}

func seqs(msgs []room.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func texts(msgs []room.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Text
	}
	return out
}

func TestOpenPragmasAndFileMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openAt(t, path)
	for _, c := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"query_only", "0"},
		{"user_version", fmt.Sprint(SchemaVersion)},
		{"application_id", fmt.Sprint(applicationID)},
		{"journal_size_limit", fmt.Sprint(journalSizeLimit)},
	} {
		var got string
		if err := s.write.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("write connection: PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
	var qo int
	if err := s.read.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != 1 {
		t.Errorf("read pool: query_only = %d, %v; want 1", qo, err)
	}
	if _, err := s.read.ExecContext(ctx, "INSERT INTO settings VALUES ('x', 'y', 'z')"); err == nil {
		t.Error("the read pool accepted a write")
	}
	if n := s.write.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("write pool allows %d connections, want 1", n)
	}

	var fts string
	if err := s.read.QueryRowContext(ctx, "SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'").Scan(&fts); err != nil {
		t.Errorf("FTS5 is not compiled in: %v", err)
	}

	fill(t, s, "lobby", 1, 3, 3)
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want 0600 (it holds private messages)", filepath.Base(p), mode)
		}
	}
	if s.Path() != path {
		t.Errorf("Path() = %s, want %s", s.Path(), path)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestOpenRefusesNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := Open(context.Background(), p); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", p, err)
		}
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing", "parley.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

func TestOpenOddPath(t *testing.T) {
	// Characters that mean something in a URI must stay part of the name.
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag%20")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "my parley?.db")
	s := openAt(t, path)
	fill(t, s, "lobby", 1, 1, 1)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the path given: %v", err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Append(context.Background(), []room.Message{chat("lobby", 1, "x")}); err == nil {
		t.Error("Append after Close succeeded")
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

// TestCheckFindsAnIndexOutOfStep makes sure the check every test ends with
// would notice a search index that disagrees with the messages.
func TestCheckFindsAnIndexOutOfStep(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 3, 3)
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO messages_fts (rowid, text) VALUES (999, 'ghost')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err == nil {
		t.Error("Check did not notice an index entry without a message")
	} else {
		t.Logf("as expected: %v", err)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')`); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentRooms has several rooms append at once while others read,
// as the Hub's sequencers do; run it with -race.
func TestConcurrentRooms(t *testing.T) {
	s := openTest(t, WithReaders(3))
	ctx := context.Background()
	const rooms, perRoom = 8, 300
	var wg sync.WaitGroup
	errs := make(chan error, rooms*2+2)
	for r := range rooms {
		name := fmt.Sprintf("room%d", r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := uint64(0)
			for seq < perRoom {
				size := 1 + int(seq)%17 // batches of 1..17
				var batch []room.Message
				for range size {
					if seq == perRoom {
						break
					}
					seq++
					batch = append(batch, chat(name, seq, fmt.Sprintf("hello from %s number %d", name, seq)))
				}
				if err := s.Append(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		}()
		wg.Add(1)
		go func() { // a reader following the room
			defer wg.Done()
			for range 50 {
				msgs, err := s.Before(ctx, name, 0, 50)
				if err != nil {
					errs <- err
					return
				}
				for i := 1; i < len(msgs); i++ {
					if msgs[i].Seq != msgs[i-1].Seq+1 {
						errs <- fmt.Errorf("%s: gap %d -> %d", name, msgs[i-1].Seq, msgs[i].Seq)
						return
					}
				}
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 100 {
			if _, err := s.AppendPrivate(ctx, dm("SHA256:alice", "SHA256:bob", fmt.Sprint("psst ", i), base)); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 50 {
			if _, err := s.Search(ctx, "room1", "SHA256:alice", "hello number", 20); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for r := range rooms {
		name := fmt.Sprintf("room%d", r)
		if last, err := s.LastSeq(ctx, name); err != nil || last != perRoom {
			t.Errorf("LastSeq(%s) = %d, %v; want %d", name, last, err, perRoom)
		}
	}
	if got, _ := s.PrivateBefore(ctx, "SHA256:bob", 0, 1000); len(got) != 100 {
		t.Errorf("bob has %d private messages, want 100", len(got))
	}
}

// TestQueryPlans checks that the frequent queries walk an index and need no
// sort, so their cost does not grow with the size of the database.
func TestQueryPlans(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 50, 50)
	if _, err := s.write.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	long, short, _ := searchWords("hello wo")
	searchQ, searchArgs := searchSQL("lobby", "SHA256:alice", long, short, 10)
	for _, c := range []struct {
		name  string
		query string
		args  []any
		want  []string
	}{
		{"Before", sqlBefore, []any{"lobby", 10, 5}, []string{"USING INDEX sqlite_autoindex_messages_1 (room=? AND seq<?)"}},
		{"PrivateBefore", sqlPrivateBefore, []any{"SHA256:alice", 10, 5}, []string{"messages_private_from (from_id=? AND id<?)", "messages_private_to (to_id=? AND id<?)"}},
		{"Search", searchQ, searchArgs, []string{"VIRTUAL TABLE INDEX", "USING INTEGER PRIMARY KEY (rowid=?)"}},
	} {
		rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: plan lacks %q:\n%s", c.name, w, all)
			}
		}
		// PrivateBefore sorts the (at most 2n) ids its two index walks
		// found, to merge them; nothing else may sort.
		if strings.Contains(all, "TEMP B-TREE FOR ORDER BY") && c.name != "PrivateBefore" {
			t.Errorf("%s: plan sorts:\n%s", c.name, all)
		}
		if tableScan.MatchString(all) {
			t.Errorf("%s: plan scans the messages table:\n%s", c.name, all)
		}
		t.Logf("%s:\n%s", c.name, all)
	}
}

// tableScan finds a plan step that reads the whole messages table.
var tableScan = regexp.MustCompile(`(?m)^SCAN (messages|m)( |$)`)

// isReadOnly reports whether err is SQLite refusing to write.
func isReadOnly(err error) bool { return sqliteCode(err)&0xff == sqlite3.SQLITE_READONLY }
