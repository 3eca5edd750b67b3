package room

import (
	"context"
	"fmt"
	"slices"
	"time"

	"parley/safetext"
)

// What admins do to people in the rooms: find them, mute them, kick them.
// Who may do it, and remembering bans, is the transport's business; these
// methods only act.

// FindMember returns the online person called name (compared with
// safetext.Fold).
func (h *Hub) FindMember(name string) (MemberInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id, ok := h.names[safetext.Fold(name)]
	if !ok {
		return MemberInfo{}, false
	}
	return h.members[id].infoLocked(), true
}

// Member returns the online identity id.
func (h *Hub) Member(id string) (MemberInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[id]
	if m == nil {
		return MemberInfo{}, false
	}
	return m.infoLocked(), true
}

// Kick ends every session of identity id with reason, which they are shown
// and which the rooms see as their leave reason. It returns how many
// sessions it ended.
func (h *Hub) Kick(id, reason string) int {
	n := h.Disconnect(id, reason)
	for i := 0; i < n; i++ {
		h.cfg.Observer.SessionDropped("kicked")
	}
	return n
}

// Notify shows text to every session of identity id, as a notice. It
// returns how many sessions it reached.
func (h *Hub) Notify(id, text string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[id]
	if m == nil {
		return 0
	}
	now := h.cfg.Now()
	for s := range m.sessions {
		h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: text})
	}
	return len(m.sessions)
}

// Mute stops identity id from posting, sending private messages and
// setting topics or away messages, until until (the zero time: until Unmute). It holds
// whether or not they are online, and across their reconnections, for as
// long as the hub runs. Those online are told, with by as who muted them.
func (h *Hub) Mute(id string, until time.Time, by string) {
	h.setMute(id, until, true)
	h.Notify(id, fmt.Sprintf("%s muted you %s: you cannot post, send private messages, or set a topic or an away message.", by, muteTerm(until)))
}

// Unmute lifts a mute and reports whether there was one in force.
func (h *Hub) Unmute(id, by string) bool {
	_, was := h.Muted(id)
	h.setMute(id, time.Time{}, false)
	if !was {
		return false
	}
	h.Notify(id, fmt.Sprintf("%s unmuted you: you can post again.", by))
	return true
}

// setMute changes the mutes: copied on write (mutes are rare, and every
// message reads them), under Hub.mu so that two changes do not lose one.
func (h *Hub) setMute(id string, until time.Time, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	next := make(map[string]time.Time)
	if old := h.mutes.Load(); old != nil {
		for k, v := range *old {
			if v.IsZero() || now.Before(v) { // forget the mutes that ended
				next[k] = v
			}
		}
	}
	if on {
		next[id] = until
	} else {
		delete(next, id)
	}
	h.mutes.Store(&next)
}

// Muted reports whether identity id is muted now, and until when (the zero
// time: until unmuted). It takes no lock: it runs for every message.
func (h *Hub) Muted(id string) (until time.Time, muted bool) {
	m := h.mutes.Load()
	if m == nil {
		return time.Time{}, false
	}
	until, ok := (*m)[id]
	if !ok || (!until.IsZero() && !h.cfg.Now().Before(until)) {
		return time.Time{}, false
	}
	return until, true
}

// mutedErr is the error shown to a muted person who tries to speak.
func (h *Hub) mutedErr(id string) error {
	until, muted := h.Muted(id)
	if !muted {
		return nil
	}
	h.cfg.Observer.MessageRefused("muted")
	return Errorf("you are muted %s: not sent", muteTerm(until))
}

// muteTerm says how long a mute lasts: "until 15:04 UTC" or "until an
// admin unmutes you".
func muteTerm(until time.Time) string {
	if until.IsZero() {
		return "until an admin unmutes you"
	}
	return "until " + until.UTC().Format("2006-01-02 15:04 UTC")
}

// adminFunc returns the member's admin check for id: Config.Admin asked at
// every use, or, without it, the flag given at connect.
func (h *Hub) adminFunc(id Identity) func() bool {
	if ask := h.cfg.Admin; ask != nil {
		who := id.ID
		return func() bool { return ask(who) }
	}
	admin := id.Admin
	return func() bool { return admin }
}

// RightsChanged applies a change of who is an admin (Config.Admin answers
// differently now) to the people online: the member lists of those whose
// answer changed are built again (the @ marks), and whoever is in a private
// room only by being an admin, and is no longer one, is taken out of it and
// told why. Their screens drop the room as after /leave; someone for whom it
// was the last room is put in the default room first. It returns how many
// people were taken out of a room.
func (h *Hub) RightsChanged() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0
	}
	evicted := 0
	now := h.cfg.Now()
	for _, m := range h.members {
		admin := m.admin()
		if admin != m.adminShown {
			m.adminShown = admin
			h.presenceChangedLocked(m) // their lists show the @ again, or no longer
			for s := range m.sessions {
				h.deliverLocked(s, Message{Time: now, Kind: KindPresence})
			}
		}
		if admin {
			continue
		}
		var out []*room
		for r := range m.rooms {
			if (r.private && !r.invited[m.id]) || r.unknown { // in only as an admin
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			continue
		}
		evicted++
		for _, r := range out {
			if len(m.rooms) == 1 {
				h.enterDefaultLocked(m)
			}
			h.removeFromRoomLocked(m, r, now)
		}
	}
	return evicted
}

// enterDefaultLocked puts m in the default room (all its sessions follow),
// quietly when it is there already.
func (h *Hub) enterDefaultLocked(m *member) {
	lobby := h.rooms[RoomKey(h.cfg.DefaultRoom)]
	if lobby == nil || lobby.members[m.id] != nil {
		return
	}
	for s := range m.sessions {
		room := s.room
		s.joinLocked(lobby)
		s.room = room // removeFromRoomLocked moves the screens
		return
	}
}

// removeFromRoomLocked takes m out of the private room r because m is no
// longer an admin: like /leave, with a notice to each of m's sessions.
func (h *Hub) removeFromRoomLocked(m *member, r *room, now time.Time) {
	h.evictLocked(m, r, now,
		fmt.Sprintf("You left #%s: it is private and your key is no longer an admin key (an /invite lets you back in).", r.name),
		"no longer an admin")
	h.log.Info("took a former admin out of a private room", "id", m.id, "room", r.name)
}

// evictLocked takes m out of room r, which no longer admits it: like
// /leave, with notice shown to each of m's sessions and why as the leave
// reason the room sees.
func (h *Hub) evictLocked(m *member, r *room, now time.Time, notice, why string) {
	delete(r.members, m.id)
	r.membersList = nil
	delete(m.rooms, r)
	h.rosterChangedLocked(m.id)
	h.saveMembershipLocked(m.id, r.name, false)
	lobby := h.rooms[RoomKey(h.cfg.DefaultRoom)]
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
		h.deliverLocked(t, Message{Time: now, Kind: KindNotice, Text: notice})
	}
	if msg := r.presenceLocked(Message{Room: r.name, Kind: KindLeave, From: m.name, FromID: m.id, Text: why}); msg.Kind != 0 {
		r.enqueueLocked(&op{msg: msg})
	}
}

// KnownName returns the display name identity id has now (online), or had
// last (since the hub started, or as saved with its preferences), so that
// admins can name someone who changed their name and left. It takes
// Hub.mu briefly and may read the Preferences store without it.
func (h *Hub) KnownName(id string) (string, bool) {
	h.mu.Lock()
	if m := h.members[id]; m != nil {
		name := m.name
		h.mu.Unlock()
		return name, true
	}
	name, ok := h.lastName[id]
	h.mu.Unlock()
	if ok || h.cfg.Prefs == nil {
		return name, ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	settings, err := h.cfg.Prefs.Settings(ctx, id)
	if err != nil {
		h.log.Warn("reading a saved name failed", "id", id, "err", err)
		return "", false
	}
	name = settings["nick"]
	return name, name != ""
}

// validErr asks Config.Valid whether identity id may still act, and
// refuses with its reason when not.
func (h *Hub) validErr(id string) error {
	if h.cfg.Valid == nil {
		return nil
	}
	if err := h.cfg.Valid(id); err != nil {
		return Errorf("%v: not sent", err)
	}
	return nil
}

// RoomsSeenBy returns the names of the rooms identity id is in now that
// identity viewer (an admin or not) may see, sorted: a private room the
// viewer may not enter is never named.
func (h *Hub) RoomsSeenBy(id, viewer string, viewerAdmin bool) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[id]
	if m == nil {
		return nil
	}
	var out []string
	for r := range m.rooms {
		if r.visibleToLocked(viewer, viewerAdmin) {
			out = append(out, r.name)
		}
	}
	slices.Sort(out)
	return out
}
