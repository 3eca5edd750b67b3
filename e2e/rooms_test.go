package e2e

import (
	"strings"
	"testing"
)

// TestJoinOfRoomAlreadyInKeepsItsConversation is issue 13 item 1: /join is
// how people switch rooms, and switching back to a room you are in must
// show its conversation as it was, not a backlog from your first entry
// (nor wipe a room when a later /join goes elsewhere).
func TestJoinOfRoomAlreadyInKeepsItsConversation(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob))
	a := ts.connect(t, alice)
	b := ts.connect(t, bob)
	a.WaitFor(t, joined("bob"), waitTimeout)

	a.Say(t, "lobby one from alice")
	b.Say(t, "lobby two from bob")
	b.WaitFor(t, allOf(rowMatching(clock+`alice lobby one from alice`), rowMatching(clock+`bob lobby two from bob`)), waitTimeout)

	b.Say(t, "/join #dev")
	b.WaitFor(t, header(`^ #dev `), waitTimeout)
	b.Say(t, "dev line from bob")
	b.WaitFor(t, rowMatching(clock+`bob dev line from bob`), waitTimeout)
	a.Say(t, "lobby three while bob is away")
	b.WaitFor(t, header(`#lobby \(1\)`), waitTimeout)

	lobby := allOf(header(`^ #lobby `),
		rowMatching(clock+`alice lobby one from alice`),
		rowMatching(clock+`bob lobby two from bob`),
		rowMatching(clock+`alice lobby three while bob is away`))
	b.Say(t, "/join #lobby")
	b.WaitFor(t, lobby, waitTimeout)

	// A new room, then back: neither room loses lines.
	b.Say(t, "/join #ops")
	b.WaitFor(t, header(`^ #ops `), waitTimeout)
	b.Say(t, "/join #dev")
	b.WaitFor(t, allOf(header(`^ #dev `), rowMatching(clock+`bob dev line from bob`)), waitTimeout)
	b.Say(t, "/join #lobby")
	s := b.WaitFor(t, lobby, waitTimeout)
	if strings.Count(s, "lobby two from bob") != 1 {
		t.Errorf("the lobby's conversation is shown %d times:\n%s", strings.Count(s, "lobby two from bob"), frame(s))
	}
}
