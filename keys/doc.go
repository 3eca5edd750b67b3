// Package keys decides who may log in to parley: it parses an OpenSSH-format
// authorized_keys file into an immutable Snapshot, answers "is this public key
// allowed, from this address, now?", and keeps the current Snapshot in a Store
// that reloads it when the file changes.
//
// Each line is parsed on its own: a bad line is reported with its line number
// and skipped, and never prevents the other lines from loading. Every option is
// either honoured (admin, name=, expiry-time=, from=), accepted as a no-op
// because parley enforces it anyway (restrict, no-port-forwarding,
// no-agent-forwarding, no-X11-forwarding, no-user-rc), or refuses its line
// loudly; none is silently ignored.
//
// The package also seeds the file on first start (Seed, which never gives a
// key more than its source line allowed) and edits it for the operator CLI
// (Append, Remove). Every edit is one read-modify-write under an exclusive
// flock on the file's Lock, shared by every parley process, and every
// atomic rename is followed by a sync of the directory. As OpenSSH's
// StrictModes, a file or directory others may write is refused
// (CheckPermissions) when loading and when editing.
//
// keys knows nothing of rooms, chat, terminals or the SSH server library; it
// uses only the public key types of golang.org/x/crypto/ssh. Mapping a verified
// key to a room member is the job of the caller.
package keys
