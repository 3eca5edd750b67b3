package e2e

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"parley/moderation"
)

// TestWhoisInTheChatAndOverExec is issue 14's example of a command declared
// once for the chat line and `ssh host whois NAME [--json]`: it says who
// someone is (name, fingerprint, key, admin, sessions, rooms), and never
// names a private room the asker may not see.
func TestWhoisInTheChatAndOverExec(t *testing.T) {
	t.Parallel()
	alice, bob, carol := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol")
	ts := startServer(t, withKeys(alice.line("admin"), bob.line(""), carol.line("")))

	a := ts.connect(t, alice)
	a.Say(t, "/room private #ops")
	a.WaitFor(t, header(`^ #ops `), waitTimeout)
	b := ts.connect(t, bob)
	b.Say(t, "/join #dev")
	b.WaitFor(t, header(`^ #dev `), waitTimeout)
	c := ts.connect(t, carol, size(100, 30))

	// In the chat: carol may not see #ops, so alice is only in #lobby.
	c.Say(t, "/whois alice")
	s := c.WaitFor(t, allOf(rowMatching(`alice \(admin\)`), rowMatching(`fingerprint `+regexp.QuoteMeta(alice.fp[:15])), rowMatching(`in #lobby`)), waitTimeout)
	if strings.Contains(s, "#ops") {
		t.Errorf("carol's /whois alice names the private room #ops:\n%s", frame(s))
	}
	a.Say(t, "/whois bob")
	a.WaitFor(t, allOf(rowMatching(`fingerprint `+regexp.QuoteMeta(bob.fp[:15])), rowMatching(`in #dev, #lobby`)), waitTimeout)
	c.Say(t, "/whois nobody")
	c.WaitFor(t, "nobody called nobody is connected", waitTimeout)
	c.Say(t, "/whois")
	c.WaitFor(t, "usage: /whois NAME", waitTimeout)

	// Over exec, with --json.
	whois := func(u *user, who string) moderation.WhoisInfo {
		t.Helper()
		conn, err := ts.dial(ts.clientConfig(u.name, u.auth(), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		out, errOut, code := execOn(t, conn, "whois "+who+" --json")
		var w moderation.WhoisInfo
		if err := json.Unmarshal([]byte(out), &w); code != 0 || err != nil {
			t.Fatalf("%s: whois %s --json: exit %d, %v, stdout %q, stderr %q", u.name, who, code, err, out, errOut)
		}
		return w
	}
	w := whois(carol, "alice")
	if w.Name != "alice" || w.Fingerprint != alice.fp || w.Short != alice.fp[:15] || w.Key != "alice" ||
		!w.Admin || w.Bot || !w.Online || w.Sessions != 1 || !slices.Equal(w.Rooms, []string{"lobby"}) {
		t.Errorf("carol's whois alice --json = %+v", w)
	}
	if w := whois(alice, "alice"); !slices.Equal(w.Rooms, []string{"lobby", "ops"}) {
		t.Errorf("alice (an admin) sees herself in %v, want lobby and ops", w.Rooms)
	}
	if w := whois(carol, "bob"); w.Admin || !slices.Equal(w.Rooms, []string{"dev", "lobby"}) {
		t.Errorf("carol's whois bob --json = %+v", w)
	}

	// Text, usage and errors over exec.
	conn, err := ts.dial(ts.clientConfig("carol", carol.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if out, _, code := execOn(t, conn, "whois bob"); code != 0 || !strings.Contains(out, "in #dev, #lobby") || !strings.Contains(out, bob.fp) {
		t.Errorf("whois bob: exit %d, %q", code, out)
	}
	if _, errOut, code := execOn(t, conn, "whois"); code != 2 || !strings.Contains(errOut, "usage: whois NAME [--json]") {
		t.Errorf("whois without a name: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := execOn(t, conn, "whois nobody"); code != 1 || !strings.Contains(errOut, "nobody called nobody") {
		t.Errorf("whois nobody: exit %d, stderr %q", code, errOut)
	}
	if out, _, code := execOn(t, conn, "help"); code != 0 || !strings.Contains(out, "whois NAME [--json]") {
		t.Errorf("help lacks whois: exit %d\n%s", code, out)
	}
}
