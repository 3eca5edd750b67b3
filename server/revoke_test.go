package server

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/room"
)

// rewriteKeys writes authorized_keys as lines and reloads it now.
func (ts *testServer) rewriteKeys(t *testing.T, lines ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(ts.dir, "authorized_keys"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
}

// TestAdminInputCheckedOnEveryRead: an admin command reading its stdin
// (keys add -, motd -) gets an error instead of the input once the key is
// no longer an admin, however long it had been waiting.
func TestAdminInputCheckedOnEveryRead(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line("admin"), bob.line(""))
	pr, pw := io.Pipe()
	in := adminInput{r: pr, s: ts.srv.Server, fp: alice.fp}
	buf := make([]byte, 64)
	go func() { _, _ = pw.Write([]byte("first")) }()
	if n, err := in.Read(buf); err != nil || string(buf[:n]) != "first" {
		t.Fatalf("a read while an admin: %q, %v", buf[:n], err)
	}
	ts.rewriteKeys(t, alice.line(""), bob.line(""))
	go func() { _, _ = pw.Write([]byte("second")) }()
	if n, err := in.Read(buf); !errors.Is(err, errNoLongerAdmin) || n != 0 {
		t.Errorf("a read after the demotion: %q, %v", buf[:n], err)
	}
}

// TestKeysAddFromStdinAfterDemotion: alice starts `keys add -` and is
// demoted before she sends the key: it is not added.
func TestKeysAddFromStdinAfterDemotion(t *testing.T) {
	alice, bob, dave := newTUser(t, "alice"), newTUser(t, "bob"), newTUser(t, "dave")
	ts := startTestServer(t, "", alice.line("admin"), bob.line(""))
	started := make(chan struct{}, 1)
	ts.srv.testExecHook = func(string) { started <- struct{}{} }
	cmd, stdin := ts.start(t, alice, "keys add - --name dave")
	<-started
	ts.rewriteKeys(t, alice.line(""), bob.line(""))
	if _, err := io.WriteString(stdin, dave.keyText()+"\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if code := cmd.exit(t); code != 1 {
		t.Errorf("keys add - after the demotion exited %d; stderr %q", code, cmd.stderr.String())
	}
	if _, ok := ts.srv.keys.Current().ByFingerprint(dave.fp); ok {
		t.Error("a demoted admin's keys add - added the key")
	}
	if b, _ := os.ReadFile(filepath.Join(ts.dir, "authorized_keys")); strings.Contains(string(b), dave.keyText()) {
		t.Error("dave's key is in authorized_keys")
	}
}

// TestExpiredKeyRefusedAtEveryUse: when the clock has passed a key's
// expiry-time and its timer has not fired (a suspended machine, a wall
// clock set forward), what its sessions send is refused, admin rights are
// gone, and it is disconnected at once.
func TestExpiredKeyRefusedAtEveryUse(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line(`admin,expiry-time="29990101"`), bob.line(`expiry-time="29990101"`))
	a, b := ts.watcher(t, alice), ts.watcher(t, bob)
	if err := b.Send(t.Context(), "before"); err != nil {
		t.Fatal(err)
	}
	untilEvent(t, a, chatText("before"))
	if !a.Admin() {
		t.Fatal("alice is not an admin before the expiry")
	}
	later := func() time.Time { return time.Date(2999, 1, 2, 0, 0, 0, 0, time.UTC) }
	ts.srv.expiry.clock.Store(&later)

	if a.Admin() {
		t.Error("an expired admin key is still an admin")
	}
	err := b.Send(t.Context(), "after")
	if err == nil || !strings.Contains(err.Error(), "your key expired on 2999-01-01 00:00:00 UTC: not sent") {
		t.Errorf("a message from an expired key: %v", err)
	}
	for _, rs := range []*room.Session{a, b} {
		select {
		case <-rs.Done():
		case <-time.After(testWait):
			t.Fatalf("%s's session was not ended", rs.Name())
		}
		if !strings.HasPrefix(rs.Reason(), "key expired on 2999-01-01") {
			t.Errorf("%s's session ended with %q", rs.Name(), rs.Reason())
		}
	}
}

// TestIdleConnectionOfARemovedKeyIsClosed: a connection that authenticated
// but never opened a session is closed when its key is removed from
// authorized_keys, like the sessions of that key.
func TestIdleConnectionOfARemovedKeyIsClosed(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line("admin"), bob.line(""))
	idle, err := ts.dial(bob, "")
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	kept, err := ts.dial(alice, "")
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	closed := make(chan error, 1)
	go func() { closed <- idle.Wait() }()

	ts.rewriteKeys(t, alice.line("admin"))
	select {
	case <-closed:
	case <-time.After(revokeGrace + 10*time.Second):
		t.Fatal("the idle connection of a removed key is still open")
	}
	// The key that stays keeps its connection.
	if r := runOn(t, kept, "who", ""); r.code != 0 {
		t.Errorf("alice's connection after bob's removal: exit %d, %q", r.code, r.stderr)
	}
}
