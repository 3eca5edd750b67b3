// Package server is the glue between SSH and the chat: it owns the SSH
// listener and host key, decides at authentication time whether a key may
// enter (yes or no, nothing else), maps the verified key of each session to
// a room.Identity, and runs one tui.Model per terminal session. Sessions
// without a terminal, or with a command, run one command instead (exec.go:
// the bot API and the admin commands, one runner for the flags, usage and
// --json of all of them). What admins do is package moderation's; admin.go
// only gives it the keys and the motd file. A key that is not authorized but was
// let in while an invite is open is a guest whose only possible command is
// "join CODE" (guest.go).
//
// Connection admission (defences.go, proxy.go): a connection's address is
// the client's (from a trusted proxy's PROXY header, or the peer's); the
// guard.Gate admits it or refuses it (a penalized address is told why);
// it counts as unauthenticated until the key that verified is authorized
// (Server.verified, which also takes the key's connection slot and starts
// keepalives) or a guest's join succeeds. The Gate, Sessions and the
// connection slots are guard types with their own locks; per-connection
// state lives in the charm ssh.Context (safe for concurrent use).
//
// It is the only package that knows both SSH and rooms, and it chooses no
// implementation: the composition root (package app) builds the store, the
// access lists, authorized_keys and the hub and hands them ready through
// Config; this package imports no storage. The hub's callbacks the front
// door answers (who is an admin now, whether a key may still act, reserved
// names, the motd) are made by RoomHooks before the hub exists and bound
// to the Server by New. New, Serve and Close are the Server's life; tests
// start the whole thing with app.New on 127.0.0.1:0 with a temporary data
// dir (this package's own tests, which cannot import app, with compose in
// compose_test.go).
package server
