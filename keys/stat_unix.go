//go:build unix

package keys

import (
	"io/fs"
	"syscall"
)

// fileID returns the device and inode of fi, so a file replaced by rename is
// noticed even when its size and mtime match.
func fileID(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}
