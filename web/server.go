package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"golang.org/x/time/rate"

	"parley/room"
)

//go:embed static
var staticFiles embed.FS

// Identities is the sign-in port: who may use the web page, decided by
// the same access list as SSH (authorized keys, expiry, bans).
type Identities interface {
	// Identity returns the identity id as it is now (its name, admin
	// right), or an error safe to show saying why it may not sign in (key
	// removed, expired, banned).
	Identity(id string) (room.Identity, error)
}

// Defaults of Config.
const (
	// LinkTTL is how long a sign-in link works (once).
	LinkTTL = 10 * time.Minute
	// SessionTTL is how long a browser stays signed in.
	SessionTTL = 7 * 24 * time.Hour
	// maxLinks and maxSessions bound the memory of links and of sessions
	// kept in memory (MemorySessions).
	maxLinks    = 10000
	maxSessions = 10000
	// signInRate and signInBurst limit sign-in attempts per address.
	signInRate  = rate.Limit(1.0 / 6) // one every 6 seconds after the burst
	signInBurst = 5
	maxLimiters = 10000
	// maxPagesPerIdentity bounds the open pages (WebSockets) of one
	// identity, as SSH bounds its sessions per key; maxPages all of them.
	maxPagesPerIdentity = 8
	maxPages            = 10000
	// writeTimeout bounds one WebSocket write: a page that does not read
	// falls behind, its room queue fills and the hub ends its session.
	writeTimeout = 10 * time.Second
)

// Config is what a Server needs.
type Config struct {
	// Hub is the chat the page joins.
	Hub *room.Hub
	// Identities decides who may sign in.
	Identities Identities
	// Credentials keeps the passkeys (passkey.go); nil keeps them in
	// memory.
	Credentials Credentials
	// Invites lets a newcomer with an invite code join from the browser
	// (invite.go); nil turns browser invites off.
	Invites Invites
	// PublicURL is the base URL people open (links are made from it; the
	// cookie is Secure when it is https; WebSocket Origins must match it
	// or the request's own host). Required.
	PublicURL string
	// SignInHint is shown to a browser that is not signed in, e.g.
	// "ssh -p 2222 chat.example.com web".
	SignInHint string
	// Sessions keeps the signed-in browsers; nil keeps them in memory
	// (NewMemorySessions), lost on restart.
	Sessions Sessions
	// Links keeps the sign-in links not used yet (links.go): a cluster's,
	// so that a link works on every node; nil keeps them in memory.
	Links Links
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (see ParseTrustedProxies); none by default.
	TrustedProxies []netip.Prefix
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// link is a sign-in link not used yet. Only the hash of its token is kept.
type link struct {
	id      string
	expires time.Time
}

// browser is the signed-in browser of a request.
type browser struct {
	id     string // its identity
	csrf   string // its CSRF token (csrfOf its cookie)
	handle string // its session's handle (SessionRecord.Handle)
}

// Server serves the chat page, its API and WebSocket. It is an
// http.Handler; Serve runs it on a listener and Close stops it.
type Server struct {
	cfg    Config
	log    *slog.Logger
	public *url.URL
	secure bool
	mux    *http.ServeMux
	http   *http.Server

	sessions Sessions // signed-in browsers (safe for concurrent use)

	mu       sync.Mutex
	links    map[[32]byte]link // sign-in links by token hash
	limiters map[string]*rate.Limiter
	conns    map[*wsConn]struct{} // open WebSockets, to close on Close
	pages    map[string]int       // open pages by identity (reservePage)
	pagesAll int
	closed   bool

	webauthn   *webauthn.WebAuthn     // passkeys (passkey.go); set by New
	ceremonies map[[32]byte]*ceremony // passkey ceremonies by token hash; guarded by mu
}

const cookieName = "parley_session"

// New makes a Server. It does not listen: see Serve, or use it as a
// handler.
func New(cfg Config) (*Server, error) {
	if cfg.Hub == nil || cfg.Identities == nil {
		return nil, errors.New("web: Config needs a Hub and Identities")
	}
	u, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("web: public URL %q: use http://HOST[:PORT] or https://HOST", cfg.PublicURL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Sessions == nil {
		cfg.Sessions = NewMemorySessions()
	}
	s := &Server{cfg: cfg, log: log, public: u, secure: u.Scheme == "https", sessions: cfg.Sessions,
		links:    map[[32]byte]link{},
		limiters: map[string]*rate.Limiter{}, conns: map[*wsConn]struct{}{}, pages: map[string]int{}}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, fmt.Errorf("web: embedded files: %w", err)
	}
	files := http.FileServerFS(static)
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /app.js", files)
	mux.Handle("GET /app.css", files)
	mux.Handle("GET /sessions.js", files)   // sessions.go: the person's browsers
	mux.Handle("GET /scrollback.js", files) // older.go: infinite scrollback
	mux.Handle("GET /notify.js", files)     // opt-in desktop notifications
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/"
		files.ServeHTTP(w, r2) // the page reads the token from the fragment
	})
	mux.HandleFunc("POST /api/signin", s.signIn)
	mux.HandleFunc("POST /api/signout", s.signOut)
	mux.HandleFunc("GET /api/me", s.me)
	mux.HandleFunc("GET /api/sessions", s.listSessions)
	mux.HandleFunc("POST /api/sessions/revoke", s.revokeSession)
	mux.HandleFunc("GET /ws", s.serveWS)
	if err := s.initPasskeys(mux, files); err != nil { // passkey.go, invite.go
		return nil, err
	}
	s.mux = mux
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	return s, nil
}

// contentSecurityPolicy allows nothing but the page's own files and its
// own WebSocket: no inline script or style, no frames, no other origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ServeHTTP serves the page, the API and the WebSocket, with the security
// headers on every answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// Serve answers HTTP on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: %w", err)
	}
	return nil
}

// Close stops listening and closes every WebSocket (their room sessions
// end with them).
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.end("the server is stopping")
	}
	if err := s.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("web: shutdown: %w", err)
	}
	return nil
}

// URL returns the public base URL, without a trailing slash.
func (s *Server) URL() string { return s.public.String() }

// SignInLink makes a one-time link that signs a browser in as identity
// id: it works once, for LinkTTL. Only its hash is kept.
func (s *Server) SignInLink(id string) (string, error) {
	if id == "" {
		return "", errors.New("web: sign-in link for an empty identity")
	}
	token := randomToken()
	now := s.cfg.Now()
	if s.cfg.Links != nil { // the cluster's (links.go)
		return s.putSharedLink(token, id, now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, l := range s.links {
		if !now.Before(l.expires) {
			delete(s.links, h)
		}
	}
	if len(s.links) >= maxLinks {
		return "", room.Errorf("too many sign-in links are waiting to be used; try again in a few minutes")
	}
	s.links[hashToken(token)] = link{id: id, expires: now.Add(LinkTTL)}
	return s.public.String() + "/signin#" + token, nil
}

// randomToken returns 128 random bits, URL-safe.
func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashToken(t string) [32]byte { return sha256.Sum256([]byte(t)) }

// allowSignIn takes one sign-in attempt of the address.
func (s *Server) allowSignIn(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limiters[ip]
	if l == nil {
		if len(s.limiters) >= maxLimiters { // forget the full ones first
			for k, v := range s.limiters {
				if v.Tokens() >= signInBurst {
					delete(s.limiters, k)
				}
			}
		}
		if len(s.limiters) >= maxLimiters {
			return false
		}
		l = rate.NewLimiter(signInRate, signInBurst)
		s.limiters[ip] = l
	}
	return l.Allow()
}

// sameOrigin reports whether a browser request comes from the page itself:
// its Origin is the public URL's or the request's own host.
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if u.Scheme == s.public.Scheme && strings.EqualFold(u.Host, s.public.Host) {
		return true
	}
	return strings.EqualFold(u.Host, r.Host) && (u.Scheme == "http" || u.Scheme == "https")
}

// signIn is POST /api/signin {"token": "..."}: it uses a sign-in link and
// sets the session cookie.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		httpError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if !s.allowSignIn(s.clientIP(r)) {
		w.Header().Set("Retry-After", "10")
		httpError(w, http.StatusTooManyRequests, "too many sign-in attempts from your address; wait a minute")
		return
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := readJSON(r, &body); err != nil {
		httpError(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	now := s.cfg.Now()
	h := hashToken(body.Token)
	l, ok, err := s.takeLink(r.Context(), h) // used or not, never again (links.go)
	if err != nil {
		s.log.Error("web: sign-in link", "err", err)
		httpError(w, http.StatusServiceUnavailable, "could not check the sign-in link just now; try again")
		return
	}
	if !ok || !now.Before(l.expires) {
		httpError(w, http.StatusUnauthorized, "this sign-in link is not valid: it was used already or is older than 10 minutes; run the web command again for a new one")
		return
	}
	id, err := s.cfg.Identities.Identity(l.id)
	if err != nil {
		httpError(w, http.StatusForbidden, err.Error())
		return
	}
	cookie, err := s.newSession(r.Context(), id.ID, agentSummary(r.UserAgent()), s.clientIP(r))
	if err != nil {
		if errors.Is(err, errSessionsFull) {
			httpError(w, http.StatusServiceUnavailable, "too many browsers are signed in; try again later")
			return
		}
		s.log.Error("web: sign-in", "id", id.ID, "err", err)
		httpError(w, http.StatusServiceUnavailable, "could not sign you in: the server could not store the session; try again")
		return
	}
	s.setSessionCookie(w, cookie)
	s.log.Info("web: signed in", "id", id.ID, "addr", s.clientIP(r))
	writeJSON(w, map[string]string{"name": id.Name})
}

// session returns the signed-in browser of the request and its identity
// as it is now. A browser whose identity may no longer sign in is signed
// out.
func (s *Server) session(r *http.Request) (*browser, room.Identity, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, room.Identity{}, errNotSignedIn
	}
	rec, err := s.lookupSession(r.Context(), c.Value)
	if err != nil {
		return nil, room.Identity{}, err
	}
	id, err := s.cfg.Identities.Identity(rec.Identity)
	if err != nil {
		s.signOutID(rec.Identity)
		return nil, room.Identity{}, err
	}
	return &browser{id: rec.Identity, csrf: csrfOf(c.Value), handle: rec.Handle}, id, nil
}

var errNotSignedIn = errors.New("not signed in")

// signOutID ends every browser session of identity id.
func (s *Server) signOutID(id string) {
	ctx, cancel := storeCtx(context.Background())
	defer cancel()
	if err := s.sessions.DeleteSessionsOf(ctx, id); err != nil {
		s.log.Error("web: signing out", "id", id, "err", err)
	}
}

// me is GET /api/me: who the browser is signed in as, and its CSRF token;
// 401 with the way to sign in otherwise.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	b, id, err := s.session(r)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(sessionStatus(err))
		writeJSONBody(w, map[string]string{"error": err.Error(), "hint": s.cfg.SignInHint})
		return
	}
	writeJSON(w, map[string]any{"id": id.ID, "name": id.Name, "csrf": b.csrf})
}

// checkCSRF reports whether a state-changing request carries the
// browser's CSRF token and comes from the page's origin.
func (s *Server) checkCSRF(r *http.Request, b *browser, token string) bool {
	return s.sameOrigin(r) && token != "" && constantEqual(token, b.csrf)
}

// signOut is POST /api/signout: the browser's session ends.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	b, _, err := s.session(r)
	if err != nil {
		httpError(w, sessionStatus(err), err.Error())
		return
	}
	if !s.checkCSRF(r, b, r.Header.Get("X-CSRF-Token")) {
		httpError(w, http.StatusForbidden, "missing or wrong CSRF token")
		return
	}
	ctx, cancel := storeCtx(r.Context())
	defer cancel()
	if _, err := s.sessions.DeleteSession(ctx, b.id, b.handle); err != nil {
		s.log.Error("web: sign-out", "id", b.id, "err", err)
		httpError(w, http.StatusServiceUnavailable, "could not sign you out: the server could not reach its store; try again")
		return
	}
	s.endPages(b.handle, "signed out")
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	writeJSON(w, map[string]bool{"ok": true})
}
