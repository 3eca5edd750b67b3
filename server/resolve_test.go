package server

import (
	"io"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// Moderation by the name people see (issue 13 item 5): every admin command
// over SSH takes the display name someone has (or had when they left), the
// key's name and the fingerprint (whole or its start), says whom it
// matched, and refuses a word that could mean two people.

// shell opens a chat session of u with a terminal over a real SSH
// connection and returns what types into it. Its output is drained.
func (ts *testServer) shell(t *testing.T, u *tuser) (io.Writer, *gossh.Client) {
	t.Helper()
	c, err := ts.dial(u, "")
	if err != nil {
		t.Fatalf("%s: dial: %v", u.name, err)
	}
	t.Cleanup(func() { c.Close() })
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	eventually(t, u.name+" online", func() bool { _, ok := ts.hub().Member(u.fp); return ok })
	return in, c
}

// nick types /nick name into a chat session and waits until the room shows it.
func (ts *testServer) nick(t *testing.T, in io.Writer, u *tuser, name string) {
	t.Helper()
	if _, err := io.WriteString(in, "/nick "+name+"\r"); err != nil {
		t.Fatal(err)
	}
	eventually(t, u.name+" called "+name, func() bool { m, ok := ts.hub().Member(u.fp); return ok && m.Name == name })
}

func short(fp string) string { return fp[:len("SHA256:")+8] }

func TestModerationByTheNamePeopleSee(t *testing.T) {
	alice, bob, carol := newTUser(t, "alice"), newTUser(t, "bob"), newTUser(t, "carol")
	dir := t.TempDir()
	ts := startTestServer(t, dir, alice.line("admin"), bob.line(""), carol.line(""))
	bobIs := "bobby (key bob, " + short(bob.fp) + ")"
	ok := func(cmd, want string) {
		t.Helper()
		r := ts.run(t, alice, "", cmd, "")
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q", cmd, r.code, r.stdout, r.stderr, want)
		}
	}
	refused := func(cmd, want string) {
		t.Helper()
		r := ts.run(t, alice, "", cmd, "")
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and %q", cmd, r.code, r.stdout, r.stderr, want)
		}
	}
	connectAs := func(name string) {
		t.Helper()
		in, _ := ts.shell(t, bob)
		if name != "" {
			ts.nick(t, in, bob, name)
		}
	}
	gone := func() {
		t.Helper()
		eventually(t, "bob gone", func() bool { _, ok := ts.hub().Member(bob.fp); return !ok })
	}

	// kick, by the key's name, the display name and the fingerprint.
	connectAs("bobby")
	ok("kick bob", "Kicked "+bobIs+": 1 session ended.")
	gone()
	connectAs("")
	ok("kick bobby", "Kicked "+bobIs)
	gone()
	connectAs("")
	ok("kick "+short(bob.fp), "Kicked "+bobIs)
	gone()
	refused("kick bobby", bobIs+" is not connected")
	refused("kick nobody", "nobody called nobody is connected")
	refused("kick SHA256:abc", "too short")

	// mute and unmute, by the name bob had when he left.
	ok("mute bobby 1h", "Muted "+bobIs+" until")
	if _, muted := ts.hub().Muted(bob.fp); !muted {
		t.Error("mute bobby did not mute bob's key")
	}
	ok("unmute bobby", "Unmuted "+bobIs)
	refused("unmute bob", bobIs+" is not muted")
	ok("mute "+bob.fp, "Muted "+bobIs)
	ok("unmute bob", "Unmuted "+bobIs)

	// ban and unban: by the name he had, the key's name, a fingerprint.
	ok("ban bobby 1h", "Banned "+bobIs+" until")
	if _, banned := ts.srv.access.Banned(bob.fp); !banned {
		t.Error("ban bobby did not ban bob's key")
	}
	ok("unban bobby", "Lifted the ban of "+bobIs)
	refused("unban bobby", bobIs+" is not banned")
	ok("ban bob", "Banned "+bobIs)
	ok("unban "+short(bob.fp), "Lifted the ban of "+bobIs)

	// The name bob chose outlives a restart (it is saved with his
	// preferences).
	ts.stop()
	ts = startTestServer(t, dir)
	ok("ban bobby", "Banned "+bobIs)
	ok("unban bob", "Lifted the ban of "+bobIs)

	// A word that means two people is refused, naming both: carol called
	// herself sammy and left; then the operator added dave's key as sammy.
	in, _ := ts.shell(t, carol)
	ts.nick(t, in, carol, "sammy")
	ok("kick carol", "Kicked sammy (key carol, "+short(carol.fp)+")")
	eventually(t, "carol gone", func() bool { _, ok := ts.hub().Member(carol.fp); return !ok })
	dave := newTUser(t, "dave")
	ok("keys add "+dave.keyText()+" --name sammy", "sammy")
	for _, cmd := range []string{"ban sammy", "mute sammy", "keys remove sammy"} {
		r := ts.run(t, alice, "", cmd, "")
		if r.code != 1 || !strings.Contains(r.stderr, "sammy could mean 2 people: ") ||
			!strings.Contains(r.stderr, "sammy (key carol, "+short(carol.fp)+")") || !strings.Contains(r.stderr, "sammy ("+short(dave.fp)+")") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want both sammys listed", cmd, r.code, r.stdout, r.stderr)
		}
	}
	if _, banned := ts.srv.access.Banned(carol.fp); banned {
		t.Error("an ambiguous ban banned carol")
	}
	ok("ban "+short(dave.fp), "Banned sammy ("+short(dave.fp)+")")

	// keys remove takes the display name too, and says whose key it was.
	ok("keys remove bobby", "bobby is "+bobIs+".")
	if _, listed := ts.srv.keys.Current().ByFingerprint(bob.fp); listed {
		t.Error("keys remove bobby left bob's key")
	}
	ok("keys remove carol", "Removed carol")
	logHas(t, ts, "action=\"keys remove\"", "target="+carol.fp)
}
