package room

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"parley/safetext"
)

// RoomInfo describes a room for lists and headers.
type RoomInfo struct {
	Name    string // without '#'
	Topic   string
	Private bool
	People  int
}

// roomName validates a room name typed as "#name" or "name" and returns its
// folded form.
func roomName(arg string) (string, error) {
	name := strings.TrimPrefix(strings.TrimSpace(arg), "#")
	if err := safetext.ValidateName(name); err != nil {
		return "", Errorf("bad room name %s: %s", safetext.Line("#"+name, 32), strings.Replace(err.Error(), "name", "a room name", 1))
	}
	return RoomKey(name), nil
}

// RoomKey is a room's name as rooms are stored and shown: without the '#',
// lower case. (People's names are compared with safetext.Fold, which also
// joins look-alikes; room names are what people type to find a room.)
func RoomKey(name string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "#"))
}

func (r *room) infoLocked() RoomInfo {
	return RoomInfo{Name: r.name, Topic: r.topic, Private: r.private || r.unknown, People: len(r.members)}
}

// visibleLocked reports whether identity m may see the room in /rooms:
// whether it may enter it.
func (r *room) visibleLocked(m *member) bool { return r.mayEnterLocked(m.id, m.admin()) }

// Rooms lists the rooms the session's identity is in, sorted by name.
func (s *Session) Rooms() []RoomInfo {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]RoomInfo, 0, len(s.m.rooms))
	for r := range s.m.rooms {
		out = append(out, r.infoLocked())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Switch makes the session show and post to a room its identity is in.
func (s *Session) Switch(name string) error {
	f, err := roomName(name)
	if err != nil {
		return err
	}
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[f]
	if r == nil || r.members[s.m.id] == nil {
		return Errorf("you are not in #%s; /join #%s enters it", f, f)
	}
	s.room = r
	return nil
}

// ensureRoom returns the named room, loading it when absent (its access
// first), and creating it, open or private, made by identity id, when the
// store has nothing of it. A room an admin removed opens again only for
// someone its access admits (admin says whether id is an admin). created
// reports a new room. It takes and releases Hub.mu itself: loading does
// I/O.
func (h *Hub) ensureRoom(ctx context.Context, name, id string, admin, private bool) (r *room, created bool, err error) {
	h.mu.Lock()
	if r := h.rooms[name]; r != nil {
		h.mu.Unlock()
		return r, false, nil
	}
	h.mu.Unlock()
	h.accessMu.Lock() // one opening at a time: the access stored is the one applied
	defer h.accessMu.Unlock()
	h.mu.Lock()
	if r := h.rooms[name]; r != nil { // opened meanwhile
		h.mu.Unlock()
		return r, false, nil
	}
	h.mu.Unlock()
	if r, err = h.loadRoom(ctx, name); err != nil {
		return nil, false, err
	}
	// r is not shared yet: no lock needed for its fields.
	var store *RoomAccess
	switch {
	case r.fresh:
		a := RoomAccess{Private: private, Creator: id}
		if private {
			a.Invited = []string{id}
			r.invited[id] = true
		}
		r.private, r.creator = private, id
		store, created = &a, true
	case r.removed:
		if !r.mayEnterLocked(id, admin) {
			return nil, false, r.refusalLocked()
		}
		a := r.accessLocked() // the same access, no longer removed
		store = &a
		r.removed = false
	}
	if store != nil {
		sctx, cancel := context.WithTimeout(ctx, storeTimeout)
		err := h.cfg.Rooms.SetRoomAccess(sctx, name, *store)
		cancel()
		if err != nil {
			return nil, false, fmt.Errorf("room %s: store access: %w", name, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, ErrClosed
	}
	h.rooms[name] = r
	h.startRoom(r)
	return r, created, nil
}

// joinLocked puts the session's identity in r (all its sessions follow)
// and makes r this session's current room. notes are shown to this session
// after the room's backlog (or at once when it already showed the room).
func (s *Session) joinLocked(r *room, notes ...string) {
	m := s.m
	if r.members[m.id] == nil {
		r.members[m.id] = m
		r.membersList = nil
		m.rooms[r] = struct{}{}
		s.hub.rosterChangedLocked(m.id)
		first := true
		for t := range m.sessions {
			o := &op{register: t, enter: true}
			if t == s {
				o.notes = notes
			}
			if first {
				o.msg = r.presenceLocked(Message{Room: r.name, Kind: KindJoin, From: m.name, FromID: m.id})
				first = false
			}
			r.enqueueLocked(o)
		}
		if !s.bot { // a program's visit is not a membership to restore
			s.hub.saveMembershipLocked(m.id, r.name, true)
		}
	} else {
		now := s.hub.cfg.Now()
		for _, n := range notes {
			s.hub.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: n})
		}
	}
	// Already in: only which room this session shows changes. No KindEnter:
	// the screen already holds the room's conversation (and whatever it
	// showed there since), which a backlog as of the first entry would wipe.
	s.room = r
}

func cmdJoin(c *Call) error {
	if c.Args == "" {
		return c.UsageError()
	}
	name, err := roomName(c.Args)
	if err != nil {
		return err
	}
	h, s := c.Hub, c.Session
	r, _, err := h.ensureRoom(c.Ctx, name, s.m.id, s.Admin(), false)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if h.rooms[name] != r {
		return Errorf("#%s was removed just now", name)
	}
	if !r.mayEnterLocked(s.m.id, s.m.admin()) {
		return r.refusalLocked()
	}
	s.joinLocked(r)
	return nil
}

func cmdLeave(c *Call) error {
	h, s := c.Hub, c.Session
	h.mu.Lock()
	defer h.mu.Unlock()
	r := s.room
	if c.Args != "" {
		name, err := roomName(c.Args)
		if err != nil {
			return err
		}
		if r = h.rooms[name]; r == nil || r.members[s.m.id] == nil {
			return Errorf("you are not in #%s", name)
		}
	}
	m := s.m
	if len(m.rooms) <= 1 {
		return Errorf("#%s is your last room: you cannot leave it (/quit leaves the chat)", r.name)
	}
	delete(r.members, m.id)
	r.membersList = nil
	delete(m.rooms, r)
	h.rosterChangedLocked(m.id)
	h.saveMembershipLocked(m.id, r.name, false)
	now := h.cfg.Now()
	for t := range m.sessions {
		delete(r.sessions, t)
		delete(t.backlogs, r.name)
		if t.room == r {
			t.room = m.firstRoom()
			if _, in := m.rooms[h.rooms[RoomKey(h.cfg.DefaultRoom)]]; in {
				t.room = h.rooms[RoomKey(h.cfg.DefaultRoom)]
			}
		}
		// Tells each of their screens to drop the room.
		h.deliverLocked(t, Message{Time: now, Room: r.name, Kind: KindLeave, From: m.name, FromID: m.id})
	}
	if msg := r.presenceLocked(Message{Room: r.name, Kind: KindLeave, From: m.name, FromID: m.id}); msg.Kind != 0 {
		r.enqueueLocked(&op{msg: msg})
	}
	return nil
}

func cmdRoomAdmin(c *Call) error {
	verb, arg := splitWord(c.Args)
	h, s := c.Hub, c.Session
	switch verb {
	case "private", "public":
		name, err := roomName(arg)
		if err != nil {
			return err
		}
		private := verb == "private"
		r, created, err := h.ensureRoom(c.Ctx, name, s.m.id, s.Admin(), private)
		if err != nil {
			return err
		}
		if !created {
			err := h.storeAccess(c.Ctx, r, func(a *RoomAccess) error {
				switch {
				case private && !r.private && !r.unknown && len(r.members) > 0:
					return Errorf("#%s already exists and has people in it; choose another name", name)
				case private && !a.Private:
					a.Private, a.Creator = true, s.m.id
				case !private:
					a.Private = false
				}
				if private && !slices.Contains(a.Invited, s.m.id) {
					a.Invited = append(a.Invited, s.m.id)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if s.closed {
			return ErrClosed
		}
		if h.rooms[name] != r {
			return Errorf("#%s was removed just now", name)
		}
		text := fmt.Sprintf("#%s is private: only people you /invite (and admins) can join.", name)
		if !private {
			text = fmt.Sprintf("#%s is open: anyone can /join it and read its history.", name)
		}
		s.joinLocked(r, text)
		return nil
	case "remove":
		name, err := roomName(arg)
		if err != nil {
			return err
		}
		h.mu.Lock()
		r := h.rooms[name]
		err = nil
		switch {
		case r == nil:
			err = Errorf("there is no #%s", name)
		case name == RoomKey(h.cfg.DefaultRoom):
			err = Errorf("#%s is where everyone starts; it cannot be removed", name)
		}
		h.mu.Unlock()
		if err != nil {
			return err
		}
		// Stored first: a removed room stays closed to those its access
		// does not admit, and is not opened at the next start.
		empty := func(a *RoomAccess) error {
			if n := len(r.members); n > 0 {
				return Errorf("#%s still has %d people in it; it can be removed when it is empty", name, n)
			}
			return nil
		}
		if err := h.storeAccess(c.Ctx, r, func(a *RoomAccess) error { a.Removed = true; return empty(a) }); err != nil {
			return err
		}
		h.mu.Lock()
		if err := empty(nil); err != nil || h.rooms[name] != r { // someone came in meanwhile: undo
			h.mu.Unlock()
			if uerr := h.storeAccess(c.Ctx, r, func(a *RoomAccess) error { return nil }); uerr != nil {
				h.log.Error("room removal could not be undone", "room", name, "err", uerr)
			}
			if err == nil {
				err = Errorf("#%s changed meanwhile; try again", name)
			}
			return err
		}
		delete(h.rooms, name)
		close(r.gone)
		rs := h.cfg.Rooms
		select { // nobody is in a removed room when they come back
		case h.writes <- func(ctx context.Context) {
			if err := rs.DropMemberships(ctx, name); err != nil {
				h.log.Warn("forgetting the members of a removed room failed", "room", name, "err", err)
			}
		}:
		default:
			h.log.Warn("membership writes are backed up; a removed room's were kept", "room", name)
		}
		h.log.Info("room removed", "room", name, "by", s.m.id)
		h.deliverLocked(s, Message{Time: h.cfg.Now(), Kind: KindNotice, Text: fmt.Sprintf("#%s was removed (its history is kept, and so is who may enter it).", name)})
		h.mu.Unlock()
		return nil
	}
	return c.UsageError()
}

func cmdInvite(c *Call) error {
	if c.Args == "" {
		return c.UsageError()
	}
	who, _ := splitWord(c.Args)
	h, s := c.Hub, c.Session
	h.mu.Lock()
	r := s.room
	h.mu.Unlock()
	var id string
	err := h.storeAccess(c.Ctx, r, func(a *RoomAccess) error {
		if r.unknown {
			return r.refusalLocked()
		}
		if !a.Private {
			return Errorf("#%s is open to everyone; invitations are for private rooms (/room private #name)", r.name)
		}
		var ok bool
		id, ok = h.names[safetext.Fold(who)]
		if !ok && h.cfg.Reserved != nil {
			id, ok = h.cfg.Reserved(who)
		}
		if !ok {
			return Errorf("nobody called %s is here or known; they can be invited once they connect", safetext.Line(who, 32))
		}
		if !slices.Contains(a.Invited, id) {
			a.Invited = append(a.Invited, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	if m := h.members[id]; m != nil {
		for t := range m.sessions {
			h.deliverLocked(t, Message{Time: now, Kind: KindNotice, Text: fmt.Sprintf("%s invited you to #%s: /join #%s", s.m.name, r.name, r.name)})
		}
	}
	h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: fmt.Sprintf("%s may now join #%s.", safetext.Line(who, 32), r.name)})
	return nil
}
