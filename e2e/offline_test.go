package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"parley/app"
)

// startServerIn starts a server on the data dir dir (kept across restarts),
// with the SQLite store, and these authorized_keys lines.
func startServerIn(t *testing.T, dir string, us ...*user) *testServer {
	t.Helper()
	var lines []string
	for _, u := range us {
		lines = append(lines, u.line(""))
	}
	writeFile(t, filepath.Join(dir, "authorized_keys"), strings.Join(lines, "\n")+"\n")
	return startServer(t, withConfig(func(c *app.Config) { c.DataDir, c.Store = dir, "sqlite" }))
}

// Issue 13 item 6: a private message to someone offline is stored and
// shown, with a count, when they next connect; across a restart too, and
// only once.
func TestPrivateMessageToSomeoneOffline(t *testing.T) {
	t.Parallel()
	bob, carol := newUser(t, "bob"), newUser(t, "carol")
	dir := t.TempDir()
	ts := startServerIn(t, dir, bob, carol)

	b := ts.connect(t, bob, size(40, 15))
	b.Expect(t, "1 here")
	b.Say(t, "/msg carol are you there?")
	b.WaitFor(t, allOf(contains("carol is not connected"), contains("are you there?")), waitTimeout)
	b.Say(t, "/msg zed hello")
	b.WaitFor(t, contains("nobody called zed is known"), waitTimeout)

	c := ts.connect(t, carol, size(40, 15))
	screen := c.WaitFor(t, allOf(contains("1 private message arrived"), rowMatching(`from bob`), contains("are you there?")), waitTimeout)
	if strings.Contains(screen, "zed") {
		t.Errorf("carol sees bob's message to zed:\n%s", frame(screen))
	}
	// She answers with /reply: the waiting message set whom to.
	c.Say(t, "/reply yes, now")
	b.WaitFor(t, contains("yes, now"), waitTimeout)
	c.Close()
	eventually(t, waitTimeout, "carol gone", func() bool { _, ok := ts.memberIDs()[carol.fp]; return !ok })

	b.Say(t, "/msg carol one more")
	b.Say(t, "/msg carol and another")
	b.WaitFor(t, contains("and another"), waitTimeout)
	b.Close()

	// A restart in between: the messages wait in the store.
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	ts2 := startServerIn(t, dir, bob, carol)
	c2 := ts2.connect(t, carol, size(40, 15))
	screen = c2.WaitFor(t, allOf(contains("2 private messages arrived"), contains("one more"), contains("and another")), waitTimeout)
	if strings.Contains(screen, "are you there?") {
		t.Errorf("a message carol was shown before is shown as waiting again:\n%s", frame(screen))
	}
	c2.Close()
	eventually(t, waitTimeout, "carol gone", func() bool { _, ok := ts2.memberIDs()[carol.fp]; return !ok })

	// Nothing waits now: no notice on the next visit.
	c3 := ts2.connect(t, carol, size(40, 15))
	c3.Expect(t, "1 here")
	c3.Say(t, "back again")
	screen = c3.WaitFor(t, contains("back again"), waitTimeout)
	if strings.Contains(screen, "arrived while you were away") {
		t.Errorf("shown as waiting again:\n%s", frame(screen))
	}
}
