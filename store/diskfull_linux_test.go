//go:build linux

package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"parley/room"

	sqlite3 "modernc.org/sqlite/lib"
)

// TestDiskFull fills a small file system for real: Append fails, reads carry
// on, and once there is room again the same batch is stored. It needs to
// mount a tmpfs, so it runs only as root (where chmod cannot make a file
// read-only: see TestReadOnlyDatabase for that case).
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	s := openAt(t, filepath.Join(dir, "parley.db")) // closed before the unmount
	ctx := context.Background()
	fill(t, s, "lobby", 1, 10, 10)

	// Take every free block.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()

	batch := make([]room.Message, 100)
	for i := range batch {
		batch[i] = chat("lobby", uint64(11+i), strings.Repeat("a long line to fill pages ", 200))
	}
	err = s.Append(ctx, batch)
	if err == nil {
		t.Fatal("Append on a full disk succeeded")
	}
	if code := sqliteCode(err) & 0xff; code != sqlite3.SQLITE_FULL && code != sqlite3.SQLITE_IOERR {
		t.Errorf("Append on a full disk: %v, want SQLITE_FULL or SQLITE_IOERR", err)
	}
	t.Logf("full disk: %v", err)

	assertRoom(t, s, "lobby", 10)
	if got, err := s.Search(ctx, "lobby", "", "message", 100); err != nil || len(got) != 10 {
		t.Errorf("Search on a full disk: %d results, %v", len(got), err)
	}

	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, batch); err != nil {
		t.Fatalf("Append once there is room again: %v", err)
	}
	assertRoom(t, s, "lobby", 110)
}
