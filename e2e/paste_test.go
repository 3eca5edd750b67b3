package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// Issue 13 item 8: a 30-line paste (a stack trace) is one message, stored
// and delivered whole; screens show it folded, with the count of hidden
// lines, and /expand shows it all, at 40 columns too.
func TestLongPasteIsOneFoldedMessage(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob))
	a := ts.connect(t, alice, size(40, 15))
	b := ts.connect(t, bob)
	a.WaitFor(t, joined("bob"), waitTimeout)

	var lines []string
	for i := 1; i <= 30; i++ {
		lines = append(lines, fmt.Sprintf("frame %02d at main.go:%d", i, i))
	}
	b.Paste(t, strings.Join(lines, "\n"))
	b.Type(t, "\r")

	// Stored whole, as one message.
	eventually(t, waitTimeout, "the paste stored", func() bool {
		msgs, err := ts.hub().Recent(context.Background(), "lobby", bob.fp, false, 1)
		return err == nil && len(msgs) == 1 && msgs[0].Text == strings.Join(lines, "\n")
	})
	// Folded on both screens: the first lines and how many more.
	screen := a.WaitFor(t, allOf(contains("frame 01"), contains("25 more lines")), waitTimeout)
	if strings.Contains(screen, "frame 06") || strings.Contains(screen, "frame 30") {
		t.Errorf("folded view shows hidden lines:\n%s", frame(screen))
	}
	b.WaitFor(t, allOf(contains("frame 05"), contains("25 more lines")), waitTimeout)
	// /expand shows all of it (the end is at the bottom of the screen).
	a.Say(t, "/expand")
	screen = a.WaitFor(t, allOf(contains("frame 29"), contains("frame 30")), waitTimeout)
	if strings.Contains(screen, "more lines") {
		t.Errorf("still folded after /expand:\n%s", frame(screen))
	}
	// Scrolling up reaches its first lines: every line is there.
	a.Say(t, "/scroll up")
	a.WaitFor(t, allOf(contains("frame 12"), contains("scrolled up")), waitTimeout)
	// /fold folds it again.
	a.Say(t, "/fold")
	a.Say(t, "/scroll bottom")
	a.WaitFor(t, contains("25 more lines"), waitTimeout)

	// The cap: 500 lines of a stack trace (about 20 KB) still go as one.
	lines = lines[:0]
	for i := 1; i <= 500; i++ {
		lines = append(lines, fmt.Sprintf("\tgoroutine %03d [running]: parley/room.(*Hub).deliverLocked(...)", i))
	}
	b.Paste(t, strings.Join(lines, "\n"))
	b.Type(t, "\r")
	eventually(t, waitTimeout, "the 500-line paste stored", func() bool {
		msgs, err := ts.hub().Recent(context.Background(), "lobby", bob.fp, false, 1)
		return err == nil && len(msgs) == 1 && strings.Count(msgs[0].Text, "\n") == 499 && strings.HasSuffix(msgs[0].Text, "goroutine 500 [running]: parley/room.(*Hub).deliverLocked(...)")
	})
	// At 40 columns each line takes rows: the count is of lines not shown whole.
	a.WaitFor(t, allOf(contains("goroutine 001"), contains("499 more lines")), waitTimeout)
	b.WaitFor(t, allOf(contains("goroutine 001"), rowMatching(`… 49\d more lines`)), waitTimeout)
}
