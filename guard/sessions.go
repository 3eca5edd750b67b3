package guard

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// ErrKeyBusy matches the *SessionLimitError of Sessions.Acquire when the key
// already has MaxPerKey sessions. (When the source has too many, it matches
// ErrSourceBusy.)
var ErrKeyBusy = errors.New("guard: too many sessions for this key")

// SessionLimitError is the error of Sessions.Acquire. Its text is written for
// the refused person and is safe to show them.
type SessionLimitError struct {
	// Err is ErrKeyBusy or ErrSourceBusy.
	Err error
	// Limit is the cap that was reached.
	Limit int
	// Noun is what is counted: "session" ("" means that) or "connection".
	Noun string
}

// Error tells the refused person what happened and what to do.
func (e *SessionLimitError) Error() string {
	noun := e.Noun
	if noun == "" {
		noun = "session"
	}
	if errors.Is(e.Err, ErrKeyBusy) {
		return fmt.Sprintf("you already have %s open; close one first", plural(e.Limit, noun))
	}
	return fmt.Sprintf("there are already %s open from your network; close one first", plural(e.Limit, noun))
}

// Unwrap returns Err.
func (e *SessionLimitError) Unwrap() error { return e.Err }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Sessions caps concurrent sessions per key and per source. It is safe for
// concurrent use. Its tables hold only keys and sources with open sessions.
type Sessions struct {
	maxPerKey, maxPerSource int    // immutable after NewSessions
	noun                    string // for SessionLimitError; immutable

	// mu guards the counts; a key or source whose count drops to zero is
	// deleted.
	mu        sync.Mutex
	total     int
	perKey    map[string]int
	perSource map[string]int
}

// SessionStats is a snapshot of Sessions, for metrics and tests.
type SessionStats struct {
	Sessions int // open sessions
	Keys     int // keys with at least one
	Sources  int // sources with at least one
}

// Default caps for NewSessions and NewConnections.
//
// The cap per source is for authenticated sessions, whose keys are vetted:
// it is high enough for a lecture hall behind one NAT address (issue 18
// item 6) and only bounds what one network can hold. Unauthenticated
// connections have their own, much lower, cap per source (GateConfig).
const (
	DefaultMaxSessionsPerKey    = 3
	DefaultMaxSessionsPerSource = 1000
	// DefaultMaxConnsPerKey caps the authenticated connections of one key,
	// with or without sessions: the sessions a key may hold, and a few
	// more for connections between commands.
	DefaultMaxConnsPerKey = 6
)

// NewConnections returns a Sessions that counts authenticated connections
// per key (maxPerKey, default DefaultMaxConnsPerKey), without a cap per
// source: the Gate bounds connections per source until they authenticate,
// and Sessions bounds what they may open.
func NewConnections(maxPerKey int) *Sessions {
	if maxPerKey <= 0 {
		maxPerKey = DefaultMaxConnsPerKey
	}
	s := NewSessions(maxPerKey, math.MaxInt)
	s.noun = "connection"
	return s
}

// NewSessions returns a Sessions allowing maxPerKey sessions per key and
// maxPerSource per source; zero or less means the default (3 and 1000).
func NewSessions(maxPerKey, maxPerSource int) *Sessions {
	if maxPerKey <= 0 {
		maxPerKey = DefaultMaxSessionsPerKey
	}
	if maxPerSource <= 0 {
		maxPerSource = DefaultMaxSessionsPerSource
	}
	return &Sessions{
		maxPerKey:    maxPerKey,
		maxPerSource: maxPerSource,
		perKey:       make(map[string]int),
		perSource:    make(map[string]int),
	}
}

// Acquire takes a session slot for keyID (an opaque identity, such as a key
// fingerprint) from src (see Source). On success, call release when the
// session ends; release is idempotent. Otherwise err is a *SessionLimitError
// matching ErrKeyBusy or ErrSourceBusy; the key's cap is checked first.
func (s *Sessions) Acquire(keyID, src string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perKey[keyID] >= s.maxPerKey {
		return nil, &SessionLimitError{Err: ErrKeyBusy, Limit: s.maxPerKey, Noun: s.noun}
	}
	if s.perSource[src] >= s.maxPerSource {
		return nil, &SessionLimitError{Err: ErrSourceBusy, Limit: s.maxPerSource, Noun: s.noun}
	}
	s.total++
	s.perKey[keyID]++
	s.perSource[src]++
	released := false // guarded by s.mu
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if released {
			return
		}
		released = true
		s.total--
		decrement(s.perKey, keyID)
		decrement(s.perSource, src)
	}, nil
}

// Stats returns the current counts.
func (s *Sessions) Stats() SessionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SessionStats{Sessions: s.total, Keys: len(s.perKey), Sources: len(s.perSource)}
}

func decrement(m map[string]int, k string) {
	if n := m[k] - 1; n > 0 {
		m[k] = n
	} else {
		delete(m, k)
	}
}
