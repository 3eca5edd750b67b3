package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"parley/room"
)

// Passkeys (issue 17): a signed-in browser registers a passkey for its
// identity (POST /api/passkey/register/begin and /finish); the sign-in page
// signs in with one, with no SSH (POST /api/passkey/signin/begin and
// /finish, discoverable credentials: the passkey's user handle is the
// identity's id). Every passkey sign-in still asks the Identities port: a
// removed, expired or banned identity cannot sign in with its passkey.

// Credentials is the passkeys port: the WebAuthn credentials of each
// identity, durable (store.SQLite; MemoryCredentials for tests and
// --store memory). A record is the JSON of a webauthn.Credential, opaque to
// the store. Implementations must be safe for concurrent use.
type Credentials interface {
	// AddPasskey stores a new credential id of identity.
	AddPasskey(ctx context.Context, identity string, id, record []byte, created time.Time) error
	// Passkeys returns the records of identity's credentials.
	Passkeys(ctx context.Context, identity string) ([][]byte, error)
	// PasskeyOwner returns the identity and record of credential id, or
	// "" when there is none.
	PasskeyOwner(ctx context.Context, id []byte) (identity string, record []byte, err error)
	// UpdatePasskey replaces the record of credential id after a sign-in
	// (its sign count) and notes when it was used.
	UpdatePasskey(ctx context.Context, id, record []byte, used time.Time) error
	// RemovePasskeys removes every credential of identity and says how many.
	RemovePasskeys(ctx context.Context, identity string) (int, error)
}

// Limits of the passkey ceremonies.
const (
	// ceremonyTTL is how long a begun ceremony (its challenge) may be
	// finished, once.
	ceremonyTTL = 3 * time.Minute
	// maxCeremonies bounds the ceremonies waiting to be finished.
	maxCeremonies = 10000
	// maxPasskeysPerIdentity bounds the passkeys of one identity.
	maxPasskeysPerIdentity = 20
	// maxPasskeyBody bounds a ceremony's JSON (an attestation with
	// certificates is a few KiB).
	maxPasskeyBody = 64 << 10
)

// ceremony is a begun registration or sign-in, keyed by the hash of the
// token the page posts back with its answer. Single use.
type ceremony struct {
	kind     string // "register", "signin", "invite"
	identity string // who registers ("" for a sign-in)
	name     string // the name an invited newcomer chose
	code     string // the invite code it holds a use of (codeKey)
	session  webauthn.SessionData
	expires  time.Time
	undo     func(context.Context) error // gives an invite's use back
}

// passkeyUser is a webauthn.User: an identity and its credentials.
type passkeyUser struct {
	id    room.Identity
	creds []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.id.ID) }
func (u *passkeyUser) WebAuthnName() string                       { return u.id.Name }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.id.Name }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// newWebAuthn makes the relying party of the public URL: its host is the
// RP ID, its origin the only one accepted.
func newWebAuthn(public string, host string) (*webauthn.WebAuthn, error) {
	w, err := webauthn.New(&webauthn.Config{
		RPID:          host,
		RPDisplayName: "parley",
		RPOrigins:     []string{public},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("web: passkeys for %s: %w", public, err)
	}
	return w, nil
}

// beginCeremony keeps c and returns the token that finishes it.
func (s *Server) beginCeremony(c *ceremony) (string, error) {
	tok := randomToken()
	now := s.cfg.Now()
	c.expires = now.Add(ceremonyTTL)
	var undo []func(context.Context) error
	s.mu.Lock()
	for h, old := range s.ceremonies {
		if !now.Before(old.expires) {
			delete(s.ceremonies, h)
			if old.undo != nil {
				undo = append(undo, old.undo)
			}
		}
	}
	full := len(s.ceremonies) >= maxCeremonies
	if !full {
		s.ceremonies[hashToken(tok)] = c
	}
	s.mu.Unlock()
	s.undoAll(undo)
	if full {
		return "", room.Errorf("too many passkey requests are waiting; try again in a few minutes")
	}
	return tok, nil
}

// takeCeremony returns the ceremony of tok, of kind, and forgets it: a
// token works once, used or not.
func (s *Server) takeCeremony(tok, kind string) (*ceremony, bool) {
	h := hashToken(tok)
	s.mu.Lock()
	c := s.ceremonies[h]
	delete(s.ceremonies, h)
	s.mu.Unlock()
	if c == nil {
		return nil, false
	}
	if c.kind != kind || !s.cfg.Now().Before(c.expires) {
		if c.undo != nil {
			s.undoAll([]func(context.Context) error{c.undo})
		}
		return nil, false
	}
	return c, true
}

// undoAll gives invite uses back, logging what fails.
func (s *Server) undoAll(undo []func(context.Context) error) {
	for _, u := range undo {
		if err := u(context.Background()); err != nil {
			s.log.Error("web: giving an invite use back", "err", err)
		}
	}
}

// credentialsOf loads the credentials of identity.
func (s *Server) credentialsOf(ctx context.Context, identity string) ([]webauthn.Credential, error) {
	recs, err := s.cfg.Credentials.Passkeys(ctx, identity)
	if err != nil {
		return nil, fmt.Errorf("web: passkeys of %s: %w", identity, err)
	}
	out := make([]webauthn.Credential, 0, len(recs))
	for _, r := range recs {
		var c webauthn.Credential
		if err := json.Unmarshal(r, &c); err != nil {
			return nil, fmt.Errorf("web: a stored passkey of %s: %w", identity, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// passkeyRequest is what the page posts to finish a ceremony.
type passkeyRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	// Code and Name are an invited newcomer's (invite begin only).
	Code string `json:"code,omitempty"`
	Name string `json:"name,omitempty"`
}

func readPasskeyRequest(r *http.Request) (passkeyRequest, error) {
	var req passkeyRequest
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return req, errors.New("send application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxPasskeyBody))
	if err != nil {
		return req, fmt.Errorf("reading the body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("reading the JSON body: %w", err)
	}
	return req, nil
}

// signedInForChange returns the signed-in browser of a state-changing
// request (its session, CSRF token and Origin checked), or answers the
// request itself and returns ok false.
func (s *Server) signedInForChange(w http.ResponseWriter, r *http.Request) (*browser, room.Identity, bool) {
	b, id, err := s.session(r)
	if err != nil {
		httpError(w, http.StatusUnauthorized, err.Error())
		return nil, room.Identity{}, false
	}
	if !s.checkCSRF(r, b, r.Header.Get("X-CSRF-Token")) {
		httpError(w, http.StatusForbidden, "missing or wrong CSRF token")
		return nil, room.Identity{}, false
	}
	return b, id, true
}

// registerBegin is POST /api/passkey/register/begin: the options for
// navigator.credentials.create, for the signed-in identity.
func (s *Server) registerBegin(w http.ResponseWriter, r *http.Request) {
	_, id, ok := s.signedInForChange(w, r)
	if !ok {
		return
	}
	creds, err := s.credentialsOf(r.Context(), id.ID)
	if err != nil {
		s.log.Error("web: passkey registration", "err", err)
		httpError(w, http.StatusInternalServerError, "the server could not read your passkeys; try again")
		return
	}
	if len(creds) >= maxPasskeysPerIdentity {
		httpError(w, http.StatusConflict, fmt.Sprintf("you have %d passkeys already, the most one person may have", len(creds)))
		return
	}
	s.beginRegistration(w, &ceremony{kind: "register", identity: id.ID}, &passkeyUser{id: id, creds: creds})
}

// beginRegistration answers the creation options of u and keeps the
// ceremony c.
func (s *Server) beginRegistration(w http.ResponseWriter, c *ceremony, u *passkeyUser) {
	opts, sess, err := s.webauthn.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		s.log.Error("web: begin passkey registration", "err", err)
		httpError(w, http.StatusInternalServerError, "the server could not start the passkey registration")
		return
	}
	c.session = *sess
	tok, err := s.beginCeremony(c)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, map[string]any{"ceremony": tok, "options": opts})
}

// registerFinish is POST /api/passkey/register/finish: it checks the
// authenticator's answer and keeps the new passkey.
func (s *Server) registerFinish(w http.ResponseWriter, r *http.Request) {
	_, id, ok := s.signedInForChange(w, r)
	if !ok {
		return
	}
	req, err := readPasskeyRequest(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	c, ok := s.takeCeremony(req.Ceremony, "register")
	if !ok || c.identity != id.ID {
		httpError(w, http.StatusBadRequest, "this passkey request has expired or was used already; start again")
		return
	}
	cred, err := s.createCredential(r.Context(), id, c, req.Credential)
	if err != nil {
		httpError(w, http.StatusBadRequest, "the passkey was not accepted: "+err.Error())
		return
	}
	if err := s.keepCredential(r.Context(), id.ID, cred); err != nil {
		s.log.Error("web: storing a passkey", "id", id.ID, "err", err)
		httpError(w, http.StatusInternalServerError, "the server could not keep the passkey; try again")
		return
	}
	s.log.Info("web: passkey registered", "id", id.ID, "addr", s.addrOf(r))
	writeJSON(w, map[string]bool{"ok": true})
}

// createCredential verifies a registration answer for id against the
// ceremony c. Its errors are safe to show.
func (s *Server) createCredential(ctx context.Context, id room.Identity, c *ceremony, answer []byte) (*webauthn.Credential, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return nil, errors.New("the answer of the authenticator could not be read")
	}
	creds, err := s.credentialsOf(ctx, id.ID)
	if err != nil {
		s.log.Error("web: passkey registration", "err", err)
		return nil, errors.New("the server could not read your passkeys")
	}
	cred, err := s.webauthn.CreateCredential(&passkeyUser{id: id, creds: creds}, c.session, parsed)
	if err != nil {
		s.log.Info("web: passkey registration refused", "id", id.ID, "err", describe(err))
		return nil, errors.New("the authenticator's answer does not check out")
	}
	return cred, nil
}

// keepCredential stores cred as a passkey of identity.
func (s *Server) keepCredential(ctx context.Context, identity string, cred *webauthn.Credential) error {
	rec, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("web: encoding a passkey: %w", err)
	}
	return s.cfg.Credentials.AddPasskey(ctx, identity, cred.ID, rec, s.cfg.Now())
}

// describe is a library error with its details, for the log.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Error() + ": " + pe.DevInfo
	}
	return err.Error()
}

// passkeySignInBegin is POST /api/passkey/signin/begin: the options for
// navigator.credentials.get, with no user named (discoverable
// credentials: the authenticator offers the passkeys it has for this site).
func (s *Server) passkeySignInBegin(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		httpError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if !s.allowSignIn(s.addrOf(r)) {
		w.Header().Set("Retry-After", "10")
		httpError(w, http.StatusTooManyRequests, "too many sign-in attempts from your address; wait a minute")
		return
	}
	opts, sess, err := s.webauthn.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		s.log.Error("web: begin passkey sign-in", "err", err)
		httpError(w, http.StatusInternalServerError, "the server could not start a passkey sign-in")
		return
	}
	tok, err := s.beginCeremony(&ceremony{kind: "signin", session: *sess})
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, map[string]any{"ceremony": tok, "options": opts})
}

// errPasskeyUnknown is the answer to a passkey this server does not know
// (removed with its identity, or made for another server).
var errPasskeyUnknown = errors.New("this passkey is not known here (it was removed, or belongs to another server); sign in with a link from ssh")

// passkeySignInFinish is POST /api/passkey/signin/finish: it checks the
// authenticator's answer and signs the browser in as the passkey's
// identity, if the Identities port still lets it in.
func (s *Server) passkeySignInFinish(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		httpError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	req, err := readPasskeyRequest(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	c, ok := s.takeCeremony(req.Ceremony, "signin")
	if !ok {
		httpError(w, http.StatusBadRequest, "this passkey sign-in has expired or was used already; try again")
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(req.Credential)
	if err != nil {
		httpError(w, http.StatusBadRequest, "the answer of the authenticator could not be read")
		return
	}
	ctx := r.Context()
	var refused error // why the Identities port refused, safe to show
	var owner room.Identity
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		who, _, err := s.cfg.Credentials.PasskeyOwner(ctx, rawID)
		if err != nil {
			return nil, err
		}
		if who == "" || who != string(userHandle) {
			refused = errPasskeyUnknown
			return nil, refused
		}
		id, err := s.cfg.Identities.Identity(who)
		if err != nil {
			refused = err
			return nil, err
		}
		creds, err := s.credentialsOf(ctx, who)
		if err != nil {
			return nil, err
		}
		owner = id
		return &passkeyUser{id: id, creds: creds}, nil
	}
	_, cred, err := s.webauthn.ValidatePasskeyLogin(handler, c.session, parsed)
	switch {
	case refused != nil:
		s.log.Info("web: passkey sign-in refused", "addr", s.addrOf(r), "why", refused.Error())
		httpError(w, http.StatusForbidden, refused.Error())
		return
	case err != nil:
		s.log.Info("web: passkey sign-in failed", "addr", s.addrOf(r), "err", describe(err))
		httpError(w, http.StatusUnauthorized, "the passkey's answer does not check out; try again")
		return
	case cred.Authenticator.CloneWarning:
		// The signature counter went backwards: two copies of the key.
		s.log.Warn("web: passkey sign-in refused: its signature counter went backwards (a cloned authenticator?)", "id", owner.ID, "addr", s.addrOf(r))
		httpError(w, http.StatusForbidden, "this passkey's counter went backwards, so it may have been copied; it is refused. Sign in with a link from ssh and register a new passkey")
		return
	}
	rec, err := json.Marshal(cred)
	if err == nil {
		err = s.cfg.Credentials.UpdatePasskey(ctx, cred.ID, rec, s.cfg.Now())
	}
	if err != nil {
		s.log.Error("web: updating a passkey after sign-in", "id", owner.ID, "err", err)
		httpError(w, http.StatusInternalServerError, "the server could not record the sign-in; try again")
		return
	}
	if !s.startBrowserSession(w, r, owner) {
		return
	}
	s.log.Info("web: signed in with a passkey", "id", owner.ID, "addr", s.addrOf(r))
	writeJSON(w, map[string]string{"name": owner.Name})
}

// startBrowserSession signs the browser of r in as id: a new session and
// its cookie, as a sign-in link does. It answers the request itself when
// it cannot, and returns false.
func (s *Server) startBrowserSession(w http.ResponseWriter, r *http.Request, id room.Identity) bool {
	cookie, err := s.newSession(r.Context(), id.ID, agentSummary(r.UserAgent()), s.clientIP(r))
	if err != nil {
		if errors.Is(err, errSessionsFull) {
			httpError(w, http.StatusServiceUnavailable, "too many browsers are signed in; try again later")
			return false
		}
		s.log.Error("web: passkey sign-in", "id", id.ID, "err", err)
		httpError(w, http.StatusServiceUnavailable, "could not sign you in: the server could not store the session; try again")
		return false
	}
	s.setSessionCookie(w, cookie)
	s.log.Debug("web: browser session started", "id", id.ID, "addr", s.addrOf(r))
	return true
}

// SignOutIdentity ends every browser session (cookie) of identity at
// once: its passkeys or access were removed. Its open pages are closed by
// the hub (Hub.Disconnect), which its SSH sessions share.
func (s *Server) SignOutIdentity(identity string) { s.signOutID(identity) }

// errDuplicatePasskey: a credential id registered twice.
var errDuplicatePasskey = errors.New("this passkey is registered already")

// initPasskeys sets up the relying party and the routes of passkeys and
// browser invites.
func (s *Server) initPasskeys(mux *http.ServeMux, files http.Handler) error {
	if s.cfg.Credentials == nil {
		s.cfg.Credentials = NewMemoryCredentials()
	}
	s.ceremonies = map[[32]byte]*ceremony{}
	if net.ParseIP(s.public.Hostname()) == nil { // WebAuthn needs a domain name
		w, err := newWebAuthn(s.public.Scheme+"://"+s.public.Host, s.public.Hostname())
		if err != nil {
			return err
		}
		s.webauthn = w
	}
	mux.Handle("GET /passkey.js", files)
	mux.HandleFunc("POST /api/passkey/register/begin", s.needPasskeys(s.registerBegin))
	mux.HandleFunc("POST /api/passkey/register/finish", s.needPasskeys(s.registerFinish))
	mux.HandleFunc("POST /api/passkey/signin/begin", s.needPasskeys(s.passkeySignInBegin))
	mux.HandleFunc("POST /api/passkey/signin/finish", s.needPasskeys(s.passkeySignInFinish))
	mux.HandleFunc("GET /api/passkey", s.passkeyStatus)
	s.inviteRoutes(mux, files)
	return nil
}

// noPasskeys says why passkeys are off: browsers allow them only on a
// domain name (localhost included), never on an IP address.
func (s *Server) noPasskeys() string {
	return fmt.Sprintf("passkeys need the page to be opened at a domain name, not the IP address %s: open it at http://localhost:%s, or set --web-url", s.public.Hostname(), s.public.Port())
}

// needPasskeys refuses a passkey request when passkeys are off.
func (s *Server) needPasskeys(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.webauthn == nil {
			httpError(w, http.StatusNotFound, s.noPasskeys())
			return
		}
		h(w, r)
	}
}

// passkeyStatus is GET /api/passkey: whether passkeys work on this page
// (and why not), and whether browser invites do.
func (s *Server) passkeyStatus(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{"passkeys": s.webauthn != nil, "invites": s.cfg.Invites != nil && s.webauthn != nil}
	if s.webauthn == nil {
		out["why"] = s.noPasskeys()
	}
	writeJSON(w, out)
}

// addrOf is the address a passkey or invite request is counted against:
// the client's, behind a trusted proxy too (proxy.go).
func (s *Server) addrOf(r *http.Request) string { return s.clientIP(r) }
