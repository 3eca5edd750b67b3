//go:build !unix

package keys

import "io/fs"

// fileID is not available here; size, mtime and the content hash still
// detect changes.
func fileID(fs.FileInfo) (dev, ino uint64) { return 0, 0 }

// groupOrOtherWritable is false here: there are no Unix permissions to check.
func groupOrOtherWritable(fs.FileInfo) bool { return false }

// foreignOwner is not available here.
func foreignOwner(fs.FileInfo) (int, bool) { return 0, false }
