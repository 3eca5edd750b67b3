package room

import "context"

// MembershipsChanged applies to this hub a change of identity id's rooms
// made on another node sharing the RoomStore (natsaccess), which has
// stored it already and whose room has announced it: id joined the rooms
// in joined and left those in left. As on one node, where a /join or
// /leave on one screen moves every screen of that identity, id's sessions
// here enter or drop those rooms, quietly (no join or leave line: the
// other node's is in the room already), and nothing is stored. A room not
// open here is opened first; one whose access does not admit id is not
// entered; the default room is not left when it is id's last room here.
// Someone not connected here is left alone: they get their rooms when
// they connect. It returns how many rooms changed.
func (h *Hub) MembershipsChanged(ctx context.Context, id string, joined, left []string) int {
	h.mu.Lock()
	here := h.members[id] != nil && !h.closed
	h.mu.Unlock()
	if !here {
		return 0
	}
	h.openSavedRooms(ctx, joined)
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[id]
	if m == nil || h.closed {
		return 0
	}
	changed := 0
	for _, name := range joined {
		r := h.rooms[RoomKey(name)]
		if r == nil || r.members[m.id] != nil || !r.mayEnterLocked(m.id, m.admin()) {
			continue
		}
		r.members[m.id] = m
		r.membersList = nil
		m.rooms[r] = struct{}{}
		for t := range m.sessions {
			r.enqueueLocked(&op{register: t, enter: true})
		}
		changed++
	}
	now := h.cfg.Now()
	lobby := h.rooms[RoomKey(h.cfg.DefaultRoom)]
	for _, name := range left {
		r := h.rooms[RoomKey(name)]
		if r == nil || r.members[m.id] == nil {
			continue
		}
		if len(m.rooms) == 1 {
			if r == lobby {
				continue // their last room here: as /leave, it stays
			}
			h.enterDefaultLocked(m)
		}
		delete(r.members, m.id)
		r.membersList = nil
		delete(m.rooms, r)
		for t := range m.sessions {
			delete(r.sessions, t)
			delete(t.backlogs, r.name)
			if t.room == r {
				t.room = m.firstRoom()
				if _, in := m.rooms[lobby]; in {
					t.room = lobby
				}
			}
			h.deliverLocked(t, Message{Time: now, Room: r.name, Kind: KindLeave, From: m.name, FromID: m.id})
		}
		changed++
	}
	return changed
}
