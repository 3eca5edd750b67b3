package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/crypto/ssh"

	"parley/safetext"
)

// ErrNoSuchKey is returned by Remove and Find when no key in the file has
// that name or fingerprint.
var ErrNoSuchKey = errors.New("no such key in the file")

// Find returns the key that who names in snap: a fingerprint
// ("SHA256:..." as ssh-keygen -l prints it, or the part after the colon)
// or a display name (compared with safetext.Fold).
func Find(snap *Snapshot, who string) (Entry, bool) {
	who = strings.TrimSpace(who)
	if who == "" {
		return Entry{}, false
	}
	for _, e := range snap.Entries() {
		if e.Fingerprint == who || e.Fingerprint == "SHA256:"+who {
			return e, true
		}
	}
	return snap.ByName(who)
}

// LooksLikeFingerprint reports whether s is written like a SHA256 key
// fingerprint rather than a name: names never contain ':' and are at most
// safetext.MaxNameRunes long, while a fingerprint is 43 base64 characters.
func LooksLikeFingerprint(s string) bool {
	return strings.HasPrefix(s, "SHA256:") || (len(s) == 43 && safetext.ValidateName(s) != nil)
}

// NormalizeFingerprint returns s with the "SHA256:" prefix, for a
// fingerprint given with or without it.
func NormalizeFingerprint(s string) string {
	if strings.HasPrefix(s, "SHA256:") {
		return s
	}
	return "SHA256:" + s
}

// Removed describes what Remove took out of the file.
type Removed struct {
	// Entry is the key as it was loaded (Key and Fingerprint are always
	// set; the other fields are zero when the key's line was not loaded).
	Entry Entry
	// Lines are the 1-based numbers of the lines removed: the key's line
	// and any duplicate or refused line carrying the same key, so that the
	// key is really gone.
	Lines []int
}

// Remove takes the key that who names (see Find; a fingerprint also finds
// a key whose line was refused) out of the authorized_keys file at path.
// It removes every line that carries that key, whatever its options, and
// keeps every other line verbatim (comments, blank lines, line endings).
// The file is rewritten atomically with its permissions, under its lock
// (see Lock).
func Remove(path, who string) (r Removed, err error) {
	err = withLock(path, func(l *Locked) error {
		r, err = l.Remove(who, nil)
		return err
	})
	return r, err
}

// Remove is Remove on the locked file. check, if not nil, is called with
// the key found before anything is written; its error refuses the removal
// and is returned as it is.
func (l *Locked) Remove(who string, check func(Entry) error) (Removed, error) {
	path := l.path
	who = strings.TrimSpace(who)
	if who == "" {
		return Removed{}, errors.New("say which key: a name or a fingerprint")
	}
	data, err := l.Read()
	if errors.Is(err, fs.ErrNotExist) {
		return Removed{}, fmt.Errorf("%w: %s does not exist", ErrNoSuchKey, path)
	}
	if err != nil {
		return Removed{}, err
	}

	snap, _ := ParseBytes(data)
	var target ssh.PublicKey
	e, ok := Find(snap, who)
	if ok {
		target = e.Key
	} else if LooksLikeFingerprint(who) {
		// A line that was refused (bad option, duplicate) still carries a
		// key the operator may want gone.
		fp := NormalizeFingerprint(who)
		for _, f := range looseKeys(data) {
			if Fingerprint(f.key) == fp {
				target = f.key
				e = Entry{Key: f.key, Fingerprint: fp}
				break
			}
		}
	}
	if target == nil {
		return Removed{}, fmt.Errorf("%w: nothing is called %s", ErrNoSuchKey, quote(who))
	}
	if check != nil {
		if err := check(e); err != nil {
			return Removed{}, err
		}
	}

	want := string(target.Marshal())
	var out []byte
	var lines []int
	n := 0
	for line := range bytes.Lines(data) {
		n++
		drop := false
		for _, f := range looseKeys(line) {
			if string(f.key.Marshal()) == want {
				drop = true
			}
		}
		if drop {
			lines = append(lines, n)
			continue
		}
		out = append(out, line...)
	}
	if len(lines) == 0 { // cannot happen: the key came from this data
		return Removed{}, fmt.Errorf("%w: nothing is called %s", ErrNoSuchKey, quote(who))
	}
	if err := l.Write(out); err != nil {
		return Removed{}, err
	}
	return Removed{Entry: e, Lines: lines}, nil
}
