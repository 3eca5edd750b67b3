package server

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"parley/keys"
)

// Issue 13 item 16: the start-up output in the order things happen, and
// --no-seed-keys on a fresh data dir creates an empty authorized_keys
// instead of warning that it is missing.
func TestStartupOnAFreshDataDirWithoutSeeding(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	srv, err := compose(testConfig{Config: Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(logs, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(t.Context()) })
	out := srv.Startup(&net.TCPAddr{IP: net.IPv6unspecified, Port: 2222})
	gen, listen := strings.Index(out, "Generated a new host key"), strings.Index(out, "parley is listening on")
	if gen < 0 || listen < 0 || gen > listen {
		t.Errorf("want the host key line before the listening line:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "authorized_keys"))
	if err != nil {
		t.Fatalf("authorized_keys not created: %v", err)
	}
	if !strings.HasPrefix(string(b), "#") {
		t.Errorf("authorized_keys should start with its comment header: %q", b)
	}
	if snap, _ := keys.ParseBytes(b); snap.Len() != 0 {
		t.Errorf("--no-seed-keys imported %d keys", snap.Len())
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("a fresh start without seeding warned:\n%s", logs.String())
	}
}

// Issue 13 item 16: a client holding several keys offers each in turn; a
// key only offered is logged at debug, and a connection that fails logs
// one "auth refused" line at info, one that succeeds none.
func TestAuthRefusedIsLoggedOncePerConnection(t *testing.T) {
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line(""))
	others := []*tuser{newTUser(t, "k1"), newTUser(t, "k2"), newTUser(t, "k3")}
	signers := func(us ...*tuser) gossh.AuthMethod {
		var ss []gossh.Signer
		for _, u := range us {
			ss = append(ss, u.signer)
		}
		return gossh.PublicKeys(ss...)
	}
	// Three unknown keys, then alice's: in.
	c, err := ts.dialWith(alice, "alice", signers(append(others, alice)...))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := strings.Count(ts.logs.String(), `msg="auth refused"`); n != 0 {
		t.Errorf("a login that worked logged %d auth refused lines:\n%s", n, ts.logs.String())
	}
	// Three unknown keys only: one line, naming the last key refused.
	if _, err := ts.dialWith(alice, "alice", signers(others...)); err == nil {
		t.Fatal("unknown keys got in")
	}
	eventually(t, "the failed login logged", func() bool { return strings.Contains(ts.logs.String(), `msg="auth refused"`) })
	if n := strings.Count(ts.logs.String(), `msg="auth refused"`); n != 1 {
		t.Errorf("a failed login with 3 keys logged %d auth refused lines, want 1:\n%s", n, ts.logs.String())
	}
	if !strings.Contains(ts.logs.String(), others[2].fp) {
		t.Errorf("the line does not name the last key tried")
	}
}
