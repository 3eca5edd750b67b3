package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"parley/access"
	"parley/room"
)

// The page's invite port and browser-only accounts (issue 17): the same
// code and name rules as `join CODE`, one access list.

func TestWebInviteFollowsTheRulesOfJoin(t *testing.T) {
	ctx := context.Background()
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line("admin"))
	code := invite(t, ts, alice, "")
	spare := invite(t, ts, alice, "--uses 5")

	for _, tc := range []struct{ code, name, want string }{
		{code, "has space", "cannot be your name"},
		{code, "alice", "belongs to another key"},
		{code, "ALICE", "belongs to another key"},
		{"aaaaaaaaaaaa", "carol", "invalid or expired invite code"},
		{"not a code!", "carol", "invalid or expired invite code"},
	} {
		if _, err := ts.srv.ReserveWebInvite(ctx, tc.code, tc.name, "192.0.2.1"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReserveWebInvite(%q, %q) = %v, want %q", tc.code, tc.name, err, tc.want)
		}
	}
	// A use given back (the newcomer did not finish) can be taken again;
	// a use taken is gone.
	undo, err := ts.srv.ReserveWebInvite(ctx, code, "carol", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.ReserveWebInvite(ctx, code, "carol", "192.0.2.1"); err != nil {
		t.Fatalf("the use given back: %v", err)
	}
	if _, err := ts.srv.ReserveWebInvite(ctx, code, "dave", "192.0.2.1"); !errors.Is(err, access.ErrInvalidInvite) {
		t.Fatalf("a spent code: %v", err)
	}
	id, err := ts.srv.CreateWebAccount(ctx, "web:carolcarolcarol", "carol")
	if err != nil || id.ID != "web:carolcarolcarol" || id.Name != "carol" || id.Admin {
		t.Fatalf("CreateWebAccount = %+v, %v", id, err)
	}
	if got, err := ts.srv.WebIdentity(id.ID); err != nil || got != id {
		t.Fatalf("WebIdentity of the account = %+v, %v", got, err)
	}
	// The name is now taken for the page and for SSH.
	if _, err := ts.srv.ReserveWebInvite(ctx, spare, "Carol", "192.0.2.1"); err == nil || !strings.Contains(err.Error(), "belongs to someone else") {
		t.Errorf("a second carol on the page: %v", err)
	}
	carolKey := newTUser(t, "carol")
	if r := ts.run(t, carolKey, "carol", "join "+spare, ""); r.code == 0 || !strings.Contains(r.stderr, "belongs to someone else") {
		t.Errorf("a carol over SSH: %d %q", r.code, r.stderr)
	}
	// keys list over SSH shows the account.
	if r := ts.run(t, alice, "", "keys list", ""); r.code != 0 || !strings.Contains(r.stdout, "web:carolcarolcarol") || !strings.Contains(r.stdout, "browser-only") {
		t.Errorf("keys list: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestWrongWebInviteCodesCountTowardThePenalty(t *testing.T) {
	ctx := context.Background()
	alice := newTUser(t, "alice")
	ts := startTestServerWith(t, "", nil, alice.line("admin")) // the default penalty: 5 failures
	code := invite(t, ts, alice, "")
	for i := range 5 {
		if _, err := ts.srv.ReserveWebInvite(ctx, "aaaaaaaaaaaa", "carol", "192.0.2.7"); !errors.Is(err, access.ErrInvalidInvite) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	_, err := ts.srv.ReserveWebInvite(ctx, code, "carol", "192.0.2.7")
	if err == nil || !strings.Contains(err.Error(), "too many failed attempts") {
		t.Fatalf("the right code after 5 wrong ones from the address: %v, want refused by the penalty", err)
	}
	if _, err := ts.srv.ReserveWebInvite(ctx, code, "carol", "198.51.100.1"); err != nil {
		t.Fatalf("another address is not penalized: %v", err)
	}
}

func TestRemovingABrowserOnlyAccountEndsItsSessions(t *testing.T) {
	ctx := context.Background()
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line("admin"))
	code := invite(t, ts, alice, "")
	if _, err := ts.srv.ReserveWebInvite(ctx, code, "carol", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	id, err := ts.srv.CreateWebAccount(ctx, "web:carolcarolcarol", "carol")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ts.hub().Connect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(room.ReasonQuit)

	// A change of authorized_keys leaves the account alone.
	bob := newTUser(t, "bob")
	if r := ts.run(t, alice, "", "keys add "+bob.keyText()+" --name bob", ""); r.code != 0 {
		t.Fatalf("keys add bob: %d %q", r.code, r.stderr)
	}
	if reason := sess.Reason(); reason != "" {
		t.Fatalf("the account's session ended when a key was added: %q", reason)
	}

	r := ts.run(t, alice, "", "keys remove carol", "")
	if r.code != 0 || !strings.Contains(r.stdout, "browser-only") {
		t.Fatalf("keys remove carol: %d %q %q", r.code, r.stdout, r.stderr)
	}
	untilEnded(t, sess)
	if !strings.Contains(sess.Reason(), "revoked") {
		t.Errorf("session ended with %q, want access revoked", sess.Reason())
	}
	if _, err := ts.srv.WebIdentity(id.ID); err == nil {
		t.Error("a removed account may still sign in")
	}
}

func TestBannedAccountMayNotSignIn(t *testing.T) {
	ctx := context.Background()
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line("admin"))
	code := invite(t, ts, alice, "")
	if _, err := ts.srv.ReserveWebInvite(ctx, code, "carol", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	id, err := ts.srv.CreateWebAccount(ctx, "web:carolcarolcarol", "carol")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ts.hub().Connect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(room.ReasonQuit)
	if r := ts.run(t, alice, "", "ban carol spamming", ""); r.code != 0 {
		t.Fatalf("ban carol: %d %q %q", r.code, r.stdout, r.stderr)
	}
	untilEnded(t, sess)
	if _, err := ts.srv.WebIdentity(id.ID); err == nil || !strings.Contains(err.Error(), "banned") {
		t.Errorf("WebIdentity of a banned account: %v, want banned", err)
	}
}

// untilEnded waits until the session's events end.
func untilEnded(t *testing.T, s *room.Session) {
	t.Helper()
	eventually(t, "the session to end", func() bool {
		for {
			select {
			case _, ok := <-s.Events():
				if !ok {
					return true
				}
			default:
				return false
			}
		}
	})
}

func TestKeysRemoveOverSSHFindsAnAccountNeverOnline(t *testing.T) {
	ctx := context.Background()
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line("admin"))
	code := invite(t, ts, alice, "")
	if _, err := ts.srv.ReserveWebInvite(ctx, code, "erin", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.CreateWebAccount(ctx, "web:erinerinerinerin", "erin"); err != nil {
		t.Fatal(err)
	}
	if r := ts.run(t, alice, "", "keys remove erin", ""); r.code != 0 || !strings.Contains(r.stdout, "Removed erin (web:erinerinerinerin, browser-only)") {
		t.Fatalf("keys remove erin: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := ts.srv.WebIdentity("web:erinerinerinerin"); err == nil {
		t.Error("a removed account may still sign in")
	}
}

func TestAnAccountNeverOnlineIsBannedByName(t *testing.T) {
	ctx := context.Background()
	alice := newTUser(t, "alice")
	ts := startTestServer(t, "", alice.line("admin"))
	code := invite(t, ts, alice, "")
	if _, err := ts.srv.ReserveWebInvite(ctx, code, "erin", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.CreateWebAccount(ctx, "web:erinerinerinerin", "erin"); err != nil {
		t.Fatal(err)
	}
	if r := ts.run(t, alice, "", "ban erin spam", ""); r.code != 0 || !strings.Contains(r.stdout, "erin") {
		t.Fatalf("ban erin: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := ts.srv.WebIdentity("web:erinerinerinerin"); err == nil || !strings.Contains(err.Error(), "banned") {
		t.Fatalf("WebIdentity of the banned account: %v", err)
	}
	if r := ts.run(t, alice, "", "unban erin", ""); r.code != 0 {
		t.Fatalf("unban erin: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := ts.srv.WebIdentity("web:erinerinerinerin"); err != nil {
		t.Fatalf("WebIdentity after unban: %v", err)
	}
}
