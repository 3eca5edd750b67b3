package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/room"
	"parley/web"
)

func TestWebSessionsRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := web.SessionRecord{Hash: [32]byte{1}, Handle: "h1", Identity: "alice", Created: now, LastSeen: now,
		Expires: now.Add(time.Hour), Agent: "Firefox on Linux", Addr: "192.0.2.1"}
	b := a
	b.Hash, b.Handle, b.Expires = [32]byte{2}, "h2", now.Add(time.Minute)
	c := a
	c.Hash, c.Handle, c.Identity = [32]byte{3}, "h3", "bob"
	for _, r := range []web.SessionRecord{a, b, c} {
		if err := s.CreateSession(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, a); err == nil {
		t.Error("a second session with the same hash was stored")
	}
	got, ok, err := s.SessionByHash(ctx, a.Hash)
	if err != nil || !ok || !got.Created.Equal(a.Created) || got.Handle != a.Handle || got.Agent != a.Agent || got.Addr != a.Addr || got.Identity != a.Identity {
		t.Fatalf("SessionByHash = %+v, %v, %v; want %+v", got, ok, err, a)
	}
	if _, ok, err := s.SessionByHash(ctx, [32]byte{9}); ok || err != nil {
		t.Fatalf("an unknown hash: %v, %v", ok, err)
	}
	later := now.Add(5 * time.Minute)
	if err := s.TouchSession(ctx, a.Hash, later); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.SessionByHash(ctx, a.Hash); !got.LastSeen.Equal(later) {
		t.Errorf("LastSeen after touch = %v, want %v", got.LastSeen, later)
	}
	if list, err := s.SessionsOf(ctx, "alice"); err != nil || len(list) != 2 {
		t.Fatalf("alice's sessions: %+v, %v", list, err)
	}
	if found, err := s.DeleteSession(ctx, "bob", "h1"); found || err != nil {
		t.Errorf("bob deleting alice's session: %v, %v", found, err)
	}
	if n, err := s.DeleteExpiredSessions(ctx, now.Add(2*time.Minute)); n != 1 || err != nil {
		t.Errorf("DeleteExpiredSessions = %d, %v; want b's 1", n, err)
	}
	if found, err := s.DeleteSession(ctx, "alice", "h1"); !found || err != nil {
		t.Errorf("DeleteSession = %v, %v", found, err)
	}
	if err := s.DeleteSessionsOf(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob"} {
		if list, _ := s.SessionsOf(ctx, who); len(list) != 0 {
			t.Errorf("%s still has %+v", who, list)
		}
	}
	var stored int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM web_sessions WHERE length(hash) != 32").Scan(&stored); err != nil || stored != 0 {
		t.Errorf("hashes not 32 bytes: %d, %v", stored, err)
	}
}

// people is the web page's Identities port for the restart test.
type people struct {
	mu     sync.Mutex
	banned map[string]bool
}

func (p *people) Identity(id string) (room.Identity, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.banned[id] {
		return room.Identity{}, errors.New("you are banned")
	}
	return room.Identity{ID: id, Name: strings.TrimPrefix(id, "id:")}, nil
}

// webOn runs a web page over store s, as parley does, on a test server.
func webOn(t *testing.T, s *SQLite, ids web.Identities) (*web.Server, *httptest.Server) {
	t.Helper()
	hub, err := room.New(room.Config{History: s})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	w, err := web.New(web.Config{Hub: hub, Identities: ids, PublicURL: "http://" + ts.Listener.Addr().String(), Sessions: s})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = w
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		_ = hub.Close(context.Background(), "")
	})
	return w, ts
}

// signInOver signs a new browser in as id and returns its client and CSRF token.
func signInOver(t *testing.T, w *web.Server, ts *httptest.Server, id string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	link, err := w.SignInLink(id)
	if err != nil {
		t.Fatal(err)
	}
	_, tok, _ := strings.Cut(link, "#")
	if resp := postJSON(t, c, ts.URL+"/api/signin", `{"token":"`+tok+`"}`, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %s", resp.Status)
	}
	code, me := getMe(t, c, ts.URL)
	if code != http.StatusOK {
		t.Fatalf("/api/me: %d", code)
	}
	return c, me["csrf"]
}

func postJSON(t *testing.T, c *http.Client, url, body, csrf string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", strings.Join(strings.SplitN(url, "/", 4)[:3], "/"))
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func getMe(t *testing.T, c *http.Client, base string) (int, map[string]string) {
	t.Helper()
	resp, err := c.Get(base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&me)
	out := map[string]string{}
	for k, v := range me {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return resp.StatusCode, out
}

// retarget points c's cookies for from at to (the restarted page listens
// elsewhere).
func retarget(c *http.Client, from, to string) {
	fu, _ := http.NewRequest(http.MethodGet, from, nil)
	tu, _ := http.NewRequest(http.MethodGet, to, nil)
	c.Jar.SetCookies(tu.URL, c.Jar.Cookies(fu.URL))
}

func TestWebSessionsOutliveARestartButNotARevokeOrABan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	ids := &people{banned: map[string]bool{}}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	w, ts := webOn(t, s, ids)
	stays, csrf := signInOver(t, w, ts, "id:alice")
	revoked, _ := signInOver(t, w, ts, "id:alice")
	banned, _ := signInOver(t, w, ts, "id:mallory")
	var list struct {
		Sessions []struct {
			ID      string
			Current bool
		}
	}
	resp, err := revoked.Get(ts.URL + "/api/sessions")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	var target string
	for _, x := range list.Sessions {
		if x.Current {
			target = x.ID
		}
	}
	if r := postJSON(t, stays, ts.URL+"/api/sessions/revoke", `{"id":"`+target+`"}`, csrf); r.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s", r.Status)
	}
	ts.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart: a new process opens the same file.
	ids.mu.Lock()
	ids.banned["id:mallory"] = true
	ids.mu.Unlock()
	s2 := openAt(t, path)
	_, ts2 := webOn(t, s2, ids)
	for _, c := range []*http.Client{stays, revoked, banned} {
		retarget(c, ts.URL, ts2.URL)
	}
	if code, me := getMe(t, stays, ts2.URL); code != http.StatusOK || me["name"] != "alice" {
		t.Errorf("alice's session after the restart: %d %v, want signed in", code, me)
	}
	if code, _ := getMe(t, revoked, ts2.URL); code != http.StatusUnauthorized {
		t.Errorf("the revoked session after the restart: %d, want 401", code)
	}
	if code, me := getMe(t, banned, ts2.URL); code != http.StatusUnauthorized || !strings.Contains(me["error"], "banned") {
		t.Errorf("the banned person's session after the restart: %d %v, want 401 saying why", code, me)
	}
	if list, _ := s2.SessionsOf(context.Background(), "id:mallory"); len(list) != 0 {
		t.Errorf("the banned person's sessions are still stored: %+v", list)
	}
}
