package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/ssh"

	"parley/app"
)

func TestNATSFlagsOverEnvironment(t *testing.T) {
	env := map[string]string{"PARLEY_NATS_URL": "nats://a:4222,nats://b:4222", "PARLEY_NODE": "envnode", "PARLEY_NATS_REPLICAS": "3"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	o, err := parseOptions(nil, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.nats.urls != env["PARLEY_NATS_URL"] || o.nats.node != "envnode" || o.nats.replicas != 3 {
		t.Fatalf("from the environment: %+v", o.nats)
	}
	o, err = parseOptions([]string{"--nats", "nats://c:4222", "--node", "flagnode", "--nats-replicas", "1"}, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.nats.urls != "nats://c:4222" || o.nats.node != "flagnode" || o.nats.replicas != 1 {
		t.Fatalf("flags over the environment: %+v", o.nats)
	}
	o, err = parseOptions(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if o.nats.urls != "" || o.nats.node != host || o.nats.replicas != 1 {
		t.Fatalf("defaults: %+v, want no NATS and the host name %q", o.nats, host)
	}
	if got := redactURLs("nats://u:secret@h:4222,tls://h2:4222,v:pw@h3"); strings.Contains(got, "secret") || strings.Contains(got, "pw") || !strings.Contains(got, "tls://h2:4222") {
		t.Fatalf("redactURLs: %q", got)
	}
}

// startJetStream runs an embedded NATS server with JetStream on a free
// loopback port for the test and returns its URL.
func startJetStream(t *testing.T) string {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return srv.ClientURL()
}

// execLines runs command over SSH on addr as signer and sends each line it
// prints to the returned channel (closed when the command ends).
func execLines(t *testing.T, addr string, signer ssh.Signer, command string) <-chan string {
	t.Helper()
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(command); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// runSSH runs command over SSH and fails the test unless it exits 0.
func runSSH(t *testing.T, addr string, signer ssh.Signer, command string) {
	t.Helper()
	runSSHInput(t, addr, signer, command, "")
}

// runSSHInput is runSSH with stdin.
func runSSHInput(t *testing.T, addr string, signer ssh.Signer, command, stdin string) {
	t.Helper()
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Error(err)
		return
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Error(err)
		return
	}
	sess.Stdin = strings.NewReader(stdin)
	if out, err := sess.CombinedOutput(command); err != nil {
		t.Errorf("ssh %s: %v %s", command, err, out)
	}
}

type tailLine struct {
	ID   uint64 `json:"id"`
	From string `json:"from"`
	Text string `json:"text"`
}

// readTail reads JSON lines from lines until it has n, and fails the test
// after a deadline.
func readTail(t *testing.T, lines <-chan string, n int) []tailLine {
	t.Helper()
	var got []tailLine
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("tail ended after %d lines: %+v", len(got), got)
			}
			var tl tailLine
			if err := json.Unmarshal([]byte(l), &tl); err != nil {
				t.Fatalf("tail printed %q: %v", l, err)
			}
			got = append(got, tl)
		case <-deadline:
			t.Fatalf("tail printed %d of %d lines: %+v", len(got), n, got)
		}
	}
	return got
}

// Two parley processes started with --nats on one JetStream server are one
// chat: what is said on either is printed by `tail -f` on both, in the same
// order with the same numbers, and a tail started later on the other node
// prints what was said before it. Issue 15, first slice.
func TestTwoBinariesWithNATSAreOneChat(t *testing.T) {
	url := startJetStream(t)
	alice, aliceLine := newKey(t)
	bob, bobLine := newKey(t)
	keysFile := `admin,name="alice" ` + aliceLine + "\n" + `name="bob" ` + bobLine + "\n"
	natsArgs := []string{"--nats", url}
	var nodes []*child
	for _, name := range []string{"a", "b"} {
		data := t.TempDir()
		if err := os.WriteFile(filepath.Join(data, "authorized_keys"), []byte(keysFile), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startChild(t, data, append(natsArgs, "--node", name, "--msg-rate", "inf")...))
	}
	a, b := nodes[0], nodes[1]

	runSSH(t, a.addr, alice, "say said before the tails")
	early := readTail(t, execLines(t, b.addr, bob, "tail -f -n 1 --json"), 1)
	if early[0].Text != "said before the tails" || early[0].From != "alice" {
		t.Fatalf("node B's tail -n 1 printed %+v, want alice's message from node A", early[0])
	}

	tails := []<-chan string{execLines(t, a.addr, alice, "tail -f --json"), execLines(t, b.addr, bob, "tail -f --json")}
	// A line from each node, read by both tails, so both are subscribed.
	runSSH(t, a.addr, alice, "say ready a")
	runSSH(t, b.addr, bob, "say ready b")
	for _, tl := range tails {
		readTail(t, tl, 2)
	}
	const each = 10
	var wg sync.WaitGroup
	for _, n := range []struct {
		c      *child
		signer ssh.Signer
		who    string
	}{{a, alice, "alice"}, {b, bob, "bob"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lines strings.Builder
			for i := range each {
				fmt.Fprintf(&lines, "%s %d\n", n.who, i)
			}
			runSSHInput(t, n.c.addr, n.signer, "say", lines.String()) // a message per line
		}()
	}
	wg.Wait()
	seenA, seenB := readTail(t, tails[0], 2*each), readTail(t, tails[1], 2*each)
	mine := map[string]int{}
	for i := range seenA {
		if seenA[i] != seenB[i] {
			t.Fatalf("line %d: node A printed %+v, node B %+v", i, seenA[i], seenB[i])
		}
		if want := fmt.Sprintf("%s %d", seenA[i].From, mine[seenA[i].From]); seenA[i].Text != want {
			t.Fatalf("line %d is %q, want %q (a sender's own order)", i, seenA[i].Text, want)
		}
		mine[seenA[i].From]++
		if i > 0 && seenA[i].ID <= seenA[i-1].ID {
			t.Fatalf("line %d has id %d after %d", i, seenA[i].ID, seenA[i-1].ID)
		}
	}
}

// A node pointed at a NATS server without JetStream refuses to start with a
// line that says what to fix, and leaves the configuration as it was.
func TestNATSWithoutJetStreamIsRefused(t *testing.T) {
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	cfg := app.Defaults()
	_, _, err = natsOptions{urls: srv.ClientURL(), node: "n", replicas: 1}.wire(&cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "JetStream is not enabled") {
		t.Fatalf("wire against a server without JetStream: %v", err)
	}
	if cfg.Room.Log != nil || cfg.Room.History != nil {
		t.Fatal("a refused NATS still became the hub's Log")
	}
}

// Replicas a single server cannot hold are refused at start, instead of
// every message failing later.
func TestNATSReplicasNeedACluster(t *testing.T) {
	url := startJetStream(t)
	cfg := app.Defaults()
	_, _, err := natsOptions{urls: url, node: "n", replicas: 3}.wire(&cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "needs a NATS cluster") {
		t.Fatalf("wire with 3 replicas on one server: %v", err)
	}
	closeNATS, _, err := natsOptions{urls: url, node: "n", replicas: 1}.wire(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeNATS()
	if cfg.Room.Log == nil || cfg.Room.History == nil {
		t.Fatal("wire did not make the JetStream log the hub's Log and History")
	}
}
