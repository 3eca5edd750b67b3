package app

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"parley/access"
	"parley/internal/natstest"
	"parley/natsaccess"
	"parley/server"
	"parley/store"
	"parley/web"
)

// sharedOn opens the cluster's state on the NATS server at url.
func sharedOn(t *testing.T, url string) *natsaccess.Shared {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sh, err := natsaccess.New(context.Background(), nc, natsaccess.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// Issue 15: with Shared, the web page's sessions, passkeys and accounts
// are the cluster's, and a node that joins publishes those its parley.db
// kept, once: a browser-only person removed in the cluster since does not
// come back when the node restarts.
func TestJoiningNodePublishesItsWebStateOnce(t *testing.T) {
	ns := natstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	acct := access.Account{ID: "web:ABCDEFGHIJKLMNOP", Name: "carol", Created: now}
	rec := web.SessionRecord{Hash: sha256.Sum256([]byte("cookie")), Handle: "h1", Identity: acct.ID,
		Created: now, LastSeen: now, Expires: now.Add(time.Hour)}
	if err := st.PutAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	if err := st.AddPasskey(ctx, acct.ID, []byte{1, 2}, []byte(`{"id":"AQI"}`), now); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	sh := sharedOn(t, ns.URL())
	a, err := New(Config{Config: server.Config{DataDir: dir}, Shared: sh})
	if err != nil {
		t.Fatal(err)
	}
	if all, err := sh.Accounts().Accounts(ctx); err != nil || len(all) != 1 || all[0].ID != acct.ID {
		t.Fatalf("the cluster's accounts after the node joined: %+v %v", all, err)
	}
	if who, _, err := a.Credentials().PasskeyOwner(ctx, []byte{1, 2}); err != nil || who != acct.ID {
		t.Fatalf("the node's passkeys are not the cluster's: owner %q %v", who, err)
	}
	if _, ok, err := a.WebSessions().SessionByHash(ctx, rec.Hash); !ok || err != nil {
		t.Fatalf("the browser signed in before the node joined is signed out: %v %v", ok, err)
	}
	if _, err := sh.Accounts().DeleteAccount(ctx, acct.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}

	sh2 := sharedOn(t, ns.URL())
	again, err := New(Config{Config: server.Config{DataDir: dir}, Shared: sh2})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctx)
	if all, err := sh2.Accounts().Accounts(ctx); err != nil || len(all) != 0 {
		t.Fatalf("the account removed in the cluster came back from the node's store: %+v %v", all, err)
	}
}
