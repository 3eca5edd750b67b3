package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/internal/testkit"
)

// Issue 17: passkeys, browser invites and browser-only people on the real
// binary, across a restart. The passkeys are answered by testkit's
// software authenticator (the chromium tests in web/ use a virtual one).

// passkeyPost posts v as JSON with the page's Origin (and the CSRF token
// when signed in) and decodes the answer; it returns the status and the
// error text.
func (u *webUser) passkeyPost(path string, v, out any) (int, string) {
	u.t.Helper()
	body, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, u.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", u.base)
	if u.csrf != "" {
		req.Header.Set("X-CSRF-Token", u.csrf)
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(data, &e)
		return resp.StatusCode, e.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			u.t.Fatalf("%s: %v in %s", path, err, data)
		}
	}
	return resp.StatusCode, ""
}

// ceremonyOptions is what the begin endpoints answer.
type ceremonyOptions struct {
	Ceremony string
	Options  struct {
		PublicKey struct {
			Challenge string
			User      struct{ ID string }
		}
	}
}

// createPasskey runs a registration (begin at path, then path's finish)
// with body, and returns the passkey made.
func (u *webUser) createPasskey(a *testkit.Authenticator, begin, finish string, body any) *testkit.Passkey {
	u.t.Helper()
	var o ceremonyOptions
	if code, msg := u.passkeyPost(begin, body, &o); code != http.StatusOK {
		u.t.Fatalf("%s: %d %s", begin, code, msg)
	}
	k, cred, err := a.Create(o.Options.PublicKey.Challenge, o.Options.PublicKey.User.ID)
	if err != nil {
		u.t.Fatal(err)
	}
	if code, msg := u.passkeyPost(finish, map[string]any{"ceremony": o.Ceremony, "credential": cred}, nil); code != http.StatusOK {
		u.t.Fatalf("%s: %d %s", finish, code, msg)
	}
	return k
}

// passkeySignIn signs the browser in with k; it returns the status and
// the error text.
func (u *webUser) passkeySignIn(a *testkit.Authenticator, k *testkit.Passkey, count uint32) (int, string) {
	u.t.Helper()
	var o ceremonyOptions
	if code, msg := u.passkeyPost("/api/passkey/signin/begin", struct{}{}, &o); code != http.StatusOK {
		u.t.Fatalf("sign-in begin: %d %s", code, msg)
	}
	cred, err := a.Get(o.Options.PublicKey.Challenge, k, count)
	if err != nil {
		u.t.Fatal(err)
	}
	return u.passkeyPost("/api/passkey/signin/finish", map[string]any{"ceremony": o.Ceremony, "credential": cred}, nil)
}

// whoAmI returns /api/me's id and name ("" when not signed in), keeping
// the CSRF token.
func (u *webUser) whoAmI() (string, string) {
	u.t.Helper()
	resp, err := u.hc.Get(u.base + "/api/me")
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ ID, Name, CSRF string }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	u.csrf = me.CSRF
	return me.ID, me.Name
}

// browserOnly is a browser with no SSH key.
func browserOnly(t *testing.T, base string) *webUser {
	jar, _ := cookiejar.New(nil)
	return &webUser{t: t, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}, base: base}
}

func pageOf(t *testing.T, c *child) string {
	t.Helper()
	webLine, err := c.stdout.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^Web page on (http://localhost:\d+) `).FindStringSubmatch(webLine)
	if m == nil {
		t.Fatalf("web line %q: want http://localhost:PORT (passkeys need a domain name)", webLine)
	}
	return m[1]
}

var inviteLinkRE = regexp.MustCompile(`(http://localhost:\d+)/invite/([a-z2-7]+)`)

func TestPasskeysInvitesAndBrowserOnlyPeopleSurviveARestart(t *testing.T) {
	data := t.TempDir()
	adminKey, adminLine := newKey(t)
	if err := os.WriteFile(filepath.Join(data, "authorized_keys"), []byte(`admin,name="alice" `+adminLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, data, "--web", "127.0.0.1:0")
	base := pageOf(t, c)
	auth := &testkit.Authenticator{Origin: base, RPID: "localhost"}

	// alice signs in with a link from SSH and registers a passkey.
	alice := newWebUser(t, c, base, adminKey)
	if code := alice.signIn(); code != http.StatusOK {
		t.Fatalf("alice's link sign-in: %d", code)
	}
	alice.whoAmI()
	aliceKey := alice.createPasskey(auth, "/api/passkey/register/begin", "/api/passkey/register/finish", struct{}{})

	// alice invites two newcomers; the page's link is printed.
	out, err := alice.ssh("invite --uses 2")
	m := inviteLinkRE.FindStringSubmatch(out)
	if err != nil || m == nil || m[1] != base {
		t.Fatalf("ssh invite printed %q (%v), want a link %s/invite/CODE", out, err, base)
	}
	code := m[2]
	dora := browserOnly(t, base)
	doraKey := dora.createPasskey(auth, "/api/invite/begin", "/api/invite/finish", map[string]string{"code": code, "name": "dora"})
	doraID, name := dora.whoAmI()
	if !strings.HasPrefix(doraID, "web:") || name != "dora" {
		t.Fatalf("dora signed in as %q %q, want a web: id called dora", doraID, name)
	}
	if out, err := alice.ssh("keys list"); err != nil || !strings.Contains(out, "1 passkey") || !strings.Contains(out, doraID) {
		t.Fatalf("keys list: %v\n%s", err, out)
	}

	// A restart.
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, c.stderr)
	}
	c = startChild(t, data, "--web", "127.0.0.1:0")
	base = pageOf(t, c)
	auth.Origin = base

	// Both passkeys sign in, with no SSH; dora is still dora.
	a2 := browserOnly(t, base)
	if code, msg := a2.passkeySignIn(auth, aliceKey, 0); code != http.StatusOK {
		t.Fatalf("alice's passkey after the restart: %d %s", code, msg)
	}
	if id, _ := a2.whoAmI(); !strings.HasPrefix(id, "SHA256:") {
		t.Fatalf("alice's passkey signed in as %q", id)
	}
	d2 := browserOnly(t, base)
	if code, msg := d2.passkeySignIn(auth, doraKey, 0); code != http.StatusOK {
		t.Fatalf("dora's passkey after the restart: %d %s", code, msg)
	}
	if id, name := d2.whoAmI(); id != doraID || name != "dora" {
		t.Fatalf("dora's passkey signed in as %q %q, want %s dora", id, name, doraID)
	}
	// The invite's second use is still there; a second dora is refused.
	eve := browserOnly(t, base)
	if code, msg := eve.passkeyPost("/api/invite/begin", map[string]string{"code": code, "name": "Dora"}, nil); code == http.StatusOK || !strings.Contains(msg, "belongs to someone else") {
		t.Fatalf("a second Dora: %d %q", code, msg)
	}
	eve.createPasskey(auth, "/api/invite/begin", "/api/invite/finish", map[string]string{"code": code, "name": "eve"})

	// The operator removes dora from the shell: her open page ends within
	// a poll, and her passkey no longer signs in.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ended := d2.page(ctx)
	var stdout, stderr bytes.Buffer
	if err := keysCommand([]string{"remove", "dora", "--data", data}, noEnv, nil, &stdout, &stderr); err != nil {
		t.Fatalf("parley keys remove dora: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "browser-only") || !strings.Contains(stdout.String(), "1 passkey") {
		t.Errorf("parley keys remove dora said %q", stdout.String())
	}
	if why := ended(); !strings.Contains(why, "revoked") {
		t.Fatalf("dora's page ended with %q, want access revoked", why)
	}
	if code, msg := browserOnly(t, base).passkeySignIn(auth, doraKey, 0); code == http.StatusOK || !strings.Contains(msg, "not known here") {
		t.Fatalf("dora's passkey after her removal: %d %q", code, msg)
	}
	stdout.Reset()
	if err := keysCommand([]string{"list", "--data", data}, noEnv, nil, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "eve") || strings.Contains(stdout.String(), "dora") {
		t.Fatalf("parley keys list after removing dora: %v\n%s%s", err, stdout.String(), stderr.String())
	}
}
