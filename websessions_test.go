package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// webBase reads the "Web page on URL" line a started parley prints.
func webBase(t *testing.T, c *child) string {
	t.Helper()
	line, err := c.stdout.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^Web page on (\S+) `).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("web line %q", line)
	}
	return m[1]
}

// stop sends SIGTERM and waits for a clean exit.
func stop(t *testing.T, c *child) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, c.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("parley did not exit within 20s of SIGTERM")
	}
}

// Issue 17: a restart keeps browsers signed in (the sessions are in the
// database), but not one its owner revoked, nor a banned person's.
func TestWebSessionsSurviveARestartRevokedOnesDoNot(t *testing.T) {
	data := t.TempDir()
	aliceKey, aliceLine := newKey(t)
	bobKey, bobLine := newKey(t)
	if err := os.WriteFile(filepath.Join(data, "authorized_keys"),
		[]byte(`admin,name="alice" `+aliceLine+"\n"+`name="bob" `+bobLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, data, "--web", "127.0.0.1:0")
	base := webBase(t, c)
	laptop := newWebUser(t, c, base, aliceKey)
	phone := newWebUser(t, c, base, aliceKey)
	bob := newWebUser(t, c, base, bobKey)
	for _, u := range []*webUser{laptop, phone, bob} {
		if code := u.signIn(); code != http.StatusOK || u.me() != http.StatusOK {
			t.Fatalf("sign-in: %d", code)
		}
	}
	// The laptop signs the phone out.
	resp, err := phone.hc.Get(base + "/api/sessions")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Sessions []struct {
			ID      string
			Current bool
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	var phoneID string
	for _, s := range list.Sessions {
		if s.Current {
			phoneID = s.ID
		}
	}
	if len(list.Sessions) != 2 || phoneID == "" {
		t.Fatalf("alice's sessions from the phone: %+v", list)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/sessions/revoke", strings.NewReader(`{"id":"`+phoneID+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	req.Header.Set("X-CSRF-Token", laptop.csrf)
	resp, err = laptop.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s", resp.Status)
	}
	if out, err := laptop.ssh("ban bob 1h spam"); err != nil {
		t.Fatalf("ban: %v %s", err, out)
	}
	stop(t, c)

	again := startChild(t, data, "--web", "127.0.0.1:0")
	base2 := webBase(t, again)
	// Cookies belong to the host, not the port: the jars carry over.
	for _, u := range []*webUser{laptop, phone, bob} {
		u.base = base2
	}
	if code := laptop.me(); code != http.StatusOK {
		t.Fatalf("the laptop after the restart: %d, want still signed in", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	laptop.page(ctx) // the page's WebSocket works with the kept session
	if code := phone.me(); code != http.StatusUnauthorized {
		t.Errorf("the revoked phone after the restart: %d, want 401", code)
	}
	if code := bob.me(); code != http.StatusUnauthorized {
		t.Errorf("banned bob after the restart: %d, want 401", code)
	}
}
