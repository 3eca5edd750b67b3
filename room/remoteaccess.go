package room

import (
	"context"
	"fmt"
)

// AccessChanged applies the access of room name as changed elsewhere: by
// another process sharing the RoomStore (natsaccess, over NATS JetStream
// KV), which has stored it already. A room this hub has not loaded is left
// alone: it reads its access from the store when it is opened. A loaded
// room takes the new access, and whoever is in it and is no longer
// admitted (not an admin, not invited to a room now private) is taken out
// of it as by /leave and told why; someone for whom it was the last room
// is put in the default room first. It returns how many people were taken
// out. A room removed elsewhere is removed here too when nobody is in it
// here; one with people in it stays open to them, and to those its access
// admits, until this hub restarts.
func (h *Hub) AccessChanged(name string, a RoomAccess) int {
	h.accessMu.Lock() // after any change of this hub's own being stored
	defer h.accessMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[RoomKey(name)]
	if h.closed || r == nil {
		return 0
	}
	r.private, r.creator, r.unknown = a.Private, a.Creator, false
	r.invited = make(map[string]bool, len(a.Invited))
	for _, id := range a.Invited {
		r.invited[id] = true
	}
	if a.Removed && len(r.members) == 0 && r.name != RoomKey(h.cfg.DefaultRoom) {
		h.removeEmptyLocked(r) // as /room remove does; a room with people here stays until it empties
		return 0
	}
	if !r.private {
		return 0
	}
	now := h.cfg.Now()
	evicted := 0
	for _, m := range r.membersSnapshotLocked() {
		if r.invited[m.id] || m.admin() {
			continue
		}
		if len(m.rooms) == 1 {
			h.enterDefaultLocked(m)
		}
		h.evictLocked(m, r, now,
			fmt.Sprintf("You left #%s: it was made private, and you are not invited (an /invite lets you back in).", r.name),
			"not invited to a private room")
		evicted++
	}
	if evicted > 0 {
		h.log.Info("room made private elsewhere: took the uninvited out", "room", r.name, "people", evicted)
	}
	return evicted
}

// membersSnapshotLocked lists r's members, so that they can be taken out
// while going through them.
func (r *room) membersSnapshotLocked() []*member {
	out := make([]*member, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m)
	}
	return out
}

// removeEmptyLocked takes the empty room r out of the hub, as /room remove
// does: its history and access are kept, and nobody is in it when they
// come back.
func (h *Hub) removeEmptyLocked(r *room) {
	delete(h.rooms, r.name)
	close(r.gone)
	rs, name := h.cfg.Rooms, r.name
	select {
	case h.writes <- func(ctx context.Context) {
		if err := rs.DropMemberships(ctx, name); err != nil {
			h.log.Warn("forgetting the members of a removed room failed", "room", name, "err", err)
		}
	}:
	default:
		h.log.Warn("membership writes are backed up; a removed room's were kept", "room", name)
	}
	h.log.Info("room removed on another node: removed here", "room", name)
}
