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
// The package also seeds the file on first start (Seed) and appends keys to it
// (Append) for the operator CLI.
//
// keys knows nothing of rooms, chat, terminals or the SSH server library; it
// uses only the public key types of golang.org/x/crypto/ssh. Mapping a verified
// key to a room member is the job of the caller.
package keys
