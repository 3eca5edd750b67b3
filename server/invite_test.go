package server

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"parley/access"
	"parley/keys"
)

var codeRE = regexp.MustCompile(`Invite code: (\S+)`)

func invite(t *testing.T, ts *testServer, admin *tuser, flags string) string {
	t.Helper()
	r := ts.run(t, admin, "", strings.TrimSpace("invite "+flags), "")
	m := codeRE.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("invite %s: exit %d, %q %q", flags, r.code, r.stdout, r.stderr)
	}
	if strings.Contains(ts.logs.String(), m[1]) {
		t.Errorf("the invite code was logged")
	}
	return m[1]
}

func keyFile(t *testing.T, ts *testServer) *keys.Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.dir, "authorized_keys"))
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := keys.ParseBytes(b)
	return snap
}

func TestInviteAdmitsOneKeyThenIsSpent(t *testing.T) {
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line("admin"))
	newbie, other := newTUser(t, "newbie"), newTUser(t, "other")

	// No invite open: unknown keys are refused at authentication, as ever.
	if _, err := ts.dial(newbie, ""); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("unknown key with no invite open: %v", err)
	}

	once := invite(t, ts, alice, "")
	spare := invite(t, ts, alice, "--uses 5 --ttl 1h") // keeps invites open for the checks below
	if once == spare || len(once) != access.CodeLen {
		t.Fatalf("codes %q and %q", once, spare)
	}
	// Only hashes are stored.
	db, _ := os.ReadFile(filepath.Join(ts.dir, "parley.db"))
	wal, _ := os.ReadFile(filepath.Join(ts.dir, "parley.db-wal"))
	if strings.Contains(string(db)+string(wal), once) {
		t.Error("an invite code is stored in clear")
	}

	r := ts.run(t, newbie, "newbie", "join "+strings.ToUpper(once), "")
	if r.code != 0 || !strings.Contains(r.stdout, "Welcome to parley, newbie!") {
		t.Fatalf("join: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	e, ok := keyFile(t, ts).Lookup(newbie.signer.PublicKey())
	if !ok || e.Name != "newbie" || e.Admin {
		t.Fatalf("newbie's key in the file: %+v, %v", e, ok)
	}
	// The key is in at once, as a member.
	if r := ts.run(t, newbie, "", "who", ""); r.code != 0 {
		t.Errorf("newbie after joining: %d %q", r.code, r.stderr)
	}
	if r := ts.run(t, newbie, "", "join "+spare, ""); r.code != 0 || !strings.Contains(r.stdout, "already on the guest list") {
		t.Errorf("join from a listed key: %d %q", r.code, r.stdout)
	}

	// Spent, wrong and expired codes are refused with one message.
	expired, _ := access.NewCode()
	if err := ts.srv.store.PutInvite(t.Context(), access.Invite{Hash: access.HashCode(expired), UsesLeft: 1,
		Expires: time.Now().Add(-time.Minute), Created: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	wrong, _ := access.NewCode()
	var said []string
	for _, code := range []string{once, wrong, expired, "not-even-a-code!"} {
		r := ts.run(t, other, "", "join "+code, "")
		if r.code != 1 || r.stdout != "" {
			t.Errorf("join %s: exit %d, stdout %q", code, r.code, r.stdout)
		}
		said = append(said, r.stderr)
	}
	for _, s := range said {
		if s != "parley: invalid or expired invite code\n" {
			t.Errorf("refusals differ: %q", said)
			break
		}
	}
	if keyFile(t, ts).Len() != 2 {
		t.Errorf("the file holds %d keys, want alice and newbie", keyFile(t, ts).Len())
	}

	// A taken or invalid name is refused with the reason, and does not use
	// the code.
	third := invite(t, ts, alice, "")
	for user, why := range map[string]string{"alice": "belongs to another key", "not a name": "cannot be your name"} {
		r := ts.run(t, other, user, "join "+third, "")
		if r.code != 1 || !strings.Contains(r.stderr, why) {
			t.Errorf("join as %q: %d %q", user, r.code, r.stderr)
		}
	}
	if r := ts.run(t, other, "", "join "+third, ""); r.code != 0 {
		t.Errorf("the code after refused names: %d %q", r.code, r.stderr)
	}
	if e, ok := keyFile(t, ts).Lookup(other.signer.PublicKey()); !ok || e.Name != "other" {
		t.Errorf("other: %+v %v", e, ok)
	}
	if strings.Contains(ts.logs.String(), once) || strings.Contains(ts.logs.String(), third) {
		t.Error("a code was logged")
	}
}

func TestGuestCannotChat(t *testing.T) {
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line("admin"))
	invite(t, ts, alice, "--uses 3")
	eve := newTUser(t, "eve")

	guidance := func(what, stderr string) {
		t.Helper()
		for _, want := range []string{"not on the guest list", eve.fp, eve.keyText(), "join CODE"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: the guest was not told %q:\n%s", what, want, stderr)
			}
		}
	}
	// Commands other than join: refused with the guidance, exit 1.
	for _, cmd := range []string{"who", "say hello", "tail -f", "help", "keys list", "joinx CODE"} {
		r := ts.run(t, eve, "", cmd, "")
		if r.code != 1 || r.stdout != "" {
			t.Errorf("guest %q: exit %d, stdout %q", cmd, r.code, r.stdout)
		}
		guidance(cmd, r.stderr)
	}
	for _, cmd := range []string{"join", "join a b"} {
		if r := ts.run(t, eve, "", cmd, ""); r.code != 2 || !strings.Contains(r.stderr, "usage: join CODE") {
			t.Errorf("guest %q: exit %d, %q", cmd, r.code, r.stderr)
		}
	}

	// A terminal (the chat screen): refused, and the connection closes.
	c, err := ts.dial(eve, "")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	sess.Stderr = &stderr
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	err = sess.Wait()
	var exit *gossh.ExitError
	if !asExit(err, &exit) || exit.ExitStatus() != 1 {
		t.Errorf("guest shell: %v", err)
	}
	guidance("shell", stderr.String())
	closed := make(chan error, 1)
	go func() { closed <- c.Wait() }()
	select {
	case <-closed:
	case <-time.After(testWait):
		t.Error("the guest's connection stayed open")
	}
	if people, sessions := ts.hub().Online(); people != 0 || sessions != 0 {
		t.Errorf("a guest reached the rooms: %d people, %d sessions", people, sessions)
	}

	// A banned key is no guest.
	if r := ts.run(t, alice, "", "ban "+eve.fp+" 1h", ""); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if _, err := ts.dial(eve, ""); err == nil {
		t.Error("a banned unknown key got in as a guest")
	}
}

func asExit(err error, target **gossh.ExitError) bool {
	e, ok := err.(*gossh.ExitError)
	if ok {
		*target = e
	}
	return ok
}
