package natsaccess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"parley/room"
	"parley/safetext"
)

// Room access: room.RoomStore over the PARLEY_ROOMS bucket. Who is in
// which room (memberships) is over PARLEY_MEMBERS (members.go).

// roomValue is a room's access as the bucket keeps it.
type roomValue struct {
	Name   string          `json:"name"`
	Access room.RoomAccess `json:"access"`
}

// RoomStore returns a room.RoomStore whose rooms' access and memberships
// are the cluster's, with local (nil: in memory) as this node's copy: what
// it knew before it joined the cluster is published from it, and its
// memberships are used while NATS cannot be reached. Call it before Start.
func (s *Shared) RoomStore(local room.RoomStore) room.RoomStore {
	if local == nil {
		local = room.NewMemoryRooms()
	}
	s.ms.mu.Lock()
	s.ms.local = local
	s.ms.mu.Unlock()
	return roomStore{s: s, local: local}
}

type roomStore struct {
	s     *Shared
	local room.RoomStore
}

var _ room.RoomStore = roomStore{}

// RoomAccess implements room.RoomStore. A room the bucket does not know
// but the local store does (access stored on this node before it joined
// the cluster) is published from the local store, unless another node
// published one first: the first stored wins, and every node then follows
// it.
func (r roomStore) RoomAccess(ctx context.Context, name string) (room.RoomAccess, bool, error) {
	ctx, cancel := r.s.ctx(ctx)
	defer cancel()
	a, found, err := r.s.getRoom(ctx, name)
	if err != nil || found {
		return a, found, err
	}
	la, lfound, err := r.local.RoomAccess(ctx, name)
	if err != nil || !lfound {
		return room.RoomAccess{}, false, err
	}
	data, _ := json.Marshal(roomValue{Name: name, Access: la})
	rev, err := r.s.rooms.Create(ctx, keyOf(name), data)
	switch {
	case err == nil:
		r.s.sawRoom(name, rev)
		r.s.log.Info("room access stored on this node published to the cluster", "room", name)
		return la, true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return r.s.getRoom(ctx, name)
	default:
		return room.RoomAccess{}, false, fmt.Errorf("room %s: publish access: %w", name, err)
	}
}

// getRoom reads a room's access from the bucket.
func (s *Shared) getRoom(ctx context.Context, name string) (room.RoomAccess, bool, error) {
	e, err := s.rooms.Get(ctx, keyOf(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return room.RoomAccess{}, false, nil
	}
	if err != nil {
		return room.RoomAccess{}, false, fmt.Errorf("room %s: access: %w", name, err)
	}
	v, err := decodeRoom(e.Key(), e.Value())
	if err != nil {
		// Never open a room on a guess: an unreadable access is an error,
		// which keeps the room closed.
		return room.RoomAccess{}, false, err
	}
	s.sawRoom(name, e.Revision())
	return v.Access, true, nil
}

// SetRoomAccess implements room.RoomStore.
func (r roomStore) SetRoomAccess(ctx context.Context, name string, a room.RoomAccess) error {
	ctx, cancel := r.s.ctx(ctx)
	defer cancel()
	data, err := json.Marshal(roomValue{Name: name, Access: a})
	if err != nil {
		return fmt.Errorf("room %s: access: %w", name, err)
	}
	rev, err := r.s.rooms.Put(ctx, keyOf(name), data)
	if err != nil {
		return fmt.Errorf("room %s: store access: %w", name, err)
	}
	r.s.sawRoom(name, rev)
	return nil
}

// StoredRooms implements room.RoomStore: the rooms the cluster knows (not
// removed) and those the local store knows.
func (r roomStore) StoredRooms(ctx context.Context) ([]string, error) {
	ctx, cancel := r.s.ctx(ctx)
	defer cancel()
	seen := map[string]bool{}
	var out []string
	err := each(ctx, r.s.rooms, func(key string, value []byte) {
		v, err := decodeRoom(key, value)
		if err != nil {
			r.s.log.Warn("a shared room access cannot be read: skipped", "key", key, "err", err)
			return
		}
		seen[v.Name] = true
		if !v.Access.Removed {
			out = append(out, v.Name)
		}
	})
	if err != nil {
		return nil, err
	}
	local, err := r.local.StoredRooms(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range local {
		if !seen[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// decodeRoom reads a room's access from the bucket: its name must be the
// one its key is made from, and a valid room name.
func decodeRoom(key string, value []byte) (roomValue, error) {
	var v roomValue
	if err := json.Unmarshal(value, &v); err != nil {
		return roomValue{}, fmt.Errorf("room access: %w", err)
	}
	if keyOf(v.Name) != key || v.Name != room.RoomKey(v.Name) || safetext.ValidateName(v.Name) != nil {
		return roomValue{}, fmt.Errorf("room access: name %q is not the one of its key", safetext.Line(v.Name, 32))
	}
	return v, nil
}

// sawRoom records that revision rev of a room's access is known here
// (stored or applied): an older one delivered later is not applied.
func (s *Shared) sawRoom(name string, rev uint64) (newer bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev <= s.roomRev[name] {
		return false
	}
	s.roomRev[name] = rev
	return true
}

// applyRoom applies a room's access changed on any node to this node's
// hub (room.Hub.AccessChanged), unless this node knows a newer one.
func (s *Shared) applyRoom(n Node, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return // access is never deleted: a removed room keeps its access
	}
	v, err := decodeRoom(e.Key(), e.Value())
	if err != nil {
		s.log.Warn("a shared room access cannot be read: skipped", "key", e.Key(), "err", err)
		return
	}
	if !s.sawRoom(v.Name, e.Revision()) {
		return
	}
	if k := n.Hub.AccessChanged(v.Name, v.Access); k > 0 {
		s.log.Info("room access changed on another node", "room", v.Name, "taken_out", k)
	}
}
