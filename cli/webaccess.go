package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"parley/safetext"
)

// WebAccess is the browser side of the access list (issue 17), for `keys
// list` and `keys remove`: the passkeys of each identity, and the
// browser-only accounts (people who joined from the web page with an
// invite and a passkey, with no SSH key).
type WebAccess interface {
	// Passkeys returns the passkeys of each identity.
	Passkeys() (map[string][]Passkey, error)
	// Accounts returns the browser-only accounts, oldest first.
	Accounts() ([]Account, error)
	// FindAccount returns the browser-only account who names (its id or
	// its name).
	FindAccount(who string) (Account, bool, error)
	// Forget removes the passkeys of identity, and its account when it is
	// browser-only, and ends its browser sessions. It says how many
	// passkeys went.
	Forget(identity string) (passkeys int, err error)
}

// Passkey is one passkey in a list.
type Passkey struct {
	Created, LastUsed time.Time
}

// Account is a browser-only identity.
type Account struct {
	ID, Name string
	Created  time.Time
}

// PasskeyJSON is one passkey in `keys list --json`.
type PasskeyJSON struct {
	Created  string `json:"created"`
	LastUsed string `json:"last_used,omitempty"`
}

// AccountJSON is one browser-only account in `keys list --json`.
type AccountJSON struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Created  string        `json:"created"`
	Passkeys []PasskeyJSON `json:"passkeys"`
}

func passkeysJSON(ps []Passkey) []PasskeyJSON {
	out := make([]PasskeyJSON, 0, len(ps))
	for _, p := range ps {
		j := PasskeyJSON{Created: p.Created.UTC().Format(time.RFC3339)}
		if !p.LastUsed.IsZero() {
			j.LastUsed = p.LastUsed.UTC().Format(time.RFC3339)
		}
		out = append(out, j)
	}
	return out
}

// web returns the WebAccess for the data dir data (Web, or one OpenWeb
// opens), and what closes it; nil when there is none (or it could not be
// opened, which Stderr is told).
func (k *KeysCommand) web(data string) (WebAccess, func()) {
	if k.Web != nil {
		return k.Web, func() {}
	}
	if k.OpenWeb == nil {
		return nil, func() {}
	}
	w, closeWeb, err := k.OpenWeb(data)
	if err != nil {
		fmt.Fprintf(k.Stderr, "%s: could not open the passkeys and browser-only people: %v\n", k.Prog, err)
		return nil, func() {}
	}
	if w == nil {
		return nil, func() {}
	}
	return w, func() {
		if err := closeWeb(); err != nil {
			fmt.Fprintf(k.Stderr, "%s: closing the database: %v\n", k.Prog, err)
		}
	}
}

// webLists reads the passkeys and accounts, or reports why not on Stderr
// (the keys still list: the file is the main list).
func (k *KeysCommand) webLists(web WebAccess) (map[string][]Passkey, []Account, bool) {
	if web == nil {
		return nil, nil, false
	}
	pk, err := web.Passkeys()
	if err == nil {
		var accts []Account
		if accts, err = web.Accounts(); err == nil {
			return pk, accts, true
		}
	}
	fmt.Fprintf(k.Stderr, "%s: could not read the passkeys and browser-only people: %v\n", k.Prog, err)
	return nil, nil, false
}

// passkeyNote is what the NOTES column says of n passkeys.
func passkeyNote(ps []Passkey) string {
	switch len(ps) {
	case 0:
		return ""
	case 1:
		return "1 passkey"
	}
	return fmt.Sprintf("%d passkeys", len(ps))
}

// listAccounts prints the browser-only accounts.
func (k *KeysCommand) listAccounts(w io.Writer, accts []Account, pk map[string][]Passkey) {
	if len(accts) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d browser-only (joined from the web page with an invite; no SSH key):\n", len(accts))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tSINCE\tPASSKEYS")
	for _, a := range accts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", safetext.Line(a.Name, safetext.MaxNameRunes), a.ID, a.Created.UTC().Format("2006-01-02"), len(pk[a.ID]))
	}
	tw.Flush()
}

// removeAccount removes the browser-only account who names, if any: its
// passkeys go and its browser sessions end. ok is false when who names
// no account.
func (k *KeysCommand) removeAccount(web WebAccess, who string) (code int, ok bool) {
	if web == nil {
		return 0, false
	}
	a, found, err := web.FindAccount(who)
	if err != nil {
		return k.fail("%v", err), true
	}
	if !found {
		return 0, false
	}
	n, err := web.Forget(a.ID)
	if err != nil {
		return k.fail("removing %s (%s): %v", a.Name, a.ID, err), true
	}
	fmt.Fprintf(k.Stdout, "Removed %s (%s, browser-only) and %s; their browser sessions end.\n", safetext.Line(a.Name, safetext.MaxNameRunes), a.ID, plural(n, "passkey"))
	return ExitOK, true
}

// forgetPasskeys removes the passkeys of a key just removed.
func (k *KeysCommand) forgetPasskeys(web WebAccess, fingerprint string) {
	if web == nil {
		return
	}
	n, err := web.Forget(fingerprint)
	if err != nil {
		fmt.Fprintf(k.Stderr, "%s: the key is removed, but its passkeys could not be: %v (run keys remove %s again)\n", k.Prog, err, fingerprint)
		return
	}
	if n > 0 {
		fmt.Fprintf(k.Stdout, "Removed its %s too.\n", plural(n, "passkey"))
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
