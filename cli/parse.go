package cli

import (
	"flag"
)

// Exit codes of every parley command, local or over SSH.
const (
	ExitOK    = 0 // done
	ExitError = 1 // refused or failed: permission, not found, a server error
	ExitUsage = 2 // the command line is wrong
)

// Parse parses args with fs, accepting flags before, between and after the
// positional arguments (the flag package alone stops at the first
// positional one), and returns the positional arguments in order. A "--"
// ends the flags: everything after it is positional.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
