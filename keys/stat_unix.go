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

// groupOrOtherWritable reports whether fi's mode lets its group or others
// write it.
func groupOrOtherWritable(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o022 != 0 }

// foreignOwner returns fi's owner when it is neither the current user nor
// root.
func foreignOwner(fi fs.FileInfo) (uid int, foreign bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	uid = int(st.Uid)
	return uid, uid != 0 && uid != syscall.Getuid()
}
