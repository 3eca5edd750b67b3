package natslog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"parley/room"
	"parley/safetext"
)

// Bucket names of the Roster (doc.go, "Presence and names").
const (
	NodesBucket    = "PARLEY_NODES"
	PresenceBucket = "PARLEY_PRESENCE"
	NamesBucket    = "PARLEY_NAMES"
	// KnownBucket remembers who last used each name, on any node, after
	// they leave: private messages to someone offline find them by it.
	KnownBucket = "PARLEY_KNOWN"
)

// Defaults of RosterOptions.
const (
	DefaultHeartbeat = 2 * time.Second
	// DefaultTTL is how long a node may go unheard before its people drop
	// out of every other node's member lists.
	DefaultTTL = 3 * DefaultHeartbeat
)

// maxPresence bounds a presence value read from the bucket, and the rooms
// one lists.
const (
	maxPresence      = 64 << 10
	maxPresenceRooms = 1000
)

// RosterOptions tune a Roster. The zero value is usable.
type RosterOptions struct {
	// Node is this node's name, shown in logs (the --node flag).
	Node string
	// Replicas is how many servers hold each bucket (as Options.Replicas).
	Replicas int
	// Heartbeat is how often the node says it is alive. Default 2 s.
	Heartbeat time.Duration
	// TTL is how long a node may go unheard before the others drop its
	// people from their member lists. Default 3 heartbeats.
	TTL time.Duration
	// Timeout bounds each call to NATS. Default 5 s.
	Timeout time.Duration
	// Logger receives operational events; nil discards them.
	Logger *slog.Logger
}

// Roster is a room.Roster over three JetStream KV buckets (doc.go). Build
// it with NewRoster; Close it (its goodbye) before closing the connection.
type Roster struct {
	nodes, members, names jetstream.KeyValue
	known                 jetstream.KeyValue
	self                  string // this process's key in the buckets (unique per process)
	opts                  RosterOptions
	log                   *slog.Logger
	nc                    *nats.Conn
	wake, notify, rewatch chan struct{} // capacity 1 each
	quit                  chan struct{}
	wg                    sync.WaitGroup

	// mu guards everything below. It is never held while calling NATS or
	// the watcher's function.
	mu      sync.Mutex
	closed  bool
	pending map[string]room.Presence            // ID -> to write (Sessions 0: delete)
	local   map[string]room.Presence            // ID -> this node's people, as published
	alive   map[string]time.Time                // node -> when its heartbeat was last seen here
	entries map[string]map[string]room.Presence // node -> ID -> presence
	orphan  map[string]time.Time                // node with entries and no heartbeat heard -> when prune first saw it
	shown   map[string]bool                     // nodes whose people the last snapshot given to watch had
	watch   func([]room.Presence)
	unheard bool // the last heartbeat failed: publish everything again when one works

	reconnects uint64 // the connection's count when run last looked; run's own
}

var (
	_ room.Roster    = (*Roster)(nil)
	_ room.NameIndex = (*Roster)(nil)
)

// known is a name's value in KnownBucket.
type known struct {
	ID   string `json:"i"`
	Name string `json:"n"`
}

// heartbeat is a node's value in NodesBucket.
type heartbeat struct {
	Name string    `json:"n"`
	At   time.Time `json:"t"`
}

// presenceValue is an identity's value in PresenceBucket.
type presenceValue struct {
	ID         string    `json:"i"`
	Name       string    `json:"n"`
	Rooms      []string  `json:"r,omitempty"`
	Away       string    `json:"a,omitempty"`
	Admin      bool      `json:"ad,omitempty"`
	Bot        bool      `json:"b,omitempty"`
	Sessions   int       `json:"s"`
	Renamed    time.Time `json:"rn"`
	Since      time.Time `json:"si"`
	LastActive time.Time `json:"la"`
}

// claim is a name's value in NamesBucket.
type claim struct {
	ID   string `json:"i"`
	Node string `json:"n"`
}

// NewRoster creates (or opens) the buckets and starts the node's
// heartbeat and its watch of the other nodes.
func NewRoster(nc *nats.Conn, opts RosterOptions) (*Roster, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.TTL <= 0 {
		opts.TTL = 3 * opts.Heartbeat
	}
	js, log, err := jetStreamOf(nc, &opts.Timeout, opts.Logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	r := &Roster{nc: nc, self: nuid.Next(), opts: opts, log: log, reconnects: nc.Stats().Reconnects,
		wake: make(chan struct{}, 1), notify: make(chan struct{}, 1), rewatch: make(chan struct{}, 1), quit: make(chan struct{}),
		pending: map[string]room.Presence{}, local: map[string]room.Presence{},
		alive: map[string]time.Time{}, orphan: map[string]time.Time{}, shown: map[string]bool{}, entries: map[string]map[string]room.Presence{}}
	if r.nodes, err = bucket(ctx, js, jetstream.KeyValueConfig{Bucket: NodesBucket, Description: "parley nodes' heartbeats",
		TTL: opts.TTL, Storage: jetstream.FileStorage, Replicas: opts.Replicas}); err != nil {
		return nil, err
	}
	if r.members, err = bucket(ctx, js, jetstream.KeyValueConfig{Bucket: PresenceBucket, Description: "parley: who is online on each node",
		Storage: jetstream.FileStorage, Replicas: opts.Replicas, MaxValueSize: maxPresence}); err != nil {
		return nil, err
	}
	if r.names, err = bucket(ctx, js, jetstream.KeyValueConfig{Bucket: NamesBucket, Description: "parley: names in use",
		Storage: jetstream.FileStorage, Replicas: opts.Replicas}); err != nil {
		return nil, err
	}
	if r.known, err = bucket(ctx, js, jetstream.KeyValueConfig{Bucket: KnownBucket, Description: "parley: who last used each name",
		Storage: jetstream.FileStorage, Replicas: opts.Replicas}); err != nil {
		return nil, err
	}
	wctx, wcancel := context.WithCancel(context.Background())
	nw, err := r.nodes.WatchAll(wctx)
	if err != nil {
		wcancel()
		return nil, fmt.Errorf("natslog: watch %s: %w", NodesBucket, err)
	}
	mw, err := r.members.WatchAll(wctx)
	if err != nil {
		wcancel()
		return nil, fmt.Errorf("natslog: watch %s: %w", PresenceBucket, err)
	}
	r.beat(ctx)
	r.wg.Add(4)
	go func() { defer r.wg.Done(); r.watchLoop(nw, mw, wcancel) }()
	go func() { defer r.wg.Done(); r.run() }()
	go func() { defer r.wg.Done(); r.beatLoop() }()
	go func() { defer r.wg.Done(); r.notifier() }()
	return r, nil
}

// bucket opens cfg's bucket, creating it when it does not exist.
func bucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natslog: bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// Node returns this process's key in the buckets.
func (r *Roster) Node() string { return r.self }

// memberKey is identity id's key in PresenceBucket for node.
func memberKey(node, id string) string { return node + "." + Token(id) }

// nameKey is a name's key in NamesBucket.
func nameKey(name string) string { return Token(safetext.Fold(name)) }

// Publish implements room.Roster: the value is written by the Roster's
// goroutine, the newest for each identity.
func (r *Roster) Publish(p room.Presence) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.pending[p.ID] = p
	if p.Sessions > 0 {
		r.local[p.ID] = p
	} else {
		delete(r.local, p.ID)
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Watch implements room.Roster; f is called soon with who is known now.
func (r *Roster) Watch(f func([]room.Presence)) {
	r.mu.Lock()
	r.watch = f
	r.mu.Unlock()
	r.changed() // the notifier is the only caller of f
}

// Remote returns everyone online on the other nodes, as last heard.
func (r *Roster) Remote() []room.Presence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remoteLocked(time.Now())
}

func (r *Roster) remoteLocked(now time.Time) []room.Presence {
	var out []room.Presence
	for node, ids := range r.entries {
		if node == r.self || !r.aliveLocked(node, now) {
			continue
		}
		for _, p := range ids {
			out = append(out, p)
		}
	}
	return out
}

// aliveLocked reports whether node's heartbeat was heard within the TTL.
func (r *Roster) aliveLocked(node string, now time.Time) bool {
	if node == r.self {
		return true
	}
	at, ok := r.alive[node]
	return ok && now.Sub(at) <= r.opts.TTL
}

// run is the goroutine that writes what Publish queued and drops the
// nodes that went silent.
func (r *Roster) run() {
	t := time.NewTicker(r.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.quit:
			return
		case <-r.wake:
			r.flush()
		case <-t.C:
			if n := r.nc.Stats().Reconnects; n != r.reconnects {
				r.reconnects = n
				select { // the watches' consumers may be gone with the server
				case r.rewatch <- struct{}{}:
				default:
				}
			}
			r.flush() // what failed before
			r.prune()
		}
	}
}

// beatLoop is the goroutine that beats the heartbeat: on its own, so that
// a long flush (a crowd arriving) never makes the node look silent.
func (r *Roster) beatLoop() {
	t := time.NewTicker(r.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
			r.beat(ctx)
			cancel()
		}
	}
}

// beat writes this node's heartbeat; after a failure, the first one that
// works publishes this node's people again (another node may have dropped
// them, and deleted their keys, while it was unheard).
func (r *Roster) beat(ctx context.Context) {
	v, _ := json.Marshal(heartbeat{Name: r.opts.Node, At: time.Now()})
	_, err := r.nodes.Put(ctx, r.self, v)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if !r.unheard {
			r.log.Warn("presence heartbeat failed: other nodes will drop this node's people until it works", "err", err)
		}
		r.unheard = true
		return
	}
	if r.unheard {
		r.unheard = false
		for id, p := range r.local {
			r.pending[id] = p
		}
		r.log.Info("presence heartbeat works again")
	}
}

// flush writes the queued presence values, keeping those that failed for
// the next try.
func (r *Roster) flush() {
	r.mu.Lock()
	todo := r.pending
	r.pending = make(map[string]room.Presence, len(todo))
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
	defer cancel()
	for id, p := range todo {
		key := memberKey(r.self, id)
		var err error
		if p.Sessions > 0 {
			v, _ := json.Marshal(presenceValue{ID: p.ID, Name: p.Name, Rooms: p.Rooms, Away: p.Away, Admin: p.Admin, Bot: p.Bot,
				Sessions: p.Sessions, Renamed: p.Renamed, Since: p.Since, LastActive: p.LastActive})
			_, err = r.members.Put(ctx, key, v)
		} else {
			err = r.members.Delete(ctx, key)
		}
		if err != nil {
			r.log.Debug("presence write failed; retried", "id", id, "err", err)
			r.mu.Lock()
			if _, newer := r.pending[id]; !newer {
				r.pending[id] = p
			}
			r.mu.Unlock()
		}
	}
}

// prune forgets the nodes that have not been heard within the TTL, and
// deletes their people's keys (any live node may; it is idempotent).
func (r *Roster) prune() {
	now := time.Now()
	var gone []string
	r.mu.Lock()
	silent := false // a node whose people were shown has gone silent
	for node := range r.shown {
		silent = silent || !r.aliveLocked(node, now)
	}
	for node, ids := range r.entries {
		if r.aliveLocked(node, now) {
			continue
		}
		if _, heard := r.alive[node]; !heard {
			// Never heard: its heartbeat may not have arrived yet, or it
			// died before this node started. Given a TTL from now.
			if first, ok := r.orphan[node]; !ok {
				r.orphan[node] = now
				continue
			} else if now.Sub(first) <= r.opts.TTL {
				continue
			}
		}
		delete(r.orphan, node)
		for id := range ids {
			gone = append(gone, memberKey(node, id))
		}
		delete(r.entries, node)
		delete(r.alive, node)
	}
	r.mu.Unlock()
	if silent || len(gone) > 0 {
		r.changed()
	}
	if len(gone) == 0 {
		return
	}
	r.log.Info("nodes went silent: their people dropped", "entries", len(gone))
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
	defer cancel()
	for _, k := range gone {
		if err := r.members.Delete(ctx, k); err != nil {
			r.log.Debug("deleting a silent node's entry failed", "key", k, "err", err)
		}
	}
}

// watchLoop is the goroutine that follows both buckets, watching them
// again after NATS reconnects (run notices) or a watch ends: a watch's
// consumer lost with a restarted server would otherwise take many
// seconds to be noticed.
func (r *Roster) watchLoop(nodes, members jetstream.KeyWatcher, cancel context.CancelFunc) {
	for {
		again := r.follow(nodes, members)
		_ = nodes.Stop()
		_ = members.Stop()
		cancel()
		if !again {
			return
		}
		for {
			var ctx context.Context
			ctx, cancel = context.WithCancel(context.Background())
			var err error
			if nodes, err = r.nodes.WatchAll(ctx); err == nil {
				if members, err = r.members.WatchAll(ctx); err == nil {
					break
				}
				_ = nodes.Stop()
			}
			cancel()
			r.log.Debug("watching presence again failed; retried", "err", err)
			select {
			case <-r.quit:
				return
			case <-time.After(r.opts.Heartbeat):
			}
		}
	}
}

// follow applies what the two watches deliver until Close (false) or until
// they must be made again (true). Presence values are gathered apart until
// both watches have given every current value, then replace what was
// known, so that people who left while the node was not watching are
// dropped and nobody else flickers out meanwhile.
func (r *Roster) follow(nodes, members jetstream.KeyWatcher) (again bool) {
	nu, mu := nodes.Updates(), members.Updates()
	staging := map[string]map[string]room.Presence{}
	nDone, mDone := false, false
	for {
		ready := nDone && mDone
		select {
		case <-r.quit:
			return false
		case <-r.rewatch:
			return true
		case e, ok := <-nu:
			switch {
			case !ok:
				return true
			case e == nil:
				nDone = true
			case r.heard(e) && ready:
				r.changed()
			}
		case e, ok := <-mu:
			switch {
			case !ok:
				return true
			case e == nil:
				mDone = true
			case ready:
				if r.entry(e, nil) {
					r.changed()
				}
			default:
				r.entry(e, staging)
			}
		}
		if !ready && nDone && mDone {
			r.mu.Lock()
			r.entries = staging
			r.mu.Unlock()
			r.changed()
		}
	}
}

// heard records a heartbeat (or a goodbye); it reports whether the set of
// live nodes changed.
func (r *Roster) heard(e jetstream.KeyValueEntry) bool {
	node := e.Key()
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	was := r.aliveLocked(node, now)
	if e.Operation() != jetstream.KeyValuePut {
		delete(r.alive, node) // a goodbye: gone at once
		delete(r.entries, node)
		return was
	}
	r.alive[node] = now
	return !was
}

// entry records a presence value in into (nil: the known entries); it
// reports whether it changed what Remote returns.
func (r *Roster) entry(e jetstream.KeyValueEntry, into map[string]map[string]room.Presence) bool {
	node, tok, ok := strings.Cut(e.Key(), ".")
	if !ok || node == "" || tok == "" {
		return false
	}
	if node == r.self {
		// Another node deleted one of ours: it thought this node silent
		// (a heartbeat late under load, a partition). Write it again.
		if e.Operation() != jetstream.KeyValuePut {
			if id, err := ParseToken(tok); err == nil {
				r.mu.Lock()
				if p, on := r.local[id]; on {
					if _, queued := r.pending[id]; !queued {
						r.pending[id] = p
					}
					select {
					case r.wake <- struct{}{}:
					default:
					}
				}
				r.mu.Unlock()
			}
		}
		return false
	}
	var p room.Presence
	if e.Operation() == jetstream.KeyValuePut {
		var err error
		if p, err = decodePresence(node, tok, e.Value()); err != nil {
			r.log.Warn("undecodable presence value: ignored", "key", e.Key(), "err", err)
			return false
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if into == nil {
		into = r.entries
	}
	ids := into[node]
	if p.ID == "" {
		id, err := ParseToken(tok)
		if err != nil || ids == nil {
			return false
		}
		delete(ids, id)
	} else {
		if ids == nil {
			ids = map[string]room.Presence{}
			into[node] = ids
		}
		if p.Since.IsZero() || p.Since.After(time.Now()) {
			p.Since = time.Now()
		}
		ids[p.ID] = p
	}
	return r.aliveLocked(node, time.Now())
}

// decodePresence reads a presence value stored under key node.tok; the
// identity must be the key's.
func decodePresence(node, tok string, data []byte) (room.Presence, error) {
	if len(data) > maxPresence {
		return room.Presence{}, fmt.Errorf("presence value of %d bytes", len(data))
	}
	var v presenceValue
	if err := json.Unmarshal(data, &v); err != nil {
		return room.Presence{}, fmt.Errorf("presence: %w", err)
	}
	if v.ID == "" || Token(v.ID) != tok || safetext.Line(v.ID, maxName) != v.ID {
		return room.Presence{}, fmt.Errorf("presence of %q under the key of another identity", safetext.Line(v.ID, maxName))
	}
	if v.Sessions <= 0 {
		return room.Presence{}, fmt.Errorf("presence with %d sessions", v.Sessions)
	}
	if len(v.Rooms) > maxPresenceRooms {
		v.Rooms = v.Rooms[:maxPresenceRooms]
	}
	rooms := make([]string, 0, len(v.Rooms))
	for _, name := range v.Rooms {
		if room.RoomKey(name) == name && safetext.ValidateName(name) == nil {
			rooms = append(rooms, name)
		}
	}
	return room.Presence{Node: node, ID: v.ID, Name: safetext.Line(v.Name, 64), Rooms: rooms,
		Away: safetext.Line(v.Away, 80), Admin: v.Admin, Bot: v.Bot, Sessions: v.Sessions,
		Renamed: v.Renamed, Since: v.Since, LastActive: v.LastActive}, nil
}

// changed wakes the notifier.
func (r *Roster) changed() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// notifier is the goroutine that calls the watcher's function, one call at
// a time, with the newest state: so the hub never takes an older list
// after a newer one.
func (r *Roster) notifier() {
	for {
		select {
		case <-r.quit:
			return
		case <-r.notify:
		}
		r.mu.Lock()
		f := r.watch
		snap := r.remoteLocked(time.Now())
		clear(r.shown)
		for _, p := range snap {
			r.shown[p.Node] = true
		}
		r.mu.Unlock()
		if f != nil {
			f(snap)
		}
	}
}

// ClaimName implements room.Roster: create-if-absent, or a
// revision-checked update when the claim is this identity's already or
// its holder's node has gone silent.
func (r *Roster) ClaimName(ctx context.Context, name, id string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.opts.Timeout)
		defer cancel()
	}
	key := nameKey(name)
	val, _ := json.Marshal(claim{ID: id, Node: r.self})
	for range 4 {
		_, err := r.names.Create(ctx, key, val)
		if err == nil {
			r.remember(ctx, key, name, id)
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("claim name: %w", err)
		}
		e, err := r.names.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // released meanwhile
		}
		if err != nil {
			return fmt.Errorf("claim name: %w", err)
		}
		var c claim
		if err := json.Unmarshal(e.Value(), &c); err != nil || !r.holds(c, e.Created()) || c.ID == id {
			if _, err := r.names.Update(ctx, key, val, e.Revision()); err == nil {
				r.remember(ctx, key, name, id)
				return nil
			} else if !errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("claim name: %w", err)
			}
			continue // someone else moved first: look again
		}
		return room.Errorf("%s is already taken by someone on another node", safetext.Line(name, 32))
	}
	return room.Errorf("%s is being claimed by someone else right now", safetext.Line(name, 32))
}

// holds reports whether claim c (written at created) still stands: its
// node is alive and shows the identity online, or claimed it within the
// TTL (its presence may not have arrived yet).
func (r *Roster) holds(c claim, created time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if c.Node == r.self {
		_, on := r.local[c.ID]
		return on || now.Sub(created) <= r.opts.TTL
	}
	if !r.aliveLocked(c.Node, now) {
		return false
	}
	if _, on := r.entries[c.Node][c.ID]; on {
		return true
	}
	return now.Sub(created) <= r.opts.TTL
}

// ReleaseName implements room.Roster: the claim is deleted if it is still
// this node's for id (revision-checked).
func (r *Roster) ReleaseName(name, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
	defer cancel()
	key := nameKey(name)
	e, err := r.names.Get(ctx, key)
	if err != nil {
		return
	}
	var c claim
	if json.Unmarshal(e.Value(), &c) != nil || c.ID != id || c.Node != r.self {
		return
	}
	if err := r.names.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		r.log.Debug("releasing a name failed", "err", err)
	}
}

// Close says goodbye: this node's people and heartbeat are deleted, so
// that the other nodes drop them at once rather than after the TTL. It
// waits for the Roster's goroutines. The connection stays the caller's.
func (r *Roster) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	ids := make([]string, 0, len(r.local))
	for id := range r.local {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	close(r.quit)
	r.wg.Wait()
	var errs []error
	for _, id := range ids {
		if err := r.members.Delete(ctx, memberKey(r.self, id)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.nodes.Delete(ctx, r.self); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("natslog: roster goodbye: %w", err)
	}
	return nil
}

// remember records that id uses name now, in KnownBucket; a failure only
// costs finding them by it while offline, so it is logged.
func (r *Roster) remember(ctx context.Context, key, name, id string) {
	v, _ := json.Marshal(known{ID: id, Name: name})
	if _, err := r.known.Put(ctx, key, v); err != nil {
		r.log.Debug("remembering a name failed", "err", err)
	}
}

// IdentityByName implements room.NameIndex: the identity that last claimed
// name on any node, and the name as it claimed it.
func (r *Roster) IdentityByName(ctx context.Context, name string) (id, saved string, ok bool, err error) {
	e, err := r.known.Get(ctx, nameKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("natslog: name %q: %w", safetext.Line(name, 32), err)
	}
	var k known
	if err := json.Unmarshal(e.Value(), &k); err != nil || k.ID == "" || safetext.Line(k.ID, maxName) != k.ID {
		return "", "", false, nil // not one parley wrote: as if unknown
	}
	return k.ID, safetext.Line(k.Name, 64), true, nil
}
