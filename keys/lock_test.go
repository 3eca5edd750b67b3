package keys

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRemoveWaitsForTheLock is issue 18 item 5 within one process: a
// writer holding the lock has read the file; a Remove of bob running
// meanwhile must wait for it, or the writer's stale copy brings bob back.
func TestRemoveWaitsForTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	writeFile(t, path, expand(t, "{K1} alice\n{K2} bob\n"))

	l, err := Lock(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := l.Read()
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	lockWaitHook = func() { close(waiting) }
	t.Cleanup(func() { lockWaitHook = nil })
	removed := make(chan error, 1)
	go func() {
		_, err := Remove(path, "bob")
		removed <- err
	}()
	select {
	case <-waiting: // Remove is blocked on the lock, as it must be
	case err := <-removed:
		removed <- err
		t.Logf("Remove did not wait for the lock (err %v)", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Remove neither waited nor finished")
	}
	// The other writer finishes its change from the copy it read.
	if err := l.Write(append(stale, expand(t, "{K3} carol\n")...)); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-removed; err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	snap, _ := ParseBytes(data)
	if _, ok := snap.Lookup(testKey(t, 2)); ok {
		t.Fatalf("the removed key is back:\n%s", data)
	}
	if _, ok := snap.Lookup(testKey(t, 3)); !ok {
		t.Fatalf("the other writer's change is lost:\n%s", data)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("a second Unlock: %v", err)
	}
	if _, err := l.Read(); err == nil {
		t.Error("Read after Unlock succeeded")
	}
}

// TestAppendWaitsForTheLock: the same for Append (keys add, join,
// PARLEY_ADMIN_KEYS): it reads the file only once the writer holding the
// lock (here, a remove of bob from the copy it read) is done, or one of
// the two changes would be lost.
func TestAppendWaitsForTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	writeFile(t, path, expand(t, "{K1} alice\n{K2} bob\n"))
	l, err := Lock(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := l.Read()
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	lockWaitHook = func() { close(waiting) }
	t.Cleanup(func() { lockWaitHook = nil })
	appended := make(chan error, 1)
	go func() { appended <- Append(path, testKey(t, 3), "carol", false) }()
	select {
	case <-waiting:
	case err := <-appended:
		appended <- err
		t.Logf("Append did not wait for the lock (err %v)", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Append neither waited nor finished")
	}
	withoutBob := strings.Replace(string(stale), expand(t, "{K2} bob\n"), "", 1)
	if err := l.Write([]byte(withoutBob)); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	snap, _ := ParseBytes(data)
	_, hasBob := snap.Lookup(testKey(t, 2))
	_, hasCarol := snap.Lookup(testKey(t, 3))
	if hasBob || !hasCarol {
		t.Fatalf("after remove bob and add carol (bob %v, carol %v):\n%s", hasBob, hasCarol, data)
	}
}

func TestLockRefusesUnsafePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "authorized_keys")
	writeFile(t, path, expand(t, "{K1} alice\n"))
	if err := CheckPermissions(path); err != nil {
		t.Fatalf("0700 dir, 0600 file: %v", err)
	}
	for _, tc := range []struct {
		name      string
		dir, file os.FileMode
		want      string
	}{
		{"group-writable file", 0o700, 0o660, "the file " + path + " is writable by its group or by others (mode 0660)"},
		{"world-writable file", 0o755, 0o646, "(mode 0646)"},
		{"world-writable dir", 0o777, 0o600, "the directory " + dir + " is writable"},
		{"group-writable dir", 0o770, 0o600, "chmod go-w " + dir},
		{"readable by all is fine", 0o755, 0o644, ""},
	} {
		if err := os.Chmod(dir, tc.dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.file); err != nil {
			t.Fatal(err)
		}
		err := CheckPermissions(path)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnsafePermissions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CheckPermissions = %v, want %q", tc.name, err, tc.want)
		}
		if _, err := Lock(path, nil); !errors.Is(err, ErrUnsafePermissions) {
			t.Errorf("%s: Lock = %v", tc.name, err)
		}
		if err := Append(path, testKey(t, 2), "", false); !errors.Is(err, ErrUnsafePermissions) {
			t.Errorf("%s: Append = %v", tc.name, err)
		}
	}
}
