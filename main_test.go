package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"parley/internal/testkit"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// buildBinary compiles parley once per test run (testkit.Binary).
var buildBinary = testkit.Binary

// TestMain removes the parley binary the tests built once they are done.
func TestMain(m *testing.M) { testkit.Main(m) }

// child is a parley process started for a test: a testkit.Child, with the
// fields under the names these tests use.
type child struct {
	*testkit.Child
	cmd    *exec.Cmd
	stdout *bufio.Reader
	stderr *testkit.LockedBuffer
	addr   string
	ops    string
	banner string
}

// startChild starts the real binary on dataDir (testkit.StartBinary).
func startChild(t *testing.T, dataDir string, args ...string) *child {
	t.Helper()
	c := testkit.StartBinary(t, dataDir, args...)
	return &child{Child: c, cmd: c.Cmd, stdout: c.Stdout, stderr: c.Stderr, addr: c.Addr, ops: c.Ops, banner: c.Banner}
}

// newKey makes a key pair: its signer and its authorized_keys text.
func newKey(t *testing.T) (ssh.Signer, string) { t.Helper(); return testkit.NewKey(t) }

func TestStartupExplainsHowToJoin(t *testing.T) {
	data := t.TempDir()
	c := startChild(t, data)
	for _, want := range []string{"Host key fingerprint: SHA256:", "0 key(s) authorized", "No one can join yet", "ssh -p "} {
		if !strings.Contains(c.banner, want) {
			t.Errorf("startup output lacks %q:\n%s", want, c.banner)
		}
	}
	if fi, err := os.Stat(filepath.Join(data, "ssh", "host_ed25519")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key not written with mode 0600: %v %v", fi, err)
	}
	first := regexp.MustCompile(`SHA256:\S+`).FindString(c.banner)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, c.stderr)
	}
	// The host key is kept across restarts.
	again := startChild(t, data)
	if got := regexp.MustCompile(`SHA256:\S+`).FindString(again.banner); got != first {
		t.Fatalf("host key changed across restart: %s then %s", first, got)
	}
}

func TestSIGTERMTellsUsersAndExitsZero(t *testing.T) {
	data := t.TempDir()
	signer, line := newKey(t)
	if err := os.WriteFile(filepath.Join(data, "authorized_keys"), []byte(`name="alice" `+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, data)
	if !strings.Contains(c.banner, "1 key(s) authorized") {
		t.Fatalf("banner: %s", c.banner)
	}
	client, err := testkit.DialKey(c.addr, "alice", signer, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, _ := sess.StdoutPipe()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	seen := make(chan struct{})
	go func() {
		var all bytes.Buffer
		buf := make([]byte, 4096)
		once := sync.Once{}
		for {
			n, err := out.Read(buf)
			all.Write(buf[:n])
			if strings.Contains(all.String(), "#lobby") {
				once.Do(func() { close(seen) })
			}
			if err != nil {
				got <- all.String()
				return
			}
		}
	}()
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the chat screen never appeared")
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, c.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not exit within 15s of SIGTERM")
	}
	select {
	case all := <-got:
		if !strings.Contains(all, "shutting down") {
			t.Fatalf("client was not told the server is shutting down; got tail %q", tail(all, 300))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client connection did not end")
	}
}

func tail(s string, n int) string { return testkit.Tail(s, n) }

func TestBadConfigurationFailsWithOneClearLine(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad log level", []string{"--log-level", "loud"}, nil, `log level "loud"`},
		{"bad env bool", nil, map[string]string{"PARLEY_NO_SEED_KEYS": "maybe"}, "PARLEY_NO_SEED_KEYS"},
		{"stray argument", []string{"serve"}, nil, `unexpected argument "serve"`},
		{"bad log format", []string{"--log-format", "xml"}, nil, `log format "xml"`},
		{"bad retention", []string{"--retain", "soon"}, nil, `retain "soon"`},
		{"bad message rate", []string{"--msg-rate", "0"}, nil, `--msg-rate must be above 0`},
		{"bad message rate env", nil, map[string]string{"PARLEY_MSG_RATE": "fast"}, `PARLEY_MSG_RATE="fast"`},
		{"bad store", []string{"--store", "mongo", "--ops", "", "--data", "DATA"}, nil, `store "mongo"`},
		{"bad default room", []string{"--default-room", "#no way", "--ops", "", "--data", "DATA"}, nil, `default room`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			args := slices.Clone(tc.args)
			for i, a := range args {
				if a == "DATA" {
					args[i] = t.TempDir()
				}
			}
			err := run(args, lookup, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%v) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestUnwritableDataDirFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"--data", filepath.Join(file, "data"), "--listen", "127.0.0.1:0", "--ops", ""}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "data dir") {
		t.Fatalf("got %v, want a data dir error", err)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	env := map[string]string{"PARLEY_LISTEN": ":3333", "PARLEY_DATA_DIR": "/env/data", "PARLEY_NO_SEED_KEYS": "true"}
	o, err := parseOptions([]string{"--listen", ":4444"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != ":4444" || o.server.DataDir != "/env/data" || o.server.SeedKeys {
		t.Fatalf("got listen=%q data=%q seed=%v", o.listen, o.server.DataDir, o.server.SeedKeys)
	}
	o, err = parseOptions(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != ":2222" || o.server.DataDir != "./data" || !o.server.SeedKeys || o.ops != defaultOps || o.server.Room.DefaultRoom != "lobby" {
		t.Fatalf("defaults: listen=%q data=%q seed=%v ops=%q room=%q", o.listen, o.server.DataDir, o.server.SeedKeys, o.ops, o.server.Room.DefaultRoom)
	}
	// PARLEY_OPS set but empty turns the ops listener off.
	o, err = parseOptions(nil, func(k string) (string, bool) { return "", k == "PARLEY_OPS" }, io.Discard)
	if err != nil || o.ops != "" {
		t.Fatalf("PARLEY_OPS=\"\": ops=%q err=%v", o.ops, err)
	}
}

func noEnv(string) (string, bool) { return "", false }

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func metricValue(body, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestOpsListenerMetricsMoveWhenPeopleChat(t *testing.T) {
	data := t.TempDir()
	signer, line := newKey(t)
	if err := os.WriteFile(filepath.Join(data, "authorized_keys"), []byte(`name="alice" `+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, data, "--ops", "127.0.0.1:0")
	if c.ops == "" {
		t.Fatalf("no ops address in the startup output:\n%s", c.banner)
	}
	if code, body := httpGet(t, "http://"+c.ops+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := httpGet(t, "http://"+c.ops+"/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	bin, _ := buildBinary()
	if out, err := exec.Command(bin, "healthcheck", "--ops", c.ops).CombinedOutput(); err != nil {
		t.Fatalf("parley healthcheck: %v %s", err, out)
	}
	if err := exec.Command(bin, "healthcheck", "--ops", "127.0.0.1:1").Run(); err == nil {
		t.Fatal("healthcheck against a dead address succeeded")
	}
	_, before := httpGet(t, "http://"+c.ops+"/metrics")
	if got := metricValue(before, `parley_messages_total{kind="chat"}`); got != "0" {
		t.Fatalf("chat messages before anyone spoke: %q", got)
	}

	client, err := testkit.DialKey(c.addr, "alice", signer, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Write([]byte("hello metrics\r")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, after := httpGet(t, "http://"+c.ops+"/metrics")
		if metricValue(after, `parley_messages_total{kind="chat"}`) == "1" &&
			metricValue(after, "parley_sessions_active") == "1" &&
			metricValue(after, `parley_auth_total{result="accepted"}`) != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not move:\n%s", grepLines(after, "parley_"))
		}
		<-time.After(20 * time.Millisecond) // poll interval while waiting for the condition

	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestConfigFileSitsUnderEnvironmentAndFlags(t *testing.T) {
	data := t.TempDir()
	conf := "# parley settings\nPARLEY_LISTEN=:5555\nPARLEY_DEFAULT_ROOM = \"general\"\nPARLEY_MSG_BURST=9\n"
	if err := os.WriteFile(filepath.Join(data, "parley.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PARLEY_DATA_DIR": data, "PARLEY_MSG_BURST": "7"}
	lookup, err := withConfigFile(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseOptions([]string{"--listen", ":6666"}, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != ":6666" || o.server.Room.DefaultRoom != "general" || o.server.Defences.Messages.Burst != 7 {
		t.Fatalf("listen %q (flag wins), room %q (file), burst %d (env wins)", o.listen, o.server.Room.DefaultRoom, o.server.Defences.Messages.Burst)
	}
	if err := os.WriteFile(filepath.Join(data, "parley.conf"), []byte("PARLEY_LISTEN=:1\nLISTEN=:2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := withConfigFile([]string{"--data", data}, noEnv); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a bad line: %v", err)
	}
}
