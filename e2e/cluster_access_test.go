package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/internal/testkit"
	"parley/keys"
)

// propagation is how soon an admin action on one node must hold on every
// node (issue 15, Access).
const propagation = 2 * time.Second

// withSharedAccess makes the server a node of a cluster on js whose data
// dir is dir (kept across restarts), sharing rooms (natslog) and access
// (natsaccess), as main's --nats does (natswire.go).
func withSharedAccess(t *testing.T, js *jetStream, dir string) serverOpt {
	return withNATSNode(t, natsNode{urls: natsURL(js), dataDir: dir, access: true})
}

// adminExec runs cmd as u over a new connection to ts and returns its
// output, failing the test unless it exits 0.
func adminExec(t *testing.T, ts *testServer, u *user, cmd string) string {
	t.Helper()
	conn, err := ts.dial(ts.clientConfig(u.name, u.auth(), nil))
	if err != nil {
		t.Fatalf("%s: dial for %q: %v", u.name, cmd, err)
	}
	defer conn.Close()
	out, errOut, code := execOn(t, conn, cmd)
	if code != 0 {
		t.Fatalf("%q on %s: exit %d\nstdout: %s\nstderr: %s", cmd, ts.addr, code, out, errOut)
	}
	return out
}

// endsWithin waits for c's session to end within d of start and returns
// how long it took.
func endsWithin(t *testing.T, c *client, start time.Time, d time.Duration, what string) time.Duration {
	t.Helper()
	if ended, _ := c.AwaitEnd(d - time.Since(start)); !ended {
		t.Fatalf("%s: %s's session on the other node still open %v after; screen:\n%s", what, c.name, d, frame(c.Screen()))
	}
	took := time.Since(start)
	t.Logf("%s: %s's session on the other node ended %v after it was done", what, c.name, took.Round(time.Millisecond))
	return took
}

// refused reports whether u cannot get a chat on ts.
func refused(t *testing.T, ts *testServer, u *user) bool {
	t.Helper()
	c, err := ts.tryConnect(t, u)
	if err != nil {
		return true
	}
	ended, _ := c.AwaitEnd(waitTimeout)
	return ended
}

// Access is one truth for every node (issue 15, Access): a ban, a key
// removal, a private room, a mute and an invite made on node A hold on
// node B within 2 s (ending B's affected sessions), and all of it holds
// after both nodes restart. A key taken out of A's file by hand is removed
// everywhere too. B starts with an empty authorized_keys and
// takes the cluster's keys.
func TestAccessIsSharedAcrossNodes(t *testing.T) {
	js := startJetStream(t)
	root, bob, carol, dave, frank, erin, gus := newUser(t, "root"), newUser(t, "bob"), newUser(t, "carol"), newUser(t, "dave"), newUser(t, "frank"), newUser(t, "erin"), newUser(t, "gus")
	dirA, dirB := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dirA, "authorized_keys"), strings.Join([]string{root.line("admin"), bob.line(""), carol.line(""), dave.line(""), frank.line(""), gus.line("")}, "\n")+"\n")
	writeFile(t, filepath.Join(dirB, "authorized_keys"), "")
	a := startServer(t, withSharedAccess(t, js, dirA))
	b := startServer(t, withSharedAccess(t, js, dirB))
	listed := func(us ...*user) func(*keys.Snapshot) bool {
		return func(s *keys.Snapshot) bool {
			for _, u := range us {
				if _, ok := s.Lookup(u.pub); !ok {
					return false
				}
			}
			return true
		}
	}
	b.waitKeys(t, "node A's keys mirrored on node B", listed(root, bob, carol, dave, frank, gus))

	// A ban on A ends bob's session on B, and B refuses him.
	cb := b.connect(t, bob)
	cb.Expect(t, "bob")
	start := time.Now()
	if out := adminExec(t, a, root, "ban bob 1h spamming"); !strings.Contains(out, "other nodes") {
		t.Errorf("ban's answer does not say the other nodes end their sessions: %q", out)
	}
	endsWithin(t, cb, start, propagation, "ban on A")
	if !strings.Contains(cb.Screen(), "banned by root") {
		t.Errorf("bob's screen does not say he was banned:\n%s", frame(cb.Screen()))
	}
	if !refused(t, b, bob) {
		t.Fatal("node B let banned bob in")
	}

	// A key removed on A ends dave's session on B.
	cd := b.connect(t, dave)
	cd.Expect(t, "dave")
	start = time.Now()
	adminExec(t, a, root, "keys remove dave")
	endsWithin(t, cd, start, propagation, "keys remove on A")
	b.waitKeys(t, "dave's key gone from node B's file", func(s *keys.Snapshot) bool { _, ok := s.Lookup(dave.pub); return !ok })

	// A line taken out of A's file by hand (an editor: a new file renamed
	// over it) ends gus's session on B.
	gb := b.connect(t, gus)
	gb.Expect(t, "gus")
	keysA := filepath.Join(dirA, "authorized_keys")
	data, err := os.ReadFile(keysA)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	writeFile(t, keysA+".tmp", strings.Replace(string(data), gus.line("")+"\n", "", 1))
	if err := os.Rename(keysA+".tmp", keysA); err != nil {
		t.Fatal(err)
	}
	endsWithin(t, gb, start, propagation, "a hand edit of A's file")

	// A private room made on A: refused to the uninvited on B, entered
	// by its invited member on B.
	ra := a.connect(t, root)
	ra.Expect(t, "root")
	ra.Say(t, "/room private #board")
	ra.Expect(t, "#board is private")
	ra.Say(t, "/invite carol")
	ra.Expect(t, "carol may now join #board")
	start = time.Now()
	fb := b.connect(t, frank)
	fb.Expect(t, "frank")
	fb.Say(t, "/join #board")
	fb.Expect(t, "#board is private")
	ccb := b.connect(t, carol)
	ccb.Expect(t, "carol")
	ccb.Say(t, "/join #board")
	ccb.Say(t, "carol is in the board room")
	ra.Expect(t, "carol is in the board room")
	t.Logf("private room made on A held on B %v later", time.Since(start).Round(time.Millisecond))

	// A mute on A holds on B.
	start = time.Now()
	adminExec(t, a, root, "mute frank 1h")
	fb.Expect(t, "muted you")
	t.Logf("mute on A reached frank on B %v after the command returned", time.Since(start).Round(time.Millisecond))
	fb.Say(t, "frank speaks while muted")
	fb.Expect(t, "you are muted")

	// A kick on A ends carol's session on B, where she alone is.
	start = time.Now()
	if out := adminExec(t, a, root, "kick carol being loud"); !strings.Contains(out, "other nodes") {
		t.Errorf("kick's answer does not say the other nodes were told: %q", out)
	}
	endsWithin(t, ccb, start, propagation, "kick on A")
	if !strings.Contains(ccb.Screen(), "being loud") {
		t.Errorf("carol's screen does not say why she was kicked:\n%s", frame(ccb.Screen()))
	}

	// An invite made on A is redeemed on B, and the new key works on A.
	out := adminExec(t, a, root, "invite --uses 1 --ttl 1h")
	code := regexp.MustCompile(`join ([a-z2-7]{12})`).FindStringSubmatch(out)
	if code == nil {
		t.Fatalf("no invite code in:\n%s", out)
	}
	// Until B hears of the invite, it refuses unknown keys at login.
	start = time.Now()
	var joinB *ssh.Client
	if !testkit.Poll(propagation, 100*time.Millisecond, func() bool {
		joinB, err = testkit.Dial(b.addr, b.clientConfig("erin", erin.auth(), nil), waitTimeout)
		return err == nil
	}) {
		t.Fatalf("erin could not reach node B %v after the invite was made on A: %v", propagation, err)
	}
	t.Logf("an invite made on A opened node B to erin %v after the command returned", time.Since(start).Round(time.Millisecond))
	if out, errOut, status := execOn(t, joinB, "join "+code[1]); status != 0 {
		t.Fatalf("join on B of an invite made on A: exit %d\n%s%s", status, out, errOut)
	}
	joinB.Close()
	a.waitKeys(t, "erin's key, added on B, on node A", listed(erin))
	ea := a.connect(t, erin)
	ea.Expect(t, "erin")

	// Both nodes restart: every rule still holds on both.
	for _, ts := range []*testServer{a, b} {
		if err := ts.Close(); err != nil {
			t.Fatal(err)
		}
	}
	a = startServer(t, withSharedAccess(t, js, dirA))
	b = startServer(t, withSharedAccess(t, js, dirB))
	for _, ts := range []*testServer{a, b} {
		if !refused(t, ts, bob) {
			t.Errorf("banned bob got in after the restart")
		}
		if !refused(t, ts, dave) || !refused(t, ts, gus) {
			t.Errorf("dave or gus, whose keys were removed, got in after the restart")
		}
		e := ts.connect(t, erin)
		e.Expect(t, "erin")
		f := ts.connect(t, frank)
		f.Expect(t, "frank")
		f.Say(t, "/join #board")
		f.Expect(t, "#board is private")
		f.Say(t, "frank again while muted")
		f.Expect(t, "you are muted")
		c := ts.connect(t, carol)
		c.Expect(t, "carol")
		c.Say(t, "/join #board")
		c.Say(t, "carol back in the board room")
		c.Expect(t, "carol back in the board room")
	}
}
