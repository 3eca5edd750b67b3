package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Window changes sent before the shell used to wedge the session's request
// loop (charm/ssh's one-slot channel had no reader yet): the shell request
// was never answered.
func TestWindowChangesBeforeTheShellDoNotWedgeTheSession(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	line := `name="wendy" ` + string(gossh.MarshalAuthorizedKey(signer.PublicKey()))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := compose(testConfig{Config: Config{DataDir: dir}, Store: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	client, err := gossh.Dial("tcp", ln.Addr().String(), &gossh.ClientConfig{
		User: "wendy", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := sess.WindowChange(30+i, 100+i); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := sess.StdoutPipe()
	started := make(chan error, 1)
	go func() { started <- sess.Shell() }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("shell: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the shell request was never answered")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	waitMembers(t, srv, 1)
}
