package moderation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"parley/access"
	"parley/command"
	"parley/room"
	"parley/safetext"
)

// fakeKeys is the Keys port over a fixed list: fingerprint to key name,
// and the admin keys.
type fakeKeys struct {
	names  map[string]string
	admins map[string]bool
	order  []string
}

func (k *fakeKeys) KeyName(fp string) (string, bool) { n, ok := k.names[fp]; return n, ok }
func (k *fakeKeys) KeyNamed(name string) (string, bool) {
	for _, fp := range k.order {
		if safetext.Fold(k.names[fp]) == safetext.Fold(name) {
			return fp, true
		}
	}
	return "", false
}
func (k *fakeKeys) Fingerprints() []string { return k.order }
func (k *fakeKeys) Admin(fp string) bool   { return k.admins[fp] }

// fakeMOTD is the MOTDFile port in memory.
type fakeMOTD struct{ text string }

func (m *fakeMOTD) Read() string            { return m.text }
func (m *fakeMOTD) Write(text string) error { m.text = text; return nil }

const (
	fpAlice = "SHA256:aliceAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	fpBob   = "SHA256:bobBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	fpBob2  = "SHA256:bobCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
)

// newService returns a Service over a real hub and access lists, with the
// keys alice (admin), bob and bobby (whose key is named bob2) listed.
func newService(t *testing.T) (*Service, *room.Hub, *fakeMOTD) {
	t.Helper()
	keys := &fakeKeys{names: map[string]string{fpAlice: "alice", fpBob: "bob", fpBob2: "bob2"},
		admins: map[string]bool{fpAlice: true}, order: []string{fpAlice, fpBob, fpBob2}}
	hub, err := room.New(room.Config{Admin: keys.Admin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Close(ctx, ""); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
	})
	ac, err := access.Open(context.Background(), access.NewMemory(), nil)
	if err != nil {
		t.Fatal(err)
	}
	motd := &fakeMOTD{}
	return New(Config{Hub: hub, Access: ac, Keys: keys, MOTD: motd}), hub, motd
}

func TestServiceThroughItsPorts(t *testing.T) {
	s, hub, motd := newService(t)
	alice := command.Actor{ID: fpAlice, Name: "alice", Admin: true}
	ctx := context.Background()
	rs, err := hub.Connect(ctx, room.Identity{ID: fpBob2, Name: "bobby"})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close(room.ReasonQuit)

	// By the display name, the key's name, or the fingerprint's start.
	for _, who := range []string{"bobby", "bob2", "SHA256:bobCCCCC"} {
		if got, err := s.resolve(who); err != nil || got.ID != fpBob2 {
			t.Errorf("resolve(%q) = %v, %v; want bobby's key", who, got, err)
		}
	}
	// "SHA256:bob" is too short; "SHA256:bobBBBBB" is bob's key, not online.
	if _, err := s.resolve("SHA256:bob"); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("a short fingerprint: %v", err)
	}
	if _, err := s.Kick(alice, "bob", ""); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Errorf("kick of someone offline: %v", err)
	}
	if _, err := s.Mute(command.Actor{ID: fpBob2, Name: "bobby"}, "bob2", 0); err == nil || !strings.Contains(err.Error(), "that is you") {
		t.Errorf("muting oneself: %v", err)
	}

	// Whois of someone offline and of someone online.
	w, err := s.Whois(alice, "bob")
	if err != nil || w.Online || w.Fingerprint != fpBob || w.Key != "bob" || w.Admin || len(w.Rooms) != 0 {
		t.Errorf("whois bob = %+v, %v", w, err)
	}
	// Someone not an admin learns nothing of a key that is not connected.
	for _, who := range []string{"bob", "SHA256:bobBBBBB", fpBob} {
		want := "nobody called " + safetext.Line(who, 48) + " is connected"
		if w, err := s.Whois(command.Actor{ID: fpBob2, Name: "bobby"}, who); err == nil || err.Error() != want {
			t.Errorf("a non-admin's whois %s = %+v, %v; want only %q", who, w, err, want)
		}
	}
	w, err = s.Whois(command.Actor{ID: fpBob}, "bobby")
	if err != nil || !w.Online || w.Name != "bobby" || w.Key != "bob2" || w.Sessions != 1 || strings.Join(w.Rooms, ",") != hub.DefaultRoom() {
		t.Errorf("whois bobby = %+v, %v", w, err)
	}
	if text := w.String(); !strings.HasPrefix(text, "bobby\n") || !strings.Contains(text, "\n  key bob2") || !strings.Contains(text, "\n  in #"+hub.DefaultRoom()) {
		t.Errorf("whois text:\n%s", w)
	}

	// Mute, unmute; ban, unban; the motd through its port.
	if msg, err := s.Mute(alice, "bobby", time.Hour); err != nil || !strings.Contains(msg, "Muted bobby") {
		t.Errorf("mute: %q %v", msg, err)
	}
	if _, muted := hub.Muted(fpBob2); !muted {
		t.Error("bobby is not muted")
	}
	if _, err := s.Unmute(alice, "bobby"); err != nil {
		t.Errorf("unmute: %v", err)
	}
	if msg, err := s.Ban(ctx, alice, "bobby", 0, "spam"); err != nil || !strings.Contains(msg, "1 session ended") {
		t.Errorf("ban: %q %v", msg, err)
	}
	if !strings.Contains(s.BanList(), fpBob2) {
		t.Errorf("ban list:\n%s", s.BanList())
	}
	if _, err := s.Unban(ctx, alice, "bobby"); err != nil {
		t.Errorf("unban by the name recorded with the ban: %v", err)
	}
	if _, err := s.SetMOTD(alice, "hello\x1b[31m"); err != nil || !strings.HasPrefix(motd.text, "hello") || strings.ContainsRune(motd.text, 0x1b) {
		t.Errorf("motd: %q %v", motd.text, err)
	}
	if _, err := s.SetMOTD(alice, strings.Repeat("x", MaxMOTD+1)); err == nil {
		t.Error("a motd over the limit was accepted")
	}
	if _, err := s.SetMOTD(alice, ""); err != nil || s.MOTD() != "" {
		t.Errorf("clearing the motd: %q %v", s.MOTD(), err)
	}
}

func TestParseBanAndMute(t *testing.T) {
	for _, tc := range []struct {
		words  []string
		who    string
		d      time.Duration
		reason string
		err    bool
	}{
		{words: []string{"bob"}, who: "bob"},
		{words: []string{"bob", "2h", "spam", "again"}, who: "bob", d: 2 * time.Hour, reason: "spam again"},
		{words: []string{"bob", "forever", "spam"}, who: "bob", reason: "spam"},
		{words: []string{"bob", "spam"}, who: "bob", reason: "spam"},
		{words: []string{"bob", "9zz"}, err: true},
		{words: []string{"bob", ""}, who: "bob"}, // an empty word (from a front door that keeps them): no panic
		{words: nil, err: true},
	} {
		who, d, reason, err := ParseBan(tc.words)
		if (err != nil) != tc.err || !tc.err && (who != tc.who || d != tc.d || reason != tc.reason) {
			t.Errorf("ParseBan(%q) = %q, %v, %q, %v", tc.words, who, d, reason, err)
		}
	}
	if _, _, err := ParseMute([]string{"bob", "1h", "x"}); !errors.Is(err, command.ErrUsage) {
		t.Errorf("ParseMute with three words: %v", err)
	}
}

// FuzzParseBan: whatever words an admin sends, ParseBan answers without
// panicking, and the person named is the first word.
func FuzzParseBan(f *testing.F) {
	for _, seed := range []string{"bob", "bob 1h spam", "bob forever", "bob  ", "bob 0", "bob 9999999999999d", "bob 1x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words := strings.Split(line, " ") // exec arguments may be empty
		who, _, _, err := ParseBan(words)
		if err == nil && who != words[0] {
			t.Fatalf("ParseBan(%q) named %q", words, who)
		}
	})
}
