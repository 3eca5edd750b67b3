package web

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/room"
)

// The harness: a real hub, a real Server on a loopback listener, HTTP
// clients with cookie jars and real WebSocket clients. Nothing sleeps to
// synchronise: frames are read as they come, with a deadline.

const testWait = 10 * time.Second

// idents is the Identities port of the tests: a list that a test edits as
// an operator edits authorized_keys.
type idents struct {
	mu      sync.Mutex
	ids     map[string]room.Identity
	refused map[string]string
}

func (f *idents) Identity(id string) (room.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if why, ok := f.refused[id]; ok {
		return room.Identity{}, errors.New(why)
	}
	i, ok := f.ids[id]
	if !ok {
		return room.Identity{}, errors.New("no such key")
	}
	return i, nil
}

func (f *idents) add(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids[id] = room.Identity{ID: id, Name: name}
}

func (f *idents) refuse(id, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused[id] = why
}

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	hub   *room.Hub
	web   *Server
	ids   *idents
	clock *clock
	base  string // http://127.0.0.1:PORT
}

func newEnv(t *testing.T, rc room.Config) *env {
	t.Helper()
	hub, err := room.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, hub: hub, ids: &idents{ids: map[string]room.Identity{}, refused: map[string]string{}},
		clock: &clock{t: time.Now()}, base: "http://" + ln.Addr().String()}
	e.web, err = New(Config{Hub: hub, Identities: e.ids, PublicURL: e.base, SignInHint: "ssh -p 2222 localhost web", Now: e.clock.now})
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
	return e
}

// browser is an HTTP client with its own cookies, as one browser profile.
type tbrowser struct {
	e    *env
	c    *http.Client
	csrf string
}

// signedIn lets identity id (called name) sign in, and returns a browser
// signed in as it.
func (e *env) signedIn(id, name string) *tbrowser {
	e.ids.add(id, name)
	b := e.browser()
	b.signIn(id)
	return b
}

func (e *env) browser() *tbrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &tbrowser{e: e, c: &http.Client{Jar: jar, Timeout: testWait}}
}

// token returns the token of a sign-in link.
func token(t *testing.T, link string) string {
	t.Helper()
	_, tok, ok := strings.Cut(link, "/signin#")
	if !ok || tok == "" {
		t.Fatalf("sign-in link %q has no token", link)
	}
	return tok
}

// post sends a JSON POST with the page's Origin (or origin, when set).
func (b *tbrowser) post(path, body, origin string, header map[string]string) *http.Response {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.base+path, strings.NewReader(body))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if origin == "" {
		origin = b.e.base
	}
	req.Header.Set("Origin", origin)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	b.e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *tbrowser) useToken(tok string) *http.Response {
	b.e.t.Helper()
	body, _ := json.Marshal(map[string]string{"token": tok})
	return b.post("/api/signin", string(body), "", nil)
}

// signIn signs the browser in as id with a fresh link, and reads its
// CSRF token.
func (b *tbrowser) signIn(id string) {
	t := b.e.t
	t.Helper()
	link, err := b.e.web.SignInLink(id)
	if err != nil {
		t.Fatal(err)
	}
	if resp := b.useToken(token(t, link)); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %s", resp.Status)
	}
	resp, err := b.c.Get(b.e.base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ ID, Name, CSRF string }
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/me after sign-in: %s, %v", resp.Status, err)
	}
	if me.ID != id || me.CSRF == "" {
		t.Fatalf("/api/me = %+v, want id %s and a CSRF token", me, id)
	}
	b.csrf = me.CSRF
}

// dial opens the page's WebSocket with origin (the page's when "").
func (b *tbrowser) dial(origin, csrf string) (*websocket.Conn, *http.Response, error) {
	if origin == "" {
		origin = b.e.base
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	u := "ws" + strings.TrimPrefix(b.e.base, "http") + "/ws?csrf=" + url.QueryEscape(csrf)
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: b.c, HTTPHeader: http.Header{"Origin": {origin}}})
}

// wsClient reads frames of one WebSocket.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func (b *tbrowser) connect() *wsClient {
	t := b.e.t
	t.Helper()
	c, _, err := b.dial("", b.csrf)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}
}

// rawFrame is a frame as it came, and decoded.
type rawFrame struct {
	raw []byte
	outFrame
}

// next reads the next frame, failing the test after testWait.
func (w *wsClient) next() (rawFrame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	_, data, err := w.c.Read(ctx)
	if err != nil {
		return rawFrame{}, err
	}
	var f rawFrame
	f.raw = data
	if err := json.Unmarshal(data, &f.outFrame); err != nil {
		w.t.Fatalf("frame %q is not JSON: %v", data, err)
	}
	return f, nil
}

// waitFrame reads frames until one satisfies ok.
func (w *wsClient) waitFrame(what string, ok func(rawFrame) bool) rawFrame {
	w.t.Helper()
	for {
		f, err := w.next()
		if err != nil {
			w.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(f) {
			return f
		}
	}
}

// waitMessage waits for a message frame whose text is text.
func (w *wsClient) waitMessage(text string) rawFrame {
	w.t.Helper()
	return w.waitFrame("message "+text, func(f rawFrame) bool {
		return f.Type == typeMessage && f.Message != nil && f.Message.Text == text
	})
}

func (w *wsClient) send(f inFrame) {
	w.t.Helper()
	data, _ := json.Marshal(f)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, data); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// hubSession is an SSH-like session on the hub directly.
func (e *env) hubSession(id, name string) *room.Session {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	s, err := e.hub.Connect(ctx, room.Identity{ID: id, Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close(room.ReasonQuit) })
	return s
}

// receiveText waits until s receives a message with text.
func receiveText(t *testing.T, s *room.Session, text string) room.Message {
	t.Helper()
	deadline := time.After(testWait)
	for {
		select {
		case m, ok := <-s.Events():
			if !ok {
				t.Fatalf("session ended waiting for %q: %s", text, s.Reason())
			}
			if m.Text == text {
				return m
			}
		case <-deadline:
			t.Fatalf("no message %q within %v", text, testWait)
		}
	}
}
