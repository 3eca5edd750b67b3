package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/room"
)

// newEnvWith is newEnv with a Config the test adjusts (its Sessions, its
// trusted proxies), and a hub it may share with another Server.
func newEnvWith(t *testing.T, hub *room.Hub, ids *idents, adjust func(*Config)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, hub: hub, ids: ids, clock: &clock{t: time.Now()}, base: "http://" + ln.Addr().String()}
	cfg := Config{Hub: hub, Identities: ids, PublicURL: e.base, SignInHint: "ssh -p 2222 localhost web", Now: e.clock.now}
	if adjust != nil {
		adjust(&cfg)
	}
	if e.web, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.web.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		if err := e.web.Close(ctx); err != nil {
			t.Errorf("web Close: %v", err)
		}
	})
	return e
}

func newIdents() *idents {
	return &idents{ids: map[string]room.Identity{}, refused: map[string]string{}}
}

func newHub(t *testing.T) *room.Hub {
	t.Helper()
	hub, err := room.New(room.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close(context.Background(), "") })
	return hub
}

// get GETs path and decodes the JSON answer into v (when not nil).
func (b *tbrowser) get(path string, v any) int {
	b.e.t.Helper()
	resp, err := b.c.Get(b.e.base + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			b.e.t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func (b *tbrowser) sessions() []sessionJSON {
	b.e.t.Helper()
	var body struct{ Sessions []sessionJSON }
	if code := b.get("/api/sessions", &body); code != http.StatusOK {
		b.e.t.Fatalf("GET /api/sessions: %d", code)
	}
	return body.Sessions
}

func (b *tbrowser) revoke(id, csrf, origin string) *http.Response {
	b.e.t.Helper()
	body, _ := json.Marshal(map[string]string{"id": id})
	return b.post("/api/sessions/revoke", string(body), origin, map[string]string{"X-CSRF-Token": csrf})
}

func current(t *testing.T, ss []sessionJSON) sessionJSON {
	t.Helper()
	for _, s := range ss {
		if s.Current {
			return s
		}
	}
	t.Fatalf("no session marked current in %+v", ss)
	return sessionJSON{}
}

func TestPeopleListTheirOwnBrowserSessions(t *testing.T) {
	e := newEnv(t, room.Config{})
	laptop := e.signedIn(aliceID, "alice")
	phone := e.browser()
	e.clock.add(2 * time.Minute)
	phone.signIn(aliceID)
	e.signedIn(bobID, "bob") // not alice's: never in her list

	ss := laptop.sessions()
	if len(ss) != 2 {
		t.Fatalf("alice's sessions: %+v, want her 2", ss)
	}
	mine := current(t, ss)
	if ss[0] != mine {
		t.Errorf("this browser is not listed first: %+v", ss)
	}
	for _, s := range ss {
		if s.ID == "" || s.Created.IsZero() || s.LastSeen.Before(s.Created) || !s.Expires.After(s.Created) ||
			s.Addr != "127.0.0.1" || s.Agent == "" {
			t.Errorf("session %+v: want an id, times, the address and the browser", s)
		}
	}
	other := current(t, phone.sessions())
	if other.ID == mine.ID {
		t.Fatal("both browsers are marked current with one id")
	}
	if !other.Created.After(mine.Created) {
		t.Errorf("the phone signed in later but is listed as created %v, the laptop %v", other.Created, mine.Created)
	}
	if b := e.browser(); b.get("/api/sessions", nil) != http.StatusUnauthorized {
		t.Error("GET /api/sessions without a cookie: want 401")
	}
}

func TestRevokingASessionNeedsCSRFAndClosesItsPagesAtOnce(t *testing.T) {
	e := newEnv(t, room.Config{})
	laptop := e.signedIn(aliceID, "alice")
	phone := e.browser()
	phone.signIn(aliceID)
	bob := e.signedIn(bobID, "bob")
	phoneWS := phone.connect()
	phoneWS.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
	laptopWS := laptop.connect()
	laptopWS.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
	target := current(t, phone.sessions()).ID

	for _, tc := range []struct{ name, csrf, origin string }{
		{"no token", "", ""},
		{"another browser's token", phone.csrf, ""},
		{"other origin", laptop.csrf, "http://evil.example"},
	} {
		if resp := laptop.revoke(target, tc.csrf, tc.origin); resp.StatusCode != http.StatusForbidden {
			t.Errorf("revoke, %s: %s, want 403", tc.name, resp.Status)
		}
	}
	// bob cannot end alice's session, even knowing its id.
	if resp := bob.revoke(target, bob.csrf, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob revoking alice's session: %s, want 404", resp.Status)
	}
	if phone.get("/api/me", nil) != http.StatusOK {
		t.Fatal("a refused revoke signed the phone out")
	}

	if resp := laptop.revoke(target, laptop.csrf, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s", resp.Status)
	}
	end := phoneWS.waitFrame("end", func(f rawFrame) bool { return f.Type == typeEnd })
	if end.Reason != "signed out from another browser" {
		t.Errorf("end frame %s", end.raw)
	}
	_, err := phoneWS.next()
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != statusEnded {
		t.Errorf("the phone's socket after revoke: %v, want close %d", err, statusEnded)
	}
	if code := phone.get("/api/me", nil); code != http.StatusUnauthorized {
		t.Errorf("the phone's /api/me after revoke: %d, want 401", code)
	}
	if _, resp, err := phone.dial("", phone.csrf); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the phone reconnecting after revoke: %v, want 401", err)
	}
	if resp := laptop.revoke(target, laptop.csrf, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoking it twice: %s, want 404", resp.Status)
	}
	// The laptop's own page is untouched.
	laptopWS.send(inFrame{Type: typeSend, Text: "still here"})
	laptopWS.waitMessage("still here")
	if ss := laptop.sessions(); len(ss) != 1 || !ss[0].Current {
		t.Errorf("after revoking the phone: %+v, want only this browser", ss)
	}
}

func TestSignOutClosesThisBrowsersPages(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	ws := b.connect()
	ws.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
	if resp := b.post("/api/signout", "", "", map[string]string{"X-CSRF-Token": b.csrf}); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign out: %s", resp.Status)
	}
	if end := ws.waitFrame("end", func(f rawFrame) bool { return f.Type == typeEnd }); end.Reason != "signed out" {
		t.Errorf("end frame %s", end.raw)
	}
}

func TestSessionsOutliveARestartOfTheWebServer(t *testing.T) {
	hub := newHub(t)
	ids := newIdents()
	ids.add(aliceID, "alice")
	kept := NewMemorySessions() // what survives: the store
	first := newEnvWith(t, hub, ids, func(c *Config) { c.Sessions = kept })
	stays, goes := first.browser(), first.browser()
	stays.signIn(aliceID)
	goes.signIn(aliceID)
	if resp := stays.revoke(current(t, goes.sessions()).ID, stays.csrf, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s", resp.Status)
	}

	second := newEnvWith(t, hub, ids, func(c *Config) { c.Sessions = kept })
	for _, b := range []*tbrowser{stays, goes} {
		moveCookies(t, b, first.base, second.base)
		b.e = second
	}
	if code := stays.get("/api/me", nil); code != http.StatusOK {
		t.Fatalf("a session after the restart: %d, want 200", code)
	}
	stays.connect().waitFrame("hello after the restart", func(f rawFrame) bool { return f.Type == typeHello })
	if code := goes.get("/api/me", nil); code != http.StatusUnauthorized {
		t.Fatalf("a revoked session after the restart: %d, want 401", code)
	}
}

// moveCookies copies b's cookies for from to to (a restarted server
// listens on another port).
func moveCookies(t *testing.T, b *tbrowser, from, to string) {
	t.Helper()
	fu, _ := http.NewRequest(http.MethodGet, from, nil)
	tu, _ := http.NewRequest(http.MethodGet, to, nil)
	b.c.Jar.SetCookies(tu.URL, b.c.Jar.Cookies(fu.URL))
}

func TestANewSignInPastTheCapSignsOutTheLeastRecentlyUsed(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	// Each sign-in costs one attempt of the address: forget them.
	forget := func() {
		e.web.mu.Lock()
		clear(e.web.limiters)
		e.web.mu.Unlock()
	}
	var bs []*tbrowser
	for range maxSessionsPerIdentity {
		forget()
		b := e.browser()
		b.signIn(aliceID)
		bs = append(bs, b)
		e.clock.add(2 * touchEvery)
	}
	for _, b := range bs[1:] { // all but the first are used again
		if b.get("/api/me", nil) != http.StatusOK {
			t.Fatal("a session under the cap is signed out")
		}
	}
	e.clock.add(2 * touchEvery)
	forget()
	extra := e.browser()
	extra.signIn(aliceID)
	if n := len(extra.sessions()); n != maxSessionsPerIdentity {
		t.Errorf("%d sessions after one past the cap, want %d", n, maxSessionsPerIdentity)
	}
	if code := bs[0].get("/api/me", nil); code != http.StatusUnauthorized {
		t.Errorf("the least recently used session: %d, want signed out", code)
	}
	if code := bs[1].get("/api/me", nil); code != http.StatusOK {
		t.Errorf("a recently used session: %d, want still signed in", code)
	}
}

func TestRevokeRefusesABadBody(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	for _, body := range []string{``, `{`, `{"id":""}`, `[]`} {
		resp := b.post("/api/sessions/revoke", body, "", map[string]string{"X-CSRF-Token": b.csrf})
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "bad request") {
			t.Errorf("body %q: %s %s, want 400 saying why", body, resp.Status, msg)
		}
	}
}

func TestAClosedPageUpdatesLastSeen(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	ws := b.connect()
	ws.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
	opened := current(t, b.sessions()).LastSeen
	e.clock.add(30 * time.Second) // under touchEvery: only the page's end records it
	ws.c.Close(websocket.StatusNormalClosure, "bye")
	deadline := time.Now().Add(testWait)
	for {
		ss := b.sessions()
		if got := current(t, ss).LastSeen; got.After(opened) {
			if want := e.clock.now().UTC(); !got.Equal(want) {
				t.Errorf("last seen %v, want %v", got, want)
			}
			return
		}
		if time.Now().After(deadline) { // polled: the page's handler ends on its own goroutine
			t.Fatalf("last seen still %v after the page closed", opened)
		}
	}
}
