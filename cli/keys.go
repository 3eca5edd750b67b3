package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/keys"
	"parley/safetext"
)

// KeysFile is the authorized keys file under the data directory; the
// server reads the same name.
const KeysFile = "authorized_keys"

// maxKeyInput bounds what `keys add` reads from a file or stdin.
const maxKeyInput = 64 << 10

// KeysCommand runs `keys add|list|remove`. The zero value is not usable:
// set Path or DataDir, and the writers.
type KeysCommand struct {
	// Prog starts usage lines: "parley keys" or "keys".
	Prog string
	// Path is the authorized_keys file. When empty, the file is
	// DataDir/authorized_keys and every subcommand takes --data to
	// choose another data directory (the local CLI).
	Path string
	// DataDir is the default data directory when Path is empty.
	DataDir string
	// Files lets `keys add` read keys from a file named on the command
	// line. Only for the operator's own shell: over SSH it would let an
	// admin read the server's files.
	Files bool
	// Stdin is where `keys add -` (or add without a key) reads keys from.
	Stdin io.Reader
	// Stdout and Stderr receive the output and the errors.
	Stdout, Stderr io.Writer
	// Lock, if not nil, is held while the file is read and rewritten, so
	// that two changes made through this process do not lose each other.
	// Every change also holds the file's own lock (keys.Lock), which
	// keeps other processes out.
	Lock sync.Locker
	// Protect, if not nil, may refuse to remove a key with a reason safe to
	// show (an admin removing the key they are connected with).
	Protect func(keys.Entry) error
	// Changed, if not nil, is called after each change to the file with
	// "add" or "remove" and the key.
	Changed func(action string, e keys.Entry)
	// Pinned, if not nil, returns a note (or "") for a key just removed
	// that will come back by itself: one that PARLEY_ADMIN_KEYS names is
	// added again as an admin on every start.
	Pinned func(keys.Entry) string
	// Note, if not empty, is printed after a change ("the server picks
	// this up ...").
	Note string
	// Web, if not nil, is the browser side of the access list: list shows
	// each identity's passkeys and the browser-only people, remove removes
	// passkeys and browser-only people too (webaccess.go).
	Web WebAccess
	// OpenWeb, if set and Web is nil, opens the WebAccess of a data dir
	// (the operator's shell: the database of --data).
	OpenWeb func(dataDir string) (WebAccess, func() error, error)
}

func (k *KeysCommand) usage() string {
	src, srcHelp, data := "KEY|-", "- (or no KEY) reads keys from stdin", ""
	if k.Files {
		src, srcHelp = "KEY|FILE|-", "FILE is a .pub or authorized_keys file, - reads stdin"
	}
	if k.Path == "" {
		data = " [--data DIR]"
	}
	return fmt.Sprintf(`usage:
  %[1]s add %[2]s [--name NAME] [--admin]%[4]s
      add a public key (ssh-ed25519 AAAA... comment); %[3]s.
      A key already in the file is left as it is: exit 0 if its line already
      gives what was asked (--admin, --name), else exit 1 saying how it differs
  %[1]s list [--json]%[4]s
      list the keys (name, fingerprint, admin, line, passkeys), the people
      who joined from the web page with no SSH key, and the problems in the file
  %[1]s remove NAME|FINGERPRINT|ID%[4]s
      remove a key (every line that carries it) and its passkeys, or a
      browser-only person (by name or web: id); their sessions end
`, k.Prog, src, srcHelp, data)
}

// Run runs the subcommand in args and returns the exit code.
func (k *KeysCommand) Run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(k.Stderr, k.usage())
		return ExitUsage
	}
	switch args[0] {
	case "add":
		return k.add(args[1:])
	case "list", "ls":
		return k.list(args[1:])
	case "remove", "rm":
		return k.remove(args[1:])
	case "help", "-h", "--help", "-help":
		fmt.Fprint(k.Stdout, k.usage())
		return ExitOK
	}
	fmt.Fprintf(k.Stderr, "%s: unknown subcommand %q\n%s", k.Prog, safetext.Line(args[0], 32), k.usage())
	return ExitUsage
}

// flags returns a FlagSet for a subcommand, with --data in local mode.
func (k *KeysCommand) flags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(k.Prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(k.Stderr)
	fs.Usage = func() { fmt.Fprint(k.Stderr, k.usage()) }
	data := k.DataDir
	if k.Path == "" {
		fs.StringVar(&data, "data", k.DataDir, "data directory (env PARLEY_DATA_DIR)")
	}
	return fs, &data
}

func (k *KeysCommand) path(data string) string {
	if k.Path != "" {
		return k.Path
	}
	return filepath.Join(data, KeysFile)
}

// parse parses a subcommand's flags; it returns the exit code to use when
// ok is false.
func (k *KeysCommand) parse(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	pos, err := Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, ExitOK, false
	}
	if err != nil {
		return nil, ExitUsage, false // the flag package has said why
	}
	return pos, 0, true
}

func (k *KeysCommand) lock() func() {
	if k.Lock == nil {
		return func() {}
	}
	k.Lock.Lock()
	return k.Lock.Unlock
}

// lockFile takes the file's own lock (keys.Lock), saying so on Stderr if
// another writer holds it and it has to wait.
func (k *KeysCommand) lockFile(path string) (*keys.Locked, error) {
	return keys.Lock(path, func() {
		fmt.Fprintf(k.Stderr, "%s: waiting for another change to %s to finish...\n", k.Prog, path)
	})
}

// shown is path as messages show it: absolute in the operator's shell, so
// that a wrong working directory is plain to see.
func (k *KeysCommand) shown(path string) string {
	if k.Path == "" {
		if abs, err := filepath.Abs(path); err == nil {
			return abs
		}
	}
	return path
}

// missing reports an authorized_keys file that does not exist: most often
// the command runs in another directory than the server's.
func (k *KeysCommand) missing(path, data string) int {
	hint := ""
	if k.Path == "" {
		hint = fmt.Sprintf(" Is %s the server's data directory? Name it with --data DIR (or PARLEY_DATA_DIR); the server creates the file on first start.", k.shown(data))
	}
	return k.fail("%s does not exist: no key is listed there.%s", k.shown(path), hint)
}

func (k *KeysCommand) fail(format string, args ...any) int {
	fmt.Fprintf(k.Stderr, k.Prog+": "+format+"\n", args...)
	return ExitError
}

func (k *KeysCommand) add(args []string) int {
	set, data := k.flags("add")
	name := set.String("name", "", "display name for the key (default: the comment's part before @)")
	admin := set.Bool("admin", false, "make the key an administrator")
	pos, code, ok := k.parse(set, args)
	if !ok {
		return code
	}
	if *name != "" {
		if err := safetext.ValidateName(*name); err != nil {
			fmt.Fprintf(k.Stderr, "%s add: --name %s: %v\n", k.Prog, safetext.Line(*name, 32), err)
			return ExitUsage
		}
	}
	input, from, code := k.keyInput(pos)
	if code != ExitOK {
		return code
	}
	found := parseKeys(input)
	if len(found) == 0 {
		return k.fail("no public key in %s (expected a line like: ssh-ed25519 AAAA... alice@laptop)", from)
	}
	if *name != "" && len(found) > 1 {
		fmt.Fprintf(k.Stderr, "%s add: --name names one key, but %s holds %d\n", k.Prog, from, len(found))
		return ExitUsage
	}

	path := k.path(*data)
	defer k.lock()()
	l, err := k.lockFile(path)
	if err != nil {
		return k.fail("%v", err)
	}
	defer l.Unlock()
	status := ExitOK
	changed := false
	for _, f := range found {
		fp := keys.Fingerprint(f.key)
		if f.options {
			fmt.Fprintf(k.Stdout, "Note: the options on the line for %s were ignored; use --admin and --name.\n", fp)
		}
		current, err := l.Read()
		if err != nil && !errors.Is(err, fs.ErrNotExist) { // a missing file is one add creates
			return k.fail("%v", err)
		}
		snap, _ := keys.ParseBytes(current) // bad lines are for keys list; the good ones are all that matters here
		if e, ok := snap.Lookup(f.key); ok {
			if code := k.present(l.Path(), e, *name, *admin); code != ExitOK {
				status = code
			}
			continue
		}
		keyName := *name
		if keyName == "" {
			keyName = k.nameFromComment(snap, f.comment)
		}
		if err := l.Append(f.key, keyName, *admin); err != nil {
			if errors.Is(err, keys.ErrDuplicateKey) {
				err = fmt.Errorf("%w; that line is not loaded (keys list shows why): fix it or remove the key first", err)
			}
			status = k.fail("%s: %v", fp, err)
			continue
		}
		e := keys.Entry{Key: f.key, Fingerprint: fp, Name: keyName, Admin: *admin}
		role := "as a member"
		if *admin {
			role = "as an admin"
		}
		shown := keyName
		if shown == "" {
			shown = "a key with no name (the server picks one)"
		}
		fmt.Fprintf(k.Stdout, "Added %s (%s) %s to %s.\n", shown, e.Fingerprint, role, k.shown(path))
		changed = true
		if k.Changed != nil {
			k.Changed("add", e)
		}
	}
	if status == ExitOK && changed && k.Note != "" {
		fmt.Fprintln(k.Stdout, k.Note)
	}
	return status
}

// present reports a key that `add` found already loaded from the file:
// ExitOK when its line already gives what was asked, otherwise ExitError
// with how it differs. Nothing is changed either way.
func (k *KeysCommand) present(path string, e keys.Entry, name string, admin bool) int {
	as := "as a member"
	if e.Admin {
		as = "as an admin"
	}
	who := e.Name
	if who == "" {
		who = "the key"
	}
	where := fmt.Sprintf("%s (%s) is already in %s, line %d, %s", who, e.Fingerprint, k.shown(path), e.Line, as)
	var differs []string
	if admin && !e.Admin {
		differs = append(differs, "it is not an admin")
	}
	if name != "" && safetext.Fold(name) != safetext.Fold(e.Name) {
		differs = append(differs, fmt.Sprintf("its name is %q, not %q", e.Name, name))
	}
	if len(differs) == 0 {
		fmt.Fprintf(k.Stdout, "%s: the same key, nothing to change.\n", where)
		return ExitOK
	}
	return k.fail("%s, but %s; nothing changed (to change it: %s remove %s, then add it again)", where, strings.Join(differs, " and "), k.Prog, e.Fingerprint)
}

// keyInput returns the text holding the keys to add, and what to call it
// in messages.
func (k *KeysCommand) keyInput(pos []string) (data []byte, from string, code int) {
	if len(pos) == 0 || (len(pos) == 1 && pos[0] == "-") {
		if k.Stdin == nil {
			fmt.Fprint(k.Stderr, k.usage())
			return nil, "", ExitUsage
		}
		b, err := io.ReadAll(io.LimitReader(k.Stdin, maxKeyInput+1))
		if err != nil {
			return nil, "", k.fail("reading stdin: %v", err)
		}
		if len(b) > maxKeyInput {
			return nil, "", k.fail("stdin holds more than %d bytes; that is not a public key", maxKeyInput)
		}
		return b, "stdin", ExitOK
	}
	if k.Files && len(pos) == 1 {
		if fi, err := os.Stat(pos[0]); err == nil && fi.Mode().IsRegular() {
			f, err := os.Open(pos[0])
			if err != nil {
				return nil, "", k.fail("%v", err)
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, maxKeyInput+1))
			if err != nil {
				return nil, "", k.fail("reading %s: %v", pos[0], err)
			}
			if len(b) > maxKeyInput || bytes.Contains(b, []byte("PRIVATE KEY")) {
				return nil, "", k.fail("%s is not a public key file (add the .pub file, never the private key)", pos[0])
			}
			return b, pos[0], ExitOK
		} else if len(pos) == 1 && !strings.Contains(pos[0], " ") && !looksLikeKeyType(pos[0]) {
			return nil, "", k.fail("%s: no such file, and not a public key", safetext.Line(pos[0], 64))
		}
	}
	// The key given as words: "ssh-ed25519" "AAAA..." "alice@laptop".
	return []byte(strings.Join(pos, " ")), "the key given", ExitOK
}

func looksLikeKeyType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-") || strings.HasPrefix(s, "sk-")
}

// nameFromComment returns the comment's part before '@' when it is a valid
// name no key in snap has yet, else "" (the server then picks a name).
func (k *KeysCommand) nameFromComment(snap *keys.Snapshot, comment string) string {
	local, _, _ := strings.Cut(comment, "@")
	if local == "" || safetext.ValidateName(local) != nil {
		return ""
	}
	if _, taken := snap.ByName(local); taken {
		fmt.Fprintf(k.Stdout, "Note: the name %q is taken by another key; this one gets none (use --name).\n", local)
		return ""
	}
	return local
}

type foundKey struct {
	key     ssh.PublicKey
	comment string
	options bool
}

// parseKeys returns the public keys in data, one per line; lines that are
// not keys are skipped.
func parseKeys(data []byte) []foundKey {
	var out []foundKey
	for line := range bytes.Lines(data) {
		k, comment, opts, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			continue
		}
		out = append(out, foundKey{key: k, comment: comment, options: len(opts) > 0})
	}
	return out
}

func (k *KeysCommand) remove(args []string) int {
	set, data := k.flags("remove")
	pos, code, ok := k.parse(set, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprint(k.Stderr, k.usage())
		return ExitUsage
	}
	who := pos[0]
	path := k.path(*data)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return k.missing(path, *data) // and no data dir made for the lock file
	}
	defer k.lock()()
	l, err := k.lockFile(path)
	if err != nil {
		return k.fail("%v", err)
	}
	defer l.Unlock()
	web, closeWeb := k.web(*data)
	defer closeWeb()
	r, err := l.Remove(who, k.Protect)
	if errors.Is(err, keys.ErrNoSuchKey) {
		if code, ok := k.removeAccount(web, who); ok {
			return code
		}
		return k.fail("no key called %s in %s (%s list shows them)", safetext.Line(who, 64), k.shown(path), k.Prog)
	}
	if err != nil {
		return k.fail("%v", err)
	}
	name := r.Entry.Name
	if name == "" {
		name = "the key"
	}
	lines := make([]string, len(r.Lines))
	for i, n := range r.Lines {
		lines[i] = fmt.Sprint(n)
	}
	fmt.Fprintf(k.Stdout, "Removed %s (%s): line %s of %s.\n", name, r.Entry.Fingerprint, strings.Join(lines, ", "), k.shown(path))
	k.forgetPasskeys(web, r.Entry.Fingerprint)
	if k.Changed != nil {
		k.Changed("remove", r.Entry)
	}
	if k.Pinned != nil {
		if note := k.Pinned(r.Entry); note != "" {
			fmt.Fprintln(k.Stdout, "Note: "+note)
		}
	}
	if k.Note != "" {
		fmt.Fprintln(k.Stdout, k.Note)
	}
	return ExitOK
}

// KeyJSON is one key in `keys list --json`.
type KeyJSON struct {
	Name        string   `json:"name"`
	Fingerprint string   `json:"fingerprint"`
	Type        string   `json:"type"`
	Admin       bool     `json:"admin"`
	Line        int      `json:"line"`
	Comment     string   `json:"comment,omitempty"`
	Expires     string   `json:"expires,omitempty"`
	From        []string `json:"from,omitempty"`
	// Passkeys are the key's identity's passkeys (issue 17).
	Passkeys []PasskeyJSON `json:"passkeys"`
}

// ProblemJSON is one line problem in `keys list --json`.
type ProblemJSON struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
	Skipped bool   `json:"skipped"`
}

func (k *KeysCommand) list(args []string) int {
	set, data := k.flags("list")
	asJSON := set.Bool("json", false, "print one JSON object: keys and problems")
	pos, code, ok := k.parse(set, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprint(k.Stderr, k.usage())
		return ExitUsage
	}
	path := k.path(*data)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return k.missing(path, *data)
	}
	if err != nil {
		return k.fail("%v", err)
	}
	if err := keys.CheckPermissions(path); err != nil {
		return k.fail("%v", err)
	}
	snap, problems := keys.ParseBytes(b)
	now := time.Now()
	web, closeWeb := k.web(*data)
	defer closeWeb()
	pk, accts, _ := k.webLists(web)
	if *asJSON {
		out := struct {
			Path     string        `json:"path"`
			Keys     []KeyJSON     `json:"keys"`
			Accounts []AccountJSON `json:"browser_only"`
			Problems []ProblemJSON `json:"problems"`
		}{Path: path, Keys: []KeyJSON{}, Accounts: []AccountJSON{}, Problems: []ProblemJSON{}}
		for _, a := range accts {
			out.Accounts = append(out.Accounts, AccountJSON{ID: a.ID, Name: a.Name, Created: a.Created.UTC().Format(time.RFC3339), Passkeys: passkeysJSON(pk[a.ID])})
		}
		for _, e := range snap.Entries() {
			j := KeyJSON{Name: e.Name, Fingerprint: e.Fingerprint, Type: e.Key.Type(), Admin: e.Admin, Line: e.Line, Comment: e.Comment, From: e.From, Passkeys: passkeysJSON(pk[e.Fingerprint])}
			if !e.ExpiresAt.IsZero() {
				j.Expires = e.ExpiresAt.UTC().Format(time.RFC3339)
			}
			out.Keys = append(out.Keys, j)
		}
		for _, p := range problems {
			out.Problems = append(out.Problems, ProblemJSON{Line: p.Line, Message: p.Msg, Skipped: p.Skipped})
		}
		enc := json.NewEncoder(k.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return k.fail("%v", err)
		}
		return ExitOK
	}
	if snap.Len() == 0 {
		fmt.Fprintf(k.Stdout, "No keys in %s: nobody can log in. Add one with: %s add KEY\n", k.shown(path), k.Prog)
	} else {
		fmt.Fprintf(k.Stdout, "%d key(s) in %s:\n", snap.Len(), k.shown(path))
		tw := tabwriter.NewWriter(k.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tFINGERPRINT\tADMIN\tLINE\tNOTES")
		for _, e := range snap.Entries() {
			name, admin := e.Name, ""
			if name == "" {
				name = "-"
			}
			if e.Admin {
				admin = "admin"
			}
			var notes []string
			if e.Expired(now) {
				notes = append(notes, "expired "+e.ExpiresAt.UTC().Format("2006-01-02"))
			} else if !e.ExpiresAt.IsZero() {
				notes = append(notes, "expires "+e.ExpiresAt.UTC().Format("2006-01-02"))
			}
			if e.From != nil {
				notes = append(notes, "from="+strings.Join(e.From, ","))
			}
			if n := passkeyNote(pk[e.Fingerprint]); n != "" {
				notes = append(notes, n)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", name, e.Fingerprint, admin, e.Line, strings.Join(notes, "; "))
		}
		tw.Flush()
	}
	k.listAccounts(k.Stdout, accts, pk)
	if len(problems) > 0 {
		fmt.Fprintf(k.Stdout, "\nProblems in %s:\n", k.shown(path))
		for _, p := range problems {
			what := "warning"
			if p.Skipped {
				what = "skipped"
			}
			fmt.Fprintf(k.Stdout, "  line %d (%s): %s\n", p.Line, what, p.Msg)
		}
	}
	return ExitOK
}
