package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSettings(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const alice, bob = "SHA256:alice", "SHA256:bob"
	if got, err := s.Settings(ctx, alice); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no settings = %v, %v; want an empty map", got, err)
	}
	for _, kv := range [][3]string{
		{alice, "theme", "dark"},
		{alice, "tz", "Europe/Paris"},
		{alice, "bell", "off"},
		{alice, "timestamps", "on"},
		{alice, "nick", "Älice"},
		{bob, "theme", "light"},
		{alice, "theme", "solarized"}, // overwrite
		{alice, "bell", ""},           // delete
		{alice, "never-set", ""},      // deleting nothing is fine
	} {
		if err := s.SetSetting(ctx, kv[0], kv[1], kv[2]); err != nil {
			t.Fatalf("SetSetting%v: %v", kv, err)
		}
	}
	got, _ := s.Settings(ctx, alice)
	want := map[string]string{"theme": "solarized", "tz": "Europe/Paris", "timestamps": "on", "nick": "Älice"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alice: %v, want %v", got, want)
	}
	if got, _ := s.Settings(ctx, bob); !reflect.DeepEqual(got, map[string]string{"theme": "light"}) {
		t.Errorf("bob: %v", got)
	}
	for name, kv := range map[string][3]string{
		"no identity": {"", "theme", "x"},
		"no key":      {alice, "", "x"},
		"long key":    {alice, strings.Repeat("k", MaxSettingKey+1), "x"},
		"long value":  {alice, "theme", strings.Repeat("v", MaxSettingValue+1)},
	} {
		if err := s.SetSetting(ctx, kv[0], kv[1], kv[2]); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestReadMarks(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const alice, bob = "SHA256:alice", "SHA256:bob"
	if got, err := s.ReadMark(ctx, alice, "lobby"); err != nil || got != 0 {
		t.Fatalf("no mark = %d, %v", got, err)
	}
	steps := []struct {
		id, room string
		seq      uint64
	}{
		{alice, "lobby", 10},
		{alice, "lobby", 7}, // a session that is behind does not move it back
		{alice, "dev", 3},
		{bob, "lobby", 2},
		{alice, "", 42}, // private messages
		{alice, "lobby", 12},
	}
	for _, st := range steps {
		if err := s.SetReadMark(ctx, st.id, st.room, st.seq); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		id, room string
		want     uint64
	}{{alice, "lobby", 12}, {alice, "dev", 3}, {alice, "", 42}, {bob, "lobby", 2}, {bob, "dev", 0}} {
		if got, err := s.ReadMark(ctx, c.id, c.room); err != nil || got != c.want {
			t.Errorf("ReadMark(%s, %q) = %d, %v; want %d", c.id, c.room, got, err, c.want)
		}
	}
	if err := s.SetReadMark(ctx, "", "lobby", 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("no identity: %v", err)
	}
	if err := s.SetReadMark(ctx, alice, "lobby", 1<<63); !errors.Is(err, ErrInvalid) {
		t.Errorf("huge seq: %v", err)
	}
}
