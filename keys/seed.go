package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/safetext"
)

// ErrDuplicateKey is returned by Append when the key is already in the file.
var ErrDuplicateKey = errors.New("key is already in the file")

// Header is the comment block at the top of a file created by Seed or Append.
const Header = `# parley authorized keys: who may log in.
#
# One key per line, in OpenSSH authorized_keys format:
#   [options] keytype base64-key [comment]
# Blank lines and lines starting with # are ignored. parley reloads this file
# when it changes. A bad line is logged and skipped; the other lines still load.
#
# The display name comes from name="..." or else from the comment's part
# before "@" (alice@laptop -> alice): 1-24 letters, digits, '.', '_' or '-'.
#
# Options (comma-separated, no spaces outside quotes):
#   admin                        this key is an administrator
#   name="alice"                 display name for this key
#   expiry-time="YYYYMMDD[HHMM[SS]]"
#                                refuse the key after this time (UTC)
#   from="10.0.0.0/8,!10.0.0.9"  allow only these IP addresses: exact, with
#                                * and ? wildcards, CIDR; ! excludes
#   restrict, no-port-forwarding, no-agent-forwarding, no-X11-forwarding, no-user-rc
#                                accepted; parley never allows these anyway
# Any other option (command=, permitopen=, cert-authority, ...) makes parley
# refuse its line, so that no restriction is silently ignored.
#
# Example:
#   admin,name="alice" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... alice@laptop
`

// Fingerprint returns the SHA256 fingerprint of k as ssh-keygen -l prints
// it ("SHA256:..."), or "" for a nil key.
func Fingerprint(k ssh.PublicKey) string {
	if k == nil {
		return ""
	}
	return ssh.FingerprintSHA256(k)
}

// FormatLine returns the authorized_keys line for k without options or a
// trailing newline: "keytype base64 comment". The comment is sanitized to one
// line; it is left out when empty.
func FormatLine(k ssh.PublicKey, comment string) string {
	if k == nil {
		return ""
	}
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n")
	if c := strings.TrimSpace(safetext.Line(comment, maxCommentRunes)); c != "" {
		line += " " + c
	}
	return line
}

// SeedSkip is a key Seed found and did not import, and why.
type SeedSkip struct {
	// Fingerprint is the key's SHA256 fingerprint.
	Fingerprint string
	// Comment is the key's comment, sanitized to one line.
	Comment string
	// Source is where the key was found: "/home/u/.ssh/authorized_keys line 3".
	Source string
	// Reason says why, safe to print: "it has command=\"backup-only\": ...".
	Reason string
}

// String is "SHA256:... (comment) from SOURCE: REASON".
func (s SeedSkip) String() string {
	c := ""
	if s.Comment != "" {
		c = " (" + s.Comment + ")"
	}
	return s.Fingerprint + c + " from " + s.Source + ": " + s.Reason
}

// SeedResult is what Seed did.
type SeedResult struct {
	// Created is true when Seed wrote a new file.
	Created bool
	// Imported are the keys written, as loaded from the new file.
	Imported []Entry
	// Skipped are the keys found but not imported, in the order found.
	Skipped []SeedSkip
}

// Seed creates the authorized_keys file at path on first start. If path
// exists it does nothing and returns a zero SeedResult. Otherwise it writes
// the file (mode 0600, parent directory 0700 if missing) with Header and,
// as admins, the public keys found in home/.ssh/authorized_keys and
// home/.ssh/*.pub, comments kept.
//
// Seed never widens what a key may do. A key whose line limits it in a way
// parley cannot honour (command=, restrict, no-pty, permitopen=, any option
// but the ones below), a cert-authority line, a key whose expiry-time has
// passed, and a key listed twice with different options are skipped and
// reported in SeedResult.Skipped (and as comments in the new file). from=
// and expiry-time= are kept on the imported line (an expiry-time without Z
// is read in the server's local time zone, as sshd reads it, and written
// in UTC); no-port-forwarding, no-agent-forwarding, no-X11-forwarding and
// no-user-rc are dropped because parley never allows those things.
// Duplicates, unparseable lines and private keys are skipped silently. The
// file is created even when no key is found.
func Seed(path string, home string) (SeedResult, error) {
	return seed(path, home, time.Now(), time.Local)
}

// seedCand is one key Seed found, with what its lines allow.
type seedCand struct {
	key     ssh.PublicKey
	comment string
	keep    seedOptions
	skip    *SeedSkip
}

func seed(path, home string, now time.Time, loc *time.Location) (SeedResult, error) {
	if _, err := os.Lstat(path); err == nil {
		return SeedResult{}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return SeedResult{}, err
	}

	var sources []seedSource
	if home != "" {
		dir := filepath.Join(home, ".ssh")
		files := []string{filepath.Join(dir, "authorized_keys")}
		pubs, _ := filepath.Glob(filepath.Join(dir, "*.pub"))
		slices.Sort(pubs)
		files = append(files, pubs...)
		for _, f := range files {
			data, err := readSmallFile(f)
			if err != nil || bytes.Contains(data, []byte("PRIVATE KEY")) {
				continue // missing, unreadable, or a private key
			}
			sources = append(sources, seedSource{name: f, data: data})
		}
	}
	content, res := seedFile(filepath.Join(home, ".ssh"), sources, now, loc)

	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return SeedResult{}, err
	}
	err := withLock(path, func(l *Locked) error {
		if _, err := os.Lstat(path); err == nil {
			return errSeedRace
		}
		return l.Write(content)
	})
	if errors.Is(err, errSeedRace) {
		return SeedResult{}, nil // another process created it meanwhile
	}
	if err != nil {
		return SeedResult{}, err
	}
	snap, _ := ParseBytes(content)
	res.Created, res.Imported = true, snap.Entries()
	return res, nil
}

// seedSource is one file Seed reads keys from.
type seedSource struct {
	name string
	data []byte
}

// seedFile builds the content of the new authorized_keys file from the
// sources, in order, and returns it with the keys it skipped (Skipped
// only). dir names the sources in the file's comment.
func seedFile(dir string, sources []seedSource, now time.Time, loc *time.Location) ([]byte, SeedResult) {
	var order []string
	cands := map[string]*seedCand{}
	for _, src := range sources {
		n := 0
		for line := range bytes.Lines(src.data) {
			n++
			if len(line) > MaxLineBytes+2 {
				continue
			}
			k, comment, opts, _, err := ssh.ParseAuthorizedKey(line)
			if err != nil {
				continue
			}
			comment = strings.TrimSpace(safetext.Line(comment, maxCommentRunes))
			fp := Fingerprint(k)
			skip := func(reason string) *SeedSkip {
				return &SeedSkip{Fingerprint: fp, Comment: comment, Source: fmt.Sprintf("%s line %d", src.name, n), Reason: reason}
			}
			var why *SeedSkip
			var keep seedOptions
			if _, ok := k.(*ssh.Certificate); ok {
				why = skip("it is a certificate; parley takes plain public keys")
			} else if !keyTypes[k.Type()] {
				why = skip("key type " + quote(k.Type()) + " is not supported")
			} else if reason := keep.parse(opts, now, loc); reason != "" {
				why = skip(reason)
			}
			c, seen := cands[fp]
			if !seen {
				c = &seedCand{key: k, comment: comment}
				cands[fp] = c
				order = append(order, fp)
			}
			switch {
			case c.skip != nil: // one line limiting it is enough
			case why != nil:
				c.skip = why
			case !seen || c.keep.empty():
				c.keep = keep
			case !keep.empty() && keep != c.keep:
				c.skip = skip("it is listed more than once with different from= or expiry-time= options; add it by hand with the ones you mean")
			}
			if c.comment == "" {
				c.comment = comment
			}
		}
	}

	var b strings.Builder
	var res SeedResult
	b.WriteString(Header)
	imported := 0
	for _, fp := range order {
		c := cands[fp]
		if c.skip != nil {
			res.Skipped = append(res.Skipped, *c.skip)
			continue
		}
		if imported == 0 {
			b.WriteString("\n# Imported from " + dir + " on first start.\n")
		}
		imported++
		b.WriteString(c.keep.prefix() + " " + FormatLine(c.key, c.comment) + "\n")
	}
	if len(res.Skipped) > 0 {
		b.WriteString("\n# Not imported (parley keys add one by hand if you mean it):\n")
		for _, s := range res.Skipped {
			b.WriteString("#   " + s.String() + "\n")
		}
	}
	return []byte(b.String()), res
}

var errSeedRace = errors.New("authorized keys created meanwhile")

// seedOptions are the options of a seeded key that are kept.
type seedOptions struct {
	from    string    // the from= value, "" for none
	expires time.Time // zero for none
}

func (o seedOptions) empty() bool { return o == seedOptions{} }

// prefix is the options field of the seeded line: admin and what is kept.
func (o seedOptions) prefix() string {
	p := "admin"
	if o.from != "" {
		p += `,from="` + o.from + `"`
	}
	if !o.expires.IsZero() {
		p += `,expiry-time="` + o.expires.UTC().Format("20060102150405") + `Z"`
	}
	return p
}

// parse reads an OpenSSH options list into o and returns why the key must
// not be imported, or "".
func (o *seedOptions) parse(opts []string, now time.Time, loc *time.Location) string {
	for _, opt := range opts {
		raw, rawValue, _ := strings.Cut(opt, "=")
		name := strings.ToLower(raw)
		switch name {
		case "no-port-forwarding", "no-agent-forwarding", "no-x11-forwarding", "no-user-rc":
			continue // parley never allows these anyway
		case "from", "expiry-time":
			v, err := dequote(rawValue)
			if err != nil {
				return fmt.Sprintf("its %s option cannot be read (%v)", name, err)
			}
			if name == "from" {
				if _, err := parseFromList(v); err != nil {
					return fmt.Sprintf("parley cannot honour its from= option: %v", err)
				}
				o.from = v
				continue
			}
			t, err := parseExpiryIn(v, loc)
			if err != nil {
				return err.Error()
			}
			if now.After(t) {
				return "its expiry-time passed on " + t.UTC().Format("2006-01-02 15:04 UTC")
			}
			o.expires = t
		case "command":
			v, err := dequote(rawValue)
			if err != nil {
				v = rawValue
			}
			return "it has command=" + quote(v) + ": it may only run that command, and as a parley key it would be a full admin"
		case "restrict", "no-pty":
			return "it has " + quote(name) + ": it may not open a terminal, and as a parley key it would be a full admin"
		case "cert-authority":
			return "it is a cert-authority line: it trusts a certificate authority, not one key"
		default:
			return "it has " + quote(name) + ", which limits or changes what it may do in a way parley cannot honour"
		}
	}
	return ""
}

// parseExpiryIn parses an expiry-time as sshd does: in UTC with a trailing
// Z, otherwise in loc (sshd's local time).
func parseExpiryIn(v string, loc *time.Location) (time.Time, error) {
	t, err := parseExpiry(v)
	if err != nil || strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		return t, err
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc), nil
}

// Append adds k to the authorized_keys file at path, with name="..." if name
// is not empty and the admin option if admin is set. It rewrites the file
// atomically, keeping every existing line verbatim; a missing file is created
// with Header. It refuses a key already in the file (ErrDuplicateKey) and a
// name another key already has. It holds the file's lock (see Lock) while
// it reads and rewrites the file.
func Append(path string, k ssh.PublicKey, name string, admin bool) error {
	return withLock(path, func(l *Locked) error { return l.Append(k, name, admin) })
}

// Append is Append on the locked file.
func (l *Locked) Append(k ssh.PublicKey, name string, admin bool) error {
	if k == nil {
		return errors.New("no key given")
	}
	if _, ok := k.(*ssh.Certificate); ok {
		return errors.New("certificates are not supported; append the plain public key")
	}
	if !keyTypes[k.Type()] {
		return fmt.Errorf("key type %s is not supported", quote(k.Type()))
	}
	if name != "" {
		if err := safetext.ValidateName(name); err != nil {
			return fmt.Errorf("name %s: %w", quote(name), err)
		}
	}

	data, err := l.Read()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = []byte(Header)
	case err != nil:
		return err
	}

	want := string(k.Marshal())
	for i, line := range bytes.Split(data, []byte("\n")) {
		for _, f := range looseKeys(line) {
			if string(f.key.Marshal()) == want {
				return fmt.Errorf("%w on line %d (%s)", ErrDuplicateKey, i+1, Fingerprint(k))
			}
		}
	}
	if name != "" {
		snap, _ := ParseBytes(data)
		if owner, ok := snap.ByName(name); ok {
			return fmt.Errorf("name %s is already used by the key on line %d (%s)", quote(name), owner.Line, owner.Fingerprint)
		}
	}

	var opts []string
	if admin {
		opts = append(opts, "admin")
	}
	if name != "" {
		opts = append(opts, `name="`+name+`"`)
	}
	line := FormatLine(k, "")
	if len(opts) > 0 {
		line = strings.Join(opts, ",") + " " + line
	}
	nl := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		nl = "\r\n"
	}
	out := slices.Clip(data)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, nl...)
	}
	out = append(out, line+nl...)
	return l.Write(out)
}

// foundKey is a key found by looseKeys.
type foundKey struct {
	key     ssh.PublicKey
	comment string
}

// looseKeys returns the plain public keys in data, one per line, ignoring
// options and skipping whatever does not parse. It is for importing keys and
// finding duplicates, not for deciding access.
func looseKeys(data []byte) []foundKey {
	var out []foundKey
	for line := range bytes.Lines(data) {
		if len(line) > MaxLineBytes+2 {
			continue
		}
		k, comment, _, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			continue
		}
		if _, ok := k.(*ssh.Certificate); ok || !keyTypes[k.Type()] {
			continue
		}
		out = append(out, foundKey{key: k, comment: comment})
	}
	return out
}

// readSmallFile reads a regular file of at most MaxFileBytes.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return readLimited(f)
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path, so readers see the old or the new content, never a mix.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is in the directory: sync it too, or a crash may lose
	// the change (a removed key back after a power cut).
	return syncDir(filepath.Dir(path))
}
