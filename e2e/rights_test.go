package e2e

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/keys"
)

// Rights taken away while sessions are open (issue 18 item 3): a demoted
// admin's open session loses the admin rights at once, and a key whose
// expiry-time passes is disconnected at that moment, like a removed key.

// setKeyLine rewrites u's line in authorized_keys as line (the way editors
// do: a new file renamed over the old one) and waits until ok holds for
// the entry loaded for u's key.
func (ts *testServer) setKeyLine(t testing.TB, u *user, line string, ok func(keys.Entry) bool) {
	t.Helper()
	data, err := os.ReadFile(ts.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.Contains(l, u.keyText()) {
			l = line
		}
		out = append(out, l)
	}
	tmp := ts.keysPath + ".tmp"
	writeFile(t, tmp, strings.Join(out, "\n")+"\n")
	if err := os.Rename(tmp, ts.keysPath); err != nil {
		t.Fatal(err)
	}
	ts.waitKeys(t, u.name+"'s line changed", func(s *keys.Snapshot) bool {
		e, found := s.Lookup(u.pub)
		return found && ok(e)
	})
}

// execOn runs cmd in a new session of an open connection and returns its
// stdout, stderr and exit status (-1 when the session ended without one).
func execOn(t testing.TB, conn *ssh.Client, cmd string) (string, string, int) {
	t.Helper()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatalf("%q: new session: %v", cmd, err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case err = <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("%q did not finish", cmd)
	}
	code := 0
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitStatus()
	default:
		code = -1
	}
	return stdout.String(), stderr.String(), code
}

// expiryIn returns an expiry-time option value at least d from now (the
// option has whole seconds), and the time it stands for.
func expiryIn(d time.Duration) (string, time.Time) {
	at := time.Now().Add(d).UTC().Truncate(time.Second).Add(time.Second)
	return at.Format("20060102150405"), at
}

// TestDemotedAdminLosesRightsInOpenSession: alice is an admin with a chat
// session open when the operator takes the admin option off her line. In
// that same session /bans, /room private and joining a private room are
// refused, and she is taken out of the private room she was in only as an
// admin; its later messages never reach her.
func TestDemotedAdminLosesRightsInOpenSession(t *testing.T) {
	t.Parallel()
	alice, carol := newUser(t, "alice"), newUser(t, "carol")
	ts := startServer(t, withKeys(alice.line("admin"), carol.line("admin")))

	c := ts.connect(t, carol)
	c.Say(t, "/room private #board")
	c.WaitFor(t, header(`^ #board `), waitTimeout)
	c.Say(t, "/room private #ops")
	c.WaitFor(t, header(`^ #ops `), waitTimeout)

	a := ts.connect(t, alice)
	// Before: alice's admin rights work (the test can fail).
	a.Say(t, "/bans")
	a.Expect(t, "Nobody is banned.")
	a.Say(t, "/join #ops")
	a.WaitFor(t, header(`^ #ops `), waitTimeout)

	// And her tail -f of #ops, over a connection of its own.
	conn, err := ts.dial(ts.clientConfig("alice", alice.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tail, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var tailOut, tailErr lockedBuffer
	tail.Stdout, tail.Stderr = &tailOut, &tailErr
	tailDone := make(chan error, 1)
	go func() { tailDone <- tail.Run("tail -f -r ops") }()
	eventually(t, waitTimeout, "alice's tail -f in #ops", func() bool {
		for _, m := range ts.hub().Members("ops") {
			if m.ID == alice.fp && m.Sessions == 2 {
				return true
			}
		}
		return false
	})

	ts.setKeyLine(t, alice, alice.line(""), func(e keys.Entry) bool { return !e.Admin })

	// She is taken out of #ops, which she was in only as an admin.
	a.Expect(t, "You left #ops: it is private")
	eventually(t, waitTimeout, "alice out of #ops", func() bool {
		for _, m := range ts.hub().Members("ops") {
			if m.ID == alice.fp {
				return false
			}
		}
		return true
	})
	c.Say(t, "/join #ops")
	c.Say(t, "OPS-ONLY after the demotion")
	c.WaitFor(t, rowMatching(clock+`carol OPS-ONLY after the demotion`), waitTimeout)

	a.Say(t, "/bans")
	a.Expect(t, "unknown command /bans")
	a.Say(t, "/join #board")
	a.Expect(t, "#board is private")
	a.Say(t, "/room private #mine")
	a.Expect(t, "unknown command /room")
	a.Say(t, "/ban carol")
	a.Expect(t, "unknown command /ban")

	// A barrier: a message alice sees after everything above.
	c.Say(t, "/join #lobby")
	c.Say(t, "lobby-barrier")
	a.WaitFor(t, rowMatching(clock+`carol lobby-barrier`), waitTimeout)
	if raw := string(a.Raw()); strings.Contains(raw, "OPS-ONLY") {
		t.Errorf("demoted alice received a message of the private room #ops")
	}
	for _, r := range ts.hub().RoomsFor(carol.fp, true) {
		if r.Name == "mine" {
			t.Errorf("demoted alice created the private room #mine")
		}
	}
	select {
	case err := <-tailDone:
		if err == nil || !strings.Contains(tailErr.String(), "you left #ops") {
			t.Errorf("alice's tail -f of #ops ended with %v, stderr %q", err, tailErr.String())
		}
	case <-time.After(waitTimeout):
		t.Error("alice's tail -f of #ops still runs after her demotion")
	}
	if strings.Contains(tailOut.String(), "OPS-ONLY") {
		t.Errorf("alice's tail -f printed a message of #ops sent after her demotion")
	}
	for _, cmd := range []string{"tail -r ops", "tail -r board", "who -r ops", "bans"} {
		if out, errOut, code := execOn(t, conn, cmd); code != 1 || strings.Contains(out, "OPS-ONLY") {
			t.Errorf("%q by the demoted admin: exit %d, stdout %q, stderr %q", cmd, code, out, errOut)
		}
	}
	if _, err := ts.tryConnect(t, alice); err != nil {
		t.Errorf("a demoted admin is still a member and may connect: %v", err)
	}
}

// TestKeyExpiryDisconnectsOpenSession: the operator gives bob's key an
// expiry-time a few seconds ahead while he is connected (with the chat and
// with tail -f); when it passes, both end at that moment with the reason,
// the room is told, and he cannot log in again.
func TestKeyExpiryDisconnectsOpenSession(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withKeys(alice.line(""), bob.line("")))
	a := ts.connect(t, alice)
	b := ts.connect(t, bob)
	a.WaitFor(t, joined("bob"), waitTimeout)

	conn, err := ts.dial(ts.clientConfig("bob", bob.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tail, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var tailErr lockedBuffer
	tail.Stderr = &tailErr
	tailDone := make(chan error, 1)
	go func() { tailDone <- tail.Run("tail -f") }()
	eventually(t, waitTimeout, "bob's tail -f in the room", func() bool { return ts.memberIDs()[bob.fp].Sessions == 2 })

	opt, at := expiryIn(3 * time.Second)
	ts.setKeyLine(t, bob, bob.line(`expiry-time="`+opt+`"`), func(e keys.Entry) bool { return e.ExpiresAt.Equal(at) })

	a.WaitFor(t, rowMatching(clock+`← bob left \(key expired on `), waitTimeout)
	if now := time.Now(); now.Before(at) {
		t.Errorf("bob was disconnected at %s, before his key expired at %s", now.UTC().Format(time.RFC3339Nano), at.Format(time.RFC3339))
	}
	if err := b.WaitEnded(t, waitTimeout); err != nil {
		t.Logf("bob's session ended with %v", err)
	}
	if s := b.Screen(); !strings.Contains(s, "key expired on") {
		t.Errorf("bob's terminal does not say why:\n%s", frame(s))
	}
	select {
	case err := <-tailDone:
		var exit *ssh.ExitError
		if !errors.As(err, &exit) || exit.ExitStatus() != 1 || !strings.Contains(tailErr.String(), "key expired on") {
			t.Errorf("bob's tail -f ended with %v, stderr %q", err, tailErr.String())
		}
	case <-time.After(waitTimeout):
		t.Fatal("bob's tail -f still runs after his key expired")
	}
	if _, err := ts.tryConnect(t, bob); err == nil {
		t.Error("bob logged in with an expired key")
	}
	if !strings.Contains(ts.logs.String(), "disconnected a key that is no longer allowed") {
		t.Error("the disconnection is not logged")
	}
}

// TestExpiredAdminCannotRunAdminCommands: an admin whose key expires while
// a connection of hers is open can no longer run admin commands over it,
// nor in the chat, nor log in again.
func TestExpiredAdminCannotRunAdminCommands(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withKeys(alice.line("admin"), bob.line("")))
	a := ts.connect(t, alice)
	conn, err := ts.dial(ts.clientConfig("alice", alice.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if out, errOut, code := execOn(t, conn, "bans"); code != 0 || !strings.Contains(out, "Nobody is banned.") {
		t.Fatalf("bans before the expiry: %d %q %q", code, out, errOut)
	}

	opt, at := expiryIn(2 * time.Second)
	ts.setKeyLine(t, alice, alice.line(`admin,expiry-time="`+opt+`"`), func(e keys.Entry) bool { return e.ExpiresAt.Equal(at) })
	if err := a.WaitEnded(t, waitTimeout); err != nil {
		t.Logf("alice's session ended with %v", err)
	}
	if s := a.Screen(); !strings.Contains(s, "key expired on") {
		t.Errorf("alice's terminal does not say why:\n%s", frame(s))
	}

	for _, cmd := range []string{"bans", "ban bob", "kick bob", "keys list", "invite"} {
		out, errOut, code := execOn(t, conn, cmd)
		if code != 1 || !strings.Contains(errOut, "expired") || out != "" {
			t.Errorf("%q by an expired admin over an open connection: exit %d, stdout %q, stderr %q", cmd, code, out, errOut)
		}
	}
	if len(ts.srv.Hub().OnlineIDs()) != 0 {
		t.Errorf("someone is online: %v", ts.srv.Hub().OnlineIDs())
	}
	if _, err := ts.tryConnect(t, alice); err == nil {
		t.Error("alice logged in with an expired key")
	}
}

// TestMutedCannotSetAway: a muted person's /away REASON (shown to
// everyone) is refused with the reason; after unmute it works.
func TestMutedCannotSetAway(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withKeys(alice.line("admin"), bob.line("")))
	b := ts.connect(t, bob)
	a := ts.connect(t, alice)
	a.WaitFor(t, joined("alice"), waitTimeout)
	conn, err := ts.dial(ts.clientConfig("alice", alice.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if out, errOut, code := execOn(t, conn, "mute bob"); code != 0 {
		t.Fatalf("mute bob: %d %q %q", code, out, errOut)
	}
	b.Expect(t, "alice muted you")
	b.Say(t, "/away SPAM-AWAY-TEXT")
	b.Expect(t, "cannot set an away message")
	a.Say(t, "/who")
	a.WaitFor(t, rowMatching(`bob · idle`), waitTimeout)
	if s := a.Screen(); strings.Contains(s, "SPAM-AWAY-TEXT") {
		t.Errorf("alice sees the muted person's away text:\n%s", frame(s))
	}

	if out, errOut, code := execOn(t, conn, "unmute bob"); code != 0 {
		t.Fatalf("unmute bob: %d %q %q", code, out, errOut)
	}
	b.Expect(t, "alice unmuted you")
	b.Say(t, "/away lunch")
	b.Expect(t, "You are marked away (lunch)")
	a.Say(t, "/who")
	a.WaitFor(t, rowMatching(`bob away: lunch`), waitTimeout)
}

// TestModerationByNameInChat (issue 13 item 5): in the chat, /kick, /mute,
// /unmute, /ban and /unban take the name someone shows (after /nick), the
// key's name and the start of the fingerprint, and say whom they matched.
func TestModerationByNameInChat(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withKeys(alice.line("admin"), bob.line("")))
	a := ts.connect(t, alice, size(160, 40))
	b := ts.connect(t, bob)
	b.Say(t, "/nick bobby")
	a.Expect(t, "bob is now known as bobby")
	bobIs := "bobby (key bob, " + bob.fp[:len("SHA256:")+8] + ")"

	a.Say(t, "/kick bob enough")
	a.Expect(t, "Kicked "+bobIs+": 1 session ended.")
	if err := b.WaitEnded(t, waitTimeout); err != nil {
		t.Logf("bob's session ended with %v", err)
	}
	if s := b.Screen(); !strings.Contains(s, "kicked by alice: enough") {
		t.Errorf("bob's terminal after the kick:\n%s", frame(s))
	}
	b = ts.connect(t, bob)
	b.WaitFor(t, header(`^ #lobby  2 here `), waitTimeout)

	a.Say(t, "/mute bobby 10m")
	a.Expect(t, "Muted "+bobIs+" until")
	b.Expect(t, "alice muted you")
	a.Say(t, "/unmute "+bob.fp[:len("SHA256:")+8])
	a.Expect(t, "Unmuted "+bobIs+".")
	b.Expect(t, "alice unmuted you")

	a.Say(t, "/ban bobby 1h")
	a.Expect(t, "Banned "+bobIs+" until")
	if err := b.WaitEnded(t, waitTimeout); err != nil {
		t.Logf("bob's session ended with %v", err)
	}
	if _, err := ts.tryConnect(t, bob); err == nil {
		t.Fatal("banned bob logged in")
	}
	a.Say(t, "/unban bobby")
	a.Expect(t, "Lifted the ban of "+bobIs+".")
	ts.connect(t, bob)
	a.Say(t, "/kick nobody")
	a.Expect(t, "nobody called nobody is connected")
}
