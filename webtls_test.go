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
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for localhost and 127.0.0.1 and its key under dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "parley test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

func TestWebTLSAndProxyFlags(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir)
	other, _, _ := selfSigned(t, t.TempDir()) // a certificate of another key
	env := func(m map[string]string) lookupFunc {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		tls     bool
		proxies int
		err     string
	}{
		{name: "neither: plain HTTP"},
		{name: "both", args: []string{"--web-tls-cert", cert, "--web-tls-key", key}, tls: true},
		{name: "both from env", env: map[string]string{"PARLEY_WEB_TLS_CERT": cert, "PARLEY_WEB_TLS_KEY": key}, tls: true},
		{name: "cert only", args: []string{"--web-tls-cert", cert}, err: "go together"},
		{name: "key only", env: map[string]string{"PARLEY_WEB_TLS_KEY": key}, err: "go together"},
		{name: "a key that does not match", args: []string{"--web-tls-cert", other, "--web-tls-key", key}, err: "the key matching the certificate"},
		{name: "a missing file", args: []string{"--web-tls-cert", filepath.Join(dir, "nope.pem"), "--web-tls-key", key}, err: "nope.pem"},
		{name: "the files swapped", args: []string{"--web-tls-cert", key, "--web-tls-key", cert}, err: "--web-tls-cert"},
		{name: "TLS with an http URL", args: []string{"--web-tls-cert", cert, "--web-tls-key", key, "--web-url", "http://chat.example.com"}, err: "use https://"},
		{name: "trusted proxies", args: []string{"--web-trusted-proxy", "10.0.0.0/8,192.0.2.1"}, proxies: 2},
		{name: "trusted proxies from env", env: map[string]string{"PARLEY_WEB_TRUSTED_PROXY": "fd00::/8"}, proxies: 1},
		{name: "a bad proxy", args: []string{"--web-trusted-proxy", "10.0.0.0/40"}, err: "--web-trusted-proxy"},
		{name: "the page off: nothing checked", args: []string{"--web", "", "--web-tls-cert", cert}},
	} {
		o, err := parseOptions(tc.args, env(tc.env), io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want one saying %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if (o.web.tls != nil) != tc.tls || len(o.web.proxies) != tc.proxies {
			t.Errorf("%s: tls %v, %d proxies; want %v, %d", tc.name, o.web.tls != nil, len(o.web.proxies), tc.tls, tc.proxies)
		}
	}
}

// With certificate files the page is HTTPS: the printed address is https,
// the cookie Secure, and plain HTTP gets no page.
func TestWebPageServesTLSFromFiles(t *testing.T) {
	data := t.TempDir()
	signer, line := newKey(t)
	if err := os.WriteFile(filepath.Join(data, "authorized_keys"), []byte(`name="alice" `+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key, pool := selfSigned(t, t.TempDir())
	c := startChild(t, data, "--web", "127.0.0.1:0", "--web-tls-cert", cert, "--web-tls-key", key)
	webLine, err := c.stdout.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^Web page on (https://localhost:\d+) `).FindStringSubmatch(webLine)
	if m == nil {
		t.Fatalf("web line %q: want an https address", webLine)
	}
	base := m[1]
	u := newWebUser(t, c, base, signer)
	jar, _ := cookiejar.New(nil)
	u.hc = &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	out, err := u.ssh("web")
	if err != nil || !strings.Contains(out, base+"/signin#") {
		t.Fatalf("ssh web: %v %q, want a link to %s", err, out, base)
	}
	_, tok, _ := strings.Cut(out, "/signin#")
	req, _ := http.NewRequest(http.MethodPost, base+"/api/signin", strings.NewReader(`{"token":"`+strings.TrimSpace(tok)+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := u.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("sign-in over TLS: %s, cookies %v; want 200 and a Secure cookie", resp.Status, resp.Cookies())
	}
	if code := u.me(); code != http.StatusOK {
		t.Fatalf("/api/me over TLS: %d", code)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + strings.TrimPrefix(base, "https://") + "/api/me"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "csrf") {
			t.Fatalf("plain HTTP to the TLS port answered %s %s", resp.Status, body)
		}
	}
}
