// Package web is parley's second front door: a chat page in the browser
// beside the SSH one, over the same room.Hub, so that a person in a browser
// and a person at a terminal sit in the same rooms as equals.
//
// It is an adapter like package server: it authenticates a browser (a
// one-time sign-in link printed by `ssh host web`, then a session cookie),
// calls Hub.Connect with that person's room.Identity, and carries the
// session's events to the page over a WebSocket as the small JSON protocol
// of docs/web-protocol.md. What the person types goes to Session.Send, the
// same path as SSH: /commands, flood control and the caps all apply.
//
// Who may sign in is not decided here: the Identities port (implemented by
// the SSH side, which holds the authorized keys and bans) is asked at every
// sign-in and every WebSocket connection.
//
// # Passkeys and invites (passkey.go, invite.go)
//
// A signed-in browser may register a passkey (WebAuthn, go-webauthn) for
// its identity; the sign-in page signs in with one, with no SSH
// (discoverable credentials: the passkey's user handle is the identity's
// id). A passkey sign-in still asks the Identities port, so a removed,
// expired or banned identity cannot use its passkey. Passkeys are kept
// through the Credentials port (store.SQLite; MemoryCredentials by
// default), never knowing which. The relying party is the public URL's
// host: browsers allow passkeys only on a domain name (localhost
// included), so on an IP-address URL passkeys are off and the page says
// why. Ceremonies (their challenges) are single use, last ceremonyTTL and
// are at most maxCeremonies; a signature counter that goes back refuses
// the sign-in.
//
// An invite code opened at /invite/CODE lets a newcomer pick a name and
// create a passkey. The code's rules (hash stored, uses, expiry, rate limit
// and penalty per address, name rules) are the SSH side's, through the
// Invites port; a use is held while the newcomer makes the passkey and
// given back if they do not finish. The newcomer becomes a browser-only
// identity: an id "web:" + 16 random base32 characters (never an SSH
// fingerprint), whose account the Invites port's side keeps durably beside
// the bans and invites (access.Account, SQLite migration 0007), listed and
// removed by `keys list`/`keys remove`, banned by `ban NAME` as a key is,
// never an admin.
//
// # Concurrency
//
// Server's maps of sign-in links, open pages, passkey ceremonies and
// per-address limiters are guarded by Server.mu, never held while doing
// I/O (an expired invite ceremony's use is given back after unlocking). Signed-in browsers are
// kept by the Sessions port (SQLite through package store, so that they
// outlive a restart; MemorySessions otherwise), which is safe for
// concurrent use; only the SHA-256 of a cookie is stored, and a session's
// CSRF token is derived from its cookie, so nothing else is secret. Each WebSocket has
// two goroutines: the handler's, which reads what the page sends and calls
// Session.Send, and a writer, which owns the room.Session's reading side
// (Receive) and is the only one writing events to the socket
// (websocket.Conn allows concurrent writers, but one writer keeps the order).
// The handler's goroutine writes only answers to what the page asked: an
// "error", or an "older" page of scrollback, which the page files above
// what it has whatever live frames come around it.
package web
