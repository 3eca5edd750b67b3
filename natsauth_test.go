package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"parley/app"
)

// The credential and TLS flags read PARLEY_NATS_* under the flags, as the
// other NATS options do.
func TestNATSAuthFlagsOverEnvironment(t *testing.T) {
	env := map[string]string{"PARLEY_NATS_CREDS": "/e/u.creds", "PARLEY_NATS_NKEY": "/e/u.nk",
		"PARLEY_NATS_TLS_CA": "/e/ca.pem", "PARLEY_NATS_TLS_CERT": "/e/c.pem", "PARLEY_NATS_TLS_KEY": "/e/k.pem"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	o, err := parseOptions(nil, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if n := o.nats; n.creds != "/e/u.creds" || n.nkey != "/e/u.nk" || n.tlsCA != "/e/ca.pem" || n.tlsCert != "/e/c.pem" || n.tlsKey != "/e/k.pem" {
		t.Fatalf("from the environment: %+v", n)
	}
	o, err = parseOptions([]string{"--nats-creds", "f.creds", "--nats-tls-ca", "ca2.pem"}, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.nats.creds != "f.creds" || o.nats.tlsCA != "ca2.pem" || o.nats.nkey != "/e/u.nk" {
		t.Fatalf("flags over the environment: %+v", o.nats)
	}
}

// Bad credential or TLS options stop the node at start with a line that
// names the option and what is wrong, before any connection is tried.
func TestNATSAuthOptionsRefuseBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notPEM := write("junk.pem", "hello\n")
	notCreds := write("junk.creds", "-----BEGIN SOMETHING-----\n")
	notSeed := write("junk.nk", "SUNOTASEED\n")
	missing := filepath.Join(dir, "missing")
	url := "nats://127.0.0.1:1" // never dialled: every case fails before
	for _, c := range []struct {
		name string
		o    natsOptions
		want string
	}{
		{"creds and nkey", natsOptions{creds: notCreds, nkey: notSeed}, "give one"},
		{"creds missing", natsOptions{creds: missing}, "--nats-creds: open " + missing},
		{"creds not creds", natsOptions{creds: notCreds}, "not a NATS credentials file"},
		{"nkey not a seed", natsOptions{nkey: notSeed}, "--nats-nkey " + notSeed},
		{"nkey missing", natsOptions{nkey: missing}, "--nats-nkey " + missing},
		{"cert without key", natsOptions{tlsCert: notPEM}, "go together"},
		{"key without cert", natsOptions{tlsKey: notPEM}, "go together"},
		{"ca missing", natsOptions{tlsCA: missing}, "--nats-tls-ca: open " + missing},
		{"ca not PEM", natsOptions{tlsCA: notPEM}, "no PEM certificate"},
		{"cert not PEM", natsOptions{tlsCert: notPEM, tlsKey: notPEM}, "--nats-tls-cert " + notPEM},
		{"options without --nats", natsOptions{nkey: notSeed, urls: "-"}, "need --nats"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.urls, c.o.node, c.o.replicas = url, "n", 1
			if strings.HasPrefix(c.name, "options without") {
				c.o.urls = ""
			}
			cfg := app.Defaults()
			_, _, err := c.o.wire(&cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("wire: %v, want an error with %q", err, c.want)
			}
			if strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Fatalf("wire tried to connect before checking its options: %v", err)
			}
		})
	}
}

// A NATS server that wants TLS and an nkey user takes a node given
// --nats-tls-ca and --nats-nkey; without the nkey, or without the CA, the
// node is refused with a hint at the option to check. Issue 15, "What an
// operator gets": credentials and TLS as NATS clients usually take them.
func TestNATSNkeyAndTLSConnect(t *testing.T) {
	dir := t.TempDir()
	caPEM, serverCert := testCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	pub, _ := user.PublicKey()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Nkeys:      []*natsserver.NkeyUser{{Nkey: pub}},
		TLSConfig:  &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12},
		TLSTimeout: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	url := "tls://" + srv.Addr().String()
	wire := func(o natsOptions) (*app.Config, func(), error) {
		o.urls, o.node, o.replicas = url, "n", 1
		cfg := app.Defaults()
		closeNATS, _, err := o.wire(&cfg, slog.New(slog.DiscardHandler))
		return &cfg, closeNATS, err
	}
	cfg, closeNATS, err := wire(natsOptions{tlsCA: caFile, nkey: seedFile})
	if err != nil {
		t.Fatalf("with the CA and the nkey: %v", err)
	}
	closeNATS()
	if cfg.Room.Log == nil {
		t.Fatal("connected, but the JetStream log is not the hub's")
	}
	if _, _, err := wire(natsOptions{tlsCA: caFile}); err == nil || !strings.Contains(err.Error(), "check --nats-creds or --nats-nkey") {
		t.Fatalf("without the nkey: %v, want the credentials hint", err)
	}
	if _, _, err := wire(natsOptions{nkey: seedFile}); err == nil || !strings.Contains(err.Error(), "check --nats-tls-ca") {
		t.Fatalf("without the CA: %v, want the TLS hint", err)
	}
}

// testCA makes a CA and a certificate it signs for 127.0.0.1, and returns
// the CA's PEM and the server's certificate.
func testCA(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "parley test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}
