package server

import (
	"crypto/ed25519"
	"crypto/rand"
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
	added, err := importAdminKeys(path, []string{alice, bobFile})
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
	if added, err := importAdminKeys(path, []string{alice, bobFile}); err != nil || len(added) != 0 {
		t.Fatalf("second import added %v, err %v", added, err)
	}
	if _, err := importAdminKeys(path, []string{"/no/such/file"}); err == nil {
		t.Fatal("a missing file was accepted")
	}
}
