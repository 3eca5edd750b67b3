package main

import (
	"errors"
	"log/slog"
	"net"
	"sync"

	"parley/app"
	"parley/room"
	"parley/web"
)

// webHook wires an in-process node's web page as the parley binary does
// (webwire.go): the SSH server's `web` command asks it for sign-in links,
// and the page asks the SSH server's access list who may sign in. The
// hook is handed to app.New before the page exists (the page needs the
// hub app.New builds); until start, `ssh host web` says the page is off.
type webHook struct {
	mu  sync.Mutex
	web *web.Server // set by start
}

// signIn is server.Config.WebSignIn.
func (h *webHook) signIn(id string) (string, error) {
	h.mu.Lock()
	ws := h.web
	h.mu.Unlock()
	if ws == nil {
		return "", room.Errorf("the web page is not running")
	}
	return ws.SignInLink(id)
}

// start makes the node's page, public at publicURL; the caller serves it.
func (h *webHook) start(a *app.App, publicURL, sshAddr string, log *slog.Logger) (*web.Server, error) {
	_, port, err := net.SplitHostPort(sshAddr)
	if err != nil {
		return nil, errors.New("the SSH listener has no port")
	}
	ws, err := web.New(web.Config{Hub: a.Hub(), Identities: webIdentities{a}, PublicURL: publicURL,
		SignInHint: "ssh -p " + port + " 127.0.0.1 web", Logger: log})
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.web = ws
	h.mu.Unlock()
	return ws, nil
}

// webIdentities is the page's sign-in port over the node's access list.
type webIdentities struct{ a *app.App }

func (i webIdentities) Identity(id string) (room.Identity, error) { return i.a.WebIdentity(id) }
