package natsaccess

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/access"
	"parley/safetext"
)

// The web page's state, shared by every node (issues 15 and 17): signed-in
// browsers, passkeys and browser-only accounts. Behind one address (a load
// balancer) a browser signed in on one node stays signed in on the next,
// a passkey registered on one signs in on all, and an invited browser-only
// person exists on every node. This package names no front door: the
// sessions are plain WebSession values, which app turns into web's.

// Bucket and subject names of the web page's state (doc.go).
const (
	WebSessionsBucket = "PARLEY_WEB_SESSIONS"
	WebLinksBucket    = "PARLEY_WEB_LINKS"
	PasskeysBucket    = "PARLEY_PASSKEYS"
	AccountsBucket    = "PARLEY_ACCOUNTS"
	// SignOutSubject carries the handle of a browser session that ended
	// (signed out, revoked, its identity removed): every node closes that
	// session's open pages.
	SignOutSubject = "parley.web.signout"
)

// accountPrefix starts every browser-only identity's id (server's).
const accountPrefix = "web:"

// maxHandle bounds a session's handle (web's are 22 characters).
const maxHandle = 64

// openWeb opens (creating when missing) the buckets of the web page's
// state. The sessions' bucket forgets an entry Options.WebSessionTTL after
// its last write, so a session nobody signs out of does not stay forever.
func (s *Shared) openWeb(ctx context.Context) error {
	var err error
	if s.webSessions, err = s.bucketTTL(ctx, WebSessionsBucket, "parley browser sessions (hashes of the cookies)", s.opts.WebSessionTTL); err != nil {
		return err
	}
	if s.webLinks, err = s.bucketTTL(ctx, WebLinksBucket, "parley sign-in links (hashes of the tokens)", webLinkTTL); err != nil {
		return err
	}
	if s.passkeys, err = s.bucket(ctx, PasskeysBucket, "parley passkeys"); err != nil {
		return err
	}
	s.accounts, err = s.bucket(ctx, AccountsBucket, "parley browser-only accounts")
	return err
}

// Sessions.

// WebSession is one signed-in browser as the cluster keeps it: web's
// SessionRecord in plain types (app converts).
type WebSession struct {
	// Hash is the SHA-256 of the cookie token: the cookie itself is never
	// stored.
	Hash [32]byte
	// Handle names the session to its owner (random).
	Handle string
	// Identity is who the browser is signed in as.
	Identity string
	// Created, LastSeen and Expires are the session's times (UTC).
	Created, LastSeen, Expires time.Time
	// Agent summarises the browser; Addr is where it signed in from.
	Agent, Addr string
}

// webSession is a WebSession as the bucket keeps it, under the hex of its
// hash.
type webSession struct {
	Hash     string    `json:"hash"`
	Handle   string    `json:"handle"`
	Identity string    `json:"identity"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
	Agent    string    `json:"agent,omitempty"`
	Addr     string    `json:"addr,omitempty"`
}

// WebSessions is the cluster's store of signed-in browsers (the methods of
// web.Sessions, in plain types), over PARLEY_WEB_SESSIONS. Deleting a
// session publishes its handle on SignOutSubject. Safe for concurrent use.
type WebSessions struct{ s *Shared }

// WebSessions returns the cluster's signed-in browsers.
func (s *Shared) WebSessions() WebSessions { return WebSessions{s} }

func sessionKey(hash [32]byte) string { return hex.EncodeToString(hash[:]) }

// CreateSession stores a new session.
func (w WebSessions) CreateSession(ctx context.Context, r WebSession) error {
	if r.Identity == "" || r.Handle == "" {
		return errors.New("natsaccess: create web session: identity and handle are required")
	}
	data, err := json.Marshal(webSession{Hash: sessionKey(r.Hash), Handle: r.Handle, Identity: r.Identity,
		Created: r.Created, LastSeen: r.LastSeen, Expires: r.Expires, Agent: r.Agent, Addr: r.Addr})
	if err != nil {
		return fmt.Errorf("natsaccess: web session: %w", err)
	}
	ctx, cancel := w.s.ctx(ctx)
	defer cancel()
	if _, err := w.s.webSessions.Create(ctx, sessionKey(r.Hash), data); err != nil {
		return fmt.Errorf("natsaccess: create web session of %s: %w", r.Identity, err)
	}
	return nil
}

// ImportSession adds a session a node's own store kept before it joined
// the cluster, unless the cluster has one under its hash; it reports
// whether it added it.
func (w WebSessions) ImportSession(ctx context.Context, r WebSession) (bool, error) {
	err := w.CreateSession(ctx, r)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	return err == nil, err
}

// SessionByHash returns the session whose cookie hashes to hash; false
// when there is none (or its value cannot be read: it is logged).
func (w WebSessions) SessionByHash(ctx context.Context, hash [32]byte) (WebSession, bool, error) {
	ctx, cancel := w.s.ctx(ctx)
	defer cancel()
	e, err := w.s.webSessions.Get(ctx, sessionKey(hash))
	if notFound(err) {
		return WebSession{}, false, nil
	}
	if err != nil {
		return WebSession{}, false, fmt.Errorf("natsaccess: web session: %w", err)
	}
	r, err := decodeWebSession(e.Key(), e.Value())
	if err != nil {
		w.s.log.Warn("a shared browser session cannot be read: taken as signed out", "err", err)
		return WebSession{}, false, nil
	}
	return r, true, nil
}

// TouchSession sets the session's LastSeen, with a compare-and-set: a
// session deleted meanwhile (revoked on another node) is not brought back,
// and a touch that loses to another is dropped (the other is as recent).
func (w WebSessions) TouchSession(ctx context.Context, hash [32]byte, seen time.Time) error {
	ctx, cancel := w.s.ctx(ctx)
	defer cancel()
	key := sessionKey(hash)
	e, err := w.s.webSessions.Get(ctx, key)
	if notFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("natsaccess: touch web session: %w", err)
	}
	var v webSession
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil // unreadable: SessionByHash refuses it anyway
	}
	v.LastSeen = seen
	data, _ := json.Marshal(v)
	if _, err := w.s.webSessions.Update(ctx, key, data, e.Revision()); err != nil && !casLost(err) {
		return fmt.Errorf("natsaccess: touch web session: %w", err)
	}
	return nil
}

// SessionsOf lists identity's sessions, in no particular order.
func (w WebSessions) SessionsOf(ctx context.Context, identity string) ([]WebSession, error) {
	var out []WebSession
	err := w.each(ctx, func(r WebSession) {
		if r.Identity == identity {
			out = append(out, r)
		}
	})
	return out, err
}

// DeleteSession deletes identity's session with handle, reporting whether
// there was one; every node closes its open pages.
func (w WebSessions) DeleteSession(ctx context.Context, identity, handle string) (bool, error) {
	n, err := w.deleteWhere(ctx, func(r WebSession) bool { return r.Identity == identity && r.Handle == handle })
	return n > 0, err
}

// DeleteSessionsOf deletes every session of identity; every node closes
// their open pages.
func (w WebSessions) DeleteSessionsOf(ctx context.Context, identity string) error {
	_, err := w.deleteWhere(ctx, func(r WebSession) bool { return r.Identity == identity })
	return err
}

// DeleteExpiredSessions deletes the sessions that expire at or before now.
func (w WebSessions) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return w.deleteWhere(ctx, func(r WebSession) bool { return !now.Before(r.Expires) })
}

// each calls fn with every readable session.
func (w WebSessions) each(ctx context.Context, fn func(WebSession)) error {
	ctx, cancel := w.s.ctx(ctx)
	defer cancel()
	return eachValue(ctx, w.s.webSessions, func(key string, value []byte) {
		if r, err := decodeWebSession(key, value); err == nil {
			fn(r)
		} else {
			w.s.log.Warn("a shared browser session cannot be read: skipped", "err", err)
		}
	})
}

// deleteWhere deletes the sessions match picks and publishes their handles
// on SignOutSubject; it returns how many it deleted.
func (w WebSessions) deleteWhere(ctx context.Context, match func(WebSession) bool) (int, error) {
	var gone []WebSession
	if err := w.each(ctx, func(r WebSession) {
		if match(r) {
			gone = append(gone, r)
		}
	}); err != nil {
		return 0, fmt.Errorf("natsaccess: web sessions: %w", err)
	}
	ctx, cancel := w.s.ctx(ctx)
	defer cancel()
	n := 0
	for _, r := range gone {
		if err := w.s.webSessions.Delete(ctx, sessionKey(r.Hash)); err != nil {
			return n, fmt.Errorf("natsaccess: delete web session of %s: %w", r.Identity, err)
		}
		n++
		if err := w.s.nc.Publish(SignOutSubject, []byte(r.Handle)); err != nil {
			w.s.log.Warn("telling the other nodes of a sign-out failed: its pages there stay open until they reload", "err", err)
		}
	}
	return n, nil
}

// decodeWebSession reads a session from the bucket: its hash must be its
// key, its identity and handle plain lines, and its text is made inert.
func decodeWebSession(key string, value []byte) (WebSession, error) {
	var v webSession
	if err := json.Unmarshal(value, &v); err != nil {
		return WebSession{}, fmt.Errorf("web session: %w", err)
	}
	var r WebSession
	h, err := hex.DecodeString(v.Hash)
	if err != nil || len(h) != len(r.Hash) || v.Hash != key {
		return WebSession{}, errors.New("web session: its hash is not its key")
	}
	copy(r.Hash[:], h)
	if !plain(v.Identity, 128) || !plain(v.Handle, maxHandle) {
		return WebSession{}, errors.New("web session: identity or handle missing or not a plain line")
	}
	r.Handle, r.Identity = v.Handle, v.Identity
	r.Created, r.LastSeen, r.Expires = v.Created.UTC(), v.LastSeen.UTC(), v.Expires.UTC()
	r.Agent, r.Addr = safetext.Line(v.Agent, 80), safetext.Line(v.Addr, 64)
	return r, nil
}

// plain reports whether s is a non-empty line of at most max bytes that
// safetext leaves as it is (nothing to make inert): ids are compared, not
// shown, so they are refused rather than changed.
func plain(s string, max int) bool {
	return s != "" && len(s) <= max && safetext.Line(s, max) == s && !strings.ContainsAny(s, "\r\n")
}

// OnWebSignOut calls endPages, on a goroutine of NATS's, with the handle of
// every browser session deleted on any node (this one included: closing
// pages already closed does nothing), until Stop.
func (s *Shared) OnWebSignOut(endPages func(handle string)) error {
	sub, err := s.nc.Subscribe(SignOutSubject, func(m *nats.Msg) {
		h := string(m.Data)
		if !plain(h, maxHandle) {
			s.log.Warn("a sign-out with a bad session handle: ignored")
			return
		}
		endPages(h)
	})
	if err == nil {
		if err = s.nc.FlushTimeout(s.opts.Timeout); err != nil {
			_ = sub.Unsubscribe()
		}
	}
	if err != nil {
		return fmt.Errorf("natsaccess: subscribe %s: %w", SignOutSubject, err)
	}
	s.mu.Lock()
	s.subs = append(s.subs, func() { _ = sub.Unsubscribe() })
	s.mu.Unlock()
	return nil
}

// Sign-in links.

// webLinkTTL is how long the links' bucket keeps a link not used: longer
// than web.LinkTTL (10 minutes), which each link's own expiry enforces.
const webLinkTTL = 15 * time.Minute

// webLink is a sign-in link as PARLEY_WEB_LINKS keeps it, under the hex of
// the SHA-256 of its token.
type webLink struct {
	Hash     string    `json:"hash"`
	Identity string    `json:"identity"`
	Expires  time.Time `json:"expires"`
}

// WebLinks is the cluster's sign-in links not used yet (web.Links), over
// PARLEY_WEB_LINKS: a link made on one node works once, on any node. Safe
// for concurrent use.
type WebLinks struct{ s *Shared }

// WebLinks returns the cluster's sign-in links.
func (s *Shared) WebLinks() WebLinks { return WebLinks{s} }

// PutLink stores a new link of identity, usable until expires.
func (l WebLinks) PutLink(ctx context.Context, hash [32]byte, identity string, expires time.Time) error {
	if identity == "" {
		return errors.New("natsaccess: sign-in link: identity required")
	}
	data, _ := json.Marshal(webLink{Hash: sessionKey(hash), Identity: identity, Expires: expires.UTC()})
	ctx, cancel := l.s.ctx(ctx)
	defer cancel()
	if _, err := l.s.webLinks.Create(ctx, sessionKey(hash), data); err != nil {
		return fmt.Errorf("natsaccess: sign-in link of %s: %w", identity, err)
	}
	return nil
}

// TakeLink returns the identity and expiry of the link and deletes it
// with a compare-and-delete, so that two nodes taking it at once give it
// to one; ok is false when there is none or its value cannot be read.
func (l WebLinks) TakeLink(ctx context.Context, hash [32]byte) (string, time.Time, bool, error) {
	ctx, cancel := l.s.ctx(ctx)
	defer cancel()
	key := sessionKey(hash)
	e, err := l.s.webLinks.Get(ctx, key)
	if notFound(err) {
		return "", time.Time{}, false, nil
	}
	if err != nil {
		return "", time.Time{}, false, fmt.Errorf("natsaccess: sign-in link: %w", err)
	}
	if err := l.s.webLinks.Delete(ctx, key, jetstream.LastRevision(e.Revision())); casLost(err) {
		return "", time.Time{}, false, nil // taken by another node meanwhile
	} else if err != nil {
		return "", time.Time{}, false, fmt.Errorf("natsaccess: sign-in link: %w", err)
	}
	v, err := decodeWebLink(key, e.Value())
	if err != nil {
		l.s.log.Warn("a shared sign-in link cannot be read: refused", "err", err)
		return "", time.Time{}, false, nil
	}
	return v.Identity, v.Expires, true, nil
}

// decodeWebLink reads a link from the bucket: its hash must be its key
// and its identity a plain line.
func decodeWebLink(key string, value []byte) (webLink, error) {
	var v webLink
	if err := json.Unmarshal(value, &v); err != nil {
		return webLink{}, fmt.Errorf("sign-in link: %w", err)
	}
	if v.Hash != key || !plain(v.Identity, 128) {
		return webLink{}, errors.New("sign-in link: not the one of its key, or its identity is not a plain line")
	}
	v.Expires = v.Expires.UTC()
	return v, nil
}

// Passkeys.

// passkey is a WebAuthn credential as PARLEY_PASSKEYS keeps it, under
// keyOf(its id): the record is the JSON of a webauthn.Credential, opaque
// here (it holds the public key, never a secret).
type passkey struct {
	ID       []byte    `json:"id"`
	Identity string    `json:"identity"`
	Record   []byte    `json:"record"`
	Created  time.Time `json:"created"`
	Used     time.Time `json:"used,omitzero"`
}

// Passkeys is the cluster's passkeys over PARLEY_PASSKEYS: the methods of
// web.Credentials (app.Credentials) and access.PasskeyStore. Safe for
// concurrent use.
type Passkeys struct{ s *Shared }

var _ access.PasskeyStore = Passkeys{}

// Passkeys returns the cluster's passkeys.
func (s *Shared) Passkeys() Passkeys { return Passkeys{s} }

// errPasskeyExists: a credential id registered twice.
var errPasskeyExists = errors.New("natsaccess: this passkey is stored already")

// AddPasskey stores a new credential id of identity.
func (p Passkeys) AddPasskey(ctx context.Context, identity string, id, record []byte, created time.Time) error {
	return p.add(ctx, identity, id, record, created, time.Time{})
}

// ImportPasskey adds a passkey a node's own store kept before it joined
// the cluster, unless the cluster has its credential id already; it
// reports whether it added it.
func (p Passkeys) ImportPasskey(ctx context.Context, identity string, id, record []byte, created, used time.Time) (bool, error) {
	err := p.add(ctx, identity, id, record, created, used)
	if errors.Is(err, errPasskeyExists) {
		return false, nil
	}
	return err == nil, err
}

func (p Passkeys) add(ctx context.Context, identity string, id, record []byte, created, used time.Time) error {
	if identity == "" || len(id) == 0 {
		return errors.New("natsaccess: add passkey: identity and id are required")
	}
	if !used.IsZero() {
		used = used.UTC()
	}
	data, err := json.Marshal(passkey{ID: id, Identity: identity, Record: record, Created: created.UTC(), Used: used})
	if err != nil {
		return fmt.Errorf("natsaccess: passkey: %w", err)
	}
	ctx, cancel := p.s.ctx(ctx)
	defer cancel()
	if _, err := p.s.passkeys.Create(ctx, keyOf(string(id)), data); errors.Is(err, jetstream.ErrKeyExists) {
		return errPasskeyExists
	} else if err != nil {
		return fmt.Errorf("natsaccess: add passkey of %s: %w", identity, err)
	}
	return nil
}

// Passkeys returns the records of identity's credentials, oldest first.
func (p Passkeys) Passkeys(ctx context.Context, identity string) ([][]byte, error) {
	var mine []passkey
	if err := p.each(ctx, func(k passkey) {
		if k.Identity == identity {
			mine = append(mine, k)
		}
	}); err != nil {
		return nil, err
	}
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].Created.Before(mine[j].Created) })
	out := make([][]byte, len(mine))
	for i, k := range mine {
		out[i] = k.Record
	}
	return out, nil
}

// PasskeyOwner returns the identity and record of credential id ("" when
// there is none).
func (p Passkeys) PasskeyOwner(ctx context.Context, id []byte) (string, []byte, error) {
	ctx, cancel := p.s.ctx(ctx)
	defer cancel()
	e, err := p.s.passkeys.Get(ctx, keyOf(string(id)))
	if notFound(err) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("natsaccess: passkey owner: %w", err)
	}
	k, err := decodePasskey(e.Key(), e.Value())
	if err != nil || !bytes.Equal(k.ID, id) {
		p.s.log.Warn("a shared passkey cannot be read: taken as unknown", "err", err)
		return "", nil, nil
	}
	return k.Identity, k.Record, nil
}

// UpdatePasskey replaces the record of credential id after a sign-in and
// notes its use, with a compare-and-set (two sign-ins at once on two nodes
// both count).
func (p Passkeys) UpdatePasskey(ctx context.Context, id, record []byte, used time.Time) error {
	ctx, cancel := p.s.ctx(ctx)
	defer cancel()
	key := keyOf(string(id))
	for range casTries {
		e, err := p.s.passkeys.Get(ctx, key)
		if notFound(err) {
			return nil // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("natsaccess: update passkey: %w", err)
		}
		k, err := decodePasskey(key, e.Value())
		if err != nil {
			return fmt.Errorf("natsaccess: update passkey: %w", err)
		}
		k.Record, k.Used = record, used.UTC()
		data, _ := json.Marshal(k)
		if _, err := p.s.passkeys.Update(ctx, key, data, e.Revision()); casLost(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("natsaccess: update passkey: %w", err)
		}
		return nil
	}
	return fmt.Errorf("natsaccess: update passkey: changed by others %d times in a row; try again", casTries)
}

// RemovePasskeys removes every credential of identity and says how many.
func (p Passkeys) RemovePasskeys(ctx context.Context, identity string) (int, error) {
	var keys []string
	if err := p.each(ctx, func(k passkey) {
		if k.Identity == identity {
			keys = append(keys, keyOf(string(k.ID)))
		}
	}); err != nil {
		return 0, err
	}
	ctx, cancel := p.s.ctx(ctx)
	defer cancel()
	for i, key := range keys {
		if err := p.s.passkeys.Delete(ctx, key); err != nil {
			return i, fmt.Errorf("natsaccess: remove passkeys of %s: %w", identity, err)
		}
	}
	return len(keys), nil
}

// PasskeyList implements access.PasskeyStore: every passkey, by identity
// then age.
func (p Passkeys) PasskeyList(ctx context.Context) ([]access.PasskeyInfo, error) {
	var all []passkey
	if err := p.each(ctx, func(k passkey) { all = append(all, k) }); err != nil {
		return nil, err
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Identity != all[j].Identity {
			return all[i].Identity < all[j].Identity
		}
		return all[i].Created.Before(all[j].Created)
	})
	out := make([]access.PasskeyInfo, len(all))
	for i, k := range all {
		out[i] = access.PasskeyInfo{Identity: k.Identity, Created: k.Created, LastUsed: k.Used}
	}
	return out, nil
}

func (p Passkeys) each(ctx context.Context, fn func(passkey)) error {
	ctx, cancel := p.s.ctx(ctx)
	defer cancel()
	err := eachValue(ctx, p.s.passkeys, func(key string, value []byte) {
		if k, err := decodePasskey(key, value); err == nil {
			fn(k)
		} else {
			p.s.log.Warn("a shared passkey cannot be read: skipped", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("natsaccess: passkeys: %w", err)
	}
	return nil
}

// decodePasskey reads a passkey from the bucket: its id must hash to its
// key, and its identity be a plain line.
func decodePasskey(key string, value []byte) (passkey, error) {
	var k passkey
	if err := json.Unmarshal(value, &k); err != nil {
		return passkey{}, fmt.Errorf("passkey: %w", err)
	}
	if len(k.ID) == 0 || keyOf(string(k.ID)) != key {
		return passkey{}, errors.New("passkey: its id is not the one of its key")
	}
	if !plain(k.Identity, 128) || len(k.Record) == 0 {
		return passkey{}, errors.New("passkey: identity or record missing or not plain")
	}
	k.Created, k.Used = k.Created.UTC(), k.Used.UTC()
	return k, nil
}

// Accounts.

// account is an access.Account as PARLEY_ACCOUNTS keeps it, under
// keyOf(its id).
type account struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// Accounts is the cluster's browser-only accounts over PARLEY_ACCOUNTS
// (access.Accounts). Reads come from a copy in memory that the bucket's
// watcher keeps up to date once Start has run (the front door reads the
// accounts at every sign-in, name check and poll); before, from the
// bucket. Safe for concurrent use.
type Accounts struct{ s *Shared }

var _ access.Accounts = Accounts{}

// Accounts returns the cluster's browser-only accounts.
func (s *Shared) Accounts() Accounts { return Accounts{s} }

// accountCache is the accounts as this node knows them: filled by
// loadAccounts at Start, kept by the watcher (applyAccount) and by this
// node's own writes. mu guards it.
type accountCache struct {
	mu    sync.Mutex
	ready bool
	all   map[string]access.Account // bucket key -> account
}

func (c *accountCache) set(key string, a access.Account, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.all == nil {
		c.all = map[string]access.Account{}
	}
	if ok {
		c.all[key] = a
	} else {
		delete(c.all, key)
	}
}

// PutAccount implements access.Accounts.
func (a Accounts) PutAccount(ctx context.Context, acct access.Account) error {
	if !strings.HasPrefix(acct.ID, accountPrefix) || acct.Name == "" {
		return errors.New("natsaccess: put account: a web: id and a name are required")
	}
	data, err := json.Marshal(account{ID: acct.ID, Name: acct.Name, Created: acct.Created.UTC()})
	if err != nil {
		return fmt.Errorf("natsaccess: account: %w", err)
	}
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	if _, err := a.s.accounts.Put(ctx, keyOf(acct.ID), data); err != nil {
		return fmt.Errorf("natsaccess: put account %s: %w", acct.ID, err)
	}
	acct.Created = acct.Created.UTC()
	a.s.acc.set(keyOf(acct.ID), acct, true)
	return nil
}

// Accounts implements access.Accounts: every account, oldest first.
func (a Accounts) Accounts(ctx context.Context) ([]access.Account, error) {
	c := &a.s.acc
	c.mu.Lock()
	var out []access.Account
	if c.ready {
		out = make([]access.Account, 0, len(c.all))
		for _, acct := range c.all {
			out = append(out, acct)
		}
	}
	ready := c.ready
	c.mu.Unlock()
	if !ready {
		all, err := a.read(ctx)
		if err != nil {
			return nil, err
		}
		for _, acct := range all {
			out = append(out, acct)
		}
	}
	sortAccounts(out)
	return out, nil
}

func sortAccounts(out []access.Account) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
}

// DeleteAccount implements access.Accounts.
func (a Accounts) DeleteAccount(ctx context.Context, id string) (bool, error) {
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	key := keyOf(id)
	if _, err := a.s.accounts.Get(ctx, key); notFound(err) {
		a.s.acc.set(key, access.Account{}, false)
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("natsaccess: delete account %s: %w", id, err)
	}
	if err := a.s.accounts.Delete(ctx, key); err != nil {
		return false, fmt.Errorf("natsaccess: delete account %s: %w", id, err)
	}
	a.s.acc.set(key, access.Account{}, false)
	return true, nil
}

// read reads every account from the bucket.
func (a Accounts) read(ctx context.Context) (map[string]access.Account, error) {
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	all := map[string]access.Account{}
	err := eachValue(ctx, a.s.accounts, func(key string, value []byte) {
		if acct, err := decodeAccount(key, value); err == nil {
			all[key] = acct
		} else {
			a.s.log.Warn("a shared account cannot be read: skipped", "err", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("natsaccess: accounts: %w", err)
	}
	return all, nil
}

// loadAccounts fills the copy in memory (Start, before the watcher, which
// then delivers every value again and each change).
func (s *Shared) loadAccounts(ctx context.Context) error {
	all, err := Accounts{s}.read(ctx)
	if err != nil {
		return err
	}
	s.acc.mu.Lock()
	s.acc.all, s.acc.ready = all, true
	s.acc.mu.Unlock()
	return nil
}

// applyAccount applies an account made or removed on any node to the copy
// in memory. The front door ends the sessions of an account that is gone
// (server's watchAccounts polls Accounts).
func (s *Shared) applyAccount(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		s.acc.set(e.Key(), access.Account{}, false)
		return
	}
	acct, err := decodeAccount(e.Key(), e.Value())
	if err != nil {
		s.log.Warn("a shared account cannot be read: skipped", "key", e.Key(), "err", err)
		return
	}
	s.acc.set(e.Key(), acct, true)
}

// decodeAccount reads an account from the bucket: its id must hash to its
// key and be a browser-only id, and its name one parley accepts.
func decodeAccount(key string, value []byte) (access.Account, error) {
	var v account
	if err := json.Unmarshal(value, &v); err != nil {
		return access.Account{}, fmt.Errorf("account: %w", err)
	}
	if keyOf(v.ID) != key || !strings.HasPrefix(v.ID, accountPrefix) || !plain(v.ID, 64) {
		return access.Account{}, fmt.Errorf("account: id %q is not a browser-only id of its key", safetext.Line(v.ID, 64))
	}
	if err := safetext.ValidateName(v.Name); err != nil {
		return access.Account{}, fmt.Errorf("account %s: name: %w", v.ID, err)
	}
	return access.Account{ID: v.ID, Name: v.Name, Created: v.Created.UTC()}, nil
}

// eachValue calls fn with every key of kv and its value, as each does,
// but streamed by one watcher rather than read one Get at a time: the
// sessions' bucket holds one entry per signed-in browser.
func eachValue(ctx context.Context, kv jetstream.KeyValue, fn func(key string, value []byte)) error {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("%s: list: %w", kv.Bucket(), err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("%s: list: the watcher stopped", kv.Bucket())
			}
			if e == nil { // every value there now was delivered
				return nil
			}
			fn(e.Key(), e.Value())
		case <-ctx.Done():
			return fmt.Errorf("%s: list: %w", kv.Bucket(), ctx.Err())
		}
	}
}

// notFound reports whether err says a key is not there (never was, or
// deleted).
func notFound(err error) bool {
	return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
}

// casLost reports whether a compare-and-set lost to another writer.
func casLost(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}
