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

// Seed creates the authorized_keys file at path on first start. If path
// exists it does nothing and returns nil, nil. Otherwise it writes the file
// (mode 0600, parent directory 0700 if missing) with Header and, as admins,
// the public keys found in home/.ssh/authorized_keys and home/.ssh/*.pub:
// options dropped, comments kept, duplicates, certificates, unparseable lines
// and private keys skipped. The file is created even when no key is found.
// It returns the entries as loaded from the new file.
func Seed(path string, home string) (imported []Entry, err error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	var found []foundKey
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
			found = append(found, looseKeys(data)...)
		}
	}

	var b strings.Builder
	b.WriteString(Header)
	seen := map[string]bool{}
	for _, f := range found {
		fp := Fingerprint(f.key)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		if len(seen) == 1 {
			b.WriteString("\n# Imported from " + filepath.Join(home, ".ssh") + " on first start.\n")
		}
		b.WriteString("admin " + FormatLine(f.key, f.comment) + "\n")
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	content := []byte(b.String())
	if err := writeFileAtomic(path, content, 0o600); err != nil {
		return nil, err
	}
	snap, _ := ParseBytes(content)
	return snap.Entries(), nil
}

// Append adds k to the authorized_keys file at path, with name="..." if name
// is not empty and the admin option if admin is set. It rewrites the file
// atomically, keeping every existing line verbatim; a missing file is created
// with Header. It refuses a key already in the file (ErrDuplicateKey) and a
// name another key already has. Append does not lock the file against other
// writers.
func Append(path string, k ssh.PublicKey, name string, admin bool) error {
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

	perm := fs.FileMode(0o600)
	data, err := readSmallFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = []byte(Header)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if fi, err := os.Stat(path); err == nil {
			perm = fi.Mode().Perm()
		}
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
	return writeFileAtomic(path, out, perm)
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
	return os.Rename(tmp.Name(), path)
}
