package web

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/internal/testkit"
	"parley/room"
	"parley/safetext"
)

// The unit tests answer the ceremonies with testkit's software
// authenticator, so that the server's checks run on real signatures; the
// real-browser tests (passkey_browser_test.go) use chromium's virtual
// authenticator instead.

type softKey = testkit.Passkey

// softAuthenticator wraps testkit.Authenticator for the begin answers.
type softAuthenticator struct{ a testkit.Authenticator }

// options is the JSON the begin endpoints answer.
type options struct {
	Ceremony string `json:"ceremony"`
	Options  struct {
		PublicKey struct {
			Challenge string              `json:"challenge"`
			RP        struct{ ID string } `json:"rp"`
			RPID      string              `json:"rpId"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	} `json:"options"`
}

// create makes a new passkey for the options and returns the credential JSON.
func (a *softAuthenticator) create(t *testing.T, o options) (*softKey, json.RawMessage) {
	t.Helper()
	k, cred, err := a.a.Create(o.Options.PublicKey.Challenge, o.Options.PublicKey.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	return k, cred
}

// get signs a sign-in challenge with k, its counter at count.
func (a *softAuthenticator) get(t *testing.T, o options, k *softKey, count uint32) json.RawMessage {
	t.Helper()
	cred, err := a.a.Get(o.Options.PublicKey.Challenge, k, count)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// fakeInvites is the Invites port of the tests: codes with uses, names
// taken, accounts made.
type fakeInvites struct {
	mu       sync.Mutex
	uses     map[string]int
	taken    map[string]bool
	accounts map[string]string // id -> name
	ids      *idents
}

func (f *fakeInvites) ReserveInvite(_ context.Context, code, name, _ string) (func(context.Context) error, error) {
	code = codeKey(code) // as access.NormalizeCode
	if err := safetext.ValidateName(name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.taken[name] {
		return nil, errString("the name " + name + " is taken")
	}
	if f.uses[code] <= 0 {
		return nil, errString("invalid or expired invite code")
	}
	f.uses[code]--
	return func(context.Context) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.uses[code]++
		return nil
	}, nil
}

func (f *fakeInvites) CreateAccount(_ context.Context, id, name string) (room.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.taken[name] {
		return room.Identity{}, errString("the name " + name + " is taken")
	}
	f.taken[name] = true
	f.accounts[id] = name
	f.ids.add(id, name)
	return room.Identity{ID: id, Name: name}, nil
}

func (f *fakeInvites) usesLeft(code string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.uses[code]
}

type errString string

func (e errString) Error() string { return string(e) }

// newPasskeyEnv is newEnv on http://localhost:PORT (WebAuthn needs a
// domain name), with memory credentials and fake invites.
func newPasskeyEnv(t *testing.T, creds Credentials) (*env, *fakeInvites, *softAuthenticator) {
	t.Helper()
	hub, err := room.New(room.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	e := &env{t: t, hub: hub, ids: &idents{ids: map[string]room.Identity{}, refused: map[string]string{}},
		clock: &clock{t: time.Now()}, base: "http://localhost:" + port}
	inv := &fakeInvites{uses: map[string]int{}, taken: map[string]bool{}, accounts: map[string]string{}, ids: e.ids}
	if creds == nil {
		creds = NewMemoryCredentials()
	}
	e.web, err = New(Config{Hub: hub, Identities: e.ids, Credentials: creds, Invites: inv, PublicURL: e.base,
		SignInHint: "ssh -p 2222 localhost web", Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.web.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		if err := e.web.Close(ctx); err != nil {
			t.Errorf("web Close: %v", err)
		}
		if err := hub.Close(ctx, ""); err != nil {
			t.Errorf("hub Close: %v", err)
		}
	})
	return e, inv, &softAuthenticator{a: testkit.Authenticator{Origin: e.base, RPID: "localhost"}}
}

// postJSON posts v (with the page's Origin and the browser's CSRF token)
// and decodes the answer into out; it returns the status and error text.
func (b *tbrowser) postJSON(path string, v, out any) (int, string) {
	b.e.t.Helper()
	body, _ := json.Marshal(v)
	resp := b.post(path, string(body), "", map[string]string{"X-CSRF-Token": b.csrf})
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(data, &e)
		return resp.StatusCode, e.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.e.t.Fatalf("%s: %v in %s", path, err, data)
		}
	}
	return resp.StatusCode, ""
}

func (b *tbrowser) me() (id, name string, ok bool) {
	b.e.t.Helper()
	resp, err := b.c.Get(b.e.base + "/api/me")
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ ID, Name, CSRF string }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	b.csrf = me.CSRF
	return me.ID, me.Name, resp.StatusCode == http.StatusOK
}

// registerPasskey registers a new passkey of a signed-in browser.
func registerPasskey(t *testing.T, b *tbrowser, a *softAuthenticator) *softKey {
	t.Helper()
	var o options
	if code, msg := b.postJSON("/api/passkey/register/begin", struct{}{}, &o); code != http.StatusOK {
		t.Fatalf("register begin: %d %s", code, msg)
	}
	k, cred := a.create(t, o)
	if code, msg := b.postJSON("/api/passkey/register/finish", map[string]any{"ceremony": o.Ceremony, "credential": cred}, nil); code != http.StatusOK {
		t.Fatalf("register finish: %d %s", code, msg)
	}
	return k
}

// passkeySignIn signs browser b in with k (its counter at count) and
// returns the status and error.
func passkeySignIn(t *testing.T, b *tbrowser, a *softAuthenticator, k *softKey, count uint32) (int, string) {
	t.Helper()
	var o options
	if code, msg := b.postJSON("/api/passkey/signin/begin", struct{}{}, &o); code != http.StatusOK {
		t.Fatalf("sign-in begin: %d %s", code, msg)
	}
	if o.Options.PublicKey.RPID != "localhost" {
		t.Errorf("sign-in options name RP %q, want localhost", o.Options.PublicKey.RPID)
	}
	return b.postJSON("/api/passkey/signin/finish", map[string]any{"ceremony": o.Ceremony, "credential": a.get(t, o, k, count)}, nil)
}

func TestPasskeyRegistersAndSignsIn(t *testing.T) {
	e, _, a := newPasskeyEnv(t, nil)
	alice := e.signedIn(aliceID, "alice")
	k := registerPasskey(t, alice, a)

	fresh := e.browser()
	if _, _, ok := fresh.me(); ok {
		t.Fatal("a fresh browser is signed in before anything")
	}
	if code, msg := passkeySignIn(t, fresh, a, k, 1); code != http.StatusOK {
		t.Fatalf("passkey sign-in: %d %s", code, msg)
	}
	id, name, ok := fresh.me()
	if !ok || id != aliceID || name != "alice" {
		t.Fatalf("after the passkey sign-in /api/me = %q %q %v, want alice", id, name, ok)
	}
	// The signed-in browser reaches the chat.
	ws := fresh.connect()
	ws.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello && f.ID == aliceID })
}

func TestPasskeyCeremonyWorksOnceAndExpires(t *testing.T) {
	e, _, a := newPasskeyEnv(t, nil)
	alice := e.signedIn(aliceID, "alice")
	k := registerPasskey(t, alice, a)
	b := e.browser()

	var o options
	b.postJSON("/api/passkey/signin/begin", struct{}{}, &o)
	answer := map[string]any{"ceremony": o.Ceremony, "credential": a.get(t, o, k, 1)}
	if code, msg := b.postJSON("/api/passkey/signin/finish", answer, nil); code != http.StatusOK {
		t.Fatalf("first use: %d %s", code, msg)
	}
	if code, _ := e.browser().postJSON("/api/passkey/signin/finish", answer, nil); code == http.StatusOK {
		t.Fatal("the same answer signed in a second browser: the challenge is not single use")
	}

	b2 := e.browser()
	b2.postJSON("/api/passkey/signin/begin", struct{}{}, &o)
	e.clock.add(ceremonyTTL + time.Second)
	code, msg := b2.postJSON("/api/passkey/signin/finish", map[string]any{"ceremony": o.Ceremony, "credential": a.get(t, o, k, 2)}, nil)
	if code == http.StatusOK || !strings.Contains(msg, "expired") {
		t.Fatalf("an answer after %v: %d %q, want refused as expired", ceremonyTTL, code, msg)
	}
}

func TestRemovedIdentityCannotSignInWithItsPasskey(t *testing.T) {
	e, _, a := newPasskeyEnv(t, nil)
	alice := e.signedIn(aliceID, "alice")
	k := registerPasskey(t, alice, a)
	e.ids.refuse(aliceID, "this key is no longer on the server's list")
	code, msg := passkeySignIn(t, e.browser(), a, k, 1)
	if code != http.StatusForbidden || !strings.Contains(msg, "no longer on the server's list") {
		t.Fatalf("passkey of a removed identity: %d %q, want 403 with the reason", code, msg)
	}
}

func TestPasskeyWithACounterGoingBackIsRefused(t *testing.T) {
	e, _, a := newPasskeyEnv(t, nil)
	k := registerPasskey(t, e.signedIn(aliceID, "alice"), a)
	if code, msg := passkeySignIn(t, e.browser(), a, k, 5); code != http.StatusOK {
		t.Fatalf("sign-in with counter 5: %d %s", code, msg)
	}
	if code, msg := passkeySignIn(t, e.browser(), a, k, 3); code != http.StatusForbidden || !strings.Contains(msg, "copied") {
		t.Fatalf("sign-in with counter 3 after 5: %d %q, want refused as a possible clone", code, msg)
	}
}

func TestPasskeyRegistrationNeedsTheCSRFToken(t *testing.T) {
	e, _, _ := newPasskeyEnv(t, nil)
	alice := e.signedIn(aliceID, "alice")
	alice.csrf = "wrong"
	if code, _ := alice.postJSON("/api/passkey/register/begin", struct{}{}, nil); code != http.StatusForbidden {
		t.Fatalf("registration without the CSRF token: %d, want 403", code)
	}
	if code, _ := e.browser().postJSON("/api/passkey/register/begin", struct{}{}, nil); code != http.StatusUnauthorized {
		t.Fatalf("registration signed out: %d, want 401", code)
	}
}

func TestUnknownPasskeyIsRefused(t *testing.T) {
	e, _, a := newPasskeyEnv(t, nil)
	alice := e.signedIn(aliceID, "alice")
	k := registerPasskey(t, alice, a)
	if n, err := e.web.cfg.Credentials.RemovePasskeys(context.Background(), aliceID); err != nil || n != 1 {
		t.Fatalf("RemovePasskeys = %d, %v; want 1 passkey removed", n, err)
	}
	e.web.SignOutIdentity(aliceID)
	if _, _, ok := alice.me(); ok {
		t.Error("the browser of an ended identity is still signed in")
	}
	code, msg := passkeySignIn(t, e.browser(), a, k, 1)
	if code != http.StatusForbidden || !strings.Contains(msg, "not known here") {
		t.Fatalf("a removed passkey: %d %q, want 403 not known", code, msg)
	}
}

func TestPasskeysOffOnAnIPAddress(t *testing.T) {
	e := newEnv(t, room.Config{}) // http://127.0.0.1:PORT
	alice := e.signedIn(aliceID, "alice")
	code, msg := alice.postJSON("/api/passkey/register/begin", struct{}{}, nil)
	if code != http.StatusNotFound || !strings.Contains(msg, "localhost") {
		t.Fatalf("passkeys on an IP address: %d %q, want 404 saying to use localhost", code, msg)
	}
}

func TestCeremoniesAreBounded(t *testing.T) {
	e, _, _ := newPasskeyEnv(t, nil)
	e.web.mu.Lock()
	for i := range maxCeremonies {
		var h [32]byte
		binary.BigEndian.PutUint64(h[:], uint64(i))
		e.web.ceremonies[h] = &ceremony{kind: "signin", expires: e.clock.now().Add(time.Minute)}
	}
	e.web.mu.Unlock()
	code, msg := e.browser().postJSON("/api/passkey/signin/begin", struct{}{}, nil)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("begin with %d ceremonies waiting: %d %q, want 503", maxCeremonies, code, msg)
	}
	e.clock.add(2 * time.Minute) // they expire, and are forgotten
	if code, msg := e.browser().postJSON("/api/passkey/signin/begin", struct{}{}, nil); code != http.StatusOK {
		t.Fatalf("begin after the waiting ones expired: %d %q", code, msg)
	}
}

// invite begins an invite ceremony as browser b.
func inviteBegin(b *tbrowser, code, name string) (options, int, string) {
	var o options
	status, msg := b.postJSON("/api/invite/begin", map[string]string{"code": code, "name": name}, &o)
	return o, status, msg
}

func TestInviteInTheBrowserMakesAnIdentity(t *testing.T) {
	e, inv, a := newPasskeyEnv(t, nil)
	inv.uses["code1"] = 1
	b := e.browser()
	if _, status, msg := inviteBegin(b, "code1", "has space"); status != http.StatusForbidden || inv.usesLeft("code1") != 1 {
		t.Fatalf("a bad name: %d %q, %d uses left; want 403 and the use kept", status, msg, inv.usesLeft("code1"))
	}
	o, status, msg := inviteBegin(b, "code1", "dora")
	if status != http.StatusOK {
		t.Fatalf("invite begin: %d %s", status, msg)
	}
	if inv.usesLeft("code1") != 0 {
		t.Fatal("the code's use is not held while the newcomer makes a passkey")
	}
	k, cred := a.create(t, o)
	var out struct{ ID, Name string }
	if status, msg := b.postJSON("/api/invite/finish", map[string]any{"ceremony": o.Ceremony, "credential": cred}, &out); status != http.StatusOK {
		t.Fatalf("invite finish: %d %s", status, msg)
	}
	if !strings.HasPrefix(out.ID, AccountPrefix) || out.Name != "dora" || inv.accounts[out.ID] != "dora" {
		t.Fatalf("invite made %+v (accounts %v)", out, inv.accounts)
	}
	if id, name, ok := b.me(); !ok || id != out.ID || name != "dora" {
		t.Fatalf("after the invite /api/me = %q %q %v", id, name, ok)
	}
	// The passkey signs dora in again, elsewhere.
	if status, msg := passkeySignIn(t, e.browser(), a, k, 1); status != http.StatusOK {
		t.Fatalf("dora's passkey: %d %s", status, msg)
	}
	// The code is spent.
	if _, status, msg := inviteBegin(e.browser(), "code1", "eve"); status != http.StatusForbidden || !strings.Contains(msg, "invalid") {
		t.Fatalf("a spent code: %d %q", status, msg)
	}
}

func TestAnAbandonedInviteGivesItsCodeBack(t *testing.T) {
	e, inv, a := newPasskeyEnv(t, nil)
	inv.uses["code1"] = 1
	// The newcomer cancels the browser's prompt, and tries again: the code
	// is theirs again.
	if _, status, msg := inviteBegin(e.browser(), "code1", "dora"); status != http.StatusOK {
		t.Fatalf("invite begin: %d %s", status, msg)
	}
	b := e.browser()
	o, status, msg := inviteBegin(b, "CODE-1", "dora")
	if status != http.StatusOK {
		t.Fatalf("invite begin again: %d %s", status, msg)
	}
	// Nobody finishes: once the ceremony expires the use comes back.
	e.clock.add(ceremonyTTL + time.Second)
	e.browser().postJSON("/api/passkey/signin/begin", struct{}{}, nil) // any new ceremony sweeps the expired ones
	if left := inv.usesLeft("code1"); left != 1 {
		t.Fatalf("%d uses left after the newcomer gave up, want 1", left)
	}
	// And a late answer to the expired ceremony makes nothing.
	_, cred := a.create(t, o)
	if status, _ := b.postJSON("/api/invite/finish", map[string]any{"ceremony": o.Ceremony, "credential": cred}, nil); status == http.StatusOK || len(inv.accounts) != 0 {
		t.Fatalf("a late answer: %d, accounts %v", status, inv.accounts)
	}
}
