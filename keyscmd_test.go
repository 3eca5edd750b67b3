package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/app"
	"parley/internal/testkit"
	"parley/internal/testkit/inprocess"
	"parley/keys"
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
	srv, running := inprocess.Start(t, app.Config{Config: server.Config{DataDir: dir, KeysPoll: 20 * time.Millisecond}})
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

// TestKeysRemoveInAnotherProcessWaitsForTheFileLock is issue 18 item 5
// across processes: a writer (the server's `keys add` or `join`, here
// this test) holds the file lock and has read authorized_keys; a real
// `parley keys remove bob` started meanwhile must wait, say that it waits,
// and remove bob from the file the writer leaves, or the writer's stale
// copy would bring the revoked key back.
func TestKeysRemoveInAnotherProcessWaitsForTheFileLock(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	_, aliceKey := kcKey(t)
	_, bobKey := kcKey(t)
	_, carolKey := kcKey(t)
	if err := os.WriteFile(path, []byte(`admin,name="alice" `+aliceKey+"\n"+`name="bob" `+bobKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := keys.Lock(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	stale, err := l.Read()
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "keys", "remove", "bob", "--data", dir)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waitingLine := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stderr)
		line, _ := r.ReadString('\n')
		waitingLine <- line
		_, _ = io.Copy(io.Discard, r)
		exited <- cmd.Wait()
	}()
	select {
	case line := <-waitingLine:
		if !strings.Contains(line, "waiting for another change to "+path) {
			t.Errorf("parley keys remove said %q on stderr, want that it waits for the lock", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("parley keys remove neither waited nor finished")
	}
	// The holder finishes its change (it adds carol) from the copy it read.
	if err := l.Write(append(stale, []byte(`name="carol" `+carolKey+"\n")...)); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("parley keys remove: %v\n%s", err, stdout.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("parley keys remove did not finish after the lock was released")
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), bobKey) || !strings.Contains(string(b), carolKey) || !strings.Contains(string(b), aliceKey) {
		t.Fatalf("authorized_keys after the two changes (bob must be gone, carol and alice there):\n%s", b)
	}
	if !strings.Contains(stdout.String(), "Removed bob") {
		t.Errorf("stdout: %q", stdout.String())
	}
}

// TestKeysListInTheWrongDirectory is issue 13 item 12: `parley keys list`
// where there is no data dir said "nobody can log in" and exited 0. It
// names the file it read, points to --data, and exits 1.
func TestKeysListInTheWrongDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "data")
	env := func(name string) (string, bool) {
		if name == "PARLEY_DATA_DIR" {
			return missing, true
		}
		return "", false
	}
	var out, errb bytes.Buffer
	err := keysCommand([]string{"list"}, env, nil, &out, &errb)
	if code, ok := err.(exitCode); !ok || code != 1 {
		t.Fatalf("exit %v, want 1", err)
	}
	if msg := errb.String(); !strings.Contains(msg, filepath.Join(missing, "authorized_keys")+" does not exist") || !strings.Contains(msg, "--data") || out.Len() != 0 {
		t.Fatalf("stdout %q, stderr %q", out.String(), msg)
	}
}

// TestKeysRemoveOfAKeyInParleyAdminKeys is issue 18 item 5: a key that
// PARLEY_ADMIN_KEYS names comes back on every start; removing it from the
// shell says so, whether the environment or parley.conf names it.
func TestKeysRemoveOfAKeyInParleyAdminKeys(t *testing.T) {
	_, annKey := kcKey(t)
	_, bobKey := kcKey(t)
	for _, where := range []string{"environment", "parley.conf"} {
		t.Run(where, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte("admin,name=\"ann\" "+annKey+"\nname=\"bob\" "+bobKey+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"PARLEY_DATA_DIR": dir}
			if where == "environment" {
				env["PARLEY_ADMIN_KEYS"] = annKey + " ann@laptop"
			} else if err := os.WriteFile(filepath.Join(dir, "parley.conf"), []byte("PARLEY_ADMIN_KEYS=\""+annKey+" ann@laptop\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			var out, errb bytes.Buffer
			if err := keysCommand([]string{"remove", "ann"}, lookup, nil, &out, &errb); err != nil {
				t.Fatalf("remove ann: %v %s", err, errb.String())
			}
			if !strings.Contains(out.String(), "Removed ann") || !strings.Contains(out.String(), server.AdminKeysNote) {
				t.Errorf("remove ann said:\n%s", out.String())
			}
			out.Reset()
			if err := keysCommand([]string{"remove", "bob"}, lookup, nil, &out, &errb); err != nil {
				t.Fatalf("remove bob: %v %s", err, errb.String())
			}
			if strings.Contains(out.String(), "PARLEY_ADMIN_KEYS") {
				t.Errorf("remove bob (not in PARLEY_ADMIN_KEYS) said:\n%s", out.String())
			}
		})
	}
}

// TestKeysRefusesUnsafePermissions: `parley keys` refuses, as the server
// does, an authorized_keys others can write.
func TestKeysRefusesUnsafePermissions(t *testing.T) {
	dir := t.TempDir()
	_, key := kcKey(t)
	path := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(path, []byte(key+" ann@laptop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	_, other := kcKey(t)
	for _, args := range [][]string{{"list"}, {"remove", "ann"}, {"add", other}} {
		var out, errb bytes.Buffer
		err := keysCommand(append(args, "--data", dir), noEnvKC, nil, &out, &errb)
		if code, ok := err.(exitCode); !ok || code != 1 || !strings.Contains(errb.String(), "chmod go-w "+path) {
			t.Errorf("%v: %v, stderr %q", args, err, errb.String())
		}
	}
	if b, _ := os.ReadFile(path); string(b) != key+" ann@laptop\n" {
		t.Errorf("the file changed:\n%s", b)
	}
}

// TestVersionHelpAndFlagErrors is issue 13 item 14 on the real binary.
func TestVersionHelpAndFlagErrors(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, "--version")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || !strings.HasPrefix(out.String(), "parley ") || len(strings.TrimSpace(out.String())) <= len("parley") || errb.Len() != 0 {
		t.Errorf("--version: %v, stdout %q, stderr %q", err, out.String(), errb.String())
	}

	out.Reset()
	errb.Reset()
	cmd = exec.Command(bin, "--no-such-flag")
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("an unknown flag: %v, want exit 2", err)
	}
	if n := strings.Count(errb.String(), "no-such-flag"); n != 1 || strings.Contains(errb.String(), "parley: ") {
		t.Errorf("the error is said %d times (want once, without a second 'parley:' line):\n%s", n, errb.String())
	}

	out.Reset()
	errb.Reset()
	cmd = exec.Command(bin, "--help")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Errorf("--help: %v", err)
	}
	help := out.String()
	if errb.Len() != 0 {
		t.Errorf("--help wrote to stderr (it belongs on stdout):\n%s", errb.String())
	}
	for _, want := range []string{"parley.conf", "PARLEY_ADMIN_KEYS", "--version", "-listen", "-msg-rate", "-data", "Connection limits"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help does not mention %q:\n%s", want, help)
		}
	}
}

// TestHealthcheckReadsParleyConf is issue 13 item 12: `parley healthcheck`
// dialled the default ops address even when data/parley.conf moved it.
func TestHealthcheckReadsParleyConf(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer healthy.Close()
	addr := strings.TrimPrefix(healthy.URL, "http://")
	dir := t.TempDir()
	conf := filepath.Join(dir, "parley.conf")
	if err := os.WriteFile(conf, []byte("# ops moved\nPARLEY_OPS="+addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) lookupFunc {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if err := run([]string{"healthcheck", "--data", dir}, noEnvKC, io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck --data DIR with PARLEY_OPS in parley.conf: %v", err)
	}
	if err := run([]string{"healthcheck"}, env(map[string]string{"PARLEY_DATA_DIR": dir}), io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck with PARLEY_DATA_DIR (as in the container): %v", err)
	}
	// The environment and --ops still win over the file.
	if err := run([]string{"healthcheck", "--data", dir}, env(map[string]string{"PARLEY_OPS": "127.0.0.1:1"}), io.Discard, io.Discard); err == nil {
		t.Error("PARLEY_OPS in the environment did not win over parley.conf")
	}
	if err := run([]string{"healthcheck", "--data", dir, "--ops", "127.0.0.1:1"}, noEnvKC, io.Discard, io.Discard); err == nil {
		t.Error("--ops did not win over parley.conf")
	}
	// The ops listener turned off in the file: said, not dialled.
	if err := os.WriteFile(conf, []byte("PARLEY_OPS=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"healthcheck", "--data", dir}, noEnvKC, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("healthcheck with the ops listener off: %v", err)
	}
}
