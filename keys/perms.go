package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrUnsafePermissions is returned (wrapped, with the path, the mode and
// the fix) by CheckPermissions when a file or directory that decides who
// may log in can be changed by someone other than its owner.
var ErrUnsafePermissions = errors.New("unsafe permissions")

// CheckPermissions refuses, as OpenSSH's StrictModes does, an
// authorized_keys file at path, or the directory that holds it, that is
// writable by its group or by others, or that is owned by someone other
// than the user running parley or root: whoever can write either can let
// themselves in (the directory, by renaming another file over path). A
// missing file is fine; the directory must exist. On systems without Unix
// permissions it checks nothing.
func CheckPermissions(path string) error {
	if err := checkSafe(filepath.Dir(path), true); err != nil {
		return err
	}
	return checkSafe(path, false)
}

// checkSafe checks one path; a missing file (not directory) passes.
func checkSafe(path string, isDir bool) error {
	fi, err := os.Stat(path)
	if !isDir && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	what := "the file"
	if isDir {
		what = "the directory"
	}
	if perm := fi.Mode().Perm(); groupOrOtherWritable(fi) {
		return fmt.Errorf("%w: %s %s is writable by its group or by others (mode %04o), so anyone who can write it can let themselves in; parley refuses it, as OpenSSH does: run  chmod go-w %s", ErrUnsafePermissions, what, path, perm, path)
	}
	if uid, ok := foreignOwner(fi); ok {
		return fmt.Errorf("%w: %s %s is owned by uid %d, not by the user running parley (uid %d) or root; parley refuses it, as OpenSSH does: run  chown %d %s", ErrUnsafePermissions, what, path, uid, os.Getuid(), os.Getuid(), path)
	}
	return nil
}
