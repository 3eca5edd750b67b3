package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"
)

// The done-when of issue 17's first slice: start parley, get a sign-in
// link from `ssh host web`, and the browser is signed in as that key.
func TestWebSignInLinkFromSSHSignsTheBrowserIn(t *testing.T) {
	data := t.TempDir()
	signer, line := newKey(t)
	if err := os.WriteFile(filepath.Join(data, "authorized_keys"), []byte(`name="alice" `+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, data, "--web", "127.0.0.1:0")
	webLine, err := c.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("no line after the join line: %v", err)
	}
	m := regexp.MustCompile(`^Web page on (http://localhost:\d+) \(sign in with the link from: ssh -p \d+ localhost web\)`).FindStringSubmatch(webLine)
	if m == nil {
		t.Fatalf("web line %q", webLine)
	}
	base := m[1]

	client, err := ssh.Dial("tcp", c.addr, &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("web")
	if err != nil {
		t.Fatalf("ssh web: %v %s", err, out)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/signin#(\S+)`).FindStringSubmatch(string(out))
	if link == nil {
		t.Fatalf("ssh web printed %q, no link to %s", out, base)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/signin", strings.NewReader(`{"token":"`+link[1]+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %s %s", resp.Status, body)
	}
	resp, err = hc.Get(base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	var me struct{ ID, Name, CSRF string }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if me.Name != "alice" || me.ID != ssh.FingerprintSHA256(signer.PublicKey()) {
		t.Fatalf("/api/me = %+v, want alice's key", me)
	}

	// The page's WebSocket and SSH see each other's messages.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws?csrf="+url.QueryEscape(me.CSRF),
		&websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {base}}})
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer ws.CloseNow()
	sshRun := func(cmd string) string {
		s, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		out, err := s.CombinedOutput(cmd)
		if err != nil {
			t.Fatalf("ssh %s: %v %s", cmd, err, out)
		}
		return string(out)
	}
	sshRun("say hello from a terminal")
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the SSH message on the page: %v", err)
		}
		if strings.Contains(string(data), `"text":"hello from a terminal"`) {
			break
		}
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"send","text":"hello from a browser"}`)); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(sshRun("tail -n 5"), "hello from a browser") {
		if ctx.Err() != nil {
			t.Fatal("the page's message never reached tail")
		}
	}
}

func TestWebFlags(t *testing.T) {
	env := func(m map[string]string) lookupFunc {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name      string
		args      []string
		env       map[string]string
		addr, url string
		err       string
	}{
		{name: "default", addr: defaultWeb},
		{name: "env off", env: map[string]string{"PARLEY_WEB": ""}, addr: ""},
		{name: "flag off", args: []string{"--web", ""}, env: map[string]string{"PARLEY_WEB": ":9000"}, addr: ""},
		{name: "flag over env", args: []string{"--web", ":8181"}, env: map[string]string{"PARLEY_WEB": ":9000"}, addr: ":8181"},
		{name: "url", args: []string{"--web-url", "https://chat.example.com"}, addr: defaultWeb, url: "https://chat.example.com"},
		{name: "url env", env: map[string]string{"PARLEY_WEB_URL": "https://chat.example.com/"}, addr: defaultWeb, url: "https://chat.example.com/"},
		{name: "bad addr", args: []string{"--web", "8080"}, err: "--web"},
		{name: "bad url", args: []string{"--web-url", "chat.example.com"}, err: "--web-url"},
		{name: "url with a path", args: []string{"--web-url", "https://x.example/chat"}, err: "--web-url"},
	} {
		o, err := parseOptions(tc.args, env(tc.env), io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want one naming %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if o.web.addr != tc.addr || o.web.url != tc.url {
			t.Errorf("%s: addr %q url %q, want %q %q", tc.name, o.web.addr, o.web.url, tc.addr, tc.url)
		}
	}
}

// webUser is a key with an SSH client and a browser (cookies) on a
// running parley.
type webUser struct {
	t      *testing.T
	client *ssh.Client
	hc     *http.Client
	base   string
	csrf   string
}

func newWebUser(t *testing.T, c *child, base string, signer ssh.Signer) *webUser {
	t.Helper()
	client, err := ssh.Dial("tcp", c.addr, &ssh.ClientConfig{User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	jar, _ := cookiejar.New(nil)
	return &webUser{t: t, client: client, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}, base: base}
}

func (u *webUser) ssh(cmd string) (string, error) {
	s, err := u.client.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

// signIn runs `ssh host web` and uses the link; it returns the status.
func (u *webUser) signIn() int {
	u.t.Helper()
	out, err := u.ssh("web")
	if err != nil {
		u.t.Fatalf("ssh web: %v %s", err, out)
	}
	_, tok, ok := strings.Cut(out, "/signin#")
	if !ok {
		u.t.Fatalf("ssh web printed %q", out)
	}
	req, _ := http.NewRequest(http.MethodPost, u.base+"/api/signin", strings.NewReader(`{"token":"`+strings.TrimSpace(tok)+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", u.base)
	resp, err := u.hc.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// me returns /api/me's status, keeping the CSRF token.
func (u *webUser) me() int {
	u.t.Helper()
	resp, err := u.hc.Get(u.base + "/api/me")
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ CSRF string }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	u.csrf = me.CSRF
	return resp.StatusCode
}

// page opens the WebSocket and returns a function that waits for the
// "end" frame's reason.
func (u *webUser) page(ctx context.Context) func() string {
	u.t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(u.base, "http")+"/ws?csrf="+url.QueryEscape(u.csrf),
		&websocket.DialOptions{HTTPClient: u.hc, HTTPHeader: http.Header{"Origin": {u.base}}})
	if err != nil {
		u.t.Fatalf("websocket: %v", err)
	}
	u.t.Cleanup(func() { ws.CloseNow() })
	if _, _, err := ws.Read(ctx); err != nil { // hello: the session is in the room
		u.t.Fatalf("first frame: %v", err)
	}
	return func() string {
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				u.t.Fatalf("the page was not told why it ended: %v", err)
			}
			var f struct{ Type, Reason string }
			_ = json.Unmarshal(data, &f)
			if f.Type == "end" {
				return f.Reason
			}
		}
	}
}

func TestBanAndKeyRemovalEndTheBrowserSessionAtOnce(t *testing.T) {
	data := t.TempDir()
	adminKey, adminLine := newKey(t)
	bobKey, bobLine := newKey(t)
	if err := os.WriteFile(filepath.Join(data, "authorized_keys"), []byte(`admin,name="alice" `+adminLine+"\n"+`name="bob" `+bobLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, data, "--web", "127.0.0.1:0")
	webLine, _ := c.stdout.ReadString('\n')
	m := regexp.MustCompile(`^Web page on (\S+) `).FindStringSubmatch(webLine)
	if m == nil {
		t.Fatalf("web line %q", webLine)
	}
	alice := newWebUser(t, c, m[1], adminKey)
	bob := newWebUser(t, c, m[1], bobKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if code := bob.signIn(); code != http.StatusOK || bob.me() != http.StatusOK {
		t.Fatalf("bob's sign-in: %d", code)
	}
	ended := bob.page(ctx)
	if out, err := alice.ssh("ban bob 1h spam"); err != nil {
		t.Fatalf("ban: %v %s", err, out)
	}
	if why := ended(); !strings.Contains(why, "banned by alice") || !strings.Contains(why, "spam") {
		t.Fatalf("bob's page ended with %q, want the ban", why)
	}
	if code := bob.me(); code != http.StatusUnauthorized {
		t.Fatalf("/api/me of a banned key: %d, want 401", code)
	}

	if out, err := alice.ssh("unban bob"); err != nil {
		t.Fatalf("unban: %v %s", err, out)
	}
	if code := bob.signIn(); code != http.StatusOK || bob.me() != http.StatusOK {
		t.Fatalf("bob's sign-in after unban: %d", code)
	}
	ended = bob.page(ctx)
	if out, err := alice.ssh("keys remove bob"); err != nil {
		t.Fatalf("keys remove: %v %s", err, out)
	}
	if why := ended(); !strings.Contains(why, "revoked") {
		t.Fatalf("bob's page ended with %q, want the removal", why)
	}
	if code := bob.me(); code != http.StatusUnauthorized {
		t.Fatalf("/api/me of a removed key: %d, want 401", code)
	}
}
