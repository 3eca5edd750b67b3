package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Two parley binaries started with --nats share access (natswire.go wires
// natsaccess): node B, started with no key of its own, takes node A's keys;
// a ban given on node A ends bob's running `tail -f` on node B within 2 s,
// and node B refuses him from then on. Issue 15 (Access).
func TestTwoBinariesWithNATSShareAccess(t *testing.T) {
	url := startJetStream(t)
	root, rootLine := newKey(t)
	bob, bobLine := newKey(t)
	dataA, dataB := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dataA, "authorized_keys"), []byte(`admin,name="root" `+rootLine+"\n"+`name="bob" `+bobLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataB, "authorized_keys"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a := startChild(t, dataA, "--nats", url, "--node", "a")
	b := startChild(t, dataB, "--nats", url, "--node", "b")

	tail := execLines(t, b.addr, bob, "tail -f --json") // bob's key came from node A
	runSSH(t, a.addr, root, "say bob is listening")
	select {
	case <-tail:
	case <-time.After(30 * time.Second):
		t.Fatal("bob's tail -f on node B printed nothing")
	}
	start := time.Now()
	runSSH(t, a.addr, root, "ban bob 1h")
	deadline := time.After(2 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-tail:
		case <-deadline:
			t.Fatal("bob's tail -f on node B still runs 2 s after the ban on node A")
		}
	}
	t.Logf("bob's tail -f on node B ended %v after the ban on node A returned", time.Since(start).Round(time.Millisecond))
	c, err := ssh.Dial("tcp", b.addr, &ssh.ClientConfig{User: "bob", Auth: []ssh.AuthMethod{ssh.PublicKeys(bob)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err == nil {
		c.Close()
		t.Fatal("node B let bob in after the ban on node A")
	}
}
