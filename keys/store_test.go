package keys

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenMissingFile(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "authorized_keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Current() == nil || s.Current().Len() != 0 {
		t.Fatal("missing file should be an empty snapshot")
	}
}

func TestOpenLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	writeFile(t, path, expand(t, "{K1} alice\ncommand=\"x\" {K2} bob\n"))
	var buf bytes.Buffer
	s, err := Open(path, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Current().Len() != 1 {
		t.Fatalf("Len = %d", s.Current().Len())
	}
	out := buf.String()
	for _, want := range []string{"line=2", `option \"command\" is not supported`, "keys=1", "skipped=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "AAAA") {
		t.Errorf("log contains key material:\n%s", out)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	writeFile(t, path, expand(t, "{K1} alice\n"))
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := s.Current()

	writeFile(t, path, expand(t, "{K1} alice\n{K2} bob\nbogus\n"))
	errs, err := s.Reload()
	if err != nil || len(errs) != 1 || errs[0].Line != 3 {
		t.Fatalf("Reload = %v, %v", errs, err)
	}
	if s.Current().Len() != 2 || old.Len() != 1 {
		t.Fatalf("new %d, old %d", s.Current().Len(), old.Len())
	}

	// An I/O error keeps the snapshot in use.
	cur := s.Current()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err == nil {
		t.Fatal("Reload of a directory succeeded")
	}
	if s.Current() != cur {
		t.Fatal("snapshot replaced after a failed reload")
	}

	// A deleted file is an empty snapshot.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err != nil || s.Current().Len() != 0 {
		t.Fatalf("Reload of missing file: %v, len %d", err, s.Current().Len())
	}
}

// watchHarness runs Watch with a short interval and records what it reports.
type watchHarness struct {
	store   *Store
	path    string
	changes chan *Snapshot
	polls   chan struct{}
}

func startWatch(t *testing.T, content string) *watchHarness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authorized_keys")
	if content != "" {
		writeFile(t, path, content)
	}
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &watchHarness{store: s, path: path, changes: make(chan *Snapshot, 16), polls: make(chan struct{}, 1)}
	s.afterPoll = func() {
		select {
		case h.polls <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, 5*time.Millisecond, func(snap *Snapshot, _ []LineError) { h.changes <- snap })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return after cancel")
		}
	})
	return h
}

// waitFor waits for a reported change whose snapshot has n keys. os.WriteFile
// truncates before it writes, so a poll may first see an empty file.
func (h *watchHarness) waitFor(t *testing.T, n int) *Snapshot {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case snap := <-h.changes:
			if snap.Len() == n {
				return snap
			}
		case <-deadline:
			t.Fatalf("no change to %d keys reported", n)
			return nil
		}
	}
}

// waitPolls waits until Watch has completed a poll that started after the
// call: after draining, the first signal may still come from a poll that was
// under way, the second cannot.
func (h *watchHarness) waitPolls(t *testing.T) {
	t.Helper()
	select {
	case <-h.polls:
	default:
	}
	for range 2 {
		select {
		case <-h.polls:
		case <-time.After(10 * time.Second):
			t.Fatal("Watch stopped polling")
		}
	}
}

func TestWatchEdit(t *testing.T) {
	h := startWatch(t, expand(t, "{K1} alice\n"))
	writeFile(t, h.path, expand(t, "{K1} alice\n{K2} bob\n"))
	snap := h.waitFor(t, 2)
	if h.store.Current() != snap {
		t.Fatal("Current is not the reported snapshot")
	}
}

func TestWatchAtomicRename(t *testing.T) {
	h := startWatch(t, expand(t, "{K1} alice\n"))
	fi, err := os.Stat(h.path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ino := fileID(fi); ino == 0 {
		t.Skip("no inode numbers on this platform")
	}
	// Same size and mtime: only the inode tells the file was replaced.
	tmp := h.path + ".tmp"
	writeFile(t, tmp, expand(t, "{K2} bobby\n"))
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, h.path); err != nil {
		t.Fatal(err)
	}
	snap := h.waitFor(t, 1)
	if e, ok := snap.Lookup(testKey(t, 2)); !ok || e.Name != "bobby" {
		t.Fatalf("after rename: %+v", snap.Entries())
	}
}

func TestWatchTouchDoesNotFire(t *testing.T) {
	h := startWatch(t, expand(t, "{K1} alice\n"))
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(h.path, later, later); err != nil {
		t.Fatal(err)
	}
	h.waitPolls(t)
	select {
	case <-h.changes:
		t.Fatal("a touch fired onChange")
	default:
	}
	// The watcher is still alive and notices a real edit.
	writeFile(t, h.path, expand(t, "{K1} alice\n{K2} bob\n"))
	h.waitFor(t, 2)
}

func TestWatchDeleteAndCreate(t *testing.T) {
	h := startWatch(t, expand(t, "{K1} alice\n"))
	if err := os.Remove(h.path); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, 0)
	writeFile(t, h.path, expand(t, "{K2} bob\n"))
	h.waitFor(t, 1)
}

func TestWatchKeepsSnapshotOnReadError(t *testing.T) {
	h := startWatch(t, expand(t, "{K1} alice\n"))
	cur := h.store.Current()
	// Replace the file atomically by a symlink to itself: stat and open fail
	// with ELOOP, which is not "file missing".
	tmp := h.path + ".tmp"
	if err := os.Symlink(filepath.Base(h.path), tmp); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := os.Rename(tmp, h.path); err != nil {
		t.Fatal(err)
	}
	h.waitPolls(t)
	select {
	case <-h.changes:
		t.Fatal("a read error fired onChange")
	default:
	}
	if h.store.Current() != cur {
		t.Fatal("snapshot replaced after a read error")
	}
}

// TestWatchRefusesAFileOthersCanWrite: a file made group- or
// world-writable is not loaded (the keys loaded before stay), as OpenSSH's
// StrictModes refuses it; made safe again, it loads.
func TestWatchRefusesAFileOthersCanWrite(t *testing.T) {
	h := startWatch(t, expand(t, "{K1} alice\n"))
	cur := h.store.Current()
	if err := os.Chmod(h.path, 0o666); err != nil {
		t.Fatal(err)
	}
	writeFile(t, h.path, expand(t, "{K1} alice\n{K2} bob\n"))
	h.waitPolls(t)
	if h.store.Current() != cur {
		t.Fatal("a world-writable file was loaded")
	}
	if _, err := h.store.Reload(); !errors.Is(err, ErrUnsafePermissions) {
		t.Fatalf("Reload = %v", err)
	}
	if err := os.Chmod(h.path, 0o600); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, 2)
}

func TestReloadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	writeFile(t, path, expand(t, "{K1} alice\n"))
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, strings.Repeat("#", MaxFileBytes+1))
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Reload = %v", err)
	}
	if s.Current().Len() != 1 {
		t.Fatal("snapshot replaced after a failed reload")
	}
}
