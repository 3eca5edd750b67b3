package natsaccess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/room"
	"parley/safetext"
)

// Memberships: which rooms each identity has joined (restored when it
// connects to any node), over the PARLEY_MEMBERS bucket. See doc.go.

// maxMemberRooms bounds the rooms one identity's value may list; a value
// listing more is refused as unreadable.
const maxMemberRooms = 4096

// membersValue is an identity's memberships as the bucket keeps it.
type membersValue struct {
	ID    string   `json:"id"`
	Rooms []string `json:"rooms"`
}

// decodeMembers reads an identity's memberships from the bucket: its
// identity must be the one its key is made from, and every room a valid
// room name in its stored form (room.RoomKey). The rooms come back sorted,
// without duplicates.
func decodeMembers(key string, value []byte) (membersValue, error) {
	var v membersValue
	if err := json.Unmarshal(value, &v); err != nil {
		return membersValue{}, fmt.Errorf("memberships: %w", err)
	}
	if v.ID == "" || keyOf(v.ID) != key {
		return membersValue{}, fmt.Errorf("memberships: identity %q is not the one of its key", safetext.Line(v.ID, 64))
	}
	if len(v.Rooms) > maxMemberRooms {
		return membersValue{}, fmt.Errorf("memberships of %s: %d rooms, more than %d", safetext.Line(v.ID, 64), len(v.Rooms), maxMemberRooms)
	}
	for _, r := range v.Rooms {
		if r != room.RoomKey(r) || safetext.ValidateName(r) != nil {
			return membersValue{}, fmt.Errorf("memberships of %s: %q is not a room name", safetext.Line(v.ID, 64), safetext.Line(r, 32))
		}
	}
	sort.Strings(v.Rooms)
	v.Rooms = slices.Compact(v.Rooms)
	return v, nil
}

// memberChange is one membership change not yet in the bucket: in or out,
// and when it was made (memberSync.seq).
type memberChange struct {
	in  bool
	seq uint64
}

// memberSync holds the membership changes made on this node that the
// bucket does not have yet, and publishes them (run). Every change goes
// through it, so the hub's writer never waits on NATS: while NATS is away
// changes wait here, and reads (Memberships) see them on top of what the
// bucket or the local store says. mu guards every field below wake; run's
// goroutine is the only publisher.
type memberSync struct {
	s    *Shared
	wake chan struct{} // capacity 1: something to publish

	mu      sync.Mutex
	local   room.RoomStore // this node's own store (RoomStore), nil until set
	seq     uint64
	pending map[string]map[string]memberChange // identity -> room -> change
	drops   map[string]uint64                  // removed room -> seq of the drop
	known   map[string]memberState             // identity -> its shared rooms as last stored or applied here
}

// memberState is an identity's shared rooms at one revision of its entry.
type memberState struct {
	rev   uint64
	rooms []string
}

func newMemberSync(s *Shared) *memberSync {
	return &memberSync{s: s, wake: make(chan struct{}, 1), pending: map[string]map[string]memberChange{}, drops: map[string]uint64{}, known: map[string]memberState{}}
}

func (ms *memberSync) poke() {
	select {
	case ms.wake <- struct{}{}:
	default:
	}
}

// change queues a membership change (publish marks an identity to publish
// with no change: its first value, from the local store).
func (ms *memberSync) change(id, name string, in bool) {
	ms.mu.Lock()
	ms.seq++
	if ms.pending[id] == nil {
		ms.pending[id] = map[string]memberChange{}
	}
	ms.pending[id][name] = memberChange{in: in, seq: ms.seq}
	ms.mu.Unlock()
	ms.poke()
}

// publish marks identity id to be published with no change of its own.
func (ms *memberSync) publish(id string) {
	ms.mu.Lock()
	if ms.pending[id] == nil {
		ms.pending[id] = map[string]memberChange{}
	}
	ms.mu.Unlock()
	ms.poke()
}

// drop queues forgetting that anyone is in the removed room name. A change
// of the room queued before is superseded by it; one queued after is kept.
func (ms *memberSync) drop(name string) {
	ms.mu.Lock()
	ms.seq++
	ms.drops[name] = ms.seq
	for _, c := range ms.pending {
		delete(c, name)
	}
	ms.mu.Unlock()
	ms.poke()
}

// overlay applies the changes not yet published of identity id to rooms.
func (ms *memberSync) overlay(id string, rooms []string) []string {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	set := map[string]bool{}
	for _, r := range rooms {
		set[r] = true
	}
	for r := range ms.drops {
		delete(set, r)
	}
	for r, c := range ms.pending[id] {
		set[r] = c.in
	}
	out := make([]string, 0, len(set))
	for r, in := range set {
		if in {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// publishRetry is how often run tries again while changes wait (NATS away
// or failing).
const publishRetry = 250 * time.Millisecond

// publishRound bounds one round of publishing (with the Timeout, if
// shorter): a request sent just as the connection went away gets no answer,
// and what it held waits for the next round instead of for the whole
// Timeout. A round cut short is safe to repeat: each change is applied to
// the entry's value as read again.
const publishRound = time.Second

// run publishes the waiting changes until ctx ends, then once more if
// NATS is there, so that what was changed just before a stop is kept.
func (ms *memberSync) run(ctx context.Context) {
	ms.mu.Lock()
	local := ms.local
	ms.mu.Unlock()
	tick := time.NewTicker(publishRetry)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if ms.s.nc.IsConnected() {
				fctx, cancel := context.WithTimeout(context.Background(), ms.s.opts.Timeout)
				ms.flush(fctx, local)
				cancel()
			}
			return
		case <-ms.wake:
		case <-tick.C:
		}
		if ms.s.nc.IsConnected() {
			rctx, cancel := context.WithTimeout(ctx, min(ms.s.opts.Timeout, publishRound))
			ms.flush(rctx, local)
			cancel()
		}
	}
}

// waiting reports how many identities and dropped rooms wait to be
// published.
func (ms *memberSync) waiting() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return len(ms.pending) + len(ms.drops)
}

// flush publishes what waits: the dropped rooms first, then each
// identity's changes. What fails waits for the next round.
func (ms *memberSync) flush(ctx context.Context, local room.RoomStore) {
	ms.mu.Lock()
	drops := make(map[string]uint64, len(ms.drops))
	for r, seq := range ms.drops {
		drops[r] = seq
	}
	ids := make([]string, 0, len(ms.pending))
	for id := range ms.pending {
		ids = append(ids, id)
	}
	ms.mu.Unlock()
	for name, seq := range drops {
		if err := ms.flushDrop(ctx, name); err != nil {
			ms.s.log.Warn("forgetting the members of a removed room in the cluster failed; trying again", "room", name, "err", err)
			continue
		}
		ms.mu.Lock()
		if ms.drops[name] == seq {
			delete(ms.drops, name)
		}
		ms.mu.Unlock()
	}
	for _, id := range ids {
		ms.mu.Lock()
		changes := make(map[string]memberChange, len(ms.pending[id]))
		for r, c := range ms.pending[id] {
			changes[r] = c
		}
		ms.mu.Unlock()
		if err := ms.update(ctx, id, local, func(set map[string]bool) {
			for r, c := range changes {
				set[r] = c.in
			}
		}); err != nil {
			ms.s.log.Warn("publishing room memberships failed; trying again", "id", id, "err", err)
			continue
		}
		ms.mu.Lock()
		for r, c := range changes {
			if ms.pending[id][r].seq == c.seq { // not changed again meanwhile
				delete(ms.pending[id], r)
			}
		}
		if len(ms.pending[id]) == 0 {
			delete(ms.pending, id)
		}
		ms.mu.Unlock()
	}
}

// flushDrop takes room name out of every identity's memberships.
func (ms *memberSync) flushDrop(ctx context.Context, name string) error {
	var ids []string
	err := each(ctx, ms.s.members, func(key string, value []byte) {
		if v, err := decodeMembers(key, value); err == nil && slices.Contains(v.Rooms, name) {
			ids = append(ids, v.ID)
		}
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := ms.update(ctx, id, nil, func(set map[string]bool) { delete(set, name) }); err != nil {
			return err
		}
	}
	return nil
}

// update applies change to identity id's memberships in the bucket with a
// compare-and-set on the entry's revision, reading again when another node
// changed it meanwhile, so that two nodes changing one person's rooms at
// once lose nothing. An identity the bucket does not know yet starts from
// what local (when not nil) knows of it: the memberships this node had
// before it joined the cluster are published the first time they are
// needed, unless another node published that identity first.
func (ms *memberSync) update(ctx context.Context, id string, local room.RoomStore, change func(set map[string]bool)) error {
	ctx, cancel := ms.s.ctx(ctx)
	defer cancel()
	key := keyOf(id)
	for range casTries {
		set := map[string]bool{}
		var rev uint64
		var before []string
		e, err := ms.s.members.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			if local != nil {
				rooms, err := local.Memberships(ctx, id)
				if err != nil {
					return fmt.Errorf("memberships of %s: local store: %w", id, err)
				}
				for _, r := range rooms {
					set[r] = true
				}
			}
		case err != nil:
			return fmt.Errorf("memberships of %s: %w", id, err)
		default:
			rev = e.Revision()
			if v, err := decodeMembers(e.Key(), e.Value()); err == nil {
				for _, r := range v.Rooms {
					set[r] = true
				}
				before = v.Rooms
			} else { // replaced by what this node knows: the convenience is lost, never access
				ms.s.log.Warn("shared memberships cannot be read: replaced", "id", id, "err", err)
			}
		}
		change(set)
		v := membersValue{ID: id, Rooms: []string{}}
		for r, in := range set {
			if in {
				v.Rooms = append(v.Rooms, r)
			}
		}
		sort.Strings(v.Rooms)
		if rev != 0 && before != nil && slices.Equal(before, v.Rooms) {
			return nil // nothing to change (a change already there, or a drop of a room they are not in)
		}
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("memberships of %s: %w", id, err)
		}
		var nrev uint64
		if rev == 0 {
			nrev, err = ms.s.members.Create(ctx, key, data)
		} else {
			nrev, err = ms.s.members.Update(ctx, key, data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue // changed meanwhile by another node: read it again
		}
		if err != nil {
			return fmt.Errorf("memberships of %s: %w", id, err)
		}
		ms.mu.Lock()
		if nrev > ms.known[id].rev { // its echo from the watcher changes nothing here
			ms.known[id] = memberState{rev: nrev, rooms: v.Rooms}
		}
		ms.mu.Unlock()
		return nil
	}
	return fmt.Errorf("memberships of %s: changed by others %d times in a row", id, casTries)
}

// Memberships implements room.RoomStore: the rooms the cluster says id is
// in, with this node's changes not yet published on top. An identity the
// cluster does not know yet gets this node's local memberships (which are
// then published). While NATS cannot be reached, or the value cannot be
// read, the local store's answer is used instead, and the hub's access
// check on restore still decides.
func (r roomStore) Memberships(ctx context.Context, id string) ([]string, error) {
	ms := r.s.ms
	localRooms := func() ([]string, error) {
		rooms, err := r.local.Memberships(ctx, id)
		if err != nil {
			return nil, err
		}
		return ms.overlay(id, rooms), nil
	}
	if !r.s.nc.IsConnected() {
		r.s.log.Info("NATS cannot be reached: memberships restored from this node's store", "id", id)
		return localRooms()
	}
	gctx, cancel := r.s.ctx(ctx)
	defer cancel()
	e, err := r.s.members.Get(gctx, keyOf(id))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		rooms, err := localRooms()
		if err == nil && len(rooms) > 0 {
			ms.publish(id) // first seen in the cluster: this node's memberships become the cluster's
		}
		return rooms, err
	case err != nil:
		r.s.log.Warn("reading shared memberships failed: restored from this node's store", "id", id, "err", err)
		return localRooms()
	}
	v, err := decodeMembers(e.Key(), e.Value())
	if err != nil {
		r.s.log.Warn("shared memberships cannot be read: restored from this node's store", "id", id, "err", err)
		return localRooms()
	}
	return ms.overlay(id, v.Rooms), nil
}

// SetMembership implements room.RoomStore: the change is stored locally
// and queued for the cluster at once, and published by Start's publisher
// (at once when NATS is there, when it is back otherwise).
func (r roomStore) SetMembership(ctx context.Context, id, name string, in bool) error {
	r.s.ms.change(id, name, in)
	if err := r.local.SetMembership(ctx, id, name, in); err != nil {
		return fmt.Errorf("local copy (published to the cluster all the same): %w", err)
	}
	return nil
}

// DropMemberships implements room.RoomStore: locally, and in every
// identity's shared memberships (queued, as SetMembership).
func (r roomStore) DropMemberships(ctx context.Context, name string) error {
	r.s.ms.drop(name)
	if err := r.local.DropMemberships(ctx, name); err != nil {
		return fmt.Errorf("local copy (dropped in the cluster all the same): %w", err)
	}
	return nil
}

// MembershipLister is what a local RoomStore offers to publish all its
// memberships when its node first joins a cluster (store.SQLite has it).
type MembershipLister interface {
	// AllMemberships lists every identity's rooms.
	AllMemberships(ctx context.Context) (map[string][]string, error)
}

// publishedSuffix names the file, next to authorized_keys, whose presence
// says this node's memberships were published once.
const publishedSuffix = ".memberships-published"

// publishLocal publishes, the first time this node joins a cluster (no
// marker file next to authorized_keys), every membership its local store
// holds: each is added to the identity's shared rooms (a compare-and-set,
// so what other nodes published is kept too). After that the bucket is
// the truth and the local store only a copy: a room left elsewhere never
// comes back from it. A local store that cannot list its memberships
// publishes each identity's when it is first read (Memberships).
func (ms *memberSync) publishLocal(ctx context.Context, keysPath string) error {
	marker := keysPath + publishedSuffix
	if _, err := os.Stat(marker); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("natsaccess: %w", err)
	}
	ms.mu.Lock()
	lister, _ := ms.local.(MembershipLister)
	ms.mu.Unlock()
	n := 0
	if lister != nil {
		lctx, cancel := ms.s.ctx(ctx)
		all, err := lister.AllMemberships(lctx)
		cancel()
		if err != nil {
			return fmt.Errorf("natsaccess: memberships to publish: %w", err)
		}
		for id, rooms := range all {
			if err := ms.update(ctx, id, nil, func(set map[string]bool) {
				for _, r := range rooms {
					set[r] = true
				}
			}); err != nil {
				return fmt.Errorf("natsaccess: publish memberships: %w", err)
			}
			n++
		}
	}
	if err := os.WriteFile(marker, []byte("this node's room memberships were published to the cluster; remove this file to publish them again\n"), 0o600); err != nil {
		return fmt.Errorf("natsaccess: %w", err)
	}
	if n > 0 {
		ms.s.log.Info("this node's room memberships published to the cluster", "identities", n)
	}
	return nil
}

// apply applies an identity's memberships changed on another node to this
// node's hub (room.Hub.MembershipsChanged): the rooms added since the
// value this node last knew are entered by that person's sessions here,
// the rooms taken out are left. A value not newer than one this node
// stored or applied, and a room with a change of this node's own still
// waiting to be published, are left alone: this node's newer change wins.
// An identity seen for the first time counts as having been in no room
// (at Start nobody is connected yet, so nothing moves).
func (ms *memberSync) apply(ctx context.Context, n Node, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return // entries are never deleted
	}
	v, err := decodeMembers(e.Key(), e.Value())
	if err != nil {
		ms.s.log.Warn("shared memberships cannot be read: skipped", "key", e.Key(), "err", err)
		return
	}
	ms.mu.Lock()
	prev := ms.known[v.ID]
	if e.Revision() <= prev.rev {
		ms.mu.Unlock()
		return
	}
	ms.known[v.ID] = memberState{rev: e.Revision(), rooms: v.Rooms}
	mine := func(r string) bool {
		_, waiting := ms.pending[v.ID][r]
		_, dropping := ms.drops[r]
		return waiting || dropping
	}
	var joined, left []string
	for _, r := range v.Rooms {
		if !slices.Contains(prev.rooms, r) && !mine(r) {
			joined = append(joined, r)
		}
	}
	for _, r := range prev.rooms {
		if !slices.Contains(v.Rooms, r) && !mine(r) {
			left = append(left, r)
		}
	}
	ms.mu.Unlock()
	if len(joined) == 0 && len(left) == 0 {
		return
	}
	if k := n.Hub.MembershipsChanged(ctx, v.ID, joined, left); k > 0 {
		ms.s.log.Info("rooms joined or left on another node: followed here", "id", v.ID, "rooms", k)
	}
}
