package room

import (
	"context"
	"fmt"
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
	return RoomInfo{Name: r.name, Topic: r.topic, Private: r.private, People: len(r.members)}
}

// visibleLocked reports whether identity m may see the room in /rooms.
func (r *room) visibleLocked(m *member) bool {
	_, in := m.rooms[r]
	return !r.private || in || r.invited[m.id] || m.admin()
}

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

// ensureRoom returns the named room, creating (and loading) it when absent.
// It takes and releases Hub.mu itself: loading does I/O.
func (h *Hub) ensureRoom(ctx context.Context, name string, private bool, creator string) (*room, bool, error) {
	h.mu.Lock()
	if r := h.rooms[name]; r != nil {
		h.mu.Unlock()
		return r, false, nil
	}
	h.mu.Unlock()
	r, err := h.loadRoom(ctx, name)
	if err != nil {
		return nil, false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, ErrClosed
	}
	if existing := h.rooms[name]; existing != nil { // created meanwhile
		return existing, false, nil
	}
	r.private = private
	if creator != "" {
		r.invited[creator] = true
	}
	h.rooms[name] = r
	h.startRoom(r)
	return r, true, nil
}

// joinLocked puts the session's identity in r (all its sessions follow)
// and makes r this session's current room.
func (s *Session) joinLocked(r *room) {
	m := s.m
	if r.members[m.id] == nil {
		r.members[m.id] = m
		r.membersList = nil
		m.rooms[r] = struct{}{}
		first := true
		for t := range m.sessions {
			o := &op{register: t, enter: true}
			if first {
				o.msg = r.presenceLocked(Message{Room: r.name, Kind: KindJoin, From: m.name, FromID: m.id})
				first = false
			}
			r.enqueueLocked(o)
		}
	} else {
		// Already in: just show it here.
		s.hub.deliverLocked(s, Message{Time: s.hub.cfg.Now(), Room: r.name, Kind: KindEnter})
	}
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
	r, _, err := c.Hub.ensureRoom(c.Ctx, name, false, "")
	if err != nil {
		return err
	}
	h, s := c.Hub, c.Session
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if r.private && !r.invited[s.m.id] && !s.m.admin() && r.members[s.m.id] == nil {
		return Errorf("#%s is private: ask an admin or a member for an /invite", r.name)
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

func cmdRooms(c *Call) error {
	h, s := c.Hub, c.Session
	h.mu.Lock()
	var list []RoomInfo
	mine := map[string]bool{}
	for _, r := range h.rooms {
		if r.visibleLocked(s.m) {
			list = append(list, r.infoLocked())
			mine[r.name] = r.members[s.m.id] != nil
		}
	}
	h.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	var b strings.Builder
	b.WriteString("Rooms:")
	for _, r := range list {
		fmt.Fprintf(&b, "\n  #%s · %d", r.Name, r.People)
		if r.Private {
			b.WriteString(" · private")
		}
		if mine[r.Name] {
			b.WriteString(" · joined")
		}
		if r.Topic != "" {
			fmt.Fprintf(&b, " · %s", r.Topic)
		}
	}
	b.WriteString("\n/join #name enters a room or creates it.")
	s.Notice(b.String())
	return nil
}

func cmdRoomAdmin(c *Call) error {
	verb, arg := splitWord(c.Args)
	h, s := c.Hub, c.Session
	switch verb {
	case "private":
		name, err := roomName(arg)
		if err != nil {
			return err
		}
		r, created, err := h.ensureRoom(c.Ctx, name, true, s.m.id)
		if err != nil {
			return err
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if !created && !r.private {
			if len(r.members) > 0 {
				return Errorf("#%s already exists and has people in it; choose another name", name)
			}
			r.private = true
		}
		r.invited[s.m.id] = true
		s.joinLocked(r)
		h.deliverLocked(s, Message{Time: h.cfg.Now(), Kind: KindNotice, Text: fmt.Sprintf("#%s is private: only people you /invite (and admins) can join.", name)})
		return nil
	case "remove":
		name, err := roomName(arg)
		if err != nil {
			return err
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		r := h.rooms[name]
		switch {
		case r == nil:
			return Errorf("there is no #%s", name)
		case name == RoomKey(h.cfg.DefaultRoom):
			return Errorf("#%s is where everyone starts; it cannot be removed", name)
		case len(r.members) > 0:
			return Errorf("#%s still has %d people in it; it can be removed when it is empty", name, len(r.members))
		}
		delete(h.rooms, name)
		close(r.gone)
		h.log.Info("room removed", "room", name, "by", s.m.id)
		h.deliverLocked(s, Message{Time: h.cfg.Now(), Kind: KindNotice, Text: fmt.Sprintf("#%s was removed (its history is kept).", name)})
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
	defer h.mu.Unlock()
	r := s.room
	if !r.private {
		return Errorf("#%s is open to everyone; invitations are for private rooms (/room private #name)", r.name)
	}
	id, ok := h.names[safetext.Fold(who)]
	if !ok && h.cfg.Reserved != nil {
		id, ok = h.cfg.Reserved(who)
	}
	if !ok {
		return Errorf("nobody called %s is here or known; they can be invited once they connect", safetext.Line(who, 32))
	}
	r.invited[id] = true
	now := h.cfg.Now()
	if m := h.members[id]; m != nil {
		for t := range m.sessions {
			h.deliverLocked(t, Message{Time: now, Kind: KindNotice, Text: fmt.Sprintf("%s invited you to #%s: /join #%s", s.m.name, r.name, r.name)})
		}
	}
	h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: fmt.Sprintf("%s may now join #%s.", safetext.Line(who, 32), r.name)})
	return nil
}
