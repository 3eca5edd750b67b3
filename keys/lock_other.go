//go:build !unix

package keys

import (
	"os"
	"sync"
)

// processLocks is used where flock(2) is not available: it serialises the
// writers of this process only.
var processLocks sync.Map // path -> *sync.Mutex

func mutexFor(f *os.File) *sync.Mutex {
	m, _ := processLocks.LoadOrStore(f.Name(), &sync.Mutex{})
	return m.(*sync.Mutex)
}

func tryLock(f *os.File) (bool, error) { return mutexFor(f).TryLock(), nil }

func waitLock(f *os.File) error { mutexFor(f).Lock(); return nil }

func unlock(f *os.File) error { mutexFor(f).Unlock(); return nil }

// syncDir is a no-op where directories cannot be opened for syncing.
func syncDir(string) error { return nil }
