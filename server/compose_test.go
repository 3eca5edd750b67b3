package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"parley/access"
	"parley/keys"
	"parley/room"
	"parley/store"
)

// testConfig is what this package's tests configure: the front door's
// Config and the choices the composition root (package app) makes in
// production. Package app imports server, so these tests cannot call
// app.New; compose builds the same pieces the same way.
type testConfig struct {
	Config
	SeedKeys bool
	Home     string
	Room     room.Config
	Store    string // "" or "sqlite", or "memory"
}

// composed is a Server with the store compose opened for it; Close closes
// both, as app.App's does.
type composed struct {
	*Server
	store *store.SQLite // nil with Store "memory"
}

// Close closes the server, then the store (once).
func (c *composed) Close(ctx context.Context) error {
	err := c.Server.Close(ctx)
	if c.store != nil {
		err = errors.Join(err, c.store.Close())
		c.store = nil
	}
	return err
}

// compose builds a Server from cfg as app.New does: data dir,
// authorized_keys (seeded, PARLEY_ADMIN_KEYS added), store, access lists,
// hub, front door.
func compose(cfg testConfig) (*composed, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	keysPath := filepath.Join(cfg.DataDir, "authorized_keys")
	if err := keys.CheckPermissions(keysPath); err != nil {
		return nil, err
	}
	var started Started
	var err error
	if cfg.SeedKeys {
		home := cfg.Home
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if started.Seeded, err = keys.Seed(keysPath, home); err != nil {
			return nil, err
		}
	} else if _, err := keys.Seed(keysPath, ""); err != nil {
		return nil, err
	}
	if started.Imported, err = ImportAdminKeys(keysPath, cfg.AdminKeys); err != nil {
		return nil, err
	}
	ks, err := keys.Open(keysPath, cfg.Logger)
	if err != nil {
		return nil, err
	}
	c := &composed{}
	rc := cfg.Room
	var as access.Store = access.NewMemory()
	switch cfg.Store {
	case "", "sqlite":
		if c.store, err = store.Open(context.Background(), filepath.Join(cfg.DataDir, "parley.db")); err != nil {
			return nil, err
		}
		rc.History, rc.Private, rc.Search, rc.Prefs, rc.Rooms = c.store, c.store, c.store, c.store, c.store
		as = c.store
		started.History = "History is kept in " + c.store.Path()
	case "memory":
		started.History = "History is kept in memory only (--store memory): it is lost on restart"
	default:
		return nil, fmt.Errorf("store %q", cfg.Store)
	}
	fail := func(err error) (*composed, error) {
		if c.store != nil {
			c.store.Close()
		}
		return nil, err
	}
	ac, err := access.Open(context.Background(), as, nil)
	if err != nil {
		return fail(err)
	}
	rc.Logger = cfg.Logger
	rc.MessageLimit, rc.NoticeLimit = cfg.Defences.Limiters()
	hooks := RoomHooks(&rc, ks, cfg.DataDir)
	hub, err := room.New(rc)
	if err != nil {
		return fail(err)
	}
	sc := cfg.Config
	sc.Hub, sc.Hooks, sc.Keys, sc.Access, sc.Started = hub, hooks, ks, ac, started
	if c.store != nil {
		sc.StoreReady = c.store.Ping
	}
	if c.Server, err = New(sc); err != nil {
		return fail(err)
	}
	return c, nil
}
