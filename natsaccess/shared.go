package natsaccess

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"parley/access"
	"parley/keys"
	"parley/room"
)

// Bucket and subject names (doc.go).
const (
	BansBucket    = "PARLEY_BANS"
	InvitesBucket = "PARLEY_INVITES"
	RoomsBucket   = "PARLEY_ROOMS"
	MutesBucket   = "PARLEY_MUTES"
	KeysBucket    = "PARLEY_KEYS"
	MembersBucket = "PARLEY_MEMBERS"
	KickSubject   = "parley.access.kick"
)

// Options tune a Shared. The zero value is usable.
type Options struct {
	// Replicas is how many servers hold each bucket: 3 on a three-server
	// cluster, 1 (the default) on a single server.
	Replicas int
	// Timeout bounds one call to NATS that has no deadline of its own.
	// Default 5 s.
	Timeout time.Duration
	// KeysPoll is how often the authorized_keys snapshot in use is looked
	// at for a change to publish. Default 100 ms.
	KeysPoll time.Duration
	// Logger receives operational events; nil discards them.
	Logger *slog.Logger
	// WebSessionTTL is how long a browser session is kept after its last
	// write (web.SessionTTL); zero keeps it until it is deleted.
	WebSessionTTL time.Duration
}

// Shared is the access state of a cluster in JetStream KV (doc.go): the
// access.Store and room.RoomStore a node's lists are built on, the
// moderation.Cluster its admins' kicks and mutes go through, and the
// watchers that apply other nodes' changes to this node (Start).
type Shared struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts Options
	log  *slog.Logger
	id   string // this Shared's own name on the kick subject

	bans, invites, rooms, mutes, keys jetstream.KeyValue
	members                           jetstream.KeyValue
	ms                                *memberSync // memberships waiting to be published (members.go)
	// The web page's state (web.go).
	webSessions, webLinks, passkeys, accounts jetstream.KeyValue
	acc                                       accountCache // the accounts, as this node knows them

	mu      sync.Mutex
	roomRev map[string]uint64 // room -> the newest revision of its access known here (stored or applied)
	muteRev map[string]uint64 // identity -> the newest revision of its mute known here
	stop    context.CancelFunc
	subs    []func() // what Stop stops
	wg      sync.WaitGroup
}

// New opens (creating when missing) the buckets of a cluster's access state
// on nc, which the caller keeps and closes after Stop.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Shared, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.KeysPoll <= 0 {
		opts.KeysPoll = 100 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsaccess: jetstream: %w", err)
	}
	s := &Shared{nc: nc, js: js, opts: opts, log: log, id: nuid.Next(), roomRev: map[string]uint64{}, muteRev: map[string]uint64{}}
	s.ms = newMemberSync(s)
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
		what string
	}{
		{&s.bans, BansBucket, "parley bans"},
		{&s.invites, InvitesBucket, "parley invites (hashes of the codes)"},
		{&s.rooms, RoomsBucket, "parley room access"},
		{&s.mutes, MutesBucket, "parley mutes"},
		{&s.keys, KeysBucket, "parley authorized keys"},
		{&s.members, MembersBucket, "parley room memberships"},
	} {
		if *b.kv, err = s.bucket(ctx, b.name, b.what); err != nil {
			return nil, err
		}
	}
	if err := s.openWeb(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// bucket opens the bucket name, creating it when it does not exist.
func (s *Shared) bucket(ctx context.Context, name, what string) (jetstream.KeyValue, error) {
	return s.bucketTTL(ctx, name, what, 0)
}

// bucketTTL is bucket whose entries are forgotten ttl after their last
// write (zero: never).
func (s *Shared) bucketTTL(ctx context.Context, name, what string, ttl time.Duration) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	kv, err := s.js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Description: what,
			Storage: jetstream.FileStorage, Replicas: s.opts.Replicas, MaxValueSize: maxValue, TTL: ttl})
		if errors.Is(err, jetstream.ErrBucketExists) { // another node made it meanwhile
			kv, err = s.js.KeyValue(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natsaccess: bucket %s: %w", name, err)
	}
	return kv, nil
}

// maxValue bounds one stored value (a ban, an invite, a room's access, a
// mute, a key line); a room's invited list is the largest.
const maxValue = 256 << 10

// keyOf is the bucket key of an identity, a room or a fingerprint: the hex
// SHA-256 of it, which every bucket key may hold whatever the name is made
// of. Values carry the name itself; a value whose name does not hash to
// its key is refused.
func keyOf(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// ctx returns a context bounded by the Timeout.
func (s *Shared) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	if _, ok := parent.Deadline(); ok {
		return context.WithCancel(parent)
	}
	return context.WithTimeout(parent, s.opts.Timeout)
}

// Node is what Start applies the other nodes' changes to: this node's
// hub, access lists and authorized keys.
type Node struct {
	Hub    *room.Hub
	Access *access.Control
	// Keys is the node's authorized_keys, as loaded now.
	Keys *keys.Store
	// ReloadKeys re-reads authorized_keys and applies it (ending the
	// sessions of removed keys): server.Server.ReloadKeys.
	ReloadKeys func() error
}

// Start brings this node in line with the cluster and keeps it so: it
// merges authorized_keys with the shared key set (keys.go), publishes the
// memberships of a node joining for the first time (members.go), loads the
// mutes, starts the watchers that apply every later change, from any
// node, to n, and the publisher of this node's membership changes. Call Stop before the hub closes.
func (s *Shared) Start(n Node) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stop = cancel
	s.mu.Unlock()
	ks := &keySync{s: s, n: n, path: n.Keys.Path(), base: map[string]string{}}
	if err := ks.start(ctx); err != nil {
		cancel()
		return err
	}
	if err := s.ms.publishLocal(ctx, ks.path); err != nil {
		cancel()
		return err
	}
	if err := s.loadAccounts(ctx); err != nil { // web.go
		cancel()
		return err
	}
	for _, w := range []struct {
		kv    jetstream.KeyValue
		apply func(jetstream.KeyValueEntry)
	}{
		{s.bans, func(e jetstream.KeyValueEntry) { s.applyBan(n, e) }},
		{s.invites, func(jetstream.KeyValueEntry) { n.Access.Refresh(ctx) }},
		{s.rooms, func(e jetstream.KeyValueEntry) { s.applyRoom(n, e) }},
		{s.mutes, func(e jetstream.KeyValueEntry) { s.applyMute(n, e) }},
		{s.members, func(e jetstream.KeyValueEntry) { s.ms.apply(ctx, n, e) }},
		{s.accounts, s.applyAccount}, // web.go
	} {
		if err := s.watch(ctx, w.kv, w.apply); err != nil {
			s.Stop()
			return err
		}
	}
	sub, err := s.nc.Subscribe(KickSubject, func(m *nats.Msg) { s.applyKick(n, m.Data) })
	if err == nil {
		if err = s.nc.FlushTimeout(s.opts.Timeout); err != nil { // the server has the subscription: no kick from now on is missed
			_ = sub.Unsubscribe()
		}
	}
	if err != nil {
		s.Stop()
		return fmt.Errorf("natsaccess: subscribe %s: %w", KickSubject, err)
	}
	s.mu.Lock()
	s.subs = append(s.subs, func() { _ = sub.Unsubscribe() })
	s.mu.Unlock()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		ks.poll(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.ms.run(ctx)
	}()
	return nil
}

// watch applies every value of kv, those there now and each later change,
// in order, on a goroutine of its own, until Stop (follow).
func (s *Shared) watch(ctx context.Context, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry)) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("natsaccess: watch %s: %w", kv.Bucket(), err)
	}
	s.follow(ctx, kv, w, apply)
	return nil
}

// reconnectCheck is how often a watcher asks whether the connection to
// NATS was made again since it was created.
const reconnectCheck = 250 * time.Millisecond

// follow applies what w delivers, in order, on a goroutine of its own,
// until ctx ends. w is an ordered consumer: after a gap it recreates itself
// from the last revision it delivered. After a reconnection (a NATS server
// restarted, a network cut) that recovery waits for missed heartbeats,
// about 20 s; so when the connection has been made again, follow replaces
// w with a new watcher at once, which delivers every key's current value
// (deletions included) again: every apply is idempotent, so what changed
// meanwhile is applied and the rest changes nothing.
func (s *Shared) follow(ctx context.Context, kv jetstream.KeyValue, w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { _ = w.Stop() }()
		seen := s.nc.Stats().Reconnects
		tick := time.NewTicker(reconnectCheck)
		defer tick.Stop()
		updates := w.Updates()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-updates:
				if !ok {
					updates = nil // closed: replaced at the next reconnection check
					seen = 0
					continue
				}
				if e != nil { // nil marks the end of the values there at the start
					apply(e)
				}
			case <-tick.C:
				r := s.nc.Stats().Reconnects
				if (r == seen && updates != nil) || !s.nc.IsConnected() {
					continue
				}
				nw, err := kv.WatchAll(ctx)
				if err != nil {
					s.log.Debug("watching again after a reconnection failed; trying again", "bucket", kv.Bucket(), "err", err)
					continue
				}
				_ = w.Stop()
				w, updates, seen = nw, nw.Updates(), r
				s.log.Info("watching again after a reconnection", "bucket", kv.Bucket())
			}
		}
	}()
}

// Stop ends the watchers and waits for them. It is safe to call more than
// once, and without Start.
func (s *Shared) Stop() {
	s.mu.Lock()
	stop, subs := s.stop, s.subs
	s.stop, s.subs = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	for _, f := range subs {
		f()
	}
	s.wg.Wait()
}
