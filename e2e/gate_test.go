package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/guard"
)

// Issue 13 item 2: three logins with an unknown key and two with a banned
// key from one address used to lock out everyone there, the admin's valid
// key included, with "Connection reset by peer" for up to 10 minutes. Now
// the address is slowed down, a valid key still gets its screen within
// seconds, and a client refused before its turn is told why (OpenSSH
// prints the disconnect message).
func TestPenalizedAddressStillAdmitsAValidKey(t *testing.T) {
	admin, banned, stranger := newUser(t, "admin"), newUser(t, "bob"), newUser(t, "mallory")
	ts := startServer(t, withKeys(admin.line("admin"), banned.line("")))
	d := guard.DefaultGateConfig()

	// The admin bans bob, from another address.
	c, err := ts.sshFrom("127.0.0.2", ts.clientConfig("admin", admin.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := sess.CombinedOutput("ban " + banned.fp + " 1h"); err != nil {
		t.Fatalf("ban: %v %s", err, out)
	}
	c.Close()

	for i, u := range []*user{stranger, stranger, stranger, banned, banned} {
		if _, err := ts.sshFrom("127.0.0.1", ts.clientConfig(u.name, u.auth(), nil)); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Fatalf("failed login %d (%s): %v", i+1, u.name, err)
		}
	}
	eventually(t, waitTimeout, "127.0.0.1 penalized", func() bool { return ts.srv.PenaltyLeft("127.0.0.1") > 0 })

	start := time.Now()
	deadline := start.Add(d.PenaltyTrickle + 5*time.Second)
	var cl *client
	for {
		cl, err = ts.connectFrom(t, admin, "127.0.0.1", 80, 24)
		if err == nil || time.Now().After(deadline) {
			break
		}
		if !strings.Contains(err.Error(), "too many failed logins") {
			t.Fatalf("the admin was refused without being told why: %v", err)
		}
		retry := time.NewTimer(100 * time.Millisecond) // a person retrying, as the message says
		<-retry.C
	}
	if err != nil {
		t.Fatalf("the admin's valid key from the penalized address: %v", err)
	}
	cl.WaitFor(t, header(` admin$`), waitTimeout)
	took := time.Since(start)
	t.Logf("the admin had the chat screen %v after 5 failed logins from the same address", took.Round(time.Millisecond))
	if took > d.PenaltyTrickle+5*time.Second {
		t.Errorf("the admin took %v to get in", took)
	}
	if ts.srv.PenaltyLeft("127.0.0.1") == 0 {
		t.Error("the penalty was lifted, not worked around")
	}

	// OpenSSH shows the refusal in one line.
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("no OpenSSH client to check the refusal text with")
	}
	keyFile := writeOpenSSHKey(t)
	_, port, _ := net.SplitHostPort(ts.addr)
	cmd := exec.Command(sshBin, "-F", "/dev/null", "-i", keyFile, "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10", "-p", port, "mallory@127.0.0.1", "who")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil {
		t.Fatal("an unknown key got in")
	}
	t.Logf("OpenSSH said: %s", strings.TrimSpace(stderr.String()))
	if !strings.Contains(stderr.String(), "parley: too many failed logins from your address: try again in") {
		t.Errorf("OpenSSH did not show why it was refused:\n%s", stderr.String())
	}
}

// writeOpenSSHKey writes a fresh ed25519 private key for ssh -i.
func writeOpenSSHKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runOpenSSH runs the OpenSSH client with keyFile as user@127.0.0.1 on the
// test server and returns its exit status and stderr.
func runOpenSSH(t *testing.T, ts *testServer, keyFile, user string, args ...string) (int, string) {
	t.Helper()
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("no OpenSSH client")
	}
	_, port, _ := net.SplitHostPort(ts.addr)
	argv := append([]string{"-F", "/dev/null", "-i", keyFile, "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=10", "-p", port, user + "@127.0.0.1"}, args...)
	cmd := exec.Command(sshBin, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

// Issue 13 item 15: the README promises "invalid or expired invite code"
// and exit status 1; OpenSSH showed exit 255 with "Broken pipe" for a
// wrong code, and "this key is not on the guest list" for a spent one.
func TestInviteRefusalsAsOpenSSHShowsThem(t *testing.T) {
	admin := newUser(t, "admin")
	ts := startServer(t, withKeys(admin.line("admin")))
	c, err := ts.sshFrom("127.0.0.2", ts.clientConfig("admin", admin.auth(), nil))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("invite")
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	code := strings.TrimSpace(strings.SplitN(strings.SplitN(string(out), "Invite code: ", 2)[1], "\n", 2)[0])

	carolKey := writeOpenSSHKey(t)
	for range 3 { // the client must read the exit status, every time
		status, stderr := runOpenSSH(t, ts, carolKey, "carol", "join", "WRONGCODE123")
		if status != 1 || !strings.Contains(stderr, "invalid or expired invite code") || strings.Contains(stderr, "Broken pipe") {
			t.Fatalf("a wrong code: exit %d, stderr %q; want exit 1 and the README's message", status, stderr)
		}
	}
	if status, stderr := runOpenSSH(t, ts, carolKey, "carol", "join", code); status != 0 {
		t.Fatalf("the right code: exit %d, %q", status, stderr)
	}
	// The code is spent and no invite is open: dave's key is refused at
	// login, and the refusal still says what the README promises.
	status, stderr := runOpenSSH(t, ts, writeOpenSSHKey(t), "dave", "join", code)
	if status == 0 || !strings.Contains(stderr, "invalid or expired invite code") {
		t.Fatalf("a spent code with no invite open: exit %d, stderr %q", status, stderr)
	}
}
