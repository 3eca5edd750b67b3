package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// freezableProxy forwards TCP both ways until frozen; then it silently
// drops everything, like a peer whose network vanished.
type freezableProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen bool
}

func (p *freezableProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		frozen := p.frozen
		p.mu.Unlock()
		if frozen {
			continue // swallow
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func startProxy(t *testing.T, target string) *freezableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezableProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				return
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go p.pipe(s, c)
			go p.pipe(c, s)
		}
	}()
	return p
}

func TestKeepalivesReapDeadConnections(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	line := "name=\"ghost\" " + string(gossh.MarshalAuthorizedKey(signer.PublicKey()))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := compose(testConfig{Config: Config{DataDir: dir, KeepaliveInterval: 50 * time.Millisecond, KeepaliveMax: 3}})
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

	proxy := startProxy(t, ln.Addr().String())
	raw, err := net.Dial("tcp", proxy.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn, chans, reqs, err := gossh.NewClientConn(raw, "proxy", &gossh.ClientConfig{
		User: "ghost", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Answer the server's keepalives (as OpenSSH does) and count them.
	keepalives := make(chan struct{}, 100)
	go func() {
		for r := range reqs {
			if r.Type == "keepalive@openssh.com" {
				select {
				case keepalives <- struct{}{}:
				default:
				}
			}
			_ = r.Reply(false, nil)
		}
	}()
	client := gossh.NewClient(conn, chans, nil)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, _ := sess.StdoutPipe()
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, srv, 1)

	// While answering, the connection survives more keepalives than
	// KeepaliveMax.
	for i := 0; i < 6; i++ {
		select {
		case <-keepalives:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d keepalives arrived", i)
		}
	}
	if people, _ := srv.Hub().Online(); people != 1 {
		t.Fatal("a responsive client was dropped")
	}

	proxy.mu.Lock()
	proxy.frozen = true
	proxy.mu.Unlock()
	waitMembers(t, srv, 0)
}

func waitMembers(t *testing.T, srv *composed, want int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if people, _ := srv.Hub().Online(); people == want {
			return
		}
		select {
		case <-deadline:
			people, _ := srv.Hub().Online()
			t.Fatalf("online people = %d, want %d", people, want)
		case <-tick.C:
		}
	}
}
