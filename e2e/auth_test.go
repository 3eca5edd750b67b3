package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/app"
)

// Not parallel: it counts the process's goroutines.
func TestUnknownKeyRefused(t *testing.T) {
	alice, eve := newUser(t, "alice"), newUser(t, "eve")
	// Many refusals from one address would put it under a penalty (the
	// connection gate); this test makes more than that on purpose.
	ts := startServer(t, withUsers(alice), withConfig(func(c *app.Config) { c.Defences.Gate.FailuresBeforePenalty = 1000 }))
	// Warm up: one full session, so that lazily started goroutines (the
	// room, the key watcher, ...) are part of the baseline.
	a := ts.connect(t, alice)
	a.Expect(t, "1 here")
	baseline := runtime.NumGoroutine()

	// Public key only: refused.
	_, err := ts.dial(ts.clientConfig("eve", eve.auth(), nil))
	if err == nil || !strings.Contains(err.Error(), "ssh: handshake failed") || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("eve's key: dial error %v, want a handshake failure (unable to authenticate)", err)
	}

	// With keyboard-interactive, the refusal tells eve what to send the
	// operator: her key's fingerprint and its authorized_keys line.
	var (
		mu           sync.Mutex
		instructions []string
	)
	ki := ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		mu.Lock()
		instructions = append(instructions, instruction)
		mu.Unlock()
		return make([]string, len(questions)), nil
	})
	_, err = ts.dial(ts.clientConfig("eve", []ssh.AuthMethod{ssh.PublicKeys(eve.signer), ki}, nil))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("eve with keyboard-interactive: dial error %v, want unable to authenticate", err)
	}
	mu.Lock()
	got := strings.Join(instructions, "\n")
	mu.Unlock()
	if len(instructions) != 1 {
		t.Errorf("keyboard-interactive challenges: %d, want exactly 1: %q", len(instructions), instructions)
	}
	if !strings.Contains(got, eve.fp) {
		t.Errorf("refusal does not show the key's fingerprint %s:\n%s", eve.fp, got)
	}
	if !strings.Contains(got, "ssh-ed25519 AAAA") || !strings.Contains(got, eve.keyText()) {
		t.Errorf("refusal does not show the key's authorized_keys line %q:\n%s", eve.keyText(), got)
	}

	if _, sessions := ts.hub().Online(); sessions != 1 {
		t.Errorf("online sessions after refusals: %d, want 1 (alice)", sessions)
	}
	a.Say(t, "still-up")
	a.WaitFor(t, rowMatching(clock+`alice still-up`), waitTimeout)

	// Refused handshakes leave nothing running behind: ten more, so that
	// even one goroutine left per connection shows.
	for i := 0; i < 10; i++ {
		if _, err := ts.dial(ts.clientConfig("eve", eve.auth(), nil)); err == nil {
			t.Fatal("eve got in")
		}
	}
	waitGoroutines(t, baseline+3, waitTimeout)
}

// unsignableSigner offers a public key it cannot sign with, like a key
// whose private half the client does not have: the server is asked whether
// it would accept the key, says yes, and never gets a signature.
type unsignableSigner struct {
	pub   ssh.PublicKey
	asked atomic.Int32 // signatures asked for: the server accepted the key
}

func (u *unsignableSigner) PublicKey() ssh.PublicKey { return u.pub }

func (u *unsignableSigner) Sign(io.Reader, []byte) (*ssh.Signature, error) {
	u.asked.Add(1)
	return nil, errors.New("no private key for this public key")
}

// forgedSigner offers the public key pub and signs with another key.
type forgedSigner struct {
	pub    ssh.PublicKey
	signer ssh.Signer
	signed atomic.Int32
}

func (f *forgedSigner) PublicKey() ssh.PublicKey { return f.pub }

func (f *forgedSigner) Sign(r io.Reader, data []byte) (*ssh.Signature, error) {
	f.signed.Add(1)
	return f.signer.Sign(r, data)
}

// TestAuthIdentityIsTheVerifiedKey is the auth-bypass regression test: a
// client that offers the admin's public key but cannot sign with it, and
// then authenticates with its own key, is itself and nothing more. The
// identity and the rights must come from the key that signed, never from
// another key the server's public-key callback accepted on the way (the
// classic misuse of that callback: remembering the first accepted key, or
// accumulating rights over every accepted key).
//
// The attempts are made one method at a time through AuthCallback: within
// one ssh.PublicKeys method, x/crypto/ssh gives up on the remaining keys as
// soon as one fails to sign. A signature made with the wrong key is no use
// to an attacker either: the server drops the connection (last subtest).
func TestAuthIdentityIsTheVerifiedKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// attempts returns the public-key attempts, one per auth method,
		// and the unsignable admin key among them.
		attempts func(alice, mallory *user) ([]ssh.AuthMethod, *unsignableSigner)
	}{
		{
			// The server accepts alice's key, gets no signature, then
			// verifies mallory's.
			name: "admin key then own key",
			attempts: func(alice, mallory *user) ([]ssh.AuthMethod, *unsignableSigner) {
				admin := &unsignableSigner{pub: alice.pub}
				return []ssh.AuthMethod{ssh.PublicKeys(admin), ssh.PublicKeys(mallory.signer)}, admin
			},
		},
		{
			// mallory's key is accepted first (without a signature), then
			// alice's, then mallory signs: the admin key is accepted in the
			// middle of mallory's login.
			name: "own key, admin key, own key signed",
			attempts: func(alice, mallory *user) ([]ssh.AuthMethod, *unsignableSigner) {
				admin := &unsignableSigner{pub: alice.pub}
				return []ssh.AuthMethod{
					ssh.PublicKeys(&unsignableSigner{pub: mallory.pub}),
					ssh.PublicKeys(admin),
					ssh.PublicKeys(mallory.signer),
				}, admin
			},
		},
		{
			// Both keys in one ssh.PublicKeysCallback list: mallory's is
			// offered and verified first, so the admin key after it is
			// never offered (x/crypto/ssh stops at the first success).
			name: "own key first in one list",
			attempts: func(alice, mallory *user) ([]ssh.AuthMethod, *unsignableSigner) {
				admin := &unsignableSigner{pub: alice.pub}
				return []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
					return []ssh.Signer{mallory.signer, admin}, nil
				})}, nil
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			alice, mallory, bob := newUser(t, "alice"), newUser(t, "mallory"), newUser(t, "bob")
			ts := startServer(t, withKeys(alice.line(`admin,name="alice"`), mallory.line(`name="mallory"`), bob.line("")))
			attempts, admin := tc.attempts(alice, mallory)
			// The SSH user name claims to be alice as well.
			// A tall window, so that the whole /help fits.
			m := ts.connect(t, mallory, withAuthAttempts(attempts...), withSSHUser("alice"), size(100, 70))
			if admin != nil && admin.asked.Load() == 0 {
				t.Fatal("the server never accepted the admin's public key, so this did not test anything")
			}

			screen := m.WaitFor(t, allOf(header(`^ #lobby  1 here `), rowMatching(`→ .+ joined #lobby`)), waitTimeout)
			if !header(` mallory$`)(screen) || !joined("mallory")(screen) || strings.Contains(screen, "alice") {
				t.Errorf("mallory should be herself, and nobody else:\n%s", frame(screen))
			}
			ids := ts.memberIDs()
			if _, ok := ids[mallory.fp]; !ok || len(ids) != 1 {
				t.Errorf("lobby members %v, want only mallory %s", ids, mallory.fp)
			}
			if _, ok := ids[alice.fp]; ok {
				t.Errorf("the lobby holds alice's identity %s", alice.fp)
			}
			if ids[mallory.fp].Admin {
				t.Errorf("mallory is an admin")
			}
			// What she can see of her rights: /who lists her without
			// (admin), /help lists no admin command.
			m.Say(t, "/who")
			screen = m.WaitFor(t, rowMatching(`^\s+mallory\b.*idle`), waitTimeout)
			if !rowMatching(`^\s+mallory · idle`)(screen) {
				t.Errorf("/who shows mallory as more than a member:\n%s", frame(screen))
			}
			// Nor can she use an admin command on bob.
			b := ts.connect(t, bob)
			m.WaitFor(t, joined("bob"), waitTimeout)
			m.Say(t, "/kick bob")
			refused := rowMatching(clock + `! `) // no error was shown before
			if screen := m.WaitFor(t, anyOf(refused, left("bob")), waitTimeout); !refused(screen) {
				t.Fatalf("mallory kicked bob:\n%s", frame(screen))
			}
			b.Say(t, "still-here-after-kick")
			m.WaitFor(t, rowMatching(clock+`bob still-here-after-kick`), waitTimeout)
			if _, ok := ts.memberIDs()[bob.fp]; !ok || b.Ended() {
				t.Errorf("mallory kicked bob")
			}
			m.Say(t, "/help")
			screen = m.WaitFor(t, allOf(contains("/nick"), contains("/who"), contains("/topic")), waitTimeout)
			if strings.Contains(screen, "(admin)") || strings.Contains(screen, "@mallory") {
				t.Errorf("mallory is shown as an admin:\n%s", frame(screen))
			}
		})
	}

	// A signature made with another key is not a signature: the server
	// drops the connection, and nobody joins.
	t.Run("forged signature", func(t *testing.T) {
		t.Parallel()
		alice, mallory := newUser(t, "alice"), newUser(t, "mallory")
		ts := startServer(t, withKeys(alice.line(`admin,name="alice"`), mallory.line(`name="mallory"`)))
		forged := &forgedSigner{pub: alice.pub, signer: mallory.signer}
		_, err := ts.tryConnect(t, mallory, withAuth(ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			return []ssh.Signer{forged, mallory.signer}, nil
		})))
		if err == nil {
			t.Fatal("a forged signature for the admin key was accepted")
		}
		if forged.signed.Load() == 0 {
			t.Fatal("the forged signature was never sent")
		}
		if people, _ := ts.hub().Online(); people != 0 {
			t.Errorf("%d people online after a forged signature", people)
		}
	})
}

func TestAuthorizedKeysEditedWhileRunning(t *testing.T) {
	t.Parallel()
	alice, bob, dave := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "dave")
	ts := startServer(t, withUsers(alice, bob))

	a := ts.connect(t, alice)
	b := ts.connect(t, bob)
	a.WaitFor(t, joined("bob"), waitTimeout)

	// dave is not on the list yet.
	if _, err := ts.tryConnect(t, dave); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("dave before being added: %v, want unable to authenticate", err)
	}
	// The operator adds him; no restart.
	ts.appendKey(t, dave, dave.line(""))
	d := ts.connect(t, dave)
	d.WaitFor(t, header(`^ #lobby  3 here .* dave$`), waitTimeout)
	a.WaitFor(t, joined("dave"), waitTimeout)

	// The operator removes alice while she is connected.
	ts.removeKey(t, alice)
	b.WaitFor(t, rowMatching(clock+`← alice left \(access revoked`), waitTimeout)
	d.WaitFor(t, header(`^ #lobby  2 here `), waitTimeout)
	if _, ok := ts.memberIDs()[alice.fp]; ok {
		t.Errorf("alice is still a member after her key was removed")
	}
	// Her session ends, with the reason on her terminal.
	if err := a.WaitEnded(t, waitTimeout); err != nil {
		t.Logf("alice's session ended with %v", err)
	}
	if s := a.Screen(); !strings.Contains(s, "access revoked") {
		t.Errorf("alice's terminal after the revocation:\n%s", frame(s))
	}

	// And she cannot come back.
	if _, err := ts.tryConnect(t, alice); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("alice after removal: %v, want unable to authenticate", err)
	}
	// The others carry on.
	b.Say(t, "after-revocation")
	d.WaitFor(t, rowMatching(clock+`bob after-revocation`), waitTimeout)
}

func TestSessionWithoutPTY(t *testing.T) {
	t.Parallel()
	alice := newUser(t, "alice")
	ts := startServer(t, withUsers(alice))

	conn, err := ts.dial(ts.clientConfig("alice", alice.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run("whatever") }()
	select {
	case err = <-done:
	case <-time.After(waitTimeout):
		t.Fatal("ssh host COMMAND without a pty did not finish")
	}
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() == 0 {
		t.Fatalf("Run: %v, want a non-zero exit status", err)
	}
	if !strings.Contains(stderr.String(), "connect with a terminal") {
		t.Errorf("stderr %q does not say to use a terminal", stderr.String())
	}
	if _, sessions := ts.hub().Online(); sessions != 0 {
		t.Errorf("a session without a pty joined the room")
	}
}

// TestKeyOptionsAndSessionCap: the authorized_keys options that restrict a
// key are enforced at login, with an explanation, and a key may not open
// more than its share of sessions.
func TestKeyOptionsAndSessionCap(t *testing.T) {
	t.Parallel()
	alice, far, old, near := newUser(t, "alice"), newUser(t, "far"), newUser(t, "old"), newUser(t, "near")
	ts := startServer(t, withKeys(
		alice.line(""),
		far.line(`from="10.0.0.0/8"`),
		old.line(`expiry-time="20200101"`),
		near.line(`from="127.0.0.1",expiry-time="20991231"`),
	))

	refusal := func(u *user) string {
		t.Helper()
		var got []string
		ki := ssh.KeyboardInteractive(func(_, instruction string, questions []string, _ []bool) ([]string, error) {
			got = append(got, instruction)
			return make([]string, len(questions)), nil
		})
		if _, err := ts.dial(ts.clientConfig(u.name, []ssh.AuthMethod{ssh.PublicKeys(u.signer), ki}, nil)); err == nil {
			t.Fatalf("%s got in", u.name)
		}
		return strings.Join(got, "\n")
	}
	if msg := refusal(far); !strings.Contains(msg, "not allowed from this address") || !strings.Contains(msg, far.fp) {
		t.Errorf("refusal for a key limited to another network: %q", msg)
	}
	if msg := refusal(old); !strings.Contains(msg, "expired") || !strings.Contains(msg, old.fp) {
		t.Errorf("refusal for an expired key: %q", msg)
	}
	n := ts.connect(t, near)
	n.WaitFor(t, header(`^ #lobby  1 here .* near$`), waitTimeout)

	// Three sessions of one key are fine; the fourth is refused, and says
	// why on the terminal.
	for i := 0; i < 3; i++ {
		ts.connect(t, alice).WaitFor(t, header(` alice$`), waitTimeout)
	}
	fourth := ts.connect(t, alice)
	err := fourth.WaitEnded(t, waitTimeout)
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() == 0 {
		t.Errorf("the fourth session ended with %v, want a non-zero exit status", err)
	}
	if s := fourth.Screen(); !strings.Contains(s, "already have 3 sessions open") {
		t.Errorf("the fourth session's terminal does not say why:\n%s", frame(s))
	}
	if got := ts.memberIDs()[alice.fp].Sessions; got != 3 {
		t.Errorf("alice has %d sessions in the room, want 3", got)
	}
}

// TestLoginNameCannotImpersonate: a key without a name in authorized_keys
// takes its display name from the SSH user name, which the client chooses
// freely. It must not be able to take a name that belongs to another key,
// nor put control sequences on anyone's screen.
func TestLoginNameCannotImpersonate(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	logins := []string{"alice", "ALICE", injection}
	anons := make([]*user, len(logins))
	lines := []string{alice.line(`name="alice"`), bob.line("")}
	for i := range anons {
		anons[i] = newUser(t, fmt.Sprintf("anon%d", i))
		lines = append(lines, anons[i].keyText()) // no name, no comment
	}
	ts := startServer(t, withKeys(lines...))
	b := ts.connect(t, bob)
	b.Expect(t, "1 here")

	// alice is offline; her name is still hers.
	for i, login := range logins {
		mark := b.RawLen()
		m := ts.connect(t, anons[i], withSSHUser(login))
		screen := m.WaitFor(t, header(`^ #lobby  2 here `), waitTimeout)
		name := ts.memberIDs()[anons[i].fp].Name
		t.Logf("logging in as %q with a nameless key gives %q", login, name)
		if strings.EqualFold(name, "alice") || header(`(?i) alice$`)(screen) {
			t.Errorf("logging in as %q gave alice's name: %q\n%s", login, name, frame(screen))
		}
		b.WaitFor(t, joined(name), waitTimeout)
		if bytes.Contains(b.Raw()[mark:], []byte("alice joined")) {
			t.Errorf("bob was told alice joined")
		}
		checkInert(t, "bob", b.Raw()[mark:])
		m.Close()
		eventually(t, waitTimeout, "the nameless key gone", func() bool { _, ok := ts.memberIDs()[anons[i].fp]; return !ok })
	}
}
