package e2e

import (
	"strings"
	"testing"
)

// A message line as the screen shows it: "15:04 name text".
const clock = `\d\d:\d\d `

func TestTwoUsersChat(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withKeys(alice.line(`admin,name="alice"`), bob.line("")))

	a := ts.connect(t, alice, size(80, 24))
	a.WaitFor(t, allOf(header(`^ #lobby  1 here .* alice$`), contains("> ")), waitTimeout)
	b := ts.connect(t, bob, size(40, 15))

	// Join notice, and both headers count two people.
	a.WaitFor(t, allOf(joined("bob"), header(`^ #lobby  2 here .* alice$`)), waitTimeout)
	b.WaitFor(t, header(`^ #lobby  2 here .* bob$`), waitTimeout)

	a.Say(t, "hello bob")
	b.WaitFor(t, rowMatching(clock+`alice hello bob`), waitTimeout)
	b.Say(t, "hi alice")
	a.WaitFor(t, rowMatching(clock+`bob hi alice`), waitTimeout)
	// Each sees their own message too.
	a.WaitFor(t, rowMatching(clock+`alice hello bob`), waitTimeout)
	b.WaitFor(t, rowMatching(clock+`bob hi alice`), waitTimeout)

	// Leave: /quit ends bob's session with a goodbye; alice sees him go.
	b.Say(t, "/quit")
	a.WaitFor(t, allOf(left("bob"), header(`^ #lobby  1 here `)), waitTimeout)
	if err := b.WaitEnded(t, waitTimeout); err != nil {
		t.Errorf("bob's session ended with %v, want exit status 0", err)
	}
	if s := b.Screen(); !strings.Contains(s, "Bye from parley.") {
		t.Errorf("bob's terminal after /quit does not say Bye:\n%s", frame(s))
	}
	if s := a.Screen(); strings.Contains(s, "bob left (") {
		t.Errorf("a plain /quit should give no leave reason:\n%s", frame(s))
	}
}

func TestBacklogShownToNewcomer(t *testing.T) {
	t.Parallel()
	alice, carol := newUser(t, "alice"), newUser(t, "carol")
	ts := startServer(t, withUsers(alice, carol))

	a := ts.connect(t, alice)
	a.Expect(t, "1 here")
	a.Say(t, "first of three")
	a.Say(t, "second of three")
	a.Say(t, "third of three")
	a.WaitFor(t, rowMatching(clock+`alice third of three`), waitTimeout)

	c := ts.connect(t, carol, size(60, 20))
	screen := c.WaitFor(t, allOf(
		rowMatching(clock+`alice first of three`),
		rowMatching(clock+`alice second of three`),
		rowMatching(clock+`alice third of three`),
		joined("carol"),
	), waitTimeout)
	i1, i2, i3, ij := rowIndex(screen, "first of three"), rowIndex(screen, "second of three"), rowIndex(screen, "third of three"), rowIndex(screen, "carol joined")
	if !(i1 < i2 && i2 < i3 && i3 < ij) {
		t.Errorf("backlog out of order (rows %d, %d, %d, join %d):\n%s", i1, i2, i3, ij, frame(screen))
	}
}

func TestPrivateMessageStaysPrivate(t *testing.T) {
	t.Parallel()
	alice, bob, carol := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol")
	ts := startServer(t, withUsers(alice, bob, carol))

	a := ts.connect(t, alice)
	b := ts.connect(t, bob)
	c := ts.connect(t, carol)
	a.WaitFor(t, allOf(joined("bob"), joined("carol")), waitTimeout)
	c.Expect(t, "3 here")

	a.Say(t, "/msg bob psst-secret")
	b.WaitFor(t, rowMatching(clock+`\[private\] from alice psst-secret`), waitTimeout)
	a.WaitFor(t, rowMatching(clock+`\[private\] to bob psst-secret`), waitTimeout)

	// Barrier: a public message sent after the private one. Private
	// messages are queued to their recipients before /msg returns, and the
	// public one is sent after that, so once carol shows it she would have
	// been sent the private one too.
	a.Say(t, "public-after-dm")
	c.WaitFor(t, rowMatching(clock+`alice public-after-dm`), waitTimeout)
	b.WaitFor(t, rowMatching(clock+`alice public-after-dm`), waitTimeout)

	if s := c.Screen(); strings.Contains(s, "psst-secret") || strings.Contains(s, "[private]") {
		t.Errorf("carol's screen shows the private message:\n%s", frame(s))
	}
	if raw := string(c.Raw()); strings.Contains(raw, "psst-secret") || strings.Contains(raw, "private") {
		i := max(strings.Index(raw, "private"), strings.Index(raw, "psst-secret"))
		t.Errorf("carol received the private message's bytes: ...%q...", raw[max(i-40, 0):min(i+40, len(raw))])
	}

	// bob answers with /reply; carol still sees nothing of it.
	b.Say(t, "/reply got-it-quietly")
	a.WaitFor(t, rowMatching(clock+`\[private\] from bob got-it-quietly`), waitTimeout)
	b.Say(t, "public-after-reply")
	c.WaitFor(t, rowMatching(clock+`bob public-after-reply`), waitTimeout)
	if raw := c.Raw(); strings.Contains(string(raw), "got-it-quietly") {
		t.Errorf("carol received bob's private reply")
	}
}

func TestNickCollisionAndRename(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withKeys(alice.line(`admin,name="alice"`), bob.line("")))

	a := ts.connect(t, alice)
	b := ts.connect(t, bob, size(100, 24))
	a.WaitFor(t, joined("bob"), waitTimeout)

	// Taking a name someone here uses (in another case) is refused.
	b.Say(t, "/nick ALICE")
	b.WaitFor(t, allOf(rowMatching(clock+`! cannot change your name to ALICE`), contains("taken")), waitTimeout)
	b.WaitFor(t, header(` bob$`), waitTimeout)

	b.Say(t, "/nick robert")
	a.WaitFor(t, rowMatching(clock+`~ bob is now known as robert`), waitTimeout)
	b.WaitFor(t, allOf(rowMatching(clock+`~ bob is now known as robert`), header(` robert$`)), waitTimeout)
	// alice's member list shows the new name.
	a.WaitFor(t, rowMatching(`│ robert`), waitTimeout)

	b.Say(t, "as robert now")
	a.WaitFor(t, rowMatching(clock+`robert as robert now`), waitTimeout)
	if ids := ts.memberIDs(); ids[bob.fp].Name != "robert" || ids[alice.fp].Name != "alice" {
		t.Errorf("hub members after rename: %+v", ids)
	}
}

func TestSameKeyTwoSessions(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob))

	b := ts.connect(t, bob)
	b.Expect(t, "1 here")
	a1 := ts.connect(t, alice)
	b.WaitFor(t, joined("alice"), waitTimeout)
	a2 := ts.connect(t, alice, size(60, 20))
	a2.Expect(t, "2 here")

	// Barrier for the second join: a message sent from the second session.
	a2.Say(t, "from-second-session")
	screen := b.WaitFor(t, rowMatching(clock+`alice from-second-session`), waitTimeout)
	if n := mentionedIn(joinLine, screen, "alice"); n != 1 {
		t.Errorf("bob sees %d join notices for alice, want 1:\n%s", n, frame(screen))
	}
	if !header(`^ #lobby  2 here `)(screen) {
		t.Errorf("bob's header should count 2 people:\n%s", frame(screen))
	}
	a1.WaitFor(t, rowMatching(clock+`alice from-second-session`), waitTimeout)

	b.Say(t, "to-both-screens")
	a1.WaitFor(t, rowMatching(clock+`bob to-both-screens`), waitTimeout)
	a2.WaitFor(t, rowMatching(clock+`bob to-both-screens`), waitTimeout)

	// Closing one session: alice is still here.
	a1.Close()
	eventually(t, waitTimeout, "alice down to one session", func() bool { return ts.memberIDs()[alice.fp].Sessions == 1 })
	a2.Say(t, "still-here")
	screen = b.WaitFor(t, rowMatching(clock+`alice still-here`), waitTimeout)
	if left("alice")(screen) || !header(`^ #lobby  2 here `)(screen) {
		t.Errorf("closing one of two sessions should not look like leaving:\n%s", frame(screen))
	}

	// Closing the last one is leaving.
	a2.Close()
	b.WaitFor(t, allOf(left("alice"), header(`^ #lobby  1 here `)), waitTimeout)
}

func TestMOTDShownOnJoin(t *testing.T) {
	t.Parallel()
	alice := newUser(t, "alice")
	ts := startServer(t, withUsers(alice), withMOTD("Welcome to the test room\n"))

	a := ts.connect(t, alice)
	a.WaitFor(t, rowMatching(clock+`· Welcome to the test room`), waitTimeout)
}

func TestResizeRedraws(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob))
	a := ts.connect(t, alice, size(100, 30))
	b := ts.connect(t, bob)
	a.WaitFor(t, joined("bob"), waitTimeout)
	b.Say(t, "before-resize")
	// Wide: the member list is beside the conversation.
	a.WaitFor(t, allOf(rowMatching(clock+`bob before-resize\s+│`), rowMatching(`│ bob`)), waitTimeout)

	// Narrow: no member list, the header fits 50 columns.
	a.Resize(t, 50, 16)
	a.WaitFor(t, func(s string) bool {
		first, _, _ := strings.Cut(s, "\n")
		return len(strings.TrimRight(first, " ")) == 49 && strings.HasSuffix(strings.TrimRight(first, " "), " alice") &&
			rowMatching(clock+`bob before-resize\s*$`)(s) && !strings.Contains(s, "│")
	}, waitTimeout)
	b.Say(t, "after-resize")
	a.WaitFor(t, rowMatching(clock+`bob after-resize`), waitTimeout)

	// Wide again.
	a.Resize(t, 100, 30)
	a.WaitFor(t, allOf(rowMatching(clock+`bob after-resize\s+│`), rowMatching(`│ bob`)), waitTimeout)
}
