package e2e

import (
	"strings"
	"sync"
	"testing"
	"time"

	"parley/app"
)

// Issue 13 item 17: on a phone, /help's wrapped descriptions keep their
// indent instead of restarting at column 0.
func TestHelpKeepsItsIndentAt40Columns(t *testing.T) {
	t.Parallel()
	alice := newUser(t, "alice")
	ts := startServer(t, withUsers(alice))
	a := ts.connect(t, alice, size(40, 15))
	a.Expect(t, "1 here")
	a.Say(t, "/help")
	screen := a.WaitFor(t, contains("Commands"), waitTimeout)
	var rows []string
	for page := 0; page < 40; page++ {
		rows = append(rows, strings.Split(screen, "\n")[1:14]...) // the overlay's rows
		if strings.Contains(screen, "Ctrl+C, Ctrl+D") {
			break
		}
		before := screen
		a.Type(t, " ")
		screen = a.WaitFor(t, func(s string) bool { return s != before }, waitTimeout)
	}
	checked := 0
	for _, row := range rows {
		row = strings.TrimRight(row, " ")
		switch {
		case row == "" || row == "Commands" || row == "Keys" || strings.Contains(row, "↓ more"):
			continue
		case strings.HasPrefix(row, "Start a message"):
			return // the closing notes are paragraphs
		}
		checked++
		if !strings.HasPrefix(row, "  ") {
			t.Errorf("a help row starts at column 0: %q\nall rows:\n%s", row, strings.Join(rows, "\n"))
			return
		}
	}
	if checked < 20 {
		t.Errorf("only %d help rows seen:\n%s", checked, strings.Join(rows, "\n"))
	}
}

// offsetClock is the hub's clock: real time plus an offset a test moves.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

// Issue 13 item 17: the member list's idle time of someone who speaks
// goes away (it used to stay "27s" minutes later, after she posted).
func TestMemberListIdleTimeUpdatesWhenSomeoneSpeaks(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	clock := &offsetClock{offset: -5 * time.Minute} // alice arrives "5 minutes ago"
	ts := startServer(t, withUsers(alice, bob), withConfig(func(c *app.Config) { c.Room.Now = clock.Now }))
	a := ts.connect(t, alice, size(120, 40))
	a.Expect(t, "1 here")
	clock.set(0)
	b := ts.connect(t, bob, size(120, 40))
	b.WaitFor(t, rowMatching(`│ +alice 5m`), waitTimeout)
	a.Say(t, "I am here")
	screen := b.WaitFor(t, allOf(contains("I am here"), rowMatching(`│ +alice *$`)), waitTimeout)
	if strings.Contains(screen, "alice 5m") {
		t.Errorf("alice still shown idle after she spoke:\n%s", frame(screen))
	}
}
