package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"parley/room"
)

func TestPrivateMessagesAreSeenOnlyByTheirParties(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const alice, bob, carol, dave, eve = "SHA256:alice", "SHA256:bob", "SHA256:carol", "SHA256:dave", "SHA256:eve"
	fill(t, s, "lobby", 1, 5, 5) // room traffic around them

	var ids []int64
	send := func(from, to, text string) {
		t.Helper()
		id, err := s.AppendPrivate(ctx, dm(from, to, text, base.Add(time.Duration(len(ids))*time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Fatalf("id %d after %d", id, ids[len(ids)-1])
		}
		ids = append(ids, id)
	}
	send(alice, bob, "a1")
	send(carol, dave, "c1")
	send(bob, alice, "b1")
	send(alice, alice, "note to self")
	send(dave, carol, "d1")
	send(alice, bob, "a2")

	for who, want := range map[string][]string{
		alice: {"a1", "b1", "note to self", "a2"},
		bob:   {"a1", "b1", "a2"},
		carol: {"c1", "d1"},
		dave:  {"c1", "d1"},
		eve:   {},
	} {
		got, err := s.PrivateBefore(ctx, who, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(texts(got)) != fmt.Sprint(want) {
			t.Errorf("%s sees %q, want %q", who, texts(got), want)
		}
		for _, m := range got {
			if m.Kind != room.KindPrivate || m.Room != "" || (m.FromID != who && m.ToID != who) {
				t.Errorf("%s sees %+v", who, m)
			}
		}
	}

	// Seq carries the id, for paging; the fields round-trip.
	got, _ := s.PrivateBefore(ctx, bob, 0, 1)
	want := dm(alice, bob, "a2", base.Add(5*time.Second))
	want.Seq = uint64(ids[5])
	if len(got) != 1 || got[0].Seq != want.Seq || got[0].From != "alice" || got[0].To != "bob" ||
		got[0].FromID != alice || got[0].ToID != bob || !got[0].Time.Equal(want.Time) {
		t.Errorf("newest of bob = %+v, want %+v", got, want)
	}
	var paged []string
	before := int64(0)
	for {
		page, err := s.PrivateBefore(ctx, alice, before, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append([]string{page[0].Text}, paged...)
		before = int64(page[0].Seq)
	}
	if fmt.Sprint(paged) != "[a1 b1 note to self a2]" {
		t.Errorf("paging alice one by one: %q", paged)
	}

	// Room history and search do not reveal them to others.
	if msgs, _ := s.Before(ctx, "lobby", 0, 100); len(msgs) != 5 {
		t.Errorf("lobby history holds %d messages, want 5", len(msgs))
	}
	for _, c := range []struct{ room, identity string }{{"lobby", eve}, {"lobby", ""}, {"", eve}, {"", ""}} {
		if found, err := s.Search(ctx, c.room, c.identity, "c1", 10); err != nil || len(found) != 0 {
			t.Errorf("Search(%q, %q) finds %v, %v", c.room, c.identity, texts(found), err)
		}
	}
	if found, _ := s.Search(ctx, "", carol, "c1", 10); len(found) != 1 {
		t.Errorf("carol cannot find her own message: %v", texts(found))
	}
}

func TestAppendPrivateRefuses(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	ok := dm("SHA256:a", "SHA256:b", "x", base)
	for name, m := range map[string]room.Message{
		"chat kind":    {Kind: room.KindChat, FromID: "a", ToID: "b"},
		"in a room":    {Kind: room.KindPrivate, Room: "lobby", FromID: "a", ToID: "b"},
		"no sender":    {Kind: room.KindPrivate, ToID: "b"},
		"no recipient": {Kind: room.KindPrivate, FromID: "a"},
	} {
		if _, err := s.AppendPrivate(ctx, m); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: AppendPrivate = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.AppendPrivate(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PrivateBefore(ctx, "", 0, 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("PrivateBefore without identity = %v, want ErrInvalid", err)
	}
	if got, err := s.PrivateBefore(ctx, "SHA256:a", 0, 0); err != nil || len(got) != 0 {
		t.Errorf("PrivateBefore(n=0) = %v, %v", got, err)
	}
}

func TestIdentityByName(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	if err := s.SetSetting(ctx, "id-carol", "nick", "Carol"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(ctx, "id-carol", "theme", "bob"); err != nil {
		t.Fatal(err)
	}
	id, saved, ok, err := s.IdentityByName(ctx, "carol")
	if err != nil || !ok || id != "id-carol" || saved != "Carol" {
		t.Errorf("carol: %q %q %v %v", id, saved, ok, err)
	}
	if _, _, ok, err := s.IdentityByName(ctx, "bob"); ok || err != nil {
		t.Errorf("bob (a theme, not a name) found: %v %v", ok, err)
	}
}
