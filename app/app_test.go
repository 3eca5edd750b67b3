package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"parley/keys"
	"parley/server"
)

// homeWithKey makes a home directory whose ~/.ssh holds one public key
// with the comment tester@example.
func homeWithKey(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pk))) + " tester@example\n"
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

var startAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}

// The composition root seeds a fresh data dir from ~/.ssh, opens the SQLite
// store in it and says so; Close closes the store, so the same data dir
// opens again, keeping its keys and seeding nothing the second time.
func TestNewSeedsAFreshDataDirAndOpensItAgainAfterClose(t *testing.T) {
	dir, home := filepath.Join(t.TempDir(), "data"), homeWithKey(t)
	a, err := New(Config{Config: server.Config{DataDir: dir}, SeedKeys: true, Home: home})
	if err != nil {
		t.Fatal(err)
	}
	out := a.Startup(startAddr)
	for _, want := range []string{`as admin "tester" from your ~/.ssh`, "1 key(s) authorized in " + filepath.Join(dir, "authorized_keys"),
		"History is kept in " + filepath.Join(dir, "parley.db"), "Join with:  ssh -p 2222 localhost"} {
		if !strings.Contains(out, want) {
			t.Errorf("startup output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "authorized_keys"))
	if err != nil {
		t.Fatal(err)
	}
	if snap, _ := keys.ParseBytes(b); snap.Len() != 1 || !snap.Entries()[0].Admin {
		t.Fatalf("authorized_keys after seeding: %d keys %+v", snap.Len(), snap.Entries())
	}
	if err := a.Ready(t.Context()); err != nil {
		t.Errorf("Ready before Close: %v", err)
	}
	if err := a.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Ready(t.Context()); err == nil {
		t.Error("Ready after Close said yes")
	}

	again, err := New(Config{Config: server.Config{DataDir: dir}, SeedKeys: true, Home: home})
	if err != nil {
		t.Fatalf("New on the same data dir after Close: %v", err)
	}
	defer again.Close(t.Context())
	if out := again.Startup(startAddr); strings.Contains(out, "Imported") || !strings.Contains(out, "1 key(s) authorized") {
		t.Errorf("second start seeded again or lost the key:\n%s", out)
	}
}

// Store chooses the implementation: memory says history is lost on
// restart, and an unknown name is refused with the names that work.
func TestNewChoosesTheStore(t *testing.T) {
	a, err := New(Config{Config: server.Config{DataDir: t.TempDir()}, Store: StoreMemory})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(t.Context())
	if out := a.Startup(startAddr); !strings.Contains(out, "History is kept in memory only") {
		t.Errorf("memory store startup:\n%s", out)
	}
	dir := t.TempDir()
	_, err = New(Config{Config: server.Config{DataDir: dir}, Store: "postgres"})
	if err == nil || !strings.Contains(err.Error(), `store "postgres": use sqlite or memory`) {
		t.Fatalf("New with store postgres = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "parley.db")); err == nil {
		t.Error("an unknown store still created parley.db")
	}
}
