package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// natsAuthFlags declares the NATS credential and TLS options as NATS
// clients usually take them (the nats CLI's --creds, --nkey, --tlsca,
// --tlscert, --tlskey), over their PARLEY_NATS_* environment variables.
// A user and password go in the URL (nats://user:password@host:4222).
func natsAuthFlags(fs *flag.FlagSet, getenv func(string) string, o *natsOptions) {
	fs.StringVar(&o.creds, "nats-creds", getenv("PARLEY_NATS_CREDS"), "NATS credentials file (.creds: a user JWT and its nkey seed), as nsc writes it (env PARLEY_NATS_CREDS)")
	fs.StringVar(&o.nkey, "nats-nkey", getenv("PARLEY_NATS_NKEY"), "NATS nkey seed file (a user seed, SU...) for a server with nkey users (env PARLEY_NATS_NKEY)")
	fs.StringVar(&o.tlsCA, "nats-tls-ca", getenv("PARLEY_NATS_TLS_CA"), "PEM file of the CA certificates that sign the NATS servers' TLS certificates; default the system's (env PARLEY_NATS_TLS_CA)")
	fs.StringVar(&o.tlsCert, "nats-tls-cert", getenv("PARLEY_NATS_TLS_CERT"), "PEM client certificate for NATS servers that verify clients, with --nats-tls-key (env PARLEY_NATS_TLS_CERT)")
	fs.StringVar(&o.tlsKey, "nats-tls-key", getenv("PARLEY_NATS_TLS_KEY"), "PEM private key of --nats-tls-cert (env PARLEY_NATS_TLS_KEY)")
}

// authOptions checks the credential and TLS options and turns them into
// nats.Connect options. Every file is read now, so that a wrong path or a
// bad file stops the node at start with a line naming the flag and the
// file, not with a NATS error about something else later.
func (o natsOptions) authOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if o.creds != "" && o.nkey != "" {
		return nil, errors.New("--nats-creds and --nats-nkey: give one (a .creds file holds its own nkey)")
	}
	if o.creds != "" {
		b, err := os.ReadFile(o.creds)
		if err != nil {
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		if !strings.Contains(string(b), "BEGIN NATS USER JWT") || !strings.Contains(string(b), "BEGIN USER NKEY SEED") {
			return nil, fmt.Errorf("--nats-creds %s: not a NATS credentials file (it holds a user JWT and an nkey seed, as `nsc generate creds` writes)", o.creds)
		}
		opts = append(opts, nats.UserCredentials(o.creds))
	}
	if o.nkey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.nkey)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey %s: %w (want a user nkey seed, SU..., as `nk -gen user` writes)", o.nkey, err)
		}
		opts = append(opts, opt)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("--nats-tls-cert and --nats-tls-key go together: give both, or neither")
	}
	if o.tlsCA == "" && o.tlsCert == "" {
		return opts, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsCA != "" {
		pem, err := os.ReadFile(o.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--nats-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--nats-tls-ca %s: no PEM certificate in it", o.tlsCA)
		}
		tc.RootCAs = pool
	}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--nats-tls-cert %s, --nats-tls-key %s: %w", o.tlsCert, o.tlsKey, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return append(opts, nats.Secure(tc)), nil
}

// authGiven reports whether a credential or TLS option is set.
func (o natsOptions) authGiven() bool {
	return o.creds != "" || o.nkey != "" || o.tlsCA != "" || o.tlsCert != "" || o.tlsKey != ""
}

// connectHint adds to a failed first connection what to check.
func (o natsOptions) connectHint(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || strings.Contains(msg, "authorization"):
		return " (the server refused this node's credentials: check --nats-creds or --nats-nkey, or the user:password in the URL)"
	case strings.Contains(msg, "tls") || strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
		return " (TLS: check --nats-tls-ca, and --nats-tls-cert/--nats-tls-key when the server asks for a client certificate)"
	case errors.Is(err, nats.ErrNoServers):
		return " (is nats-server running, and reachable at that address?)"
	}
	return ""
}
