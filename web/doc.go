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
// # Concurrency
//
// Server's maps of sign-in links, open pages and per-address limiters are
// guarded by Server.mu, never held while doing I/O. Signed-in browsers are
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
