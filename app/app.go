package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"parley/access"
	"parley/keys"
	"parley/natsaccess"
	"parley/room"
	"parley/server"
	"parley/store"
	"parley/web"
)

// Store names for Config.Store.
const (
	// StoreSQLite keeps history in DataDir/parley.db (the default).
	StoreSQLite = "sqlite"
	// StoreMemory keeps the recent messages of each room only, lost on
	// restart.
	StoreMemory = "memory"
)

// Paths under the data dir.
const (
	keysFile = "authorized_keys"
	dbFile   = "parley.db"
)

// Config is everything parley runs with. Zero fields take the defaults
// (Defaults; server.Defaults for the front door's).
type Config struct {
	// Config is the SSH front door's settings; its DataDir is the data dir
	// of the whole server. Its Hub, Hooks, Keys, Access, StoreReady and
	// Started are what New builds: whatever they hold here is replaced.
	server.Config
	// SeedKeys imports the keys of Home/.ssh as admins when there is no
	// authorized_keys file yet.
	SeedKeys bool
	// Home is the home directory to seed from; "" means the current user's.
	Home string
	// Room configures the hub (its storage ports and front-door callbacks
	// are filled in by New).
	Room room.Config
	// Store is StoreSQLite ("" too) or StoreMemory.
	Store string
	// Retain deletes stored messages older than this, in the background;
	// zero keeps everything.
	Retain time.Duration
	// Shared, when not nil, makes access (keys, bans, mutes, kicks,
	// invites, room access) the cluster's shared truth (natsaccess; main's
	// natswire.go builds it over NATS). New starts it; Close stops it.
	Shared *natsaccess.Shared
	// LocalIndex, set in cluster mode (main's natswire.go, with Room.Log
	// shared), makes the SQLite store the node's local index of the shared
	// log: New calls it with the open store, and the hub reads the History
	// it returns and searches the store. stop ends the feeding; Close calls
	// it after the hub has closed, before the store closes.
	LocalIndex func(st *store.SQLite) (hist room.History, stop func(), err error)
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{Config: server.Defaults(), SeedKeys: true, Store: StoreSQLite}
}

// App is a prepared parley: store, keys, access lists, hub and SSH front
// door. The front door's methods (Serve, Hub, Keys, Ready, Startup,
// ReloadKeys, ...) are the App's; Close closes the store too. Its methods
// are safe for concurrent use.
type App struct {
	// Server is the SSH front door.
	*server.Server

	cfg   Config
	log   *slog.Logger
	store *store.SQLite // nil with StoreMemory
	// passkeys keeps the web page's passkeys (webaccess.go): the store, or
	// memory with StoreMemory.
	passkeys passkeyStore

	stop    context.CancelFunc
	retains sync.WaitGroup // the retention loop
	closed  sync.Once
	err     error // Close's result, set once

	stopIndex func() // LocalIndex's stop; nil without one
}

// New prepares parley from cfg: the data dir, authorized_keys (seeded on
// first start, PARLEY_ADMIN_KEYS added), the store, the access lists, the
// hub and the SSH front door. It does not listen yet; call Serve.
func New(cfg Config) (*App, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = server.DefaultDataDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: cfg.Logger}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	if err := checkWritable(cfg.DataDir); err != nil {
		return nil, err
	}
	keysPath := filepath.Join(cfg.DataDir, keysFile)
	// As OpenSSH's StrictModes: whoever can write these can let themselves in.
	if err := keys.CheckPermissions(keysPath); err != nil {
		return nil, err
	}
	var started server.Started
	var err error
	if cfg.SeedKeys {
		home := cfg.Home
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			if started.Seeded, err = keys.Seed(keysPath, home); err != nil {
				return nil, fmt.Errorf("seed authorized keys: %w", err)
			}
		}
	} else if _, err := keys.Seed(keysPath, ""); err != nil { // the file with its header, no keys
		return nil, fmt.Errorf("create authorized keys: %w", err)
	}
	if started.Imported, err = server.ImportAdminKeys(keysPath, cfg.AdminKeys); err != nil {
		return nil, err
	}
	ks, err := keys.Open(keysPath, a.log)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w", err)
	}

	rc := cfg.Room
	var accessStore access.Store = access.NewMemory()
	var accounts access.Accounts = access.NewMemoryAccounts() // browser-only people (issue 17)
	a.passkeys = access.NewMemoryPasskeys()
	switch cfg.Store {
	case "", StoreSQLite:
		st, err := store.Open(context.Background(), filepath.Join(cfg.DataDir, dbFile))
		if err != nil {
			return nil, fmt.Errorf("history store: %w", err)
		}
		a.store = st
		rc.Prefs = st
		if rc.Private == nil { // a shared one (main's natswire.go) keeps them for every node
			rc.Private = st
		}
		if rc.Log == nil {
			rc.History, rc.Search = st, st
		} else if cfg.LocalIndex != nil { // a shared Log (main's natswire.go): SQLite is its local index
			hist, stop, err := cfg.LocalIndex(st)
			if err != nil {
				a.closeStore()
				return nil, err
			}
			rc.History, rc.Search, a.stopIndex = hist, st, stop
		}
		rc.Rooms = st // room access and memberships outlive restarts
		accessStore = st
		accounts, a.passkeys = st, st
		started.History = "History is kept in " + st.Path()
		if a.stopIndex != nil {
			started.History = "History is kept in the cluster's streams; " + st.Path() + " is this node's index of them"
		}
	case StoreMemory:
		started.History = "History is kept in memory only (--store memory): it is lost on restart"
	default:
		return nil, fmt.Errorf("store %q: use %s or %s", cfg.Store, StoreSQLite, StoreMemory)
	}
	if cfg.Shared != nil { // the cluster's lists instead of this node's
		accessStore, rc.Rooms = cfg.Shared.AccessStore(), cfg.Shared.RoomStore(rc.Rooms)
		// The web page's browser-only people and passkeys too (clusterweb.go).
		accounts, a.passkeys = cfg.Shared.Accounts(), cfg.Shared.Passkeys()
		if a.store != nil {
			if err := publishLocalWeb(context.Background(), a.store, cfg.Shared, cfg.DataDir, a.log); err != nil {
				a.closeStore()
				return nil, err
			}
		}
	}
	ac, err := access.Open(context.Background(), accessStore, nil)
	if err != nil {
		a.closeStore()
		return nil, fmt.Errorf("access lists: %w", err)
	}
	rc.Logger = a.log
	rc.MessageLimit, rc.NoticeLimit = cfg.Defences.Limiters()
	hooks := server.RoomHooks(&rc, ks, cfg.DataDir)
	reserveAccountNames(&rc, accounts)
	hub, err := room.New(rc)
	if err != nil {
		a.closeStore()
		return nil, err
	}

	sc := cfg.Config
	sc.Hub, sc.Hooks, sc.Keys, sc.Access, sc.Started = hub, hooks, ks, ac, started
	if cfg.Shared != nil {
		sc.Cluster = cfg.Shared
	}
	sc.Accounts, sc.Passkeys = accounts, a.passkeys
	if a.store != nil {
		sc.StoreReady = a.store.Ping
	}
	if a.Server, err = server.New(sc); err != nil {
		_ = hub.Close(context.Background(), "")
		a.closeStore()
		return nil, err
	}

	if cfg.Shared != nil {
		if err := cfg.Shared.Start(natsaccess.Node{Hub: hub, Access: ac, Keys: ks, ReloadKeys: a.Server.ReloadKeys}); err != nil {
			_ = a.Server.Close(context.Background())
			a.closeStore()
			return nil, fmt.Errorf("shared access: %w", err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	if a.store != nil && cfg.Retain > 0 {
		a.retains.Add(1)
		go func() {
			defer a.retains.Done()
			a.retain(ctx)
		}()
	}
	return a, nil
}

// Close stops the retention loop, closes the front door (everyone is told
// and their sessions end, until ctx ends at most) and then the store. Later
// calls return the first result.
func (a *App) Close(ctx context.Context) error {
	a.closed.Do(func() {
		a.stop()
		a.retains.Wait()
		if a.cfg.Shared != nil {
			a.cfg.Shared.Stop() // no other node's change applies to a closing hub
		}
		err := a.Server.Close(ctx)
		// The hub has stored everything it accepted; now the store may go.
		a.err = errors.Join(err, a.closeStore())
	})
	return a.err
}

// retain deletes messages older than Retain: at start, then hourly.
func (a *App) retain(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := a.store.DeleteBefore(ctx, time.Now().Add(-a.cfg.Retain))
		if err != nil && ctx.Err() == nil {
			a.log.Error("retention", "err", err)
		} else if n > 0 {
			a.log.Info("retention: deleted old messages", "count", n, "older_than", a.cfg.Retain.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WebSessions is where the web page keeps its signed-in browsers: the
// cluster's with Shared (clusterweb.go), else the SQLite store (they
// outlive a restart), or nil with StoreMemory (the page then keeps them in
// memory).
func (a *App) WebSessions() web.Sessions {
	if a.cfg.Shared != nil {
		return sharedSessions{a.cfg.Shared.WebSessions()}
	}
	if a.store == nil {
		return nil
	}
	return a.store
}

func (a *App) closeStore() error {
	if a.store == nil {
		return nil
	}
	if a.stopIndex != nil { // what it has read is written before the store goes
		a.stopIndex()
	}
	if err := a.store.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return nil
}

func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
