package room

import "context"

// openSavedRooms opens, before a member is restored into them, the saved
// rooms this hub has not loaded: on a node of a cluster, a room made on
// another node after this hub started (its access is in the shared
// RoomStore) is opened here the first time someone who is in it connects,
// as /join would open it. A room the store knows nothing of, or that was
// removed, is not opened (restoreLocked then skips it); a room that cannot
// be loaded is logged and skipped. It takes Hub.accessMu and Hub.mu
// itself: loading does I/O.
func (h *Hub) openSavedRooms(ctx context.Context, names []string) {
	for _, name := range names {
		h.mu.Lock()
		_, open := h.rooms[name]
		h.mu.Unlock()
		if !open {
			h.openSavedRoom(ctx, name)
		}
	}
}

func (h *Hub) openSavedRoom(ctx context.Context, name string) {
	h.accessMu.Lock() // one opening at a time, as ensureRoom
	defer h.accessMu.Unlock()
	h.mu.Lock()
	_, open := h.rooms[name]
	h.mu.Unlock()
	if open {
		return
	}
	r, err := h.loadRoom(ctx, name)
	if err != nil {
		h.log.Warn("a room someone is in could not be opened; not restored", "room", name, "err", err)
		return
	}
	if r.fresh || r.removed {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.rooms[name] != nil {
		return
	}
	h.rooms[name] = r
	h.startRoom(r)
}
