package app

import (
	"path/filepath"
	"testing"
	"time"

	"parley/server"
	"parley/web"
)

// The web page keeps its sessions in the SQLite store (they outlive a
// restart); with the memory store there is none to hand it.
func TestWebSessionsAreTheStoresAcrossARestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a, err := New(Config{Config: server.Config{DataDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	ws := a.WebSessions()
	if ws == nil {
		t.Fatal("WebSessions is nil with the SQLite store")
	}
	now := time.Now().UTC()
	rec := web.SessionRecord{Hash: [32]byte{7}, Handle: "h", Identity: "SHA256:x", Created: now, LastSeen: now, Expires: now.Add(time.Hour)}
	if err := ws.CreateSession(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	again, err := New(Config{Config: server.Config{DataDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(t.Context())
	if _, ok, err := again.WebSessions().SessionByHash(t.Context(), rec.Hash); !ok || err != nil {
		t.Fatalf("the session after a restart: %v, %v", ok, err)
	}

	mem, err := New(Config{Config: server.Config{DataDir: t.TempDir()}, Store: StoreMemory})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close(t.Context())
	if mem.WebSessions() != nil {
		t.Error("WebSessions with --store memory: want nil (the page keeps them in memory)")
	}
}
