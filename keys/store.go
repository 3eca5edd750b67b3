package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWatchInterval is the polling interval Watch uses when given zero.
const DefaultWatchInterval = 2 * time.Second

// maxLoggedProblems caps the per-line warnings logged for one load.
const maxLoggedProblems = 50

// Store holds the current Snapshot of one authorized_keys file and replaces
// it atomically when the file is reloaded. Readers call Current and never
// block on a reload.
type Store struct {
	path string
	log  *slog.Logger
	cur  atomic.Pointer[Snapshot]

	mu       sync.Mutex // serialises loads; guards seen, failed and problems
	seen     fileState  // the file as last loaded
	failed   *fileState // the file as last seen by a failed poll, not retried until it changes
	problems []LineError

	afterPoll func() // test hook, called after each Watch poll
}

// fileState identifies one version of the file.
type fileState struct {
	exists   bool
	size     int64
	mtime    time.Time
	dev, ino uint64
	mode     fs.FileMode // a chmod that makes the file safe again is a change
	sum      [sha256.Size]byte
}

func (a fileState) sameStat(b fileState) bool {
	return a.exists == b.exists && a.size == b.size && a.mtime.Equal(b.mtime) && a.dev == b.dev && a.ino == b.ino && a.mode == b.mode
}

// Open loads the authorized_keys file at path. A missing file gives an empty
// Snapshot (nobody can log in) and a warning, not an error; line problems are
// logged. log may be nil.
func Open(path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: path, log: log}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the file the Store reads.
func (s *Store) Path() string { return s.path }

// Current returns the Snapshot in use. It never returns nil.
func (s *Store) Current() *Snapshot { return s.cur.Load() }

// Problems returns the line problems of the snapshot in use.
func (s *Store) Problems() []LineError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LineError(nil), s.problems...)
}

// Reload re-reads the file and swaps in the new Snapshot, returning the line
// problems. On a read error, or a file others may write (see
// CheckPermissions), the old Snapshot stays in use and the error is
// returned. A missing file loads as empty.
func (s *Store) Reload() ([]LineError, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, data, err := readState(s.path)
	if err != nil {
		return nil, err
	}
	_, errs := s.installLocked(st, data)
	return errs, nil
}

// Watch polls the file every interval and reloads it when it changed: a new
// size, modification time or inode (editors and atomic writers replace the
// file by rename) and then different content, so a touch does not reload.
// A deleted file loads as empty, with a warning. onChange, if not nil, is
// called from Watch's goroutine after each reload. Watch returns when ctx is
// done.
func (s *Store) Watch(ctx context.Context, interval time.Duration, onChange func(*Snapshot, []LineError)) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		snap, errs, changed := s.poll()
		if changed && onChange != nil {
			onChange(snap, errs)
		}
		if s.afterPoll != nil {
			s.afterPoll()
		}
	}
}

// poll reloads the file if it changed since it was last loaded.
func (s *Store) poll() (*Snapshot, []LineError, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, statErr := statState(s.path)
	if statErr == nil && (cur.sameStat(s.seen) || s.failed != nil && cur.sameStat(*s.failed)) {
		return nil, nil, false
	}
	st, data, err := readState(s.path)
	if err != nil {
		if s.failed == nil || statErr == nil { // first failure, or the file changed again
			s.log.Error("authorized keys: cannot read file; keeping the keys loaded before", "path", s.path, "err", err)
		}
		s.failed = &cur
		return nil, nil, false
	}
	s.failed = nil
	if st.exists == s.seen.exists && st.sum == s.seen.sum {
		s.seen = st // touched, or rewritten with the same content
		return nil, nil, false
	}
	snap, errs := s.installLocked(st, data)
	return snap, errs, true
}

// installLocked parses data, swaps the Snapshot in and logs the outcome.
func (s *Store) installLocked(st fileState, data []byte) (*Snapshot, []LineError) {
	snap, errs := ParseBytes(data)
	s.cur.Store(snap)
	s.seen = st
	s.problems = errs
	if !st.exists {
		s.log.Warn("authorized keys file not found; nobody can log in until it exists", "path", s.path)
		return snap, errs
	}
	for i, e := range errs {
		if i == maxLoggedProblems {
			s.log.Warn("authorized keys: more problems not logged", "path", s.path, "count", len(errs)-i)
			break
		}
		msg := "authorized keys: line loaded with a warning"
		if e.Skipped {
			msg = "authorized keys: line skipped"
		}
		s.log.Warn(msg, "path", s.path, "line", e.Line, "reason", e.Msg)
	}
	skipped := 0
	for _, e := range errs {
		if e.Skipped {
			skipped++
		}
	}
	level := slog.LevelInfo
	if skipped > 0 {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "authorized keys loaded", "path", s.path, "keys", snap.Len(), "skipped", skipped, "warnings", len(errs)-skipped)
	return snap, errs
}

// statState stats path without reading it; sum is left zero.
func statState(path string) (fileState, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{}, nil
	}
	if err != nil {
		return fileState{}, err
	}
	return infoState(fi), nil
}

func infoState(fi fs.FileInfo) fileState {
	dev, ino := fileID(fi)
	return fileState{exists: true, size: fi.Size(), mtime: fi.ModTime(), dev: dev, ino: ino, mode: fi.Mode()}
}

// readState reads path and describes the version read. A missing file is an
// empty, non-existent state and no error.
func readState(path string) (fileState, []byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{}, nil, nil
	}
	if err != nil {
		return fileState{}, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileState{}, nil, err
	}
	if !fi.Mode().IsRegular() {
		return fileState{}, nil, fmt.Errorf("%s is not a regular file", path)
	}
	if err := checkSafe(path, false); err != nil {
		return fileState{}, nil, err
	}
	data, err := readLimited(f)
	if err != nil {
		return fileState{}, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	st := infoState(fi)
	st.sum = sha256.Sum256(data)
	return st, data, nil
}

// readLimited reads r up to MaxFileBytes.
func readLimited(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if n > MaxFileBytes {
		return nil, fmt.Errorf("file is larger than %d bytes", MaxFileBytes)
	}
	return buf.Bytes(), nil
}
