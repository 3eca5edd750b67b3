// Package cli holds the command lines parley shares between the operator's
// shell and an admin's SSH session: `parley keys add|list|remove` on the
// machine (KeysCommand with DataDir, reading files) and `ssh host keys ...`
// (KeysCommand with a fixed Path, no file access, changes applied at once
// by the server's hooks), plus the conventions every parley command follows:
// exit codes 0 ok, 1 error, 2 usage; flags parsed with the standard flag
// package, accepted before or after the positional arguments (Parse).
//
// cli knows the keys package and nothing of SSH or rooms.
package cli
