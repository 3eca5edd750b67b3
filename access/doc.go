// Package access keeps the two lists that decide who may come in besides
// the authorized_keys file: bans, which keep a key out (until a time, or
// until lifted) whatever the file says, and invites, one-time codes with
// which a newcomer's unknown key may add itself to the file.
//
// Invite codes are random (crypto/rand) and only their SHA-256 hash is
// stored, with the uses left and an expiry; a wrong, spent and expired code
// are refused with one error, ErrInvalidInvite, so that nobody learns which
// it was.
//
// Control holds the bans in memory for the authentication path (a lookup
// never touches the disk) and writes every change through to a Store:
// store.SQLite in production, Memory for --store memory and tests.
//
// When several processes share the Store (natsaccess, over NATS JetStream
// KV), a change made by another process reaches this Control through
// Observe (a ban made or lifted) and Refresh (an invite made or used).
//
// access knows nothing of SSH, rooms or the keys file: identities are key
// fingerprints and names are plain strings given by the caller.
package access
