package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"parley/natsaccess"
	"parley/store"
	"parley/web"
)

// In a cluster (Config.Shared), the web page's state is the cluster's
// (issues 15 and 17): its signed-in browsers, passkeys and browser-only
// accounts are kept in natsaccess's buckets instead of this node's store,
// so that a browser sent to any node behind one address stays signed in.

// sharedSessions is web.Sessions over the cluster's (natsaccess names no
// front door: it keeps plain values, converted here).
type sharedSessions struct{ s natsaccess.WebSessions }

var (
	_ web.Sessions = sharedSessions{}
	_ passkeyStore = natsaccess.Passkeys{}
	_ web.Links    = natsaccess.WebLinks{}
)

func toShared(r web.SessionRecord) natsaccess.WebSession {
	return natsaccess.WebSession{Hash: r.Hash, Handle: r.Handle, Identity: r.Identity,
		Created: r.Created, LastSeen: r.LastSeen, Expires: r.Expires, Agent: r.Agent, Addr: r.Addr}
}

func fromShared(r natsaccess.WebSession) web.SessionRecord {
	return web.SessionRecord{Hash: r.Hash, Handle: r.Handle, Identity: r.Identity,
		Created: r.Created, LastSeen: r.LastSeen, Expires: r.Expires, Agent: r.Agent, Addr: r.Addr}
}

// CreateSession implements web.Sessions.
func (x sharedSessions) CreateSession(ctx context.Context, r web.SessionRecord) error {
	return x.s.CreateSession(ctx, toShared(r))
}

// SessionByHash implements web.Sessions.
func (x sharedSessions) SessionByHash(ctx context.Context, hash [32]byte) (web.SessionRecord, bool, error) {
	r, ok, err := x.s.SessionByHash(ctx, hash)
	return fromShared(r), ok, err
}

// TouchSession implements web.Sessions.
func (x sharedSessions) TouchSession(ctx context.Context, hash [32]byte, seen time.Time) error {
	return x.s.TouchSession(ctx, hash, seen)
}

// SessionsOf implements web.Sessions.
func (x sharedSessions) SessionsOf(ctx context.Context, identity string) ([]web.SessionRecord, error) {
	all, err := x.s.SessionsOf(ctx, identity)
	out := make([]web.SessionRecord, len(all))
	for i, r := range all {
		out[i] = fromShared(r)
	}
	return out, err
}

// DeleteSession implements web.Sessions.
func (x sharedSessions) DeleteSession(ctx context.Context, identity, handle string) (bool, error) {
	return x.s.DeleteSession(ctx, identity, handle)
}

// DeleteSessionsOf implements web.Sessions.
func (x sharedSessions) DeleteSessionsOf(ctx context.Context, identity string) error {
	return x.s.DeleteSessionsOf(ctx, identity)
}

// DeleteExpiredSessions implements web.Sessions.
func (x sharedSessions) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return x.s.DeleteExpiredSessions(ctx, now)
}

// WebLinks is where the web page keeps its sign-in links: the cluster's
// with Shared (a link from `ssh host web` on one node works on all), nil
// otherwise (the page keeps them in memory).
func (a *App) WebLinks() web.Links {
	if a.cfg.Shared == nil {
		return nil
	}
	return a.cfg.Shared.WebLinks()
}

// WatchWebSignOuts calls endPages with the handle of every browser session
// that ends on any node of the cluster (web.Server.EndSessionPages), so
// that a revoke or sign-out on one node closes the session's pages open on
// the others. Without a cluster it does nothing: the page closes its own.
func (a *App) WatchWebSignOuts(endPages func(handle string)) error {
	if a.cfg.Shared == nil {
		return nil
	}
	return a.cfg.Shared.OnWebSignOut(endPages)
}

// webPublishedFile, next to parley.db, records that this node published
// its browser sessions, passkeys and accounts to the cluster: once, as a
// node that joins publishes its keys and memberships, so that people who
// signed in or joined from the page before the node ran with --nats keep
// their access; never again, so that what the cluster removed since does
// not come back from this node's store.
const webPublishedFile = dbFile + ".web-published"

// publishLocalWeb adds the browser-only accounts, passkeys and live
// browser sessions of st to the cluster's (what the cluster has already
// is kept), the first time this node runs in a cluster.
func publishLocalWeb(ctx context.Context, st *store.SQLite, sh *natsaccess.Shared, dataDir string, log *slog.Logger) error {
	marker := filepath.Join(dataDir, webPublishedFile)
	if _, err := os.Stat(marker); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("publishing the web page's state: %w", err)
	}
	accts, err := st.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("publishing the web page's state: %w", err)
	}
	for _, acct := range accts {
		if err := sh.Accounts().PutAccount(ctx, acct); err != nil {
			return fmt.Errorf("publishing the web page's state: %w", err)
		}
	}
	keys, err := st.AllPasskeys(ctx)
	if err != nil {
		return fmt.Errorf("publishing the web page's state: %w", err)
	}
	nKeys := 0
	for _, k := range keys {
		added, err := sh.Passkeys().ImportPasskey(ctx, k.Identity, k.ID, k.Record, k.Created, k.LastUsed)
		if err != nil {
			return fmt.Errorf("publishing the web page's state: %w", err)
		}
		if added {
			nKeys++
		}
	}
	sessions, err := st.LiveWebSessions(ctx, time.Now())
	if err != nil {
		return fmt.Errorf("publishing the web page's state: %w", err)
	}
	nSessions := 0
	for _, r := range sessions {
		added, err := sh.WebSessions().ImportSession(ctx, toShared(r))
		if err != nil {
			return fmt.Errorf("publishing the web page's state: %w", err)
		}
		if added {
			nSessions++
		}
	}
	if err := os.WriteFile(marker, []byte("this node's browser sessions, passkeys and accounts were published to the cluster\n"), 0o600); err != nil {
		return fmt.Errorf("publishing the web page's state: %w", err)
	}
	log.Info("published this node's web page state to the cluster", "accounts", len(accts), "passkeys", nKeys, "sessions", nSessions)
	return nil
}
