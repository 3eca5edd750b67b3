package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Sessions is the port that keeps signed-in browsers, so that a restart
// does not sign everyone out (issue 17). A record is found by the SHA-256
// of its cookie token: the token itself is never stored. Package store
// implements it in SQLite; MemorySessions is the fallback (and the tests').
// Implementations are safe for concurrent use.
type Sessions interface {
	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s SessionRecord) error
	// SessionByHash returns the session whose cookie hashes to hash, and
	// false when there is none (expired ones may still be returned: the
	// caller checks Expires).
	SessionByHash(ctx context.Context, hash [32]byte) (SessionRecord, bool, error)
	// TouchSession sets the session's LastSeen.
	TouchSession(ctx context.Context, hash [32]byte, seen time.Time) error
	// SessionsOf lists identity's sessions, in no particular order.
	SessionsOf(ctx context.Context, identity string) ([]SessionRecord, error)
	// DeleteSession deletes identity's session with handle, reporting
	// whether there was one (a handle of another identity is not found).
	DeleteSession(ctx context.Context, identity, handle string) (bool, error)
	// DeleteSessionsOf deletes every session of identity.
	DeleteSessionsOf(ctx context.Context, identity string) error
	// DeleteExpiredSessions deletes the sessions that expire at or before now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// SessionRecord is one signed-in browser as a Sessions keeps it.
type SessionRecord struct {
	// Hash is the SHA-256 of the cookie token: the key.
	Hash [32]byte
	// Handle names the session to its owner (listing, revoking); it is
	// random and says nothing of the cookie.
	Handle string
	// Identity is who the browser is signed in as.
	Identity string
	// Created, LastSeen and Expires are the session's times (UTC).
	Created, LastSeen, Expires time.Time
	// Agent is a short summary of the browser's User-Agent ("Firefox on
	// Linux"), shown to its owner.
	Agent string
	// Addr is the address it signed in from.
	Addr string
}

// Limits of browser sessions.
const (
	// maxSessionsPerIdentity bounds one person's signed-in browsers: a new
	// sign-in past it signs the longest unused one out.
	maxSessionsPerIdentity = 32
	// touchEvery is how stale LastSeen may get before a request updates it
	// (a write per request would be wasted).
	touchEvery = time.Minute
	// storeTimeout bounds one call to the Sessions store.
	storeTimeout = 5 * time.Second
)

// csrfOf derives a session's CSRF token from its cookie token: only a page
// that can read the session's own answers (/api/me) learns it, and nothing
// needs storing. It reveals nothing of the cookie.
func csrfOf(cookie string) string {
	h := sha256.Sum256([]byte("parley csrf\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(h[:18])
}

// MemorySessions is a Sessions in memory: sessions end with the process.
// Its map is guarded by mu.
type MemorySessions struct {
	mu  sync.Mutex
	all map[[32]byte]SessionRecord
}

var _ Sessions = (*MemorySessions)(nil)

// NewMemorySessions returns an empty MemorySessions.
func NewMemorySessions() *MemorySessions {
	return &MemorySessions{all: map[[32]byte]SessionRecord{}}
}

// errSessionsFull is returned by MemorySessions past maxSessions.
var errSessionsFull = errors.New("too many browsers are signed in")

// CreateSession implements Sessions; past maxSessions it refuses.
func (m *MemorySessions) CreateSession(_ context.Context, s SessionRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.all) >= maxSessions {
		return errSessionsFull
	}
	m.all[s.Hash] = s
	return nil
}

// SessionByHash implements Sessions.
func (m *MemorySessions) SessionByHash(_ context.Context, hash [32]byte) (SessionRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.all[hash]
	return s, ok, nil
}

// TouchSession implements Sessions.
func (m *MemorySessions) TouchSession(_ context.Context, hash [32]byte, seen time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.all[hash]; ok {
		s.LastSeen = seen
		m.all[hash] = s
	}
	return nil
}

// SessionsOf implements Sessions.
func (m *MemorySessions) SessionsOf(_ context.Context, identity string) ([]SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SessionRecord
	for _, s := range m.all {
		if s.Identity == identity {
			out = append(out, s)
		}
	}
	return out, nil
}

// DeleteSession implements Sessions.
func (m *MemorySessions) DeleteSession(_ context.Context, identity, handle string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, s := range m.all {
		if s.Identity == identity && s.Handle == handle {
			delete(m.all, h)
			return true, nil
		}
	}
	return false, nil
}

// DeleteSessionsOf implements Sessions.
func (m *MemorySessions) DeleteSessionsOf(_ context.Context, identity string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, s := range m.all {
		if s.Identity == identity {
			delete(m.all, h)
		}
	}
	return nil
}

// DeleteExpiredSessions implements Sessions.
func (m *MemorySessions) DeleteExpiredSessions(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for h, s := range m.all {
		if !now.Before(s.Expires) {
			delete(m.all, h)
			n++
		}
	}
	return n, nil
}

// storeCtx bounds a call to the Sessions store.
func storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, storeTimeout)
}

// newSession stores a session for identity id signed in by request
// metadata agent and addr, making room under maxSessionsPerIdentity by
// signing out the longest unused ones. It returns the cookie token.
func (s *Server) newSession(ctx context.Context, id, agent, addr string) (string, error) {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	now := s.cfg.Now().UTC()
	if _, err := s.sessions.DeleteExpiredSessions(ctx, now); err != nil {
		return "", fmt.Errorf("web: deleting expired sessions: %w", err)
	}
	mine, err := s.sessions.SessionsOf(ctx, id)
	if err != nil {
		return "", fmt.Errorf("web: sessions of %s: %w", id, err)
	}
	if extra := len(mine) - maxSessionsPerIdentity + 1; extra > 0 {
		sort.Slice(mine, func(i, j int) bool { return mine[i].LastSeen.Before(mine[j].LastSeen) })
		for _, old := range mine[:extra] {
			if _, err := s.sessions.DeleteSession(ctx, id, old.Handle); err != nil {
				return "", fmt.Errorf("web: signing out an old session of %s: %w", id, err)
			}
			s.endPages(old.Handle, "signed out: too many browsers are signed in as you")
		}
	}
	cookie := randomToken()
	rec := SessionRecord{Hash: hashToken(cookie), Handle: randomToken(), Identity: id,
		Created: now, LastSeen: now, Expires: now.Add(SessionTTL), Agent: agent, Addr: addr}
	if err := s.sessions.CreateSession(ctx, rec); err != nil {
		return "", fmt.Errorf("web: storing the session: %w", err)
	}
	return cookie, nil
}

// endPages ends the open pages (WebSockets) of the session with handle.
func (s *Server) endPages(handle, reason string) {
	s.mu.Lock()
	var ends []*wsConn
	for c := range s.conns {
		if c.handle == handle {
			ends = append(ends, c)
		}
	}
	s.mu.Unlock()
	for _, c := range ends {
		c.end(reason)
	}
}

// errSessionStore is a session check that failed because the store did
// not answer: not the browser's fault, so not a sign-out.
var errSessionStore = errors.New("the server could not check your session just now; try again")

// lookupSession returns the live session of cookie token, updating its
// LastSeen when stale: errNotSignedIn when there is none or it has
// expired, errSessionStore when the store fails.
func (s *Server) lookupSession(ctx context.Context, cookie string) (SessionRecord, error) {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	h := hashToken(cookie)
	rec, ok, err := s.sessions.SessionByHash(ctx, h)
	if err != nil {
		s.log.Error("web: session lookup", "err", err)
		return SessionRecord{}, errSessionStore
	}
	now := s.cfg.Now().UTC()
	if !ok || !now.Before(rec.Expires) {
		return SessionRecord{}, errNotSignedIn
	}
	if now.Sub(rec.LastSeen) >= touchEvery {
		if err := s.sessions.TouchSession(ctx, h, now); err != nil {
			s.log.Warn("web: session last seen", "err", err) // only the listing is staler
		} else {
			rec.LastSeen = now
		}
	}
	return rec, nil
}

// sessionStatus is the HTTP status of a failed session check.
func sessionStatus(err error) int {
	if errors.Is(err, errSessionStore) {
		return 503
	}
	return 401
}

// touchAfterPage records that the request's browser was seen until now: a
// page open for hours would otherwise be listed as last seen when it
// opened. A session gone meanwhile (revoked) is not brought back.
func (s *Server) touchAfterPage(r *http.Request) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return
	}
	ctx, cancel := storeCtx(context.Background())
	defer cancel()
	if err := s.sessions.TouchSession(ctx, hashToken(c.Value), s.cfg.Now().UTC()); err != nil {
		s.log.Warn("web: session last seen", "err", err)
	}
}

// setSessionCookie gives the browser its session cookie (newSession's
// token): HttpOnly, SameSite=Strict, Secure when the page is https, for
// SessionTTL. Every way of signing in ends with it.
func (s *Server) setSessionCookie(w http.ResponseWriter, cookie string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: cookie, Path: "/", MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}
