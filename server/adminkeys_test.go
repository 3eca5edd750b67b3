package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"parley/keys"
)

func pubLine(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := gossh.NewPublicKey(pub)
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))) + " " + comment
}

func TestAdminKeysFromEnvironmentAreAddedOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	alice := pubLine(t, "alice@laptop")
	bobFile := filepath.Join(dir, "bob.pub")
	if err := os.WriteFile(bobFile, []byte(pubLine(t, "bob@phone")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	added, err := ImportAdminKeys(path, []string{alice, bobFile})
	if err != nil || len(added) != 2 {
		t.Fatalf("added %v, err %v", added, err)
	}
	data, _ := os.ReadFile(path)
	snap, problems := keys.ParseBytes(data)
	if len(problems) != 0 || snap.Len() != 2 {
		t.Fatalf("file: %d keys, problems %v\n%s", snap.Len(), problems, data)
	}
	for _, name := range []string{"alice", "bob"} {
		if e, ok := snap.ByName(name); !ok || !e.Admin {
			t.Fatalf("%s is not an admin: %+v", name, e)
		}
	}
	// A second start adds nothing.
	if added, err := ImportAdminKeys(path, []string{alice, bobFile}); err != nil || len(added) != 0 {
		t.Fatalf("second import added %v, err %v", added, err)
	}
	if _, err := ImportAdminKeys(path, []string{"/no/such/file"}); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// TestKeysOverSSHWaitForTheFileLock is issue 18 item 5 over SSH: an
// admin's `keys remove bob` while another process (here, the test) holds
// the file lock and has read the file waits, says so, and removes bob from
// the file that process leaves, so the revoked key does not come back.
func TestKeysOverSSHWaitForTheFileLock(t *testing.T) {
	root, bob, carol := newTUser(t, "root"), newTUser(t, "bob"), newTUser(t, "carol")
	ts := startTestServer(t, "", root.line("admin"), bob.line(""))
	path := filepath.Join(ts.dir, "authorized_keys")
	l, err := keys.Lock(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	stale, err := l.Read()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ts.start(t, root, "keys remove bob")
	eventually(t, "keys remove to say it waits for the lock", func() bool {
		return strings.Contains(s.stderr.String(), "waiting for another change to "+path)
	})
	if err := l.Write(append(stale, carol.line("")+"\n"...)); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if code := s.exit(t); code != 0 {
		t.Fatalf("keys remove bob: exit %d, stderr %q", code, s.stderr.String())
	}
	eventually(t, "bob gone and carol in", func() bool {
		snap := ts.srv.Keys().Current()
		_, hasBob := snap.Lookup(bob.signer.PublicKey())
		_, hasCarol := snap.Lookup(carol.signer.PublicKey())
		return !hasBob && hasCarol
	})
	if c, err := ts.dial(bob, ""); err == nil {
		c.Close()
		t.Fatal("bob's removed key gets in")
	}
}

// TestKeysRemoveOverSSHExplainsParleyAdminKeys is issue 18 item 5: a key
// PARLEY_ADMIN_KEYS names is added back on every start; an admin who
// removes it over SSH is told so.
func TestKeysRemoveOverSSHExplainsParleyAdminKeys(t *testing.T) {
	root, ann, bob := newTUser(t, "root"), newTUser(t, "ann"), newTUser(t, "bob")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(root.line("admin")+"\n"+bob.line("")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts, startup := startServerWith(t, testConfig{Config: Config{DataDir: dir, AdminKeys: []string{ann.line("")}}})
	if !strings.Contains(startup, "Added admin key "+ann.fp+" from PARLEY_ADMIN_KEYS") {
		t.Fatalf("startup:\n%s", startup)
	}
	if r := ts.run(t, root, "", "keys remove ann", ""); r.code != 0 || !strings.Contains(r.stdout, AdminKeysNote) {
		t.Errorf("keys remove ann: %+v", r)
	}
	if r := ts.run(t, root, "", "keys remove bob", ""); r.code != 0 || strings.Contains(r.stdout, "PARLEY_ADMIN_KEYS") {
		t.Errorf("keys remove bob: %+v", r)
	}
	// And it is true: the next start adds ann again.
	ts.srv.Close(context.Background())
	_, startup = startServerWith(t, testConfig{Config: Config{DataDir: dir, AdminKeys: []string{ann.line("")}}})
	if !strings.Contains(startup, "Added admin key "+ann.fp+" from PARLEY_ADMIN_KEYS") {
		t.Fatalf("second start:\n%s", startup)
	}
}

// TestServerRefusesUnsafePermissions is issue 18 item 5: as OpenSSH's
// StrictModes, the server does not start on a data dir or authorized_keys
// that others can write.
func TestServerRefusesUnsafePermissions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dir, file os.FileMode
		want      string
	}{
		{"group-writable authorized_keys", 0o700, 0o620, "authorized_keys is writable by its group or by others (mode 0620)"},
		{"world-writable data dir", 0o777, 0o600, "is writable by its group or by others (mode 0777)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "authorized_keys")
			if err := os.WriteFile(path, []byte(pubLine(t, "ann")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.file); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.dir); err != nil {
				t.Fatal(err)
			}
			_, err := compose(testConfig{Config: Config{DataDir: dir}})
			if !errors.Is(err, keys.ErrUnsafePermissions) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "chmod go-w") {
				t.Fatalf("New = %v, want a refusal mentioning %q", err, tc.want)
			}
		})
	}
}
