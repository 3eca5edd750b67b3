// Package command declares a command once for every surface it has: typed
// in the chat line (/NAME), run as `ssh host NAME` (with --json where it
// returns data), or both. A Command is a Spec (name, arguments, who may run
// it, help) and one handler, Run, that knows no surface: it gets the caller
// and the words, and returns a Reply with a text and, where the command
// returns data, a value to print as JSON. The surfaces adapt it, each with
// one adapter for all commands: room.Shared turns it into a chat command
// (listed by /help, refused to non-admins); the SSH front door turns it into
// an exec command with one flag parser, one usage line and one JSON printer
// for all of them; the screen (tui) lists its own commands from their Spec.
//
// Commands that only one surface has and that need that surface's state
// (the chat's /nick changes a session; `ssh host tail -f` streams; the
// screen's /theme) use the same Spec, declared where their handler is.
//
// It is a leaf: it imports nothing of parley, so the chat domain (room),
// the screen (tui) and every front door can share it. It holds no state: a
// Command is a value, and Run is called on the goroutine of the session
// that typed it.
package command
