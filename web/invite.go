package web

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"strings"

	"parley/room"
)

// Browser invites (issue 17): `ssh host invite` prints PUBLIC_URL/invite/CODE
// too. The page there lets a newcomer pick a name and create a passkey; no
// SSH key is needed. The code follows the rules of `join CODE` over SSH,
// which the Invites port applies (the SSH side holds the codes, names and
// penalties): only the hash of a code is stored, its uses and expiry count,
// attempts are rate limited per address and a refused one counts toward
// the address's failed-login penalty.
//
// The newcomer becomes a browser-only identity: an account with an id of
// its own (AccountPrefix and 16 random base32 characters, never an SSH
// fingerprint), kept durably by the Invites port's side with its name, and
// this passkey. It is listed, removed and banned by name or id like a key.

// AccountPrefix starts the id of every browser-only identity.
const AccountPrefix = "web:"

// Invites is the browser invite port, implemented by the SSH side's access
// list (server.WebInvites). Its errors are safe to show the newcomer.
type Invites interface {
	// ReserveInvite takes one use of code for a newcomer called name,
	// coming from address addr (an IP address), by the rules of `join
	// CODE`. undo gives the use back if the newcomer does not finish.
	ReserveInvite(ctx context.Context, code, name, addr string) (undo func(context.Context) error, err error)
	// CreateAccount makes the browser-only identity id called name, once
	// its passkey has checked out, and returns it as it may sign in.
	CreateAccount(ctx context.Context, id, name string) (room.Identity, error)
}

// NewAccountID returns a new browser-only identity id.
func NewAccountID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return AccountPrefix + strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

func (s *Server) inviteRoutes(mux *http.ServeMux, files http.Handler) {
	mux.HandleFunc("GET /invite/{code}", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/"
		files.ServeHTTP(w, r2) // passkey.js reads the code from the path
	})
	mux.HandleFunc("POST /api/invite/begin", s.needPasskeys(s.inviteBegin))
	mux.HandleFunc("POST /api/invite/finish", s.needPasskeys(s.inviteFinish))
}

// inviteBegin is POST /api/invite/begin {"code","name"}: it takes a use of
// the code (given back if the newcomer does not finish within the
// ceremony's time) and answers the options to create a passkey.
func (s *Server) inviteBegin(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		httpError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if s.cfg.Invites == nil {
		httpError(w, http.StatusNotFound, "invites in the browser are turned off on this server")
		return
	}
	if !s.allowSignIn(s.addrOf(r)) {
		w.Header().Set("Retry-After", "10")
		httpError(w, http.StatusTooManyRequests, "too many attempts from your address; wait a minute")
		return
	}
	req, err := readPasskeyRequest(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	// A newcomer who cancelled the browser's prompt and tries again must
	// find the code's use free: the pending ceremonies of this code (and
	// the expired ones) give their uses back first.
	s.releaseInvite(codeKey(req.Code))
	undo, err := s.cfg.Invites.ReserveInvite(r.Context(), req.Code, req.Name, s.addrOf(r))
	if err != nil {
		httpError(w, http.StatusForbidden, err.Error())
		return
	}
	id := room.Identity{ID: NewAccountID(), Name: req.Name}
	c := &ceremony{kind: "invite", identity: id.ID, name: req.Name, code: codeKey(req.Code), undo: undo}
	s.beginRegistration(w, c, &passkeyUser{id: id})
}

// inviteFinish is POST /api/invite/finish: the newcomer's passkey checked,
// their identity is made and the browser signed in as it.
func (s *Server) inviteFinish(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		httpError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if s.cfg.Invites == nil {
		httpError(w, http.StatusNotFound, "invites in the browser are turned off on this server")
		return
	}
	req, err := readPasskeyRequest(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	c, ok := s.takeCeremony(req.Ceremony, "invite")
	if !ok {
		httpError(w, http.StatusBadRequest, "this invite request has expired or was used already; open the invite link again")
		return
	}
	ctx := r.Context()
	giveBack := func() { s.undoAll([]func(context.Context) error{c.undo}) }
	cred, err := s.createCredential(ctx, room.Identity{ID: c.identity, Name: c.name}, c, req.Credential)
	if err != nil {
		giveBack()
		httpError(w, http.StatusBadRequest, "the passkey was not accepted: "+err.Error())
		return
	}
	// The passkey first: alone, it lets nobody in (the identity does not
	// exist yet); the identity then, which makes it usable.
	if err := s.keepCredential(ctx, c.identity, cred); err != nil {
		giveBack()
		s.log.Error("web: storing an invited newcomer's passkey", "err", err)
		httpError(w, http.StatusInternalServerError, "the server could not keep the passkey; the code was not used, try again")
		return
	}
	id, err := s.cfg.Invites.CreateAccount(ctx, c.identity, c.name)
	if err != nil {
		if _, rerr := s.cfg.Credentials.RemovePasskeys(context.WithoutCancel(ctx), c.identity); rerr != nil {
			s.log.Error("web: removing the passkey of an identity not made", "id", c.identity, "err", rerr)
		}
		giveBack()
		httpError(w, http.StatusForbidden, err.Error())
		return
	}
	if !s.startBrowserSession(w, r, id) {
		return
	}
	s.log.Info("web: invite used: browser-only identity made", "id", id.ID, "name", id.Name, "addr", s.addrOf(r))
	writeJSON(w, map[string]string{"id": id.ID, "name": id.Name})
}

// InviteLink returns the page's link for an invite code, and false when
// the page cannot take invites (no Invites port, or passkeys are off on an
// IP-address URL).
func (s *Server) InviteLink(code string) (string, bool) {
	if s.cfg.Invites == nil || s.webauthn == nil {
		return "", false
	}
	return s.public.String() + "/invite/" + code, true
}

// codeKey is an invite code as typed, in the form that compares: lower
// case, without the spaces and dashes people put between groups.
func codeKey(code string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(code))
}

// releaseInvite ends the pending invite ceremonies of code, and every
// expired one, giving their uses back.
func (s *Server) releaseInvite(code string) {
	now := s.cfg.Now()
	var undo []func(context.Context) error
	s.mu.Lock()
	for h, c := range s.ceremonies {
		if (c.kind == "invite" && c.code == code) || !now.Before(c.expires) {
			delete(s.ceremonies, h)
			if c.undo != nil {
				undo = append(undo, c.undo)
			}
		}
	}
	s.mu.Unlock()
	s.undoAll(undo)
}
