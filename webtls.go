package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/url"

	"parley/web"
)

// The web page's TLS and reverse-proxy settings (issue 17): serve HTTPS
// from certificate files, or stay plain HTTP behind a TLS proxy (Caddy,
// Fly's edge) and, if told which proxies to trust, count sign-in attempts
// against the client address they forward.

// webTLSFlags declares --web-tls-cert, --web-tls-key and
// --web-trusted-proxy over PARLEY_WEB_TLS_CERT, PARLEY_WEB_TLS_KEY and
// PARLEY_WEB_TRUSTED_PROXY.
func webTLSFlags(fs *flag.FlagSet, lookup lookupFunc, o *webOptions) {
	cert, _ := lookup("PARLEY_WEB_TLS_CERT")
	key, _ := lookup("PARLEY_WEB_TLS_KEY")
	proxies, _ := lookup("PARLEY_WEB_TRUSTED_PROXY")
	fs.StringVar(&o.tlsCert, "web-tls-cert", cert, "PEM certificate (chain) file: the web page serves HTTPS; needs --web-tls-key (env PARLEY_WEB_TLS_CERT)")
	fs.StringVar(&o.tlsKey, "web-tls-key", key, "PEM private key file of --web-tls-cert (env PARLEY_WEB_TLS_KEY)")
	fs.StringVar(&o.trustedProxy, "web-trusted-proxy", proxies, "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client, for the per-address sign-in limit; none by default (env PARLEY_WEB_TRUSTED_PROXY)")
}

// checkTLS loads the certificate pair and parses the trusted proxies.
func (o *webOptions) checkTLS() error {
	p, err := web.ParseTrustedProxies(o.trustedProxy)
	if err != nil {
		return fmt.Errorf("--web-trusted-proxy: %w", err)
	}
	o.proxies = p
	switch {
	case o.tlsCert == "" && o.tlsKey == "":
		return nil
	case o.tlsCert == "" || o.tlsKey == "":
		return fmt.Errorf("--web-tls-cert and --web-tls-key go together: give both files, or neither for plain HTTP (behind a TLS proxy)")
	}
	pair, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return fmt.Errorf("--web-tls-cert %s / --web-tls-key %s: %w (both PEM files, the key matching the certificate)", o.tlsCert, o.tlsKey, err)
	}
	if o.url != "" {
		if u, err := url.Parse(o.url); err == nil && u.Scheme != "https" {
			return fmt.Errorf("--web-url %q is http but the page serves TLS: use https://", o.url)
		}
	}
	o.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	return nil
}
