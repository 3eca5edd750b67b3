package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/access"
	"parley/cli"
	"parley/guard"
	"parley/room"
	"parley/safetext"
)

// Browser-only people (issue 17): a newcomer who uses an invite on the web
// page (web/invite.go) becomes an access.Account, with an id "web:..." in
// place of a key's fingerprint and no SSH key. The decision: these accounts
// live beside the bans and invites (the access list of who may come in
// besides authorized_keys), in the same store (SQLite, migration 0007), so
// they outlive restarts; `keys list` lists them, `keys remove NAME` removes
// them (and their passkeys), `ban NAME` bans them by their id, as it bans a
// key by its fingerprint. They are never admins: admin rights come from
// authorized_keys only (an admin's key signed in on the page is an admin
// there too). The front door answers for them at every sign-in and page
// (WebIdentity), and the same name rules hold across both lists: a name
// that a key has cannot be taken by an account, and the reverse.

// accountPrefix starts every browser-only identity's id (web.AccountPrefix).
const accountPrefix = "web:"

// isAccount reports whether id is a browser-only identity's.
func isAccount(id string) bool { return strings.HasPrefix(id, accountPrefix) }

// accountIdentity is WebIdentity for a browser-only identity.
func (s *Server) accountIdentity(id string) (room.Identity, error) {
	a, ok, err := access.FindAccount(context.Background(), s.cfg.Accounts, id)
	if err != nil {
		s.log.Error("web: reading the browser-only accounts", "err", err)
		return room.Identity{}, errors.New("the server could not check your account; try again")
	}
	if !ok || a.ID != id {
		return room.Identity{}, errors.New("this account was removed by the operator")
	}
	if b, banned := s.access.Banned(id); banned {
		return room.Identity{}, &banError{b}
	}
	return room.Identity{ID: a.ID, Name: a.Name}, nil
}

// nameTaken says why name may not be a newcomer's: a key has it, an
// account has it, or someone online shows it. "" when it is free. The
// caller holds keysMu.
func (s *Server) nameTakenLocked(ctx context.Context, name string) (string, error) {
	if _, taken := s.keys.Current().NameOwner(name); taken {
		return "the name " + name + " belongs to another key", nil
	}
	if _, ok, err := access.FindAccount(ctx, s.cfg.Accounts, name); err != nil {
		return "", err
	} else if ok {
		return "the name " + name + " belongs to someone else", nil
	}
	if _, online := s.hub.FindMember(name); online {
		return "the name " + name + " is in use by someone here", nil
	}
	return "", nil
}

// ReserveWebInvite is the web page's invite port (web.Invites): it takes
// one use of code for a newcomer called name from address addr, by the
// rules of `join CODE` over SSH: the same rate limit per address, the same
// name rules, and a wrong code counts as a failed login toward the
// address's penalty (and a penalized address is refused). Its errors are
// safe to show.
func (s *Server) ReserveWebInvite(ctx context.Context, code, name, addr string) (func(context.Context) error, error) {
	src := guard.SourceString(addr)
	if left := s.gate.PenaltyLeft(src); left > 0 {
		return nil, fmt.Errorf("too many failed attempts from your address; try again in %s", left.Round(time.Second))
	}
	if ok, wait := s.joinLimit.Allow(src); !ok {
		return nil, fmt.Errorf("too many invite attempts from your address; try again in %s", wait.Round(time.Second))
	}
	if err := safetext.ValidateName(name); err != nil {
		return nil, fmt.Errorf("%q cannot be your name here: %v", safetext.Line(name, 32), err)
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	why, err := s.nameTakenLocked(ctx, name)
	if err != nil {
		s.log.Error("web invite: checking the name", "err", err)
		return nil, errors.New("the server could not check the name; please try again")
	}
	if why != "" {
		return nil, errors.New(why + "; choose another")
	}
	undo, err := s.access.Redeem(ctx, code)
	if errors.Is(err, access.ErrInvalidInvite) {
		s.failedWebAttempt(src)
		return nil, err
	}
	if err != nil {
		s.log.Error("web invite: redeeming an invite", "err", err)
		return nil, errors.New("the server could not check the code; please try again")
	}
	return undo, nil
}

// failedWebAttempt counts a wrong invite code from the page as a failed
// login of its address, as a guest that leaves without joining is.
func (s *Server) failedWebAttempt(src string) {
	t, err := s.gate.Admit(src)
	if err != nil {
		return // refused already: it is penalized or at its caps
	}
	t.Done(true)
	s.conns.AuthResult("failed")
}

// CreateWebAccount makes the browser-only identity id called name, once
// its passkey has checked out (web.Invites). The name is checked again: it
// may have been taken since the code was reserved.
func (s *Server) CreateWebAccount(ctx context.Context, id, name string) (room.Identity, error) {
	if !isAccount(id) {
		return room.Identity{}, errors.New("not a browser-only identity")
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	why, err := s.nameTakenLocked(ctx, name)
	if err == nil && why != "" {
		return room.Identity{}, errors.New(why + "; the code was not used, open the invite link again and choose another")
	}
	if err == nil {
		err = s.cfg.Accounts.PutAccount(ctx, access.Account{ID: id, Name: name, Created: time.Now()})
	}
	if err != nil {
		s.log.Error("web invite: storing the account", "err", err)
		return room.Identity{}, errors.New("the server could not make your account; the code was not used, please try again")
	}
	s.log.Info("invite used in the browser: account made", "id", id, "name", name)
	return room.Identity{ID: id, Name: name}, nil
}

// accountReserved is room.Config.Reserved for the browser-only accounts.
func (s *Server) accountReserved(name string) (string, bool) {
	a, ok, err := access.FindAccount(context.Background(), s.cfg.Accounts, name)
	if err != nil || !ok || safetext.Fold(a.Name) != safetext.Fold(name) {
		return "", false
	}
	return a.ID, true
}

// watchAccounts ends the sessions of browser-only identities whose account
// is gone (removed from the shell, `parley keys remove`, which cannot
// reach this process), every poll.
func (s *Server) watchAccounts(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.endRemovedAccounts(ctx)
	}
}

func (s *Server) endRemovedAccounts(ctx context.Context) {
	var online []string
	for _, id := range s.hub.OnlineIDs() {
		if isAccount(id) {
			online = append(online, id)
		}
	}
	if len(online) == 0 {
		return
	}
	all, err := s.cfg.Accounts.Accounts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("reading the browser-only accounts", "err", err)
		}
		return
	}
	have := make(map[string]bool, len(all))
	for _, a := range all {
		have[a.ID] = true
	}
	for _, id := range online {
		if !have[id] {
			if n := s.hub.Disconnect(id, "access revoked by the operator"); n > 0 {
				s.log.Info("disconnected a browser-only account that was removed", "id", id, "sessions", n)
			}
		}
	}
}

// WebAccess is the browser side of the access list for `keys list` and
// `keys remove` (cli.WebAccess), over the accounts and passkeys stores.
// Ended, when set, is called with an identity whose passkeys or account
// were removed (the server ends its sessions; the shell has none to end).
type WebAccess struct {
	AccountStore access.Accounts
	PasskeyStore access.PasskeyStore
	Ended        func(identity string)
}

var _ cli.WebAccess = (*WebAccess)(nil)

// Passkeys implements cli.WebAccess.
func (w *WebAccess) Passkeys() (map[string][]cli.Passkey, error) {
	list, err := w.PasskeyStore.PasskeyList(context.Background())
	if err != nil {
		return nil, err
	}
	out := map[string][]cli.Passkey{}
	for _, p := range list {
		out[p.Identity] = append(out[p.Identity], cli.Passkey{Created: p.Created, LastUsed: p.LastUsed})
	}
	return out, nil
}

// Accounts implements cli.WebAccess.
func (w *WebAccess) Accounts() ([]cli.Account, error) {
	all, err := w.AccountStore.Accounts(context.Background())
	if err != nil {
		return nil, err
	}
	out := make([]cli.Account, 0, len(all))
	for _, a := range all {
		out = append(out, cli.Account{ID: a.ID, Name: a.Name, Created: a.Created})
	}
	return out, nil
}

// FindAccount implements cli.WebAccess.
func (w *WebAccess) FindAccount(who string) (cli.Account, bool, error) {
	a, ok, err := access.FindAccount(context.Background(), w.AccountStore, who)
	return cli.Account{ID: a.ID, Name: a.Name, Created: a.Created}, ok, err
}

// Forget implements cli.WebAccess.
func (w *WebAccess) Forget(identity string) (int, error) {
	ctx := context.Background()
	n, err := w.PasskeyStore.RemovePasskeys(ctx, identity)
	if err == nil && isAccount(identity) {
		_, err = w.AccountStore.DeleteAccount(ctx, identity)
	}
	if w.Ended != nil {
		w.Ended(identity)
	}
	return n, err
}

// webAccess is the WebAccess of `ssh host keys`: removing ends the
// identity's sessions, SSH and browser, at once.
func (s *Server) webAccess() *WebAccess {
	return &WebAccess{AccountStore: s.cfg.Accounts, PasskeyStore: s.cfg.Passkeys, Ended: func(id string) {
		if s.cfg.WebEnded != nil {
			s.cfg.WebEnded(id)
		}
		if n := s.hub.Disconnect(id, "access revoked by the operator"); n > 0 {
			s.log.Info("disconnected an identity whose access was removed", "id", id, "sessions", n)
		}
	}}
}

// webInviteLink is the page's link for an invite code, or "".
func (x *execCall) webInviteLink(code string) string {
	if x.s.cfg.WebInviteLink == nil {
		return ""
	}
	return x.s.cfg.WebInviteLink(code)
}

// accountName is the name of the account id, for moderation (keyBook).
func (s *Server) accountName(id string) (string, bool) {
	a, ok, err := access.FindAccount(context.Background(), s.cfg.Accounts, id)
	if err != nil || !ok || a.ID != id {
		return "", false
	}
	return a.Name, true
}

// accountIDs lists the accounts' ids, for moderation (keyBook).
func (s *Server) accountIDs() []string {
	all, err := s.cfg.Accounts.Accounts(context.Background())
	if err != nil {
		s.log.Error("reading the browser-only accounts", "err", err)
		return nil
	}
	out := make([]string, len(all))
	for i, a := range all {
		out[i] = a.ID
	}
	return out
}
