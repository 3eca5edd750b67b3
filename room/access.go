package room

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Who may enter and read a room is durable state, like its messages: it is
// loaded from the RoomStore before any of a room's history is read, and
// every change is stored before it takes effect. A room whose history
// exists but whose access cannot be established (the store fails, or it was
// made before access was stored) is closed to all but admins, never opened
// to everyone. Every path that reads a room's messages asks mayReadLocked
// itself, so no caller's check alone stands between a stranger and a
// private room's history.

// RoomAccess is who may enter a room, as a RoomStore keeps it.
type RoomAccess struct {
	// Private rooms admit only invited identities and admins.
	Private bool
	// Creator is the identity that made the room (or made it private).
	Creator string
	// Invited lists the identities a private room admits.
	Invited []string
	// Removed marks a room an admin removed: it is not listed nor opened at
	// start, and entering it again follows the access above (a removed
	// private room stays closed to everyone it did not admit).
	Removed bool
}

// RoomStore keeps what a room and its people must remember across
// restarts besides messages: each room's access, and the rooms each
// identity is in. Implementations must be safe for concurrent use.
type RoomStore interface {
	// RoomAccess returns the stored access of room; found is false when
	// none is stored.
	RoomAccess(ctx context.Context, room string) (a RoomAccess, found bool, err error)
	// SetRoomAccess stores the access of room, replacing what was stored.
	SetRoomAccess(ctx context.Context, room string, a RoomAccess) error
	// StoredRooms lists the rooms to open at start: every room with stored
	// messages or access, except removed ones.
	StoredRooms(ctx context.Context) ([]string, error)
	// Memberships lists the rooms identity is in.
	Memberships(ctx context.Context, identity string) ([]string, error)
	// SetMembership records that identity is in room (in) or not.
	SetMembership(ctx context.Context, identity, room string, in bool) error
	// DropMemberships forgets that anyone is in room.
	DropMemberships(ctx context.Context, room string) error
}

// MemoryRooms is a RoomStore that keeps everything in memory (forgotten on
// restart, like the messages of a hub without History). It is what a Hub
// uses when Config.Rooms is nil.
type MemoryRooms struct {
	mu      sync.Mutex
	access  map[string]RoomAccess
	members map[string]map[string]bool // identity -> rooms
}

var _ RoomStore = (*MemoryRooms)(nil)

// NewMemoryRooms returns an empty MemoryRooms.
func NewMemoryRooms() *MemoryRooms {
	return &MemoryRooms{access: map[string]RoomAccess{}, members: map[string]map[string]bool{}}
}

// RoomAccess implements RoomStore.
func (m *MemoryRooms) RoomAccess(_ context.Context, room string) (RoomAccess, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.access[room]
	a.Invited = slices.Clone(a.Invited)
	return a, ok, nil
}

// SetRoomAccess implements RoomStore.
func (m *MemoryRooms) SetRoomAccess(_ context.Context, room string, a RoomAccess) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a.Invited = slices.Clone(a.Invited)
	m.access[room] = a
	return nil
}

// StoredRooms implements RoomStore.
func (m *MemoryRooms) StoredRooms(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name, a := range m.access {
		if !a.Removed {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Memberships implements RoomStore.
func (m *MemoryRooms) Memberships(_ context.Context, identity string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for r := range m.members[identity] {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}

// SetMembership implements RoomStore.
func (m *MemoryRooms) SetMembership(_ context.Context, identity, room string, in bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !in {
		delete(m.members[identity], room)
		return nil
	}
	if m.members[identity] == nil {
		m.members[identity] = map[string]bool{}
	}
	m.members[identity][room] = true
	return nil
}

// DropMemberships implements RoomStore.
func (m *MemoryRooms) DropMemberships(_ context.Context, room string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rooms := range m.members {
		delete(rooms, room)
	}
	return nil
}

// accessLocked returns r's access as the store keeps it.
func (r *room) accessLocked() RoomAccess {
	a := RoomAccess{Private: r.private, Creator: r.creator}
	for id := range r.invited {
		a.Invited = append(a.Invited, id)
	}
	sort.Strings(a.Invited)
	return a
}

// mayEnterLocked reports whether identity id (admin or not) may enter r:
// an open room, or a private one it is invited to or already in; any room
// for an admin. A room of unknown access admits admins only.
func (r *room) mayEnterLocked(id string, admin bool) bool {
	switch {
	case admin || r.members[id] != nil:
		return true
	case r.unknown:
		return false
	}
	return !r.private || r.invited[id]
}

// mayReadLocked reports whether identity id may read r's messages: the
// same rule as entering it. Every reader of history asks it.
func (r *room) mayReadLocked(id string, admin bool) bool { return r.mayEnterLocked(id, admin) }

// refusalLocked explains why identity id may not enter r, as seen by id:
// a private room it may not see does not exist, as far as it can tell.
func (r *room) refusalLocked() error {
	if r.unknown {
		return Errorf("#%s cannot be entered: who may read it was not recorded (an admin can open it with /room public #%s or keep it private with /room private #%s)", r.name, r.name, r.name)
	}
	return Errorf("#%s is private: ask an admin or a member for an /invite", r.name)
}

// readableRoom returns the loaded room name if identity id may read it.
func (h *Hub) readableRoom(name, id string, admin bool) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[RoomKey(name)]
	if r == nil || !r.mayReadLocked(id, admin) {
		return nil, Errorf("there is no #%s (the rooms command lists them)", RoomKey(name))
	}
	return r, nil
}

// storeAccess writes r's access (as changed by change, under Hub.mu) to the
// RoomStore, and applies it only once stored. h.accessMu serialises the
// changes, so two admins' changes are stored in the order they apply.
// It takes Hub.mu itself: never call it with Hub.mu held.
func (h *Hub) storeAccess(ctx context.Context, r *room, change func(a *RoomAccess) error) error {
	h.accessMu.Lock()
	defer h.accessMu.Unlock()
	h.mu.Lock()
	a := r.accessLocked()
	err := change(&a)
	h.mu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := h.cfg.Rooms.SetRoomAccess(ctx, r.name, a); err != nil {
		return fmt.Errorf("room %s: store access: %w", r.name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r.private, r.creator, r.unknown = a.Private, a.Creator, false
	r.invited = make(map[string]bool, len(a.Invited))
	for _, id := range a.Invited {
		r.invited[id] = true
	}
	return nil
}

// saveMembershipLocked records, without waiting, that identity id is in
// room r or not (the hub's writer goroutine stores it in order). A lost
// write costs only the convenience: access is checked again on restore.
func (h *Hub) saveMembershipLocked(id, room string, in bool) {
	rs := h.cfg.Rooms
	select {
	case h.writes <- func(ctx context.Context) {
		if err := rs.SetMembership(ctx, id, room, in); err != nil {
			h.log.Warn("saving a room membership failed", "id", id, "room", room, "err", err)
		}
	}:
	default:
		h.log.Warn("membership writes are backed up; one was dropped", "id", id, "room", room)
	}
}

// loadStoredRooms opens every room the store knows, so that rooms exist
// after a restart (with their access) before anyone joins them. A room
// that cannot be loaded (its access cannot be read) is left closed and
// logged: /join tries it again, and refuses it while that fails.
func (h *Hub) loadStoredRooms(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, storeTimeout)
	names, err := h.cfg.Rooms.StoredRooms(lctx)
	cancel()
	if err != nil {
		h.log.Error("listing the stored rooms failed; they open when joined", "err", err)
		return
	}
	for _, name := range names {
		if _, ok := h.rooms[name]; ok {
			continue
		}
		r, err := h.loadRoom(ctx, name)
		if err != nil {
			h.log.Error("a stored room could not be opened; it stays closed", "room", name, "err", err)
			continue
		}
		if r.removed {
			continue
		}
		h.rooms[name] = r
		h.startRoom(r)
	}
}

// restoreLocked puts a newly connected member back in the rooms it was in
// (saved), as far as each room's access still admits it, registering s in
// each. A membership the access no longer allows is forgotten.
func (h *Hub) restoreLocked(m *member, s *Session, saved []string, quiet bool) {
	for _, name := range saved {
		r := h.rooms[name]
		if r == nil || r.members[m.id] != nil {
			continue
		}
		if !r.mayEnterLocked(m.id, m.admin()) {
			h.saveMembershipLocked(m.id, name, false)
			continue
		}
		r.members[m.id] = m
		r.membersList = nil
		m.rooms[r] = struct{}{}
		h.rosterChangedLocked(m.id)
		o := &op{register: s, enter: true}
		if !quiet {
			o.msg = r.presenceLocked(Message{Room: r.name, Kind: KindJoin, From: m.name, FromID: m.id})
		}
		r.enqueueLocked(o)
	}
}

// loadMemberships reads the rooms identity id is in, after the membership
// writes already queued (a /leave just before reconnecting counts); a
// failure costs only the convenience and is logged.
func (h *Hub) loadMemberships(ctx context.Context, id string) []string {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	flushed := make(chan struct{})
	select {
	case h.writes <- func(context.Context) { close(flushed) }:
		select {
		case <-flushed:
		case <-h.writerDone: // closing: nothing more is written
		case <-ctx.Done():
			h.log.Warn("waiting for membership writes timed out", "id", id)
		}
	default: // backed up: read what is stored
	}
	rooms, err := h.cfg.Rooms.Memberships(ctx, id)
	if err != nil {
		h.log.Warn("loading room memberships failed", "id", id, "err", err)
		return nil
	}
	h.openSavedRooms(ctx, rooms) // restoremembers.go
	return rooms
}
