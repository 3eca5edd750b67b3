package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LockSuffix names the lock file next to an authorized_keys file:
// "authorized_keys.lock". It is created on first use and left in place.
// The keys file itself cannot be locked: every change replaces it by
// rename, and a lock on the old inode would not stop the next writer.
const LockSuffix = ".lock"

// Locked is an authorized_keys file held under an exclusive lock, for one
// read-modify-write: every writer of parley (the server's `keys` and
// `join` over SSH, the operator's `parley keys`, first-start seeding,
// PARLEY_ADMIN_KEYS) takes it, from any process, so that no change is made
// on a copy another writer has since replaced, and a removed key never
// comes back. It is an advisory flock(2): an editor that does not take it
// (vi, cat >>) is not stopped. A Locked is used by one goroutine; Unlock
// ends it.
type Locked struct {
	path string
	f    *os.File
}

// lockWaitHook, when set by tests, runs when Lock has to wait.
var lockWaitHook func()

// Lock takes the lock of the authorized_keys file at path, creating the
// lock file (mode 0600, and the directory, mode 0700, if missing). When
// another writer holds it, Lock calls onWait (if not nil) once and blocks
// until the lock is free. It refuses unsafe permissions (CheckPermissions)
// before taking the lock.
func Lock(path string, onWait func()) (*Locked, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("authorized keys: %w", err)
	}
	if err := CheckPermissions(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path+LockSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("authorized keys lock: %w", err)
	}
	got, err := tryLock(f)
	if err == nil && !got {
		if lockWaitHook != nil {
			lockWaitHook()
		}
		if onWait != nil {
			onWait()
		}
		err = waitLock(f)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("authorized keys lock %s: %w", f.Name(), err)
	}
	return &Locked{path: path, f: f}, nil
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Locked) Unlock() error {
	if l.f == nil {
		return nil
	}
	err := unlock(l.f)
	err = errors.Join(err, l.f.Close())
	l.f = nil
	return err
}

// Path returns the authorized_keys file.
func (l *Locked) Path() string { return l.path }

// Read returns the file's content; a missing file reads as nil with an
// error matching fs.ErrNotExist.
func (l *Locked) Read() ([]byte, error) {
	if l.f == nil {
		return nil, errUnlocked
	}
	return readSmallFile(l.path)
}

// Write replaces the file's content atomically (a temporary file renamed
// over it, then the directory synced), keeping its permissions; a new file
// gets mode 0600.
func (l *Locked) Write(data []byte) error {
	if l.f == nil {
		return errUnlocked
	}
	perm := fs.FileMode(0o600)
	if fi, err := os.Stat(l.path); err == nil {
		perm = fi.Mode().Perm()
	}
	return writeFileAtomic(l.path, data, perm)
}

var errUnlocked = errors.New("authorized keys: used after Unlock")

// withLock runs fn with the lock of path held.
func withLock(path string, fn func(*Locked) error) error {
	l, err := Lock(path, nil)
	if err != nil {
		return err
	}
	defer l.Unlock()
	return fn(l)
}
