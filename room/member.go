package room

// RoomMember returns what the member list of the room roomName shows for the
// identity id, and whether id is in that room now. It is the one-entry
// form of Members, for a front door that sends a list's changes rather
// than the whole list after every join, leave or rename: a room of a
// thousand would otherwise cost each of its pages a thousand entries per
// arrival.
func (h *Hub) RoomMember(roomName, id string) (MemberInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[RoomKey(roomName)]
	if r == nil {
		return MemberInfo{}, false
	}
	rm := h.remote[id] // on other nodes (roster.go)
	if rm != nil && !rm.rooms[r.name] {
		rm = nil
	}
	m := r.members[id]
	switch {
	case m == nil && rm == nil:
		return MemberInfo{}, false
	case m == nil:
		return rm.info, true
	}
	info := m.infoLocked()
	if rm != nil {
		mergeRemote(&info, rm)
	}
	return info, true
}

// PresenceIdle is the Text of a KindPresence that only says the idle times
// a member list shows have moved on (once a minute): nothing else in the
// list changed. A KindPresence about one person's away mark or admin
// right carries that person's ID in FromID; one with neither may mean any
// change, and the whole list should be read again.
const PresenceIdle = "idle"
