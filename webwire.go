package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"parley/app"
	"parley/room"
	"parley/server"
	"parley/web"
)

// The web page's wiring (issue 17): its flags, its listener, and the two
// hooks between the SSH side and package web (the `web` exec command's
// links, and the sign-in port).

// defaultWeb is the web page's listener when nothing is set: loopback only.
const defaultWeb = "127.0.0.1:8080"

// webPortTries is how many ports after a busy default are tried.
const webPortTries = 20

// webOptions are the web page's flags.
type webOptions struct {
	addr     string // "" turns the page off
	url      string // the public base URL; "" means http://ADDR
	explicit bool   // --web or PARLEY_WEB was given: a busy address is an error

	tlsCert, tlsKey string         // --web-tls-cert, --web-tls-key: both or neither
	tls             *tls.Config    // loaded by check when both are set
	trustedProxy    string         // --web-trusted-proxy: CIDR list
	proxies         []netip.Prefix // parsed by check
}

// webFlags declares --web and --web-url over PARLEY_WEB and PARLEY_WEB_URL.
func webFlags(fs *flag.FlagSet, lookup lookupFunc, o *webOptions) {
	addr := defaultWeb
	if v, ok := lookup("PARLEY_WEB"); ok { // set but empty turns it off
		addr, o.explicit = v, true
	}
	fs.Func("web", "web page listener, e.g. 127.0.0.1:8080 or :8080; empty turns it off (env PARLEY_WEB, default "+defaultWeb+")", func(v string) error {
		o.addr, o.explicit = v, true
		return nil
	})
	o.addr = addr
	u, _ := lookup("PARLEY_WEB_URL")
	fs.StringVar(&o.url, "web-url", u, "public base URL of the web page, used in sign-in links, e.g. https://chat.example.com (env PARLEY_WEB_URL; default http://ADDR, https://ADDR with TLS)")
	webTLSFlags(fs, lookup, o)
}

// check validates the options after parsing.
func (o *webOptions) check() error {
	if o.addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return fmt.Errorf("--web %q: use HOST:PORT or :PORT, or an empty value to turn the page off", o.addr)
	}
	if o.url != "" {
		u, err := url.Parse(o.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("--web-url %q: use http(s)://HOST[:PORT] with no path", o.url)
		}
	}
	return o.checkTLS()
}

// webWire connects the web page to the SSH server. Its sign-in hook is
// handed to server.New before the page exists (the page needs the hub the
// server builds); until start, `ssh host web` says the page is off.
type webWire struct {
	mu  sync.Mutex
	web *web.Server // set by start

	// creds keeps the passkeys (app.Credentials); set before start.
	creds app.Credentials
	// links keeps the sign-in links (app.WebLinks: the cluster's, or nil);
	// set before start.
	links web.Links
}

// inviteLink is server.Config.WebInviteLink: the page's link for an
// invite code, when the page runs and passkeys work on it.
func (w *webWire) inviteLink(code string) string {
	w.mu.Lock()
	ws := w.web
	w.mu.Unlock()
	if ws == nil {
		return ""
	}
	link, _ := ws.InviteLink(code)
	return link
}

// ended is server.Config.WebEnded: the browsers signed in as identity are
// signed out (its pages are closed by the hub's Disconnect).
func (w *webWire) ended(identity string) {
	w.mu.Lock()
	ws := w.web
	w.mu.Unlock()
	if ws != nil {
		ws.SignOutIdentity(identity)
	}
}

// invites is the page's invite port over the SSH server's access list.
type invites struct{ s *server.Server }

func (i invites) ReserveInvite(ctx context.Context, code, name, addr string) (func(context.Context) error, error) {
	return i.s.ReserveWebInvite(ctx, code, name, addr)
}

func (i invites) CreateAccount(ctx context.Context, id, name string) (room.Identity, error) {
	return i.s.CreateWebAccount(ctx, id, name)
}

// signIn is server.Config.WebSignIn.
func (w *webWire) signIn(id string) (string, error) {
	w.mu.Lock()
	ws := w.web
	w.mu.Unlock()
	if ws == nil {
		return "", room.Errorf("the web page is not running")
	}
	return ws.SignInLink(id)
}

// identities is the page's sign-in port over the SSH server's access list.
type identities struct{ s *server.Server }

func (i identities) Identity(id string) (room.Identity, error) { return i.s.WebIdentity(id) }

// start listens and serves the page, and prints where. It returns nil
// when the page is off.
// sessions keeps the signed-in browsers (nil: in memory).
func (w *webWire) start(o webOptions, srv *server.Server, sessions web.Sessions, sshAddr net.Addr, log *slog.Logger, stdout io.Writer) (*web.Server, error) {
	if o.addr == "" {
		return nil, nil
	}
	ln, err := listenWeb(o.addr, o.explicit)
	if err != nil {
		return nil, err
	}
	if ln.Addr().String() != o.addr && !o.explicit {
		log.Warn("the default web port is taken (another parley on this host?): using the next free one; set --web or PARLEY_WEB to choose", "default", o.addr, "web", ln.Addr().String())
	}
	public := strings.TrimSuffix(o.url, "/")
	if public == "" {
		public = "http://" + browsable(ln.Addr())
		if o.tls != nil {
			public = "https://" + browsable(ln.Addr())
		}
	}
	if o.tls != nil {
		ln = tls.NewListener(ln, o.tls)
	}
	ws, err := web.New(web.Config{Hub: srv.Hub(), Identities: identities{srv}, PublicURL: public, Sessions: sessions, TrustedProxies: o.proxies,
		Credentials: w.creds, Invites: invites{srv}, Links: w.links,
		SignInHint: signInHint(public, sshAddr), Logger: log})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	w.mu.Lock()
	w.web = ws
	w.mu.Unlock()
	go func() {
		if err := ws.Serve(ln); err != nil {
			log.Error("web listener", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "Web page on %s (sign in with the link from: %s)\n", public, signInHint(public, sshAddr))
	return ws, nil
}

// browsable is a listener's address as a browser can open it: a wildcard
// host becomes localhost.
func browsable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	// A loopback address becomes localhost too: browsers allow passkeys
	// only on a domain name, and localhost is one.
	if ip := net.ParseIP(host); host == "" || (ip != nil && (ip.IsUnspecified() || ip.IsLoopback())) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// signInHint is the command that prints a sign-in link.
func signInHint(public string, sshAddr net.Addr) string {
	host := "localhost"
	if u, err := url.Parse(public); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	port := "22"
	if sshAddr != nil {
		if _, p, err := net.SplitHostPort(sshAddr.String()); err == nil {
			port = p
		}
	}
	if port == "22" {
		return "ssh " + host + " web"
	}
	return "ssh -p " + port + " " + host + " web"
}

// listenWeb listens on addr; a busy default moves to the next free port.
func listenWeb(addr string, explicit bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) || explicit {
		return nil, fmt.Errorf("web listener on %s: %w (choose another with --web or PARLEY_WEB, or turn it off with --web '')", addr, err)
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	for i := 1; i <= webPortTries; i++ {
		if ln, lerr := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p+i))); lerr == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("web listener: %s and the next %d ports are in use: choose an address with --web or PARLEY_WEB, or turn it off with --web ''", addr, webPortTries)
}

// closeWeb stops the page, if it runs.
func closeWeb(ctx context.Context, ws *web.Server) error {
	if ws == nil {
		return nil
	}
	return ws.Close(ctx)
}
