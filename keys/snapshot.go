package keys

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/safetext"
)

// Snapshot is the parsed content of an authorized_keys file. It is immutable
// once built and safe for concurrent use; a nil *Snapshot is empty.
type Snapshot struct {
	entries []Entry
	byKey   map[string]int // key wire bytes -> index in entries
	byName  map[string]int // safetext.Fold(name) -> index in entries
	byFP    map[string]int // Entry.Fingerprint -> index in entries
}

// Len returns the number of keys loaded.
func (s *Snapshot) Len() int {
	if s == nil {
		return 0
	}
	return len(s.entries)
}

// Entries returns a copy of the entries in file order.
func (s *Snapshot) Entries() []Entry {
	if s == nil {
		return nil
	}
	out := make([]Entry, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.clone()
	}
	return out
}

// Lookup returns the entry for exactly this key. Certificates are not
// supported and are never found.
func (s *Snapshot) Lookup(k ssh.PublicKey) (Entry, bool) {
	if s == nil || k == nil {
		return Entry{}, false
	}
	if _, ok := k.(*ssh.Certificate); ok {
		return Entry{}, false
	}
	i, ok := s.byKey[string(k.Marshal())]
	if !ok {
		return Entry{}, false
	}
	return s.entries[i].clone(), true
}

// ByFingerprint returns the entry of the key with this SHA256 fingerprint
// ("SHA256:..."), without copying the other entries: it is the lookup made
// at every use of a privilege (is this key still an admin, still valid?).
func (s *Snapshot) ByFingerprint(fp string) (Entry, bool) {
	if s == nil {
		return Entry{}, false
	}
	i, ok := s.byFP[fp]
	if !ok {
		return Entry{}, false
	}
	return s.entries[i].clone(), true
}

// ByName returns the entry whose name folds equal to name.
func (s *Snapshot) ByName(name string) (Entry, bool) {
	if s == nil || name == "" {
		return Entry{}, false
	}
	i, ok := s.byName[safetext.Fold(name)]
	if !ok {
		return Entry{}, false
	}
	return s.entries[i].clone(), true
}

// NameOwner returns the fingerprint of the key that owns name (compared with
// safetext.Fold), so that another key can be refused that name.
func (s *Snapshot) NameOwner(name string) (fingerprint string, ok bool) {
	e, ok := s.ByName(name)
	return e.Fingerprint, ok
}

// Authorized reports whether k may log in from remoteIP at now, and returns
// its entry. The error is ErrUnknownKey, ErrNotAllowedFrom, or wraps
// ErrExpired with the expiry date ("key expired on ..."). A nil remoteIP is
// allowed only for keys without from=.
func (s *Snapshot) Authorized(k ssh.PublicKey, remoteIP net.IP, now time.Time) (Entry, error) {
	e, ok := s.Lookup(k)
	if !ok {
		return Entry{}, ErrUnknownKey
	}
	if e.Expired(now) {
		return Entry{}, fmt.Errorf("%w on %s", ErrExpired, formatTime(e.ExpiresAt))
	}
	if !e.AllowedFrom(remoteIP) {
		return Entry{}, ErrNotAllowedFrom
	}
	return e, nil
}
