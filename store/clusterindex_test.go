package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"parley/room"
)

// The index of a room's stream: applied moves with the messages in one
// transaction, what is applied again is refused, a gap (a message the
// feeder skipped) still moves applied, Search and Before find what was
// indexed, and a reset forgets the room but not its access. Issue 15 item 1.
func TestIndexApplyAndReset(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	created := time.Date(2026, 12, 1, 0, 0, 0, 123, time.UTC)

	if a, c, imp, err := s.IndexState(ctx, "lobby"); err != nil || a != 0 || !c.IsZero() || imp {
		t.Fatalf("IndexState of an unknown room = %d, %v, %v, %v", a, c, imp, err)
	}
	if err := s.IndexApply(ctx, "lobby", created, 3, []room.Message{chat("lobby", 1, "one banana"), chat("lobby", 3, "three")}); err != nil {
		t.Fatal(err)
	}
	a, c, imp, err := s.IndexState(ctx, "lobby")
	if err != nil || a != 3 || !c.Equal(created) || imp {
		t.Fatalf("IndexState = %d, %v, %v, %v; want 3, %v, false", a, c, imp, err, created)
	}
	if err := s.IndexApply(ctx, "lobby", created, 3, []room.Message{chat("lobby", 3, "again")}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("applying 3 again: %v, want ErrDuplicate", err)
	}
	if err := s.IndexApply(ctx, "lobby", created, 5, []room.Message{chat("lobby", 5, "five"), chat("lobby", 4, "four")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("out of order: %v, want ErrInvalid", err)
	}
	if err := s.IndexApply(ctx, "lobby", created, 6, nil); err != nil { // skipped messages only
		t.Fatal(err)
	}
	if err := s.IndexApply(ctx, "lobby", created, 7, []room.Message{chat("lobby", 7, "seven banana")}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Before(ctx, "lobby", 0, 10)
	if err != nil || !slices.Equal(seqs(got), []uint64{1, 3, 7}) {
		t.Fatalf("Before = %v, %v; want 1 3 7", seqs(got), err)
	}
	found, err := s.Search(ctx, "lobby", "", "banana", 10)
	if err != nil || !slices.Equal(seqs(found), []uint64{7, 1}) {
		t.Fatalf("Search = %v, %v; want 7 1", seqs(found), err)
	}
	if last, _ := s.LastSeq(ctx, "lobby"); last != 7 {
		t.Fatalf("LastSeq = %d, want 7", last)
	}
	if lh, err := s.LocalHistory(ctx); err != nil || len(lh) != 0 {
		t.Fatalf("an indexed room is listed as local history: %+v, %v", lh, err)
	}

	if err := s.SetRoomAccess(ctx, "lobby", room.RoomAccess{Private: true, Creator: "SHA256:alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexReset(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if a, _, _, _ := s.IndexState(ctx, "lobby"); a != 0 {
		t.Fatalf("applied after reset = %d", a)
	}
	if got, _ := s.Before(ctx, "lobby", 0, 10); len(got) != 0 {
		t.Fatalf("messages after reset: %v", seqs(got))
	}
	if acc, ok, err := s.RoomAccess(ctx, "lobby"); err != nil || !ok || !acc.Private {
		t.Fatalf("access after reset = %+v, %v, %v; want kept", acc, ok, err)
	}
	// Indexed again from the start of a stream made again.
	if err := s.IndexApply(ctx, "lobby", created.Add(time.Hour), 1, []room.Message{chat("lobby", 1, "new one")}); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

// History from before the cluster is listed until it is imported, then
// listed as imported; the index refuses to write over it until it is
// reset, and the import node is made once and kept.
func TestLocalHistoryAndImport(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 30, 10)
	fill(t, s, "ops", 1, 5, 5)
	if err := s.IndexApply(ctx, "news", time.Now(), 2, []room.Message{chat("news", 2, "indexed")}); err != nil {
		t.Fatal(err)
	}
	lh, err := s.LocalHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []LocalRoom{{Name: "lobby", Messages: 30, First: 1, Last: 30}, {Name: "ops", Messages: 5, First: 1, Last: 5}}
	if !slices.Equal(lh, want) {
		t.Fatalf("LocalHistory = %+v, want %+v", lh, want)
	}
	page, err := s.After(ctx, "lobby", 10, 5)
	if err != nil || !slices.Equal(seqs(page), []uint64{11, 12, 13, 14, 15}) {
		t.Fatalf("After(10, 5) = %v, %v", seqs(page), err)
	}
	if err := s.MarkImported(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	lh, _ = s.LocalHistory(ctx)
	if len(lh) != 2 || !lh[0].Imported || lh[1].Imported {
		t.Fatalf("after MarkImported: %+v", lh)
	}
	if _, _, imp, _ := s.IndexState(ctx, "lobby"); !imp {
		t.Fatal("IndexState does not say imported")
	}
	if err := s.IndexApply(ctx, "lobby", time.Now(), 1, []room.Message{chat("lobby", 1, "x")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("IndexApply over imported history: %v, want ErrInvalid", err)
	}
	if err := s.IndexApply(ctx, "ops", time.Now(), 1, []room.Message{chat("ops", 1, "x")}); err == nil {
		t.Fatal("IndexApply wrote over history from before the cluster")
	}

	n1, err := s.ImportNode(ctx)
	if err != nil || n1 == 0 {
		t.Fatalf("ImportNode = %d, %v", n1, err)
	}
	if n2, err := s.ImportNode(ctx); err != nil || n2 != n1 {
		t.Fatalf("ImportNode again = %d, %v; want %d", n2, err, n1)
	}
}

// Messages a node stored after a room's index while it ran without --nats
// are listed as local history (numbered after what the index applied), so
// that the node does not start indexing over them and the import can move
// them.
func TestLocalHistoryAfterTheIndex(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.IndexApply(ctx, "lobby", time.Now(), 5, []room.Message{chat("lobby", 4, "indexed"), chat("lobby", 5, "indexed")}); err != nil {
		t.Fatal(err)
	}
	if lh, err := s.LocalHistory(ctx); err != nil || len(lh) != 0 {
		t.Fatalf("LocalHistory of an index = %+v, %v", lh, err)
	}
	fill(t, s, "lobby", 6, 8, 3) // the node ran alone for a while
	lh, err := s.LocalHistory(ctx)
	want := []LocalRoom{{Name: "lobby", After: 5, Messages: 3, First: 6, Last: 8}}
	if err != nil || !slices.Equal(lh, want) {
		t.Fatalf("LocalHistory = %+v, %v; want %+v", lh, err, want)
	}
	if err := s.IndexApply(ctx, "lobby", time.Now(), 6, []room.Message{chat("lobby", 6, "from the stream")}); err == nil {
		t.Fatal("IndexApply wrote over messages stored without the cluster")
	}
	if err := s.MarkImported(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if lh, _ := s.LocalHistory(ctx); len(lh) != 1 || !lh[0].Imported || lh[0].After != 5 || lh[0].Messages != 3 {
		t.Fatalf("after MarkImported: %+v", lh)
	}
}
