// Package server is the glue between SSH and the chat: it owns the SSH
// listener and host key, decides at authentication time whether a key may
// enter (yes or no, nothing else), maps the verified key of each session to
// a room.Identity, and runs one tui.Model per terminal session. Sessions
// without a terminal, or with a command, run one command instead (exec.go:
// the bot API and the admin commands). A key that is not authorized but was
// let in while an invite is open is a guest whose only possible command is
// "join CODE" (guest.go).
//
// It is the only package that knows both SSH and rooms. Configuration is
// resolved by main; Server.Run and Server.Close let tests start the real
// thing on 127.0.0.1:0 with a temporary data dir.
package server
