package server

import (
	"strings"
	"sync"
	"testing"
)

func TestExecWebPrintsASignInLinkForTheCaller(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	var mu sync.Mutex
	var asked []string
	ts := startTestServerWith(t, "", func(c *testConfig) {
		c.WebSignIn = func(id string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, id)
			return "http://127.0.0.1:8080/signin#TOKEN-" + id, nil
		}
	}, alice.line("admin"), bob.line(""))
	r := ts.run(t, bob, "", "web", "")
	if r.code != 0 || !strings.Contains(r.stdout, "http://127.0.0.1:8080/signin#TOKEN-"+bob.fp) || !strings.Contains(r.stdout, "10 minutes") {
		t.Fatalf("web: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	if len(asked) != 1 || asked[0] != bob.fp {
		t.Errorf("links asked for %v, want bob's fingerprint only", asked)
	}
	mu.Unlock()
	if r := ts.run(t, bob, "", "web extra", ""); r.code != 2 {
		t.Errorf("web with an argument: exit %d, want 2", r.code)
	}
	if r := ts.run(t, bob, "", "help", ""); !strings.Contains(r.stdout, "web") {
		t.Errorf("help does not list web:\n%s", r.stdout)
	}
}

func TestExecWebSaysWhenThePageIsOff(t *testing.T) {
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line(""))
	r := ts.run(t, alice, "", "web", "")
	if r.code != 1 || !strings.Contains(r.stderr, "turned off") {
		t.Fatalf("web without a page: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestWebIdentityFollowsTheAccessList(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line("admin"), bob.line(""))
	id, err := ts.srv.WebIdentity(bob.fp)
	if err != nil || id.ID != bob.fp || id.Name != "bob" || id.Admin {
		t.Fatalf("bob: %+v, %v", id, err)
	}
	if id, err := ts.srv.WebIdentity(alice.fp); err != nil || !id.Admin {
		t.Fatalf("alice: %+v, %v, want an admin", id, err)
	}
	if _, err := ts.srv.WebIdentity("SHA256:nobody"); err == nil {
		t.Fatal("an unknown key may sign in")
	}
	if r := ts.run(t, alice, "", "ban bob 1h spam", ""); r.code != 0 {
		t.Fatalf("ban: exit %d %s", r.code, r.stderr)
	}
	if _, err := ts.srv.WebIdentity(bob.fp); err == nil || !strings.Contains(err.Error(), "banned") {
		t.Fatalf("banned bob: %v, want a ban refusal", err)
	}
}
