package main

import (
	"context"
	"fmt"
	"io"

	"parley/app"
	"parley/cli"
	"parley/keys"
	"parley/server"
)

// exitCode is an error that only carries the exit status of a command that
// has already told the user what went wrong.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// keysCommand is `parley keys add|list|remove`: it edits the authorized keys
// file of the data directory (--data, PARLEY_DATA_DIR) while the server
// runs or not; a running server notices the change by itself.
func keysCommand(args []string, lookup lookupFunc, stdin io.Reader, stdout, stderr io.Writer) error {
	data := "./data"
	if v, _ := lookup("PARLEY_DATA_DIR"); v != "" {
		data = v
	}
	k := &cli.KeysCommand{
		Prog:    "parley keys",
		DataDir: data,
		Files:   true,
		Stdin:   stdin,
		Stdout:  stdout,
		Stderr:  stderr,
		Pinned:  pinnedByAdminKeys(args, lookup),
		Note:    "A running parley picks this up within seconds (it re-reads the file when it changes); no restart needed.",
		OpenWeb: openWebAccess,
	}
	if code := k.Run(args); code != cli.ExitOK {
		return exitCode(code)
	}
	return nil
}

// pinnedByAdminKeys is KeysCommand.Pinned for the operator's shell: a key
// that PARLEY_ADMIN_KEYS names, in this environment or in the data dir's
// parley.conf, comes back on the server's next start. (The server's own
// environment may differ from this shell's: the README says so.)
func pinnedByAdminKeys(args []string, lookup lookupFunc) func(keys.Entry) string {
	return func(e keys.Entry) string {
		if withFile, err := withConfigFile(args, lookup); err == nil {
			lookup = withFile
		}
		v, _ := lookup("PARLEY_ADMIN_KEYS")
		fps, _ := server.AdminKeyFingerprints(splitKeys(v))
		if fps[e.Fingerprint] {
			return server.AdminKeysNote
		}
		return ""
	}
}

// openWebAccess is KeysCommand.OpenWeb for the operator's shell: the
// passkeys and browser-only people in the data dir's database (none when
// there is no database yet).
func openWebAccess(dataDir string) (cli.WebAccess, func() error, error) {
	w, closeDB, err := app.OpenWebAccess(context.Background(), dataDir)
	if err != nil || w == nil {
		return nil, closeDB, err
	}
	return w, closeDB, nil
}
