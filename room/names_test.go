package room

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/safetext"
)

func TestPreferredNameTakenGivesAnotherWithNotice(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	expect(t, alice, KindJoin)

	for _, want := range []string{"alice", "ALICE"} {
		other := connect(t, h, "id-other-"+want, want)
		got := other.Name()
		if safetext.Fold(got) == safetext.Fold("alice") {
			t.Fatalf("second identity asking for %q got %q, which alice has", want, got)
		}
		if err := safetext.ValidateName(got); err != nil {
			t.Fatalf("replacement name %q is invalid: %v", got, err)
		}
		n := expect(t, other, KindNotice)
		if !strings.Contains(n.Text, want) || !strings.Contains(n.Text, got) || !strings.Contains(n.Text, "/nick") {
			t.Fatalf("notice %q should name the wanted name %q, the given name %q and /nick", n.Text, want, got)
		}
		if j := expect(t, other, KindJoin); j.From != got {
			t.Fatalf("join %+v, want From %q", j, got)
		}
		if j := expect(t, alice, KindJoin); j.From != got {
			t.Fatalf("alice saw join %+v, want From %q", j, got)
		}
	}
	if alice.Name() != "alice" {
		t.Fatalf("alice was renamed to %q", alice.Name())
	}
}

func TestInvalidOrMissingNameGetsGuestName(t *testing.T) {
	h := newHub(t, Config{})
	for _, want := range []string{"", "bad name!", "\x1b[31mred!", strings.Repeat("x", 30)} {
		s := connect(t, h, "id-"+want, want)
		got := s.Name()
		if err := safetext.ValidateName(got); err != nil {
			t.Fatalf("name given for %q is %q: %v", want, got, err)
		}
		n := expect(t, s, KindNotice)
		if hasControl(n.Text) || !strings.Contains(n.Text, got) {
			t.Fatalf("notice for %q = %q: should name %q and be clean", want, n.Text, got)
		}
		if want == "" && !strings.Contains(n.Text, "/nick") {
			t.Fatalf("notice for no name = %q, want a hint about /nick", n.Text)
		}
		s.Close("")
	}
}

func TestReservedNameBelongsToItsOwner(t *testing.T) {
	reserved := func(name string) (string, bool) {
		if safetext.Fold(name) == "root" {
			return "id-root", true
		}
		return "", false
	}
	h := newHub(t, Config{Reserved: reserved})

	mallory := connect(t, h, "id-mallory", "root")
	if got := mallory.Name(); safetext.Fold(got) == safetext.Fold("root") {
		t.Fatalf("mallory got the reserved name %q", got)
	}
	if n := expect(t, mallory, KindNotice); !strings.Contains(n.Text, "root") || !strings.Contains(n.Text, "another key") {
		t.Fatalf("notice = %q, want it to explain that root belongs to another key", n.Text)
	}
	expect(t, mallory, KindJoin)
	for _, try := range []string{"/nick root", "/nick ROOT"} {
		if e := sendErr(t, mallory, try); !strings.Contains(e.Error(), "another key") {
			t.Fatalf("%s: error %q, want it to say the name belongs to another key", try, e.Error())
		}
	}

	owner := connect(t, h, "id-root", "root")
	if owner.Name() != "root" {
		t.Fatalf("the owner of root got %q", owner.Name())
	}
	if j := expect(t, owner, KindJoin); j.From != "root" {
		t.Fatalf("owner's first event = %+v, want a join as root with no notice", j)
	}
}

func TestNickCollisionIsCaseInsensitive(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	for _, try := range []string{"/nick alice", "/nick ALICE", "/nick Alice"} {
		e := sendErr(t, bob, try)
		if !strings.Contains(e.Error(), "taken") {
			t.Fatalf("%s: error %q, want it to say the name is taken", try, e.Error())
		}
	}
	if bob.Name() != "bob" {
		t.Fatalf("bob was renamed to %q by a refused /nick", bob.Name())
	}
	notReceived(t, alice, alice, bob)

	// Changing the case of your own name is allowed.
	send(t, alice, "/nick Alice")
	if m := expect(t, bob, KindNick); m.From != "alice" || m.Text != "Alice" {
		t.Fatalf("bob saw %+v, want alice -> Alice", m)
	}
	if e := sendErr(t, alice, "/nick Alice"); !strings.Contains(e.Error(), "already") {
		t.Fatalf("/nick to the current name: %q", e.Error())
	}
}

func TestNickInvalidIsRefusedWithReason(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	for _, c := range []struct{ cmd, want string }{
		{"/nick bad!name", "letters, digits"},
		{"/nick bad\U0001F600", "letters, digits"},
		{"/nick \u0430dmin", "script"}, // a Cyrillic a among Latin letters
		{"/nick \x1b[31mred", "letters, digits"},
		{"/nick " + strings.Repeat("a", safetext.MaxNameRunes+1), "1 to 24"},
		{"/nick ...", "letter or digit"},
		{"/nick", "usage: /nick NAME"},
		{"/nick two words", "usage: /nick NAME"},
	} {
		e := sendErr(t, alice, c.cmd)
		if !strings.Contains(e.Error(), c.want) {
			t.Errorf("%q: error %q, want it to contain %q", c.cmd, e.Error(), c.want)
		}
		if hasControl(e.Error()) || strings.ContainsRune(e.Error(), '\x1b') {
			t.Errorf("%q: error %q repeats control characters", c.cmd, e.Error())
		}
	}
	if alice.Name() != "alice" {
		t.Fatalf("alice was renamed to %q", alice.Name())
	}
	notReceived(t, alice, alice, bob)
}

func TestNickSuccessBroadcastsAndFreesOldName(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	send(t, alice, "/nick alicia")
	for _, s := range []*Session{alice, bob} {
		m := expect(t, s, KindNick)
		if m.From != "alice" || m.Text != "alicia" || m.FromID != "id-alice" || m.Seq == 0 {
			t.Fatalf("session of %s saw %+v, want a sequenced nick alice -> alicia", s.ID(), m)
		}
	}
	if alice.Name() != "alicia" {
		t.Fatalf("Name() = %q, want alicia", alice.Name())
	}
	if m := h.Members(DefaultRoom); m[0].Name != "alicia" {
		t.Fatalf("Members = %+v, want alicia first", m)
	}
	send(t, alice, "hello")
	expectChat(t, bob, "alicia", "hello")
	send(t, bob, "/msg ALICIA hi")
	expect(t, alice, KindChat)
	if m := expect(t, alice, KindPrivate); m.To != "alicia" {
		t.Fatalf("private to the new name: %+v", m)
	}
	if e := sendErr(t, bob, "/msg alice hi"); !strings.Contains(e.Error(), "nobody called alice") {
		t.Fatalf("/msg to the old name: %q", e.Error())
	}

	// The old name is free: someone else gets it without a notice.
	carol := connect(t, h, "id-carol", "alice")
	if carol.Name() != "alice" {
		t.Fatalf("newcomer asking for the freed name got %q", carol.Name())
	}
	expect(t, carol, KindJoin)
	// And so is bob's, after he takes another.
	send(t, bob, "/nick robert")
	expect(t, carol, KindNick)
	send(t, carol, "/nick bob")
	if carol.Name() != "bob" {
		t.Fatalf("carol could not take bob's old name: %q", carol.Name())
	}
}

func TestReconnectKeepsLastName(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	send(t, alice, "/nick alicia")
	alice.Close("")

	again := connect(t, h, "id-alice", "alice")
	if again.Name() != "alicia" {
		t.Fatalf("reconnected as %q, want the last name alicia", again.Name())
	}
	if j := expect(t, again, KindJoin); j.From != "alicia" {
		t.Fatalf("join %+v, want From alicia and no notice", j)
	}
	again.Close("")

	// Names are held only while online: someone else may take alicia, and
	// then the returning identity gets the name it asks for.
	other := connect(t, h, "id-other", "alicia")
	if other.Name() != "alicia" {
		t.Fatalf("other got %q, want alicia (free while its last user is offline)", other.Name())
	}
	third := connect(t, h, "id-alice", "alice")
	if third.Name() != "alice" {
		t.Fatalf("returning identity whose last name is taken got %q, want the requested alice", third.Name())
	}
}

// TestConnectTerminatesWhenSuffixedNamesAreTaken is a regression test for
// pickNameLocked: it tries base-2, base-3, ... without end, and a base of 20
// or more characters gives names longer than MaxNameRunes from base-1000 on,
// which are never valid. With a long name and its first 998 suffixed
// variants in use (999 people online asking for one name; cheap for anyone
// who can make keys), the next person asking for it makes Connect loop
// forever while holding Hub.mu, and the whole hub stops.
//
// The state is set directly in h.names; it is what 999 Connects leave.
// If this test fails, the looping goroutine keeps a CPU busy and the hub
// stays locked until the test binary exits.
func TestConnectTerminatesWhenSuffixedNamesAreTaken(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := "abcdefghijklmnopqrstuvwx" // 24 characters, the maximum
	h.mu.Lock()
	h.names[safetext.Fold(want)] = "id-1"
	for i := 2; i <= 999; i++ {
		h.names[safetext.Fold(fmt.Sprintf("%s-%d", want[:safetext.MaxNameRunes-4], i))] = fmt.Sprintf("id-%d", i)
	}
	h.mu.Unlock()

	type result struct {
		s   *Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := h.Connect(context.Background(), Identity{ID: "id-newcomer", Name: want})
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Connect: %v", r.err)
		}
		name := r.s.Name()
		if err := safetext.ValidateName(name); err != nil {
			t.Fatalf("newcomer got invalid name %q: %v", name, err)
		}
		h.mu.Lock()
		owner := h.names[safetext.Fold(name)]
		h.mu.Unlock()
		if owner != "id-newcomer" {
			t.Fatalf("newcomer got %q, which belongs to %s", name, owner)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := h.Close(ctx, ""); err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatalf("Connect did not return within %v: pickNameLocked loops forever past %s-999 (names over %d characters are never valid) while holding Hub.mu",
			waitFor, want[:safetext.MaxNameRunes-4], safetext.MaxNameRunes)
	}
}

func TestUnicodeNamesAndLookAlikes(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)
	send(t, bob, "/nick José")
	if bob.Name() != "José" {
		t.Fatalf("a Unicode name was not accepted: %q", bob.Name())
	}
	for _, lookalike := range []string{"a1ice", "ALICE", "aIice"} {
		e := sendErr(t, bob, "/nick "+lookalike)
		if !strings.Contains(e.Error(), "alice") {
			t.Errorf("/nick %s: %q, want a refusal naming alice", lookalike, e.Error())
		}
	}
	if e := sendErr(t, bob, "/nick a1ice"); !strings.Contains(e.Error(), "looks too much like alice") {
		t.Errorf("look-alike reason: %q", e.Error())
	}
	send(t, alice, "/join #Admin")
	if got := alice.Room(); got != "admin" {
		t.Fatalf("room shown as %q, want admin", got)
	}
}
