package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/internal/testkit"
	"parley/internal/testkit/inprocess"
	"parley/server"
)

// kcKey makes a key pair for the keys CLI tests.
func kcKey(t *testing.T) (ssh.Signer, string) { t.Helper(); return testkit.NewKey(t) }

func kcDial(addr, user string, s ssh.Signer) (*ssh.Client, error) {
	return testkit.DialKey(addr, user, s, 10*time.Second)
}

// kcEventually polls cond with a deadline: the server re-reads the file on
// its own schedule, and announces nothing.
func kcEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, what, cond)
}

// TestKeysCLIWhileServerRuns is the operator's round trip: parley keys
// add, list and remove on the data dir of a running server, which picks
// each change up by itself.
func TestKeysCLIWhileServerRuns(t *testing.T) {
	dir := t.TempDir()
	root, rootKey := kcKey(t)
	dave, daveKey := kcKey(t)
	const head = "# Keys for the book club.\n# Ask Ann before adding anyone.\n\n"
	const foot = "\n# (end of the list)\n"
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(head+`admin,name="root" `+rootKey+foot), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, running := inprocess.Start(t, server.Config{DataDir: dir, KeysPoll: 20 * time.Millisecond})
	addr := running.Addr
	env := func(name string) (string, bool) {
		if name == "PARLEY_DATA_DIR" {
			return dir, true
		}
		return "", false
	}
	if c, err := kcDial(addr, "dave", dave); err == nil {
		c.Close()
		t.Fatal("dave got in before being added")
	}

	// add, through main's dispatch, the key given as words, flags after it.
	var out, errb bytes.Buffer
	args := append(append([]string{"keys", "add"}, strings.Fields(daveKey+" dave@laptop")...), "--name", "dave", "--data", dir)
	if err := run(args, noEnvKC, &out, &errb); err != nil {
		t.Fatalf("parley keys add: %v\n%s%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Added dave") || !strings.Contains(out.String(), "no restart") {
		t.Errorf("keys add said:\n%s", out.String())
	}

	// A new key gets in without a restart.
	var client *ssh.Client
	var err error
	// Wait for the reload itself, not by retrying logins: each refused login
	// counts towards the per-address penalty for failed logins.
	kcEventually(t, "dave's key to be picked up", func() bool {
		_, ok := srv.Keys().Current().Lookup(dave.PublicKey())
		return ok
	})
	if client, err = kcDial(addr, "dave", dave); err != nil {
		t.Fatalf("dave's key was loaded but he could not log in: %v", err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdout, _ := sess.StdoutPipe()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	if err := sess.Start("tail -f -n 0"); err != nil {
		t.Fatal(err)
	}
	kcEventually(t, "dave online", func() bool { _, ok := srv.Hub().Member(ssh.FingerprintSHA256(dave.PublicKey())); return ok })

	// list, with PARLEY_DATA_DIR.
	out.Reset()
	if err := keysCommand([]string{"list"}, env, nil, &out, &errb); err != nil {
		t.Fatalf("parley keys list: %v", err)
	}
	for _, want := range []string{"root", ssh.FingerprintSHA256(root.PublicKey()), "admin", "dave", ssh.FingerprintSHA256(dave.PublicKey())} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("keys list lacks %q:\n%s", want, out.String())
		}
	}

	// remove: dave is refused and disconnected.
	out.Reset()
	if err := keysCommand([]string{"remove", "dave"}, env, nil, &out, &errb); err != nil {
		t.Fatalf("parley keys remove: %v\n%s", err, errb.String())
	}
	rest := bufio.NewReader(stdout)
	_, _ = rest.ReadString(0) // until the session ends
	var exit *ssh.ExitError
	if err := sess.Wait(); !errors.As(err, &exit) || exit.ExitStatus() != 1 || !strings.Contains(stderr.String(), "access revoked") {
		t.Errorf("dave's running command after removal: %v, stderr %q", err, stderr.String())
	}
	if c, err := kcDial(addr, "dave", dave); err == nil {
		c.Close()
		t.Error("dave's removed key still gets in")
	}
	if c, err := kcDial(addr, "root", root); err != nil {
		t.Errorf("root after the edits: %v", err)
	} else {
		c.Close()
	}

	// The operator's comments survive both rewrites.
	b, err := os.ReadFile(filepath.Join(dir, "authorized_keys"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); !strings.HasPrefix(got, head) || !strings.Contains(got, foot) || strings.Contains(got, daveKey) {
		t.Errorf("authorized_keys after add and remove:\n%s", got)
	}

	// Usage errors exit 2 without a word from main.
	errb.Reset()
	if err := keysCommand([]string{"remove"}, env, nil, &out, &errb); !errors.As(err, new(exitCode)) || int(err.(exitCode)) != 2 {
		t.Errorf("keys remove without a name: %v", err)
	}
}

func noEnvKC(string) (string, bool) { return "", false }
