package natsaccess

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"parley/access"
)

// A browser signed in through one node is signed in on the other (the
// cookie's hash finds the same session), its last-seen time follows, and
// revoking it on the second ends it on the first, and tells every node so
// that its open pages close.
func TestWebSessionIsTheClusters(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	ctx := context.Background()
	var mu sync.Mutex
	var ended []string
	if err := a.sh.OnWebSignOut(func(h string) { mu.Lock(); ended = append(ended, h); mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	rec := WebSession{Hash: sha256.Sum256([]byte("cookie")), Handle: "h1", Identity: "SHA256:alice",
		Created: now, LastSeen: now, Expires: now.Add(time.Hour), Agent: "Firefox on Linux", Addr: "192.0.2.1"}
	if err := a.sh.WebSessions().CreateSession(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.sh.WebSessions().SessionByHash(ctx, rec.Hash)
	if err != nil || !ok {
		t.Fatalf("node B: session made on node A not found: %v %v", ok, err)
	}
	if !sameSession(got, rec) {
		t.Fatalf("node B read %+v, want %+v", got, rec)
	}
	if err := a.sh.WebSessions().CreateSession(ctx, rec); err == nil {
		t.Error("a second session with the same cookie hash was stored")
	}
	later := now.Add(5 * time.Minute)
	if err := b.sh.WebSessions().TouchSession(ctx, rec.Hash, later); err != nil {
		t.Fatal(err)
	}
	mine, err := a.sh.WebSessions().SessionsOf(ctx, "SHA256:alice")
	if err != nil || len(mine) != 1 || !mine[0].LastSeen.Equal(later) {
		t.Fatalf("node A lists %+v (%v), want the session last seen at %v", mine, err, later)
	}
	if ok, err := b.sh.WebSessions().DeleteSession(ctx, "SHA256:bob", "h1"); ok || err != nil {
		t.Fatalf("bob revoked alice's session: %v %v", ok, err)
	}
	if ok, err := b.sh.WebSessions().DeleteSession(ctx, "SHA256:alice", "h1"); !ok || err != nil {
		t.Fatalf("revoke on node B: %v %v", ok, err)
	}
	if _, ok, err := a.sh.WebSessions().SessionByHash(ctx, rec.Hash); ok || err != nil {
		t.Fatalf("node A still finds the session revoked on node B: %v %v", ok, err)
	}
	eventually(t, "node A told to close the revoked session's pages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ended) == 1 && ended[0] == "h1"
	})
	// A touch after the revoke does not bring the session back.
	if err := a.sh.WebSessions().TouchSession(ctx, rec.Hash, later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.sh.WebSessions().SessionByHash(ctx, rec.Hash); ok {
		t.Fatal("a touch brought a revoked session back")
	}
}

// Signing an identity out everywhere and forgetting expired sessions work
// across nodes.
func TestWebSessionsOfAnIdentityEndEverywhere(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	ctx := context.Background()
	now := time.Now().UTC()
	for i, r := range []WebSession{
		{Handle: "a1", Identity: "web:AAAA", Expires: now.Add(time.Hour)},
		{Handle: "a2", Identity: "web:AAAA", Expires: now.Add(time.Hour)},
		{Handle: "b1", Identity: "SHA256:bob", Expires: now.Add(time.Hour)},
		{Handle: "b2", Identity: "SHA256:bob", Expires: now.Add(-time.Second)},
	} {
		r.Hash = sha256.Sum256([]byte{byte(i)})
		r.Created, r.LastSeen = now, now
		if err := a.sh.WebSessions().CreateSession(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.sh.WebSessions().DeleteSessionsOf(ctx, "web:AAAA"); err != nil {
		t.Fatal(err)
	}
	if left, err := a.sh.WebSessions().SessionsOf(ctx, "web:AAAA"); err != nil || len(left) != 0 {
		t.Fatalf("node A still has %d sessions of the identity signed out on node B (%v)", len(left), err)
	}
	if n, err := b.sh.WebSessions().DeleteExpiredSessions(ctx, now); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions: %d %v, want 1", n, err)
	}
	left, err := a.sh.WebSessions().SessionsOf(ctx, "SHA256:bob")
	if err != nil || len(left) != 1 || left[0].Handle != "b1" {
		t.Fatalf("bob's sessions on node A: %+v %v, want b1 only", left, err)
	}
}

// A session's value is checked when read: one written under another
// cookie's hash, or with a control character in its identity, is not a
// session.
func TestWebSessionValuesAreCheckedOnRead(t *testing.T) {
	url := startJS(t)
	a := startNode(t, url, t.TempDir())
	ctx := context.Background()
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	bad := map[[32]byte]string{
		h1: `{"hash":"` + sessionKey(h2) + `","handle":"x","identity":"SHA256:a","expires":"2999-01-01T00:00:00Z"}`,
		h2: `{"hash":"` + sessionKey(h2) + `","handle":"x","identity":"SHA256:a\u001b[2J","expires":"2999-01-01T00:00:00Z"}`,
	}
	for h, v := range bad {
		if _, err := a.sh.webSessions.Put(ctx, sessionKey(h), []byte(v)); err != nil {
			t.Fatal(err)
		}
		if r, ok, err := a.sh.WebSessions().SessionByHash(ctx, h); ok || err != nil {
			t.Errorf("a bad value %s was read as a session: %+v %v", v, r, err)
		}
	}
}

// A passkey registered through one node signs in through the other (its
// owner and record are found there), its use on the second is seen on the
// first, and removing an identity's passkeys on one removes them from all.
func TestPasskeyIsTheClusters(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	ctx := context.Background()
	made := time.Now().UTC().Truncate(time.Second)
	id, rec := []byte{1, 2, 3, 0xff}, []byte(`{"id":"AQID_w","publicKey":"pk"}`)
	if err := a.sh.Passkeys().AddPasskey(ctx, "web:AAAA", id, rec, made); err != nil {
		t.Fatal(err)
	}
	who, got, err := b.sh.Passkeys().PasskeyOwner(ctx, id)
	if err != nil || who != "web:AAAA" || !bytes.Equal(got, rec) {
		t.Fatalf("node B: passkey owner %q record %q (%v), want web:AAAA and the record", who, got, err)
	}
	if recs, err := b.sh.Passkeys().Passkeys(ctx, "web:AAAA"); err != nil || len(recs) != 1 || !bytes.Equal(recs[0], rec) {
		t.Fatalf("node B: passkeys of web:AAAA: %q %v", recs, err)
	}
	if err := b.sh.Passkeys().AddPasskey(ctx, "SHA256:other", id, rec, made); err == nil {
		t.Error("the same credential id was registered twice, on two nodes")
	}
	used, rec2 := made.Add(time.Minute), []byte(`{"id":"AQID_w","publicKey":"pk","signCount":2}`)
	if err := b.sh.Passkeys().UpdatePasskey(ctx, id, rec2, used); err != nil {
		t.Fatal(err)
	}
	list, err := a.sh.Passkeys().PasskeyList(ctx)
	if err != nil || len(list) != 1 || list[0].Identity != "web:AAAA" || !list[0].Created.Equal(made) || !list[0].LastUsed.Equal(used) {
		t.Fatalf("node A: passkey list %+v (%v), want web:AAAA made %v used %v", list, err, made, used)
	}
	if _, got, _ := a.sh.Passkeys().PasskeyOwner(ctx, id); !bytes.Equal(got, rec2) {
		t.Fatalf("node A: record %q after the sign-in on node B, want %q", got, rec2)
	}
	if n, err := b.sh.Passkeys().RemovePasskeys(ctx, "web:AAAA"); n != 1 || err != nil {
		t.Fatalf("RemovePasskeys: %d %v", n, err)
	}
	if who, _, err := a.sh.Passkeys().PasskeyOwner(ctx, id); who != "" || err != nil {
		t.Fatalf("node A: a removed passkey still belongs to %q (%v)", who, err)
	}
}

// A browser-only person invited through one node exists on the other
// (listed, so found at sign-in and by name); removed on the second, it is
// gone from the first.
func TestAccountIsTheClusters(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	ctx := context.Background()
	acct := access.Account{ID: "web:ABCDEFGHIJKLMNOP", Name: "carol", Created: time.Now().UTC().Truncate(time.Second)}
	if err := a.sh.Accounts().PutAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node B lists the account made on node A", func() bool {
		all, err := b.sh.Accounts().Accounts(ctx)
		return err == nil && len(all) == 1 && sameAccount(all[0], acct)
	})
	if got, ok, err := access.FindAccount(ctx, b.sh.Accounts(), "Carol"); !ok || err != nil || got.ID != acct.ID {
		t.Fatalf("node B: FindAccount(Carol) = %+v %v %v", got, ok, err)
	}
	if ok, err := b.sh.Accounts().DeleteAccount(ctx, acct.ID); !ok || err != nil {
		t.Fatalf("DeleteAccount on node B: %v %v", ok, err)
	}
	eventually(t, "node A forgets the account removed on node B", func() bool {
		all, err := a.sh.Accounts().Accounts(ctx)
		return err == nil && len(all) == 0
	})
	if ok, err := a.sh.Accounts().DeleteAccount(ctx, acct.ID); ok || err != nil {
		t.Fatalf("DeleteAccount of a removed account: %v %v, want false", ok, err)
	}
	// A node started later finds the accounts there (loaded at Start).
	if err := b.sh.Accounts().PutAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	c := startNode(t, url, t.TempDir())
	if all, err := c.sh.Accounts().Accounts(ctx); err != nil || len(all) != 1 || !sameAccount(all[0], acct) {
		t.Fatalf("a node started later lists %+v (%v), want the account", all, err)
	}
}

func sameSession(a, b WebSession) bool {
	return a.Hash == b.Hash && a.Handle == b.Handle && a.Identity == b.Identity && a.Agent == b.Agent && a.Addr == b.Addr &&
		a.Created.Equal(b.Created) && a.LastSeen.Equal(b.LastSeen) && a.Expires.Equal(b.Expires)
}

func sameAccount(a, b access.Account) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Created.Equal(b.Created)
}

// A sign-in link made on one node works on the other, once: two nodes
// taking it at the same time give it to one.
func TestSignInLinkWorksOnceOnAnyNode(t *testing.T) {
	url := startJS(t)
	a, b := startNode(t, url, t.TempDir()), startNode(t, url, t.TempDir())
	ctx := context.Background()
	exp := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	h := sha256.Sum256([]byte("token"))
	if err := a.sh.WebLinks().PutLink(ctx, h, "SHA256:alice", exp); err != nil {
		t.Fatal(err)
	}
	id, got, ok, err := b.sh.WebLinks().TakeLink(ctx, h)
	if err != nil || !ok || id != "SHA256:alice" || !got.Equal(exp) {
		t.Fatalf("node B took %q %v %v (%v), want alice's link until %v", id, got, ok, err, exp)
	}
	if _, _, ok, err := a.sh.WebLinks().TakeLink(ctx, h); ok || err != nil {
		t.Fatalf("the link worked twice: %v %v", ok, err)
	}
	for i := range 20 {
		h := sha256.Sum256([]byte{byte(i)})
		if err := a.sh.WebLinks().PutLink(ctx, h, "SHA256:alice", exp); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		took := 0
		for _, n := range []*node{a, b} {
			wg.Go(func() {
				_, _, ok, err := n.sh.WebLinks().TakeLink(ctx, h)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					took++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if took != 1 {
			t.Fatalf("link %d taken %d times by two nodes at once, want once", i, took)
		}
	}
}
