package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"parley/room"
	"parley/safetext"
)

const (
	aliceID = "SHA256:alice"
	bobID   = "SHA256:bob"
)

func TestSignInLinkWorksOnce(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	link, err := e.web.SignInLink(aliceID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, e.base+"/signin#") {
		t.Fatalf("link %q does not start with the public URL's /signin#", link)
	}
	if n := len(token(t, link)); n < 22 { // 128 bits in base64url
		t.Fatalf("token of %d characters: fewer than 128 bits", n)
	}
	b := e.browser()
	if resp := b.useToken(token(t, link)); resp.StatusCode != http.StatusOK {
		t.Fatalf("first use: %s", resp.Status)
	}
	other := e.browser()
	if resp := other.useToken(token(t, link)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second use: %s, want 401", resp.Status)
	}
	if resp := other.useToken("not-a-token"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("made-up token: %s, want 401", resp.Status)
	}
}

func TestSignInLinkExpiresAfterTenMinutes(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	early, _ := e.web.SignInLink(aliceID)
	late, _ := e.web.SignInLink(aliceID)
	e.clock.add(LinkTTL - time.Second)
	if resp := e.browser().useToken(token(t, early)); resp.StatusCode != http.StatusOK {
		t.Fatalf("a link 9m59s old: %s, want 200", resp.Status)
	}
	e.clock.add(2 * time.Second)
	resp := e.browser().useToken(token(t, late))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a link 10m01s old: %s, want 401", resp.Status)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "10 minutes") {
		t.Fatalf("refusal %q does not say why", body)
	}
}

func TestBrowserSessionsExpire(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	e.clock.add(SessionTTL + time.Second)
	resp, err := b.c.Get(e.base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/me after %v: %s, want 401", SessionTTL, resp.Status)
	}
	if _, resp, err := b.dial("", b.csrf); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WebSocket after %v: %v, want 401", SessionTTL, err)
	}
}

func TestSignInRefusedForARemovedKey(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	link, _ := e.web.SignInLink(aliceID)
	e.ids.refuse(aliceID, "your key was removed")
	resp := e.browser().useToken(token(t, link))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "your key was removed") {
		t.Fatalf("sign-in with a removed key: %s %s", resp.Status, body)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		public string
		secure bool
	}{{"http://127.0.0.1:8080", false}, {"https://chat.example.com", true}} {
		hub, err := room.New(room.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = hub.Close(t.Context(), "") })
		ids := &idents{ids: map[string]room.Identity{aliceID: {ID: aliceID, Name: "alice"}}, refused: map[string]string{}}
		w, err := New(Config{Hub: hub, Identities: ids, PublicURL: tc.public})
		if err != nil {
			t.Fatal(err)
		}
		link, _ := w.SignInLink(aliceID)
		req := httptest.NewRequest(http.MethodPost, tc.public+"/api/signin", strings.NewReader(`{"token":"`+token(t, link)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", tc.public)
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: sign in: %d %s", tc.public, rec.Code, rec.Body)
		}
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%s: %d cookies, want 1", tc.public, len(cookies))
		}
		c := cookies[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tc.secure || c.MaxAge <= 0 {
			t.Errorf("%s: cookie %s: want HttpOnly, SameSite=Strict, Path=/, Secure=%v, Max-Age", tc.public, c.String(), tc.secure)
		}
		if len(c.Value) < 22 {
			t.Errorf("%s: cookie value of %d characters: fewer than 128 bits", tc.public, len(c.Value))
		}
	}
}

func TestSignInAttemptsAreRateLimitedPerAddress(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.browser()
	var codes []int
	for range signInBurst + 1 {
		codes = append(codes, b.useToken("guess").StatusCode)
	}
	for i, c := range codes[:signInBurst] {
		if c != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401 (codes %v)", i+1, c, codes)
		}
	}
	if last := codes[signInBurst]; last != http.StatusTooManyRequests {
		t.Fatalf("attempt %d: %d, want 429 (codes %v)", signInBurst+1, last, codes)
	}
	// Even a good link is refused while the address is limited.
	e.ids.add(aliceID, "alice")
	link, _ := e.web.SignInLink(aliceID)
	if c := b.useToken(token(t, link)).StatusCode; c != http.StatusTooManyRequests {
		t.Fatalf("a good link while limited: %d, want 429", c)
	}
}

func TestSignOutNeedsTheCSRFToken(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	for _, tc := range []struct {
		name, origin, token string
	}{
		{"no token", "", ""},
		{"wrong token", "", "wrong"},
		{"right token, other origin", "http://evil.example", b.csrf},
	} {
		if resp := b.post("/api/signout", "", tc.origin, map[string]string{"X-CSRF-Token": tc.token}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403", tc.name, resp.Status)
		}
	}
	if resp := b.post("/api/signin", `{"token":"x"}`, "http://evil.example", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin sign-in: %s, want 403", resp.Status)
	}
	if resp := b.post("/api/signout", "", "", map[string]string{"X-CSRF-Token": b.csrf}); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign out with the token: %s", resp.Status)
	}
	resp, err := b.c.Get(e.base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/me after sign-out: %s, want 401", resp.Status)
	}
}

func TestWebSocketRefusesOtherOriginsAndMissingCSRF(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	for _, tc := range []struct{ name, origin, csrf string }{
		{"other origin", "http://evil.example", b.csrf},
		{"no csrf", "", ""},
		{"wrong csrf", "", "nope"},
	} {
		c, resp, err := b.dial(tc.origin, tc.csrf)
		if err == nil {
			c.CloseNow()
			t.Errorf("%s: the WebSocket opened", tc.name)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %v (%v), want 403", tc.name, err, resp)
		}
	}
	anon := e.browser()
	if _, resp, err := anon.dial("", "x"); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a session: %v, want 401", err)
	}
	if c, _, err := b.dial("", b.csrf); err != nil {
		t.Fatalf("the page's own origin with its token: %v", err)
	} else {
		c.CloseNow()
	}
}

func TestPageHasAStrictContentSecurityPolicy(t *testing.T) {
	e := newEnv(t, room.Config{})
	for _, path := range []string{"/", "/signin", "/app.js", "/api/me"} {
		resp, err := http.Get(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q allows something unsafe", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if path == "/" || path == "/signin" {
			if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("<textarea")) {
				t.Errorf("%s: %s, not the page", path, resp.Status)
			}
			// No inline script or handler the CSP would have to allow.
			for _, bad := range []*regexp.Regexp{regexp.MustCompile(`<script(?:[^>](?:[^s]|s[^r]|sr[^c]))*>`), regexp.MustCompile(`(?i)\son[a-z]+=`), regexp.MustCompile(`(?i)\sstyle=`)} {
				if m := bad.Find(body); m != nil {
					t.Errorf("%s: inline script or style %q", path, m)
				}
			}
		}
	}
}

func TestChatBothWaysBetweenSSHAndBrowser(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	hello := ws.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
	if hello.Name != "alice" || hello.ID != aliceID || hello.Room != "lobby" {
		t.Fatalf("hello %s", hello.raw)
	}
	ws.waitFrame("members with bob", func(f rawFrame) bool {
		return f.Type == typeMembers && f.Room == "lobby" && hasMember(f.Members, "bob")
	})
	if err := bob.Send(t.Context(), "hello from ssh"); err != nil {
		t.Fatal(err)
	}
	f := ws.waitMessage("hello from ssh")
	m := f.Message
	if m.Kind != "chat" || m.From != "bob" || m.FromID != bobID || m.Room != "lobby" || m.Seq == 0 || m.Time.IsZero() {
		t.Fatalf("message frame %s", f.raw)
	}
	ws.send(inFrame{Type: typeSend, Text: "hello from the browser"})
	got := receiveText(t, bob, "hello from the browser")
	if got.From != "alice" || got.FromID != aliceID || got.Kind != room.KindChat {
		t.Fatalf("bob got %+v", got)
	}
	// A /command goes through the room's command path, as from SSH.
	ws.send(inFrame{Type: typeSend, Text: "/me waves"})
	if got := receiveText(t, bob, "waves"); got.Kind != room.KindEmote {
		t.Fatalf("/me arrived as %v", got.Kind)
	}
	ws.send(inFrame{Type: typeSend, Text: "/nosuchcommand"})
	ws.waitFrame("an error for an unknown command", func(f rawFrame) bool {
		return (f.Type == typeError && f.Text != "") || (f.Type == typeMessage && f.Message.Kind == "error")
	})
}

func TestJoiningARoomInTheBrowserShowsItsBacklog(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	if err := bob.Send(t.Context(), "/join #dev"); err != nil {
		t.Fatal(err)
	}
	if err := bob.Send(t.Context(), "dev talk"); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	ws.send(inFrame{Type: typeSend, Text: "/join #dev"})
	f := ws.waitFrame("dev's backlog", func(f rawFrame) bool { return f.Type == typeBacklog && f.Room == "dev" })
	if !f.Current || !strings.Contains(string(f.raw), "dev talk") {
		t.Fatalf("backlog frame %s: want current and bob's message", f.raw)
	}
	ws.waitFrame("rooms with dev", func(f rawFrame) bool {
		return f.Type == typeRooms && len(f.Rooms) == 2 && f.Room == "dev"
	})
	ws.send(inFrame{Type: typeSend, Room: "lobby", Text: "back in the lobby"})
	if got := receiveText(t, bob, "back in the lobby"); got.Room != "lobby" {
		t.Fatalf("sent to %q, want lobby", got.Room)
	}
	ws.send(inFrame{Type: typeSend, Room: "secret", Text: "x"})
	ws.waitFrame("refusal of a room not joined", func(f rawFrame) bool {
		return f.Type == typeError && strings.Contains(f.Text, "not in #secret")
	})
}

func hasMember(ms []memberJSON, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
	}
	return false
}

// hostile is text that would run script or restyle the page if it were
// ever rendered as HTML.
var hostile = []string{
	`<script>window.__pwned=1</script>`,
	`<img src=x onerror="window.__pwned=1">`,
	`"><svg onload=window.__pwned=1>`,
	"javascript:window.__pwned=1",
	"\x1b[2J\x1b]0;title\x07 bell and clear",
	"</textarea><b>bold</b>&amp;&lt;",
}

func TestHostileTextStaysTextInTheJSON(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	// Once hello has come the session is in the room: what bob says next
	// arrives live (sent before, it would be in the backlog only).
	ws.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
	for _, h := range hostile {
		if err := bob.Send(t.Context(), h); err != nil {
			t.Fatalf("send %q: %v", h, err)
		}
		want, _ := safetext.Message(h)
		f := ws.waitMessage(want)
		for _, raw := range []string{"<", ">", "\x1b", "\x07"} {
			if bytes.Contains(f.raw, []byte(raw)) {
				t.Errorf("frame for %q carries a raw %q: %s", h, raw, f.raw)
			}
		}
	}
}

func TestKickClosesTheWebSocketWithTheReason(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	ws := b.connect()
	ws.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
	if n := e.hub.Disconnect(aliceID, "kicked by bob: spam"); n != 1 {
		t.Fatalf("Disconnect ended %d sessions, want 1", n)
	}
	end := ws.waitFrame("end", func(f rawFrame) bool { return f.Type == typeEnd })
	if end.Reason != "kicked by bob: spam" {
		t.Fatalf("end frame %s", end.raw)
	}
	_, err := ws.next()
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != statusEnded || ce.Reason != "kicked by bob: spam" {
		t.Fatalf("after end: %v, want close %d with the reason", err, statusEnded)
	}
	// A kick is not a ban: the browser may connect again, as SSH may.
	b.connect().waitFrame("hello again", func(f rawFrame) bool { return f.Type == typeHello })
}

func TestRemovedKeyEndsTheBrowserSession(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	ws := b.connect()
	ws.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
	// What the SSH side does when authorized_keys loses the key.
	e.ids.refuse(aliceID, "access revoked by the operator")
	e.hub.Disconnect(aliceID, "access revoked by the operator")
	end := ws.waitFrame("end", func(f rawFrame) bool { return f.Type == typeEnd })
	if end.Reason != "access revoked by the operator" {
		t.Fatalf("end frame %s", end.raw)
	}
	if _, resp, err := b.dial("", b.csrf); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("reconnecting with a removed key: %v, want 401", err)
	}
	resp, err := b.c.Get(e.base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/me: %s %s", resp.Status, body)
	}
	// Even if the key came back, that cookie stays signed out.
	e.ids.mu.Lock()
	delete(e.ids.refused, aliceID)
	e.ids.mu.Unlock()
	if _, resp, err := b.dial("", b.csrf); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old cookie after the key came back: %v, want 401", err)
	}
}

func TestOneIdentityOnSSHAndBrowserIsListedOnce(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	e.hubSession(aliceID, "alice")
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	f := ws.waitFrame("members", func(f rawFrame) bool { return f.Type == typeMembers && f.Room == "lobby" })
	n := 0
	for _, m := range f.Members {
		if m.ID == aliceID {
			n++
			if m.Sessions != 2 || m.Name != "alice" {
				t.Errorf("alice listed as %+v, want one entry with 2 sessions", m)
			}
		}
	}
	if n != 1 {
		t.Fatalf("alice listed %d times: %s", n, f.raw)
	}
}

func TestOversizedFrameClosesTheSocket(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	ws := b.connect()
	ws.send(inFrame{Type: typeSend, Text: strings.Repeat("x", maxFrameRead)})
	for {
		_, err := ws.next()
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("after an oversized frame: %v, want close 1009", err)
		}
		break
	}
}

func TestFloodControlAppliesToTheBrowser(t *testing.T) {
	e := newEnv(t, room.Config{MessageLimit: onlyN(2)})
	b := e.signedIn(aliceID, "alice")
	ws := b.connect()
	for i := range 3 {
		ws.send(inFrame{Type: typeSend, Text: "m" + string(rune('0'+i))})
	}
	f := ws.waitFrame("the flood refusal", func(f rawFrame) bool { return f.Type == typeError })
	if !strings.Contains(f.Text, "slow down") && !strings.Contains(f.Text, "too fast") && !strings.Contains(f.Text, "wait") {
		t.Fatalf("refusal %q does not say to slow down", f.Text)
	}
}

// onlyN allows n messages per identity, then refuses.
type limitN struct {
	n    int
	seen map[string]int
}

func onlyN(n int) *limitN { return &limitN{n: n, seen: map[string]int{}} }

func (l *limitN) Allow(id string) (bool, time.Duration) {
	l.seen[id]++
	return l.seen[id] <= l.n, time.Second
}

func TestUnknownFramesGetAClearError(t *testing.T) {
	e := newEnv(t, room.Config{})
	b := e.signedIn(aliceID, "alice")
	ws := b.connect()
	ctx := t.Context()
	for _, raw := range []string{`not json`, `{"type":"launch"}`} {
		if err := ws.c.Write(ctx, websocket.MessageText, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		ws.waitFrame("an error for "+raw, func(f rawFrame) bool { return f.Type == typeError })
	}
	ws.send(inFrame{Type: typeSend, Text: "still here"})
	ws.waitMessage("still here")
}

func FuzzCloseReason(f *testing.F) {
	f.Add("kicked")
	f.Add(strings.Repeat("é", 100))
	f.Fuzz(func(t *testing.T, s string) {
		r := closeReason(s)
		if len(r) > 123 || !strings.HasPrefix(s, r) || (utf8.ValidString(s) && !utf8.ValidString(r)) {
			t.Fatalf("closeReason(%q) = %q", s, r)
		}
	})
}

var _ = json.Marshal

func TestAPageThatStopsReadingIsDisconnectedNotWaitedFor(t *testing.T) {
	e := newEnv(t, room.Config{QueueSize: 8})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	ws.waitFrame("members", func(f rawFrame) bool { return f.Type == typeMembers }) // then stop reading
	big := strings.Repeat("flood ", safetext.MaxMessageRunes/6)
	online := func() bool {
		for _, id := range e.hub.OnlineIDs() {
			if id == aliceID {
				return true
			}
		}
		return false
	}
	sent := 0
	start := time.Now()
	for online() {
		if sent == 5000 || time.Since(start) > testWait {
			t.Fatalf("alice's page read nothing and is still in the room after %d messages", sent)
		}
		if err := bob.Send(t.Context(), big); err != nil {
			t.Fatalf("bob's message %d: %v (a slow page must not hold up the sender)", sent, err)
		}
		sent++
		// bob reads his own copy before sending again: his queue stays short
		// however slowly this test is scheduled.
		for got := false; !got; {
			msgs, ok := bob.Receive(nil, 64)
			if !ok {
				t.Fatalf("bob's session ended: %s", bob.Reason())
			}
			for _, m := range msgs {
				got = got || (m.Kind == room.KindChat && m.FromID == bobID)
			}
		}
	}
	end := ws.waitFrame("end", func(f rawFrame) bool { return f.Type == typeEnd })
	if !strings.Contains(end.Reason, "keep up") {
		t.Fatalf("end frame %s: want the slow-consumer reason", end.Reason)
	}
	t.Logf("disconnected after %d messages of %d bytes", sent, len(big))
}

func TestOpenPagesPerIdentityAreCapped(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	e.ids.add(bobID, "bob")
	b := e.browser()
	b.signIn(aliceID)
	var open []*wsClient
	for range maxPagesPerIdentity {
		ws := b.connect()
		ws.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })
		open = append(open, ws)
	}
	_, resp, err := b.dial("", b.csrf)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("page %d: %v, want 429", maxPagesPerIdentity+1, err)
	}
	other := e.browser() // someone else is not limited by alice's pages
	other.signIn(bobID)
	other.connect().waitFrame("bob's hello", func(f rawFrame) bool { return f.Type == typeHello })
	// Closing one page makes room for another.
	open[0].c.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(testWait)
	for {
		c, _, err := b.dial("", b.csrf)
		if err == nil {
			c.CloseNow()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no page could open after one closed: %v", err)
		}
		<-time.After(10 * time.Millisecond) // poll interval while the closed page's handler returns
	}
}

func TestAPrivateMessageReachesOnlyItsTwo(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	carol := e.hubSession("SHA256:carol", "carol")
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	ws.waitFrame("members with bob", func(f rawFrame) bool {
		return f.Type == typeMembers && hasMember(f.Members, "bob") && hasMember(f.Members, "alice")
	})
	if err := bob.Send(t.Context(), "/msg alice only for you"); err != nil {
		t.Fatal(err)
	}
	f := ws.waitMessage("only for you")
	if m := f.Message; m.Kind != "private" || m.From != "bob" || m.To != "alice" || m.Room != "" {
		t.Fatalf("private message frame %s", f.raw)
	}
	ws.send(inFrame{Type: typeSend, Text: "/msg bob and only for you"})
	if got := receiveText(t, bob, "and only for you"); got.Kind != room.KindPrivate {
		t.Fatalf("bob got %+v", got)
	}
	// carol saw neither: the next thing she gets is the room's.
	if err := bob.Send(t.Context(), "public again"); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m := <-carol.Events():
			if strings.Contains(m.Text, "only for you") {
				t.Fatalf("carol got a private message: %+v", m)
			}
			if m.Text == "public again" {
				return
			}
		case <-time.After(testWait):
			t.Fatal("carol never got the public message")
		}
	}
}

func TestAPasteHasTheSameCapsAsSSH(t *testing.T) {
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	b := e.browser()
	b.signIn(aliceID)
	ws := b.connect()
	whole := strings.Repeat("é", safetext.MaxMessageRunes) // at the cap: arrives whole
	ws.send(inFrame{Type: typeSend, Text: whole})
	if got := receiveText(t, bob, whole); utf8.RuneCountInString(got.Text) != safetext.MaxMessageRunes {
		t.Fatalf("a paste at the cap arrived with %d characters", utf8.RuneCountInString(got.Text))
	}
	ws.send(inFrame{Type: typeSend, Text: whole + "and more"})
	receiveText(t, bob, whole)
	ws.waitFrame("the cut notice", func(f rawFrame) bool {
		return f.Type == typeMessage && f.Message.Kind == "notice" && strings.Contains(f.Message.Text, "cut")
	})
}
