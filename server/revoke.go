package server

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"parley/keys"
)

// Taking rights away from sessions that are already open. Admin rights are
// never cached: room.Config.Admin is isAdmin, asked at every use, so a key
// demoted in authorized_keys (or whose expiry-time passed) loses them at
// once. A key that is removed, or whose expiry-time passes, is
// disconnected: on every reload of the file, and by a timer set for the
// nearest expiry-time, re-armed on every reload and after each firing.

// isAdmin reports whether the key with this fingerprint is an admin now: in
// the authorized keys as they are loaded now, with the admin option, and
// not expired. It is one map lookup in the current snapshot (it runs under
// the hub's lock, for every use of an admin right).
func (s *Server) isAdmin(fingerprint string) bool {
	e, ok := s.keys.Current().ByFingerprint(fingerprint)
	return ok && e.Admin && !e.Expired(s.expiry.now())
}

// keyValid is room.Config.Valid: whether the key with this fingerprint may
// still act, asked before anything its sessions send. The expiry timer
// disconnects an expired key when it fires; a timer can fire late (a
// suspended machine, a wall clock set forward), so a key found expired here
// is refused and the disconnection is started at once. (A removed key is
// disconnected by the reload that removes it, in the same moment; an
// identity that no key in the file has, such as a test's, is not judged.)
func (s *Server) keyValid(fingerprint string) error {
	e, ok := s.keys.Current().ByFingerprint(fingerprint)
	if !ok || !e.Expired(s.expiry.now()) {
		return nil
	}
	go s.keysChanged(s.keys.Current(), nil) // not from the caller's goroutine: it may hold the session
	return fmt.Errorf("your key expired on %s", e.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// keysChanged runs after authorized_keys changed (the Store has logged the
// details) and when an expiry-time passes: anyone whose key is no longer
// allowed is disconnected, admin rights are applied to the people online,
// and the expiry timer is set for the next expiry.
func (s *Server) keysChanged(snap *keys.Snapshot, _ []keys.LineError) {
	now := s.expiry.now()
	for _, id := range s.hub.OnlineIDs() {
		if isAccount(id) {
			continue // browser-only: not in this file (webaccounts.go watches them)
		}
		e, ok := snap.ByFingerprint(id)
		var why string
		switch {
		case !ok:
			why = "access revoked by the operator"
		case e.Expired(now):
			why = "key expired on " + e.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC")
		default:
			continue
		}
		if n := s.hub.Disconnect(id, why); n > 0 {
			s.log.Info("disconnected a key that is no longer allowed", "fingerprint", id, "sessions", n, "why", why)
		}
	}
	// Connections that hold no session at all (or only ones the hub does
	// not see, such as a command still reading its input) go too, a moment
	// later: the sessions just disconnected first say why on their screens.
	time.AfterFunc(revokeGrace, s.closeDisallowedConns)
	if n := s.hub.RightsChanged(); n > 0 {
		s.log.Info("former admins taken out of private rooms", "people", n)
	}
	s.armExpiry()
}

// revokeGrace is how long a removed or expired key's connections are left
// to end by themselves (their sessions saying why) before they are closed.
const revokeGrace = 3 * time.Second

// closeDisallowedConns closes every connection of a key that the current
// authorized keys no longer allow (removed, or its expiry-time passed).
func (s *Server) closeDisallowedConns() {
	snap, now := s.keys.Current(), s.expiry.now()
	if n := s.live.closeUnless(func(fp string) bool {
		e, ok := snap.ByFingerprint(fp)
		return ok && !e.Expired(now)
	}); n > 0 {
		s.log.Info("closed the connections of keys no longer allowed", "connections", n)
	}
}

// expiryTimer is the one timer that fires at the nearest expiry-time of the
// loaded keys. mu guards it against the reloads (the keys watcher, SIGHUP,
// keys over SSH) and its own firing, which may all arm it at once.
type expiryTimer struct {
	mu     sync.Mutex
	t      *time.Timer // guarded by mu; nil when no key expires
	at     time.Time   // guarded by mu: when t fires
	gen    uint64      // guarded by mu: counts the timers set, so a firing one knows whether it is still t
	closed bool        // guarded by mu: the server is closing, never arm again

	// clock, when set (by tests, before anyone connects), replaces
	// time.Now for deciding whether a key has expired.
	clock atomic.Pointer[func() time.Time]
}

// now is the time keys expire by.
func (x *expiryTimer) now() time.Time {
	if f := x.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// stop stops the timer for good.
func (x *expiryTimer) stop() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closed = true
	if x.t != nil {
		x.t.Stop()
		x.t = nil
	}
}

// armExpiry sets the timer for the nearest expiry-time still to come among
// the keys loaded now (stopping it when there is none). It reads the
// current snapshot, not one handed to it, so that a late caller never arms
// the timer for a file that has changed since.
func (s *Server) armExpiry() {
	now := time.Now()
	var next time.Time
	for _, e := range s.keys.Current().Entries() {
		if e.ExpiresAt.IsZero() || e.Expired(now) {
			continue
		}
		if next.IsZero() || e.ExpiresAt.Before(next) {
			next = e.ExpiresAt
		}
	}
	x := &s.expiry
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return
	}
	if x.t != nil {
		if x.at.Equal(next) {
			return // already set for it
		}
		x.t.Stop()
		x.t = nil
	}
	if next.IsZero() {
		return
	}
	// A key is valid at exactly its expiry-time (as in OpenSSH): fire just
	// after it.
	x.at = next
	x.gen++
	gen := x.gen
	x.t = time.AfterFunc(next.Sub(now)+time.Millisecond, func() {
		x.mu.Lock()
		if x.gen == gen {
			x.t = nil
		}
		x.mu.Unlock()
		s.keysChanged(s.keys.Current(), nil)
	})
}

// errNoLongerAdmin ends an admin command whose key lost its rights while
// the command read its input.
var errNoLongerAdmin = errors.New("your key is no longer an admin key (removed, demoted or expired): nothing was done")

// adminInput is the stdin of an admin command (keys add -, motd -): the
// command may wait on it for as long as the client likes, so every read
// asks again whether the key is still an admin, and a key that no longer is
// gets an error instead of its input: what it types after losing its rights
// is never acted on.
type adminInput struct {
	r  io.Reader
	s  *Server
	fp string
}

func (a adminInput) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if !a.s.isAdmin(a.fp) {
		return 0, errNoLongerAdmin
	}
	return n, err
}
