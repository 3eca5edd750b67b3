package command

import (
	"context"
	"errors"
	"strings"
)

// Surface is where a command can be run.
type Surface uint8

// The surfaces.
const (
	// Chat is the chat line: /NAME ARGS.
	Chat Surface = 1 << iota
	// Exec is a session without the chat screen: ssh host NAME ARGS.
	Exec
	// Screen is a command the chat screen handles itself (tui), changing
	// only how that session looks.
	Screen
)

// Many is a Spec.Max: any number of words.
const Many = -1

// Spec is what a command is: the part every surface's help and usage is
// generated from.
type Spec struct {
	// Name is the command's name, lower case: /NAME, ssh host NAME.
	Name string
	// Args describes the arguments and the surface's own flags, for usage
	// lines ("NAME [REASON]", "[-r ROOM]"); --json is added when JSON.
	Args string
	// Help is one short sentence.
	Help string
	// Admin hides the command from, and refuses it to, non-admins.
	Admin bool
	// JSON says that over exec the command takes --json and prints its
	// reply's Data as JSON.
	JSON bool
	// Room says the command acts on a room: over exec it takes -r ROOM
	// (the default room otherwise); in the chat it is the room on screen.
	Room bool
	// Min and Max bound how many words (positional arguments) it takes;
	// Max Many (or any Max < 0) means any number. Outside them the caller is shown the
	// usage line.
	Min, Max int
	// On is the set of surfaces the command has.
	On Surface
}

// ChatUsage is the usage line in the chat: "/kick NAME [REASON]".
func (s Spec) ChatUsage() string { return strings.TrimSpace("/" + s.Name + " " + s.Args) }

// ExecUsage is the usage line over exec, without the program:
// "whois NAME [--json]", "who [-r ROOM] [--json]".
func (s Spec) ExecUsage() string {
	u := s.Name
	if s.Room {
		u += " [-r ROOM]"
	}
	u = strings.TrimSpace(u + " " + s.Args)
	if s.JSON {
		u += " [--json]"
	}
	return u
}

// Words reports whether n words are within Min and Max.
func (s Spec) Words(n int) bool { return n >= s.Min && (s.Max < 0 || n <= s.Max) }

// Actor is who runs a command: the identity (the key's fingerprint), the
// name to call them by, and whether their key is an admin key now.
type Actor struct {
	ID    string
	Name  string
	Admin bool
}

// Call is one run of a Command.
type Call struct {
	Ctx context.Context
	// By is who runs it.
	By Actor
	// Words are the positional arguments, within the Spec's Min and Max.
	Words []string
	// Room is the room the caller is looking at (the chat) or named with
	// -r (exec; the default room otherwise).
	Room string
	// On is the surface it was run from (Chat or Exec), for the few
	// commands whose text differs between a notice and a terminal's
	// stdout.
	On Surface
}

// Rest returns the words from i on, joined by single spaces.
func (c *Call) Rest(i int) string {
	if i >= len(c.Words) {
		return ""
	}
	return strings.Join(c.Words[i:], " ")
}

// Reply is what a command answers: Text for people (a chat notice, or
// stdout), and Data, the same as a value, printed as JSON when the Spec
// has JSON and the caller asked for it.
type Reply struct {
	Text string
	Data any
}

// Command is a declaration with its handler, for the commands that more
// than one surface has. Run returns an error made
// with room.Errorf to show the caller, ErrUsage to show the usage line, or
// another error, which is logged and shown as a generic failure.
type Command struct {
	Spec
	Run func(c *Call) (Reply, error)
}

// ErrUsage asks the surface to show the command's usage line: a Run
// returns it for arguments it cannot read.
var ErrUsage = errors.New("usage")
