package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/internal/testkit"
)

// searchOnScreen opens a terminal session as user on addr and runs
// /search words until the answer lists a message matching want (a node's
// index is fed from the streams a moment after a message is acknowledged,
// so an early answer may find nothing: it asks again, within a deadline).
func searchOnScreen(t *testing.T, s *testkit.Session, words string, want *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(testkit.WaitTimeout)
	for {
		s.Say(t, "/search "+words)
		held, screen, _ := s.Await(5*time.Second, nil, func(screen string, _ []byte) bool { return want.MatchString(screen) })
		if held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /search %s never listed %v; last screen:\n%s", s.Name(), words, want, testkit.Frame(screen))
		}
	}
}

// parleyCmd runs the parley binary with args and returns its output and
// exit code; one still running after a deadline (a server that should
// have refused to start) is killed and fails the test.
func parleyCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin, err := testkit.Binary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("parley %s: still running after %v:\n%s", strings.Join(args, " "), testkit.WaitTimeout, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("parley %s: %v", strings.Join(args, " "), err)
	}
	return string(out), code
}

// A single node's history moves into the cluster with `parley cluster
// import` (refused at start until it has; importing twice publishes
// nothing twice), and then two nodes (the real binary) on one JetStream
// are one searchable history: /search in a terminal on node B finds what
// was said on node A before and after the move; after node B was stopped,
// what was said while it was down; and what node A stored while it ran
// alone without --nats, once imported. Issue 15 items 1 and 3.
func TestSearchOnNodeBFindsWhatNodeASaid(t *testing.T) {
	url := startJetStream(t)
	alice, aliceLine := newKey(t)
	bob, bobLine := newKey(t)
	keysFile := `admin,name="alice" ` + aliceLine + "\n" + `name="bob" ` + bobLine + "\n"
	dataA, dataB := t.TempDir(), t.TempDir()
	for _, d := range []string{dataA, dataB} {
		if err := os.WriteFile(filepath.Join(d, "authorized_keys"), []byte(keysFile), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// Node A alone, as before the cluster.
	single := startChild(t, dataA, "--msg-rate", "inf")
	runSSH(t, single.addr, alice, "say kiwi said before the cluster")
	if err := single.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := single.WaitExit(t, 20*time.Second); err != nil {
		t.Fatalf("single node exit: %v", err)
	}

	natsArgs := []string{"--listen", "127.0.0.1:0", "--data", dataA, "--no-seed-keys", "--ops", "", "--web", "", "--nats", url}
	out, code := parleyCmd(t, natsArgs...)
	if code != 1 || !strings.Contains(out, "parley cluster import") || !strings.Contains(out, "#lobby") {
		t.Fatalf("a node with history from before the cluster started with --nats: exit %d\n%s", code, out)
	}
	out, code = parleyCmd(t, "cluster", "import", "--data", dataA, "--nats", url)
	if code != 0 || !regexp.MustCompile(`#lobby: [1-9]\d* messages published into PARLEY_ROOM_lobby, 0 were there already`).MatchString(out) {
		t.Fatalf("cluster import: exit %d\n%s", code, out)
	}
	out, code = parleyCmd(t, "cluster", "import", "--data", dataA, "--nats", url)
	if code != 0 || !strings.Contains(out, "Nothing to import") && !strings.Contains(out, "#lobby: 0 messages published") {
		t.Fatalf("cluster import again: exit %d\n%s", code, out)
	}

	a := startChild(t, dataA, "--nats", url, "--node", "a", "--msg-rate", "inf")
	b := startChild(t, dataB, "--nats", url, "--node", "b", "--msg-rate", "inf")
	runSSH(t, a.addr, alice, "say pineapple said on node a")

	conn, err := testkit.DialKey(b.addr, "bob", bob, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s, err := testkit.Open(t, conn, testkit.TermOptions{Name: "bob", W: 110, H: 30})
	if err != nil {
		t.Fatal(err)
	}
	s.Expect(t, "pineapple said on node a")
	// A search result is numbered ("#N Dec 7 12:00 alice: ..."), unlike
	// the conversation's lines.
	searchOnScreen(t, s, "pineapple", regexp.MustCompile(`#\d+ \w+ +\d+ \d\d:\d\d alice: pineapple said on node a`))
	searchOnScreen(t, s, "kiwi", regexp.MustCompile(`#\d+ \w+ +\d+ \d\d:\d\d alice: kiwi said before the cluster`))

	// Node A indexed the imported history from the stream, not twice.
	runSSH(t, a.addr, alice, "say mango said after the move")
	conn2, err := testkit.DialKey(a.addr, "alice", alice, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testkit.Open(t, conn2, testkit.TermOptions{Name: "alice", W: 110, H: 30})
	if err != nil {
		t.Fatal(err)
	}
	sa.Expect(t, "mango said after the move")
	searchOnScreen(t, sa, "said", regexp.MustCompile(`3 found for "said"`))

	// Node B stops; what is said meanwhile on node A is in B's index
	// when it starts again, from where it stopped.
	s.Close()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitExit(t, 20*time.Second); err != nil {
		t.Fatalf("node b exit: %v", err)
	}
	runSSH(t, a.addr, alice, "say papaya said while b was down")
	b = startChild(t, dataB, "--nats", url, "--node", "b", "--msg-rate", "inf")
	conn3, err := testkit.DialKey(b.addr, "bob", bob, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := testkit.Open(t, conn3, testkit.TermOptions{Name: "bob again", W: 110, H: 30})
	if err != nil {
		t.Fatal(err)
	}
	searchOnScreen(t, sb, "said", regexp.MustCompile(`4 found for "said"`))
	searchOnScreen(t, sb, "papaya", regexp.MustCompile(`#\d+ \w+ +\d+ \d\d:\d\d alice: papaya said while b was down`))

	// Node A runs alone for a while on its index (without --nats): what
	// it stores then is refused at its next cluster start until imported,
	// and the import moves only that.
	sa.Close()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitExit(t, 20*time.Second); err != nil {
		t.Fatalf("node a exit: %v", err)
	}
	alone := startChild(t, dataA, "--msg-rate", "inf")
	runSSH(t, alone.addr, alice, "say lemon said while a ran alone")
	if err := alone.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := alone.WaitExit(t, 20*time.Second); err != nil {
		t.Fatalf("node a alone exit: %v", err)
	}
	out, code = parleyCmd(t, natsArgs...)
	if code != 1 || !strings.Contains(out, "#lobby (1 messages said while this node ran without --nats)") {
		t.Fatalf("node a with messages not in the cluster started with --nats: exit %d\n%s", code, out)
	}
	out, code = parleyCmd(t, "cluster", "import", "--data", dataA, "--nats", url)
	if code != 0 || !strings.Contains(out, "#lobby: 1 messages published into PARLEY_ROOM_lobby, 0 were there already") {
		t.Fatalf("cluster import of what node a said alone: exit %d\n%s", code, out)
	}
	startChild(t, dataA, "--nats", url, "--node", "a", "--msg-rate", "inf")
	searchOnScreen(t, sb, "said", regexp.MustCompile(`5 found for "said"`))
	searchOnScreen(t, sb, "lemon", regexp.MustCompile(`#\d+ \w+ +\d+ \d\d:\d\d alice: lemon said while a ran alone`))
}

// `parley cluster` says how it is used, and what is missing, with exit
// status 2; a data dir without parley.db is an error that names it.
func TestClusterImportUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{nil, "Usage: parley cluster import", 2},
		{[]string{"export"}, "Usage: parley cluster import", 2},
		{[]string{"import", "--data", dir}, "--nats URL (or PARLEY_NATS_URL) is needed", 2},
		{[]string{"import", "--data", dir, "--nats", "nats://127.0.0.1:1", "extra"}, `unexpected "extra"`, 2},
		{[]string{"import", "--data", dir, "--nats", "nats://127.0.0.1:1"}, "no history to import", 1},
	} {
		var out, errOut strings.Builder
		err := run(append([]string{"cluster"}, c.args...), noEnv, &out, &errOut)
		code := 0
		var ec exitCode
		switch {
		case errors.As(err, &ec):
			code = int(ec)
		case err != nil:
			code = 1
			errOut.WriteString(err.Error())
		}
		if code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("parley cluster %v: exit %d, stderr %q; want %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "parley.db")); err == nil {
		t.Error("a refused import created parley.db")
	}
}
