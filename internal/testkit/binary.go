package testkit

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Binary builds the parley binary once per test binary (that is, once per
// package run, whichever test asks first) and returns its path. The build
// runs `go build parley` from the test's working directory, which is
// inside the module. A package that uses it removes the build in its
// TestMain with RemoveBinary.
var Binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "parley-bin-")
	if err != nil {
		return "", err
	}
	binDir.Store(&dir)
	bin := filepath.Join(dir, "parley")
	out, err := exec.Command("go", "build", "-o", bin, "parley").CombinedOutput()
	if err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

// binDir is the directory Binary built into, once it has.
var binDir atomic.Pointer[string]

// RemoveBinary removes what Binary built, if it built anything. Call it
// from TestMain after m.Run, when no test runs the binary any more.
func RemoveBinary() error {
	if dir := binDir.Load(); dir != nil {
		return os.RemoveAll(*dir)
	}
	return nil
}

// Main runs a package's tests and then removes the binary they built:
// func TestMain(m *testing.M) { testkit.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if err := RemoveBinary(); err != nil {
		fmt.Fprintf(os.Stderr, "testkit: remove the test binary: %v\n", err)
	}
	os.Exit(code)
}

// Child is a parley process started for a test. Stdout is left for the
// test to read after the startup banner; Stderr collects the log.
type Child struct {
	Cmd    *exec.Cmd
	Stdout *bufio.Reader
	Stderr *LockedBuffer
	Addr   string // the SSH listener, from the banner
	Ops    string // the ops listener (metrics, health), from the banner; "" when off
	Banner string // stdout up to and including the "Join with:" line
}

var (
	listeningRE = regexp.MustCompile(`listening on (\S+)`)
	opsRE       = regexp.MustCompile(`checks on http://(\S+)/metrics`)
)

// StartBinary starts the parley binary on dataDir, listening on
// 127.0.0.1:0 without seeding keys and (unless args set --ops) without the
// ops listener, and reads its startup banner. Cleanup kills it.
func StartBinary(t testing.TB, dataDir string, args ...string) *Child {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	base := []string{"--listen", "127.0.0.1:0", "--data", dataDir, "--no-seed-keys"}
	if !slices.Contains(args, "--ops") {
		base = append(base, "--ops", "")
	}
	if !slices.Contains(args, "--web") { // the web page's default port would be shared
		base = append(base, "--web", "")
	}
	cmd := exec.Command(bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &Child{Cmd: cmd, Stdout: bufio.NewReader(out), Stderr: &LockedBuffer{}}
	cmd.Stderr = c.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var banner strings.Builder
	for {
		line, err := c.Stdout.ReadString('\n')
		banner.WriteString(line)
		if err != nil {
			t.Fatalf("server output ended before the join line: %v\n%s\nstderr: %s", err, banner.String(), c.Stderr)
		}
		if m := listeningRE.FindStringSubmatch(line); m != nil {
			c.Addr = m[1]
		}
		if m := opsRE.FindStringSubmatch(line); m != nil {
			c.Ops = m[1]
		}
		if strings.HasPrefix(line, "Join with:") {
			break
		}
	}
	c.Banner = banner.String()
	return c
}

// WaitExit waits for the child to exit and returns its exit error; after
// timeout it kills the child and fails the test.
func (c *Child) WaitExit(t testing.TB, timeout time.Duration) error {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- c.Cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-time.After(timeout):
		_ = c.Cmd.Process.Kill()
		<-exited
		t.Fatalf("the server did not exit within %v; stderr:\n%s", timeout, Tail(c.Stderr.String(), 3000))
		return nil
	}
}
