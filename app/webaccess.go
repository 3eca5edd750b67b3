package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"parley/access"
	"parley/room"
	"parley/server"
	"parley/store"
)

// Credentials is where the web front door keeps passkeys (the methods of
// web.Credentials; app does not import web): the SQLite store, or memory
// with --store memory.
type Credentials interface {
	AddPasskey(ctx context.Context, identity string, id, record []byte, created time.Time) error
	Passkeys(ctx context.Context, identity string) ([][]byte, error)
	PasskeyOwner(ctx context.Context, id []byte) (identity string, record []byte, err error)
	UpdatePasskey(ctx context.Context, id, record []byte, used time.Time) error
	RemovePasskeys(ctx context.Context, identity string) (int, error)
}

// passkeyStore is Credentials and what keys list needs of the passkeys.
type passkeyStore interface {
	Credentials
	access.PasskeyStore
}

var (
	_ passkeyStore = (*store.SQLite)(nil)
	_ passkeyStore = (*access.MemoryPasskeys)(nil)
)

// Credentials returns where the web page keeps passkeys: the store New
// opened.
func (a *App) Credentials() Credentials { return a.passkeys }

// reserveAccountNames makes the names of browser-only accounts reserved in
// the hub as the names of keys are: nobody else may /nick to them.
func reserveAccountNames(rc *room.Config, accts access.Accounts) {
	keysReserved := rc.Reserved
	rc.Reserved = func(name string) (string, bool) {
		if keysReserved != nil {
			if id, ok := keysReserved(name); ok {
				return id, ok
			}
		}
		a, ok, err := access.FindAccount(context.Background(), accts, name)
		if err != nil || !ok || a.ID == name {
			return "", false
		}
		return a.ID, true
	}
}

// OpenWebAccess opens the passkeys and browser-only accounts of the data
// dir for `parley keys` in the operator's shell (a running server sees
// what it changes: it ends the sessions of a removed account within a
// poll). It returns nil, and no error, when there is no database yet.
func OpenWebAccess(ctx context.Context, dataDir string) (*server.WebAccess, func() error, error) {
	path := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, func() error { return nil }, nil
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s for the passkeys: %w", path, err)
	}
	return &server.WebAccess{AccountStore: st, PasskeyStore: st}, st.Close, nil
}
