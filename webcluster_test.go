package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/internal/testkit"
)

// Issues 15 and 17: behind one address, a browser signed in through node A
// is signed in on node B with the same cookie (the session is the
// cluster's, app/clusterweb.go), a sign-in link printed by node A's `ssh
// host web` works on node B's page, once, and revoking a browser through
// node B signs it out on node A and closes its page open there.
func TestWebSessionFollowsTheBrowserAcrossNodes(t *testing.T) {
	url := startJetStream(t)
	aliceKey, aliceLine := newKey(t)
	dataA, dataB := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dataA, "authorized_keys"), []byte(`admin,name="alice" `+aliceLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataB, "authorized_keys"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a := startChild(t, dataA, "--nats", url, "--node", "a", "--web", "127.0.0.1:0")
	baseA := webBase(t, a)
	b := startChild(t, dataB, "--nats", url, "--node", "b", "--web", "127.0.0.1:0", "--no-seed-keys")
	baseB := webBase(t, b)

	phone := newWebUser(t, a, baseA, aliceKey)
	if code := phone.signIn(); code != http.StatusOK || phone.me() != http.StatusOK {
		t.Fatalf("sign-in on node A: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phonePage := phone.page(ctx) // open on node A

	// The phone's next request goes to node B: same cookie, signed in
	// (once node B has alice's key from node A).
	testkit.Eventually(t, 20*time.Second, "the phone signed in on node B with node A's cookie", func() bool {
		resp, err := phone.hc.Get(baseB + "/api/me")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// The laptop runs `ssh web` on node A; the load balancer sends the
	// link to node B.
	laptop := newWebUser(t, a, baseB, aliceKey)
	if code := laptop.signIn(); code != http.StatusOK || laptop.me() != http.StatusOK {
		t.Fatalf("node A's sign-in link used on node B: %d", code)
	}
	resp, err := laptop.hc.Get(baseB + "/api/sessions")
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
		if !s.Current {
			phoneID = s.ID
		}
	}
	if len(list.Sessions) != 2 || phoneID == "" {
		t.Fatalf("alice's sessions listed by node B: %+v, want the laptop's and the phone's", list)
	}
	req, _ := http.NewRequest(http.MethodPost, baseB+"/api/sessions/revoke", strings.NewReader(`{"id":"`+phoneID+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", baseB)
	req.Header.Set("X-CSRF-Token", laptop.csrf)
	start := time.Now()
	resp, err = laptop.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke on node B: %s", resp.Status)
	}
	if why := phonePage(); !strings.Contains(why, "signed out") {
		t.Errorf("the phone's page on node A ended with %q, want signed out", why)
	}
	t.Logf("the phone's page on node A closed %v after the revoke on node B", time.Since(start).Round(time.Millisecond))
	if code := phone.me(); code != http.StatusUnauthorized {
		t.Errorf("the revoked phone on node A: %d, want 401", code)
	}
	if code := laptop.me(); code != http.StatusOK {
		t.Errorf("the laptop on node B after revoking the phone: %d, want still signed in", code)
	}
}
