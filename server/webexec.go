package server

import (
	"errors"
	"flag"
	"fmt"

	"parley/cli"
	"parley/room"
)

// web is `ssh host web`: a one-time link that signs a browser in as the
// caller's identity (package web keeps only its hash).
func (x *execCall) web(*flag.FlagSet) func([]string) int {
	return func([]string) int {
		if x.s.cfg.WebSignIn == nil {
			fmt.Fprintln(x.stderr, "parley: the web page is turned off on this server (--web)")
			return cli.ExitError
		}
		link, err := x.s.cfg.WebSignIn(x.entry.Fingerprint)
		if err != nil {
			return x.fail(err)
		}
		fmt.Fprintf(x.stdout, "Open this link in your browser to sign in as %s (it works once, for 10 minutes):\n%s\n", x.name, link)
		return cli.ExitOK
	}
}

// WebIdentity is the web page's sign-in port: the identity of the key
// with this fingerprint as the SSH door would admit it now (its name, its
// admin right), or why it may not sign in: not in authorized_keys,
// expired, or banned. It is asked at every sign-in and every browser
// connection.
func (s *Server) WebIdentity(fingerprint string) (room.Identity, error) {
	if isAccount(fingerprint) { // a browser-only identity (webaccounts.go)
		return s.accountIdentity(fingerprint)
	}
	e, ok := s.keys.Current().ByFingerprint(fingerprint)
	if !ok {
		return room.Identity{}, errors.New("this key is no longer on the server's list")
	}
	if e.Expired(s.expiry.now()) {
		return room.Identity{}, fmt.Errorf("this key expired on %s", e.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if b, banned := s.access.Banned(fingerprint); banned {
		return room.Identity{}, &banError{b}
	}
	// A key without a name gets the hub's fallback name (or the name its
	// SSH session or last visit has).
	return room.Identity{ID: e.Fingerprint, Name: e.Name, Admin: e.Admin}, nil
}
