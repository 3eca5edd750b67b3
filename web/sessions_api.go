package web

import (
	"net/http"
	"sort"
	"time"
)

// The owner's view of their browser sessions: GET /api/sessions lists
// them, POST /api/sessions/revoke ends one (and its open pages at once).
// See docs/web-protocol.md.

// sessionJSON is one session as its owner sees it.
type sessionJSON struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"lastSeen"`
	Expires  time.Time `json:"expires"`
	Agent    string    `json:"agent"`
	Addr     string    `json:"addr"`
	Current  bool      `json:"current,omitempty"`
}

// listSessions is GET /api/sessions: the signed-in person's sessions,
// most recently seen first, this browser's marked current.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	b, _, err := s.session(r)
	if err != nil {
		httpError(w, sessionStatus(err), err.Error())
		return
	}
	ctx, cancel := storeCtx(r.Context())
	defer cancel()
	recs, err := s.sessions.SessionsOf(ctx, b.id)
	if err != nil {
		s.log.Error("web: listing sessions", "id", b.id, "err", err)
		httpError(w, http.StatusServiceUnavailable, "could not list your sessions just now; try again")
		return
	}
	now := s.cfg.Now()
	out := make([]sessionJSON, 0, len(recs))
	for _, rec := range recs {
		if !now.Before(rec.Expires) {
			continue
		}
		out = append(out, sessionJSON{ID: rec.Handle, Created: rec.Created.UTC(), LastSeen: rec.LastSeen.UTC(),
			Expires: rec.Expires.UTC(), Agent: rec.Agent, Addr: rec.Addr, Current: rec.Handle == b.handle})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Current != out[j].Current {
			return out[i].Current
		}
		return out[i].LastSeen.After(out[j].LastSeen)
	})
	writeJSON(w, map[string]any{"sessions": out})
}

// revokeSession is POST /api/sessions/revoke {"id": HANDLE} with the CSRF
// token: it signs that browser of the person's out and closes its open
// pages. Revoking this browser's own session is signing out.
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) {
	b, _, err := s.session(r)
	if err != nil {
		httpError(w, sessionStatus(err), err.Error())
		return
	}
	if !s.checkCSRF(r, b, r.Header.Get("X-CSRF-Token")) {
		httpError(w, http.StatusForbidden, "missing or wrong CSRF token")
		return
	}
	var body struct {
		ID string `json:"id"`
	}
	if err := readJSON(r, &body); err != nil {
		httpError(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	if body.ID == "" {
		httpError(w, http.StatusBadRequest, `bad request: say which session with "id"`)
		return
	}
	ctx, cancel := storeCtx(r.Context())
	defer cancel()
	found, err := s.sessions.DeleteSession(ctx, b.id, body.ID)
	if err != nil {
		s.log.Error("web: revoking a session", "id", b.id, "err", err)
		httpError(w, http.StatusServiceUnavailable, "could not sign that browser out just now; try again")
		return
	}
	if !found {
		httpError(w, http.StatusNotFound, "no such session of yours: it was signed out already or has expired")
		return
	}
	reason := "signed out from another browser"
	if body.ID == b.handle {
		reason = "signed out"
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	}
	s.endPages(body.ID, reason)
	s.log.Info("web: session revoked", "id", b.id)
	writeJSON(w, map[string]bool{"ok": true})
}
