package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"parley/room"

	sqlite3 "modernc.org/sqlite/lib"
)

func TestAppendBeforeRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	in := []room.Message{
		{Seq: 1, Time: base, Room: "lobby", Kind: room.KindJoin, From: "alice", FromID: "SHA256:alice"},
		{Seq: 2, Time: base.Add(time.Nanosecond), Room: "lobby", Kind: room.KindChat, From: "alice", FromID: "SHA256:alice", Text: "hi 👋 <b>"},
		{Seq: 3, Time: base.Add(time.Second), Room: "lobby", Kind: room.KindEmote, From: "alice", FromID: "SHA256:alice", Text: "waves"},
		{Seq: 4, Time: base.Add(time.Minute), Room: "lobby", Kind: room.KindNick, From: "alice", FromID: "SHA256:alice", Text: "al"},
		{Seq: 5, Time: base.Add(time.Hour), Room: "lobby", Kind: room.KindLeave, From: "al", FromID: "SHA256:alice", Text: "bye"},
		{Seq: 6, Room: "lobby", Kind: room.KindTopic, Text: "no time"}, // zero time survives
	}
	if err := s.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.Before(ctx, "lobby", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %d messages, want %d", len(got), len(in))
	}
	for i := range in {
		if !got[i].Time.Equal(in[i].Time) {
			t.Errorf("message %d: time %v, want %v", i, got[i].Time, in[i].Time)
		}
		got[i].Time, in[i].Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got[i], in[i]) {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, got[i], in[i])
		}
	}
	if err := s.Append(ctx, nil); err != nil {
		t.Errorf("Append(nil) = %v", err)
	}
}

func TestBeforePagesThroughEverything(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 1000, 37)
	fill(t, s, "other", 1, 50, 50) // must not leak into lobby

	newest, err := s.Before(ctx, "lobby", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(newest) != 100 || newest[0].Seq != 901 || newest[99].Seq != 1000 {
		t.Fatalf("newest page: %d messages, %v..", len(newest), seqs(newest)[:3])
	}

	seen := make([]int, 1001)
	var order []uint64
	before := uint64(0)
	pages := 0
	for {
		page, err := s.Before(ctx, "lobby", before, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for i, m := range page {
			if m.Room != "lobby" {
				t.Fatalf("message from %s", m.Room)
			}
			if i > 0 && m.Seq != page[i-1].Seq+1 {
				t.Fatalf("page not oldest first and contiguous: %v", seqs(page))
			}
			if m.Text != fmt.Sprintf("message %d of lobby", m.Seq) {
				t.Fatalf("seq %d has text %q", m.Seq, m.Text)
			}
			seen[m.Seq]++
		}
		order = append(seqs(page), order...)
		before = page[0].Seq
	}
	if pages != 10 {
		t.Errorf("%d pages, want 10", pages)
	}
	for seq := 1; seq <= 1000; seq++ {
		if seen[seq] != 1 {
			t.Errorf("seq %d seen %d times", seq, seen[seq])
		}
	}
	for i, seq := range order {
		if seq != uint64(i+1) {
			t.Fatalf("position %d holds seq %d", i, seq)
		}
	}

	for _, c := range []struct {
		before uint64
		n      int
		want   []uint64
	}{
		{before: 4, n: 10, want: []uint64{1, 2, 3}},
		{before: 1, n: 10, want: []uint64{}},
		{before: 1000, n: 2, want: []uint64{998, 999}},
		{before: 5000, n: 2, want: []uint64{999, 1000}},
		{before: math.MaxUint64, n: 1, want: []uint64{1000}},
		{before: 0, n: 0, want: nil},
		{before: 0, n: -1, want: nil},
	} {
		got, err := s.Before(ctx, "lobby", c.before, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if g := seqs(got); !(len(g) == 0 && len(c.want) == 0) && !reflect.DeepEqual(g, c.want) {
			t.Errorf("Before(%d, %d) = %v, want %v", c.before, c.n, g, c.want)
		}
	}
	if got, err := s.Before(ctx, "nowhere", 0, 10); err != nil || len(got) != 0 {
		t.Errorf("Before(unknown room) = %v, %v", got, err)
	}
	if _, err := s.Before(ctx, "", 0, 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("Before(\"\") = %v, want ErrInvalid (that is where private messages live)", err)
	}
}

func TestLastSeq(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if last, err := s.LastSeq(ctx, "lobby"); err != nil || last != 0 {
		t.Fatalf("empty: LastSeq = %d, %v", last, err)
	}
	fill(t, s, "lobby", 1, 20, 7)
	fill(t, s, "other", 1, 3, 1)
	// One batch may hold several rooms.
	if err := s.Append(ctx, []room.Message{chat("lobby", 21, "a"), chat("other", 4, "b"), chat("lobby", 22, "c")}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint64{"lobby": 22, "other": 4, "nowhere": 0} {
		if last, err := s.LastSeq(ctx, name); err != nil || last != want {
			t.Errorf("LastSeq(%s) = %d, %v; want %d", name, last, err, want)
		}
	}
}

func TestAppendIsAtomic(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 5, 5)

	// 6 and 7 are new, 3 is taken: nothing of the batch may remain.
	err := s.Append(ctx, []room.Message{chat("lobby", 6, "six"), chat("lobby", 7, "seven"), chat("lobby", 3, "three again")})
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Append with a used seq = %v, want ErrDuplicate", err)
	}
	if code := sqliteCode(err); code != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		t.Errorf("SQLite code %d, want SQLITE_CONSTRAINT_UNIQUE: %v", code, err)
	}
	assertRoom(t, s, "lobby", 5)
	if got, err := s.Search(ctx, "lobby", "", "six", 10); err != nil || len(got) != 0 {
		t.Errorf("search index holds the failed batch: %v, %v", texts(got), err)
	}

	// A batch over two rooms fails as a whole too.
	err = s.Append(ctx, []room.Message{chat("other", 1, "fine"), chat("lobby", 5, "dup")})
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("two-room batch = %v, want ErrDuplicate", err)
	}
	assertRoom(t, s, "other", 0)
	assertRoom(t, s, "lobby", 5)

	// A duplicate within the batch.
	if err := s.Append(ctx, []room.Message{chat("lobby", 6, "a"), chat("lobby", 6, "b")}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("batch repeating a seq = %v, want ErrDuplicate", err)
	}
	assertRoom(t, s, "lobby", 5)

	// The room retries the same numbers after a failure: they must work.
	fill(t, s, "lobby", 6, 7, 2)
	assertRoom(t, s, "lobby", 7)
}

func TestAppendRefusesWhatIsNotRoomHistory(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for name, m := range map[string]room.Message{
		"no room":   {Seq: 1, Kind: room.KindChat, Text: "x"},
		"no seq":    {Room: "lobby", Kind: room.KindChat, Text: "x"},
		"huge seq":  {Room: "lobby", Seq: math.MaxInt64 + 1, Kind: room.KindChat},
		"no kind":   {Room: "lobby", Seq: 1},
		"private":   {Room: "lobby", Seq: 1, Kind: room.KindPrivate, FromID: "a", ToID: "b"},
		"notice":    {Room: "lobby", Seq: 1, Kind: room.KindNotice},
		"error":     {Room: "lobby", Seq: 1, Kind: room.KindError},
		"sent by 0": {Room: "", Seq: 0, Kind: room.KindChat},
	} {
		err := s.Append(ctx, []room.Message{chat("lobby", 1, "ok"), m})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Append = %v, want ErrInvalid", name, err)
		}
	}
	assertRoom(t, s, "lobby", 0)
}

func TestSequenceNeverGoesBackAfterRetention(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 5, 5)
	if n, err := s.DeleteBefore(ctx, base.Add(time.Hour)); err != nil || n != 5 {
		t.Fatalf("DeleteBefore = %d, %v; want 5", n, err)
	}
	if last, err := s.LastSeq(ctx, "lobby"); err != nil || last != 5 {
		t.Errorf("LastSeq after retention = %d, %v; want 5", last, err)
	}
	// seq 3 is no longer in the table, so UNIQUE cannot catch its reuse.
	if err := s.Append(ctx, []room.Message{chat("lobby", 3, "reused")}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("reusing a deleted seq = %v, want ErrDuplicate", err)
	}
	fill(t, s, "lobby", 6, 6, 1)
	assertRoom(t, s, "lobby", 6)
}

func TestTopic(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	topic := func(seq uint64, text string) room.Message {
		m := chat("lobby", seq, text)
		m.Kind = room.KindTopic
		return m
	}
	if got, err := s.Topic(ctx, "lobby"); err != nil || got != "" {
		t.Fatalf("Topic of an unknown room = %q, %v", got, err)
	}
	if err := s.Append(ctx, []room.Message{chat("lobby", 1, "x"), topic(2, "first"), topic(3, "second"), chat("lobby", 4, "y")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Topic(ctx, "lobby"); got != "second" {
		t.Errorf("Topic = %q, want the last one set in the batch", got)
	}
	fill(t, s, "lobby", 5, 600, 100) // far more than a room's ring
	if got, _ := s.Topic(ctx, "lobby"); got != "second" {
		t.Errorf("Topic after other messages = %q", got)
	}
	if _, err := s.DeleteBefore(ctx, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Topic(ctx, "lobby"); got != "second" {
		t.Errorf("Topic after retention = %q", got)
	}
	if err := s.Append(ctx, []room.Message{topic(601, "")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Topic(ctx, "lobby"); got != "" {
		t.Errorf("cleared Topic = %q", got)
	}
}

func TestDeleteBefore(t *testing.T) {
	defer func(n int) { deleteChunk = n }(deleteChunk)
	deleteChunk = 3 // several chunks

	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 20, 20) // seq n at base+n s
	if _, err := s.AppendPrivate(ctx, dm("SHA256:alice", "SHA256:bob", "old whisper", base)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendPrivate(ctx, dm("SHA256:alice", "SHA256:bob", "new whisper", base.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(ctx, "SHA256:alice", "theme", "dark"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReadMark(ctx, "SHA256:alice", "lobby", 4); err != nil {
		t.Fatal(err)
	}

	// Seqs 1..10 and the old whisper are older than base+11s.
	n, err := s.DeleteBefore(ctx, base.Add(11*time.Second))
	if err != nil || n != 11 {
		t.Fatalf("DeleteBefore = %d, %v; want 11", n, err)
	}
	got, _ := s.Before(ctx, "lobby", 0, 100)
	if len(got) != 10 || got[0].Seq != 11 {
		t.Errorf("left %v, want 11..20", seqs(got))
	}
	if dms, _ := s.PrivateBefore(ctx, "SHA256:bob", 0, 10); len(dms) != 1 || dms[0].Text != "new whisper" {
		t.Errorf("private messages left: %v", texts(dms))
	}
	if found, _ := s.Search(ctx, "lobby", "SHA256:alice", "message", 100); fmt.Sprint(seqs(found)) != "[20 19 18 17 16 15 14 13 12 11]" {
		t.Errorf("search finds %v, want 20..11: the deleted messages must leave the index", seqs(found))
	}
	if found, _ := s.Search(ctx, "lobby", "SHA256:alice", "whisper", 10); len(found) != 1 {
		t.Errorf("search finds %v, want only the new whisper", texts(found))
	}
	if st, _ := s.Settings(ctx, "SHA256:alice"); st["theme"] != "dark" {
		t.Errorf("retention lost settings: %v", st)
	}
	if mark, _ := s.ReadMark(ctx, "SHA256:alice", "lobby"); mark != 4 {
		t.Errorf("retention lost a read mark: %d", mark)
	}
	if n, err := s.DeleteBefore(ctx, base.Add(11*time.Second)); err != nil || n != 0 {
		t.Errorf("second DeleteBefore = %d, %v", n, err)
	}
	if n, err := s.DeleteBefore(ctx, time.Time{}); err != nil || n != 0 {
		t.Errorf("DeleteBefore(zero) = %d, %v", n, err)
	}
	if n, err := s.DeleteBefore(ctx, base.Add(24*time.Hour)); err != nil || n != 11 {
		t.Errorf("DeleteBefore(all) = %d, %v; want 11", n, err)
	}
	assertRoom(t, s, "lobby", 20) // LastSeq is kept with no message left
}

// TestReadOnlyDatabase: a database that cannot be written (disk remounted
// read-only, a full disk, a permission change) makes writes fail while reads
// keep working, and writing works again once the cause is gone.
//
// The tests run as root, for whom chmod does not stop writes, and a
// connection that is already open keeps its writable descriptor anyway
// (TestOpenReadOnlyFile covers a file that is read-only when opened, for
// other users; TestDiskFull fills a real file system). So the refusal is
// simulated in SQLite itself with PRAGMA query_only on the one write
// connection: writes then fail with SQLITE_READONLY, the code a read-only
// file or file system produces.
func TestReadOnlyDatabase(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 3, 3)
	if _, err := s.AppendPrivate(ctx, dm("SHA256:alice", "SHA256:bob", "before", base)); err != nil {
		t.Fatal(err)
	}

	setQueryOnly(t, s, true)
	err := s.Append(ctx, []room.Message{chat("lobby", 4, "lost?")})
	if err == nil || !isReadOnly(err) {
		t.Fatalf("Append on a read-only database = %v, want SQLITE_READONLY", err)
	}
	if _, err := s.AppendPrivate(ctx, dm("SHA256:alice", "SHA256:bob", "x", base)); !isReadOnly(err) {
		t.Errorf("AppendPrivate = %v, want SQLITE_READONLY", err)
	}
	if err := s.SetSetting(ctx, "SHA256:alice", "theme", "dark"); !isReadOnly(err) {
		t.Errorf("SetSetting = %v, want SQLITE_READONLY", err)
	}
	if err := s.SetReadMark(ctx, "SHA256:alice", "lobby", 3); !isReadOnly(err) {
		t.Errorf("SetReadMark = %v, want SQLITE_READONLY", err)
	}
	if _, err := s.DeleteBefore(ctx, base.Add(time.Hour)); !isReadOnly(err) {
		t.Errorf("DeleteBefore = %v, want SQLITE_READONLY", err)
	}

	// Reads carry on.
	assertRoom(t, s, "lobby", 3)
	if got, err := s.Search(ctx, "lobby", "SHA256:alice", "message", 10); err != nil || len(got) != 3 {
		t.Errorf("Search while read-only = %d results, %v", len(got), err)
	}
	if got, err := s.PrivateBefore(ctx, "SHA256:bob", 0, 10); err != nil || len(got) != 1 {
		t.Errorf("PrivateBefore while read-only = %v, %v", texts(got), err)
	}
	if _, err := s.Settings(ctx, "SHA256:alice"); err != nil {
		t.Errorf("Settings while read-only: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping while read-only: %v", err)
	}

	// Writable again: the room retries the same sequence numbers.
	setQueryOnly(t, s, false)
	if err := s.Append(ctx, []room.Message{chat("lobby", 4, "stored")}); err != nil {
		t.Fatalf("Append after recovery: %v", err)
	}
	assertRoom(t, s, "lobby", 4)
}

func setQueryOnly(t *testing.T, s *SQLite, on bool) {
	t.Helper()
	v := 0
	if on {
		v = 1
	}
	// The write pool has exactly one connection, so this reaches it.
	if _, err := s.write.ExecContext(context.Background(), fmt.Sprintf("PRAGMA query_only = %d", v)); err != nil {
		t.Fatal(err)
	}
}

// TestOpenReadOnlyFile needs a user whom file modes bind (not root).
func TestOpenReadOnlyFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file modes do not stop writes (see TestReadOnlyDatabase)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, "lobby", 1, 3, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700) //nolint:errcheck // so that TempDir can clean up
	if s, err := Open(context.Background(), path); err == nil {
		s.Close()
		t.Fatal("Open of a read-only database succeeded")
	} else {
		t.Logf("refused as expected: %v", err)
	}
}

func TestAppendHonoursContext(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Append(ctx, []room.Message{chat("lobby", 1, "x")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context = %v", err)
	}
	assertRoom(t, s, "lobby", 0)
}

// assertRoom checks that roomName holds exactly seqs 1..last (as far as
// retention left them) and that LastSeq agrees.
func assertRoom(t *testing.T, s *SQLite, roomName string, last uint64) {
	t.Helper()
	ctx := context.Background()
	got, err := s.LastSeq(ctx, roomName)
	if err != nil || got != last {
		t.Errorf("LastSeq(%s) = %d, %v; want %d", roomName, got, err, last)
	}
	msgs, err := s.Before(ctx, roomName, 0, int(last)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) > 0 && msgs[len(msgs)-1].Seq != last {
		t.Errorf("%s: newest stored seq is %d, want %d", roomName, msgs[len(msgs)-1].Seq, last)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Seq != msgs[i-1].Seq+1 {
			t.Errorf("%s: gap between %d and %d", roomName, msgs[i-1].Seq, msgs[i].Seq)
		}
	}
}

func TestAppendKeepsTextExactly(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	in := []string{
		"", " leading and trailing ", `quotes " ' and \ backslash`, "<b>&amp;</b>", "tab\there",
		"line\nbreak", "nul\x00inside", "\u2028\u2029", "🧑‍🚀 ZWJ", "e\u0301 combining", "日本語", strings.Repeat("long ", 2000),
		`{"json": [1, 2]}`, "null", "[]", "0", "-1", "1e400",
	}
	var batch []room.Message
	for i, text := range in {
		m := chat("lobby", uint64(i+1), text)
		m.From, m.FromID, m.To, m.ToID = text, "id "+text, "to "+text, "toid "+text
		batch = append(batch, m)
	}
	if err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err := s.Before(ctx, "lobby", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		g, w := got[i], batch[i]
		if g.Text != w.Text || g.From != w.From || g.FromID != w.FromID || g.To != w.To || g.ToID != w.ToID {
			t.Errorf("message %d: got %q %q %q %q %q, want %q %q %q %q %q", i,
				g.Text, g.From, g.FromID, g.To, g.ToID, w.Text, w.From, w.FromID, w.To, w.ToID)
		}
	}

	// Invalid UTF-8 (which safetext never produces) is stored as U+FFFD.
	if err := s.Append(ctx, []room.Message{chat("lobby", uint64(len(in)+1), "bad \xff byte")}); err != nil {
		t.Fatal(err)
	}
	last, _ := s.Before(ctx, "lobby", 0, 1)
	if len(last) != 1 || last[0].Text != "bad \uFFFD byte" {
		t.Errorf("invalid UTF-8 stored as %q", texts(last))
	}
}
