package room

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// What programs need: a session that posts lines as they are, joins an
// existing room without creating one, and learns how long to wait when it
// sends too fast; and read-only views of rooms and members for an identity
// that need not be connected.

// rateError is the refusal of a message sent too fast. It is an *Error
// (errors.As finds it) that also carries the wait.
type rateError struct {
	msg  *Error
	wait time.Duration
}

func (e *rateError) Error() string { return e.msg.msg }
func (e *rateError) Unwrap() error { return e.msg }

func rateLimited(wait time.Duration) error {
	return &rateError{msg: &Error{msg: fmt.Sprintf("slow down: that message was not sent; you can send again in %s", roundUp(wait))}, wait: wait}
}

// RetryAfter reports whether err refused a message for coming too fast, and
// how long to wait before sending it again.
func RetryAfter(err error) (time.Duration, bool) {
	var re *rateError
	if errors.As(err, &re) {
		return re.wait, true
	}
	return 0, false
}

// botLocked reports whether every session of m is a program's.
func (m *member) botLocked() bool {
	if len(m.sessions) == 0 {
		return false
	}
	for s := range m.sessions {
		if !s.bot {
			return false
		}
	}
	return true
}

// WaitOnRate says that whoever posts through this session waits and sends
// a message again when the rate limit refuses it (see RetryAfter), as a
// pipe's lines are delayed, never dropped: such refusals are counted as
// "delayed", not as refused messages (issue 13 item 9).
func (s *Session) WaitOnRate() { s.waits.Store(true) }

// Post sends text to the session's room as a chat message, exactly as
// given: unlike Send, a line that starts with '/' is not a command. It is
// for programs that pipe lines (log lines often start with a path). The
// text is sanitised and rate limited like anything a person sends.
func (s *Session) Post(ctx context.Context, text string) error {
	if err := s.hub.validErr(s.m.id); err != nil { // admin.go
		return err
	}
	return s.post(ctx, KindChat, text)
}

// Enter makes the session show, and post to, the room name ("#name" or
// "name"), joining it when the identity is not in it yet, and creating it
// (open) when it does not exist, as /join does. Unless the session already
// showed the room, a KindEnter event for it follows on Events, after which
// RoomBacklog(name) holds the messages before it and Events continues from
// there.
func (s *Session) Enter(name string) error {
	f, err := roomName(name)
	if err != nil {
		return err
	}
	h := s.hub
	if _, _, err := h.ensureRoom(context.Background(), f, s.m.id, s.Admin(), false); err != nil {
		if errors.Is(err, ErrClosed) {
			return err
		}
		var ue *Error
		if errors.As(err, &ue) { // refused: a room it may not enter does not exist
			return Errorf("there is no #%s (the rooms command lists them)", f)
		}
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	r := h.rooms[f]
	if r == nil || !r.visibleLocked(s.m) {
		return Errorf("there is no #%s (the rooms command lists them)", f)
	}
	if s.room == r {
		return nil
	}
	if r.members[s.m.id] == nil {
		if s.m.quiet {
			s.enterQuietlyLocked(r)
			return nil
		}
		s.joinLocked(r) // registers the session; KindEnter follows
		return nil
	}
	s.room = r
	if _, registered := r.sessions[s]; registered {
		h.deliverLocked(s, Message{Time: h.cfg.Now(), Room: r.name, Kind: KindEnter})
	}
	// Otherwise the session's registration in r is queued, with a
	// KindEnter: every registration in a room other than the one a session
	// connected to carries one.
	return nil
}

// visibleToLocked reports whether identity id (an admin or not; online or not)
// may see r in lists. Hub.mu must be held.
func (r *room) visibleToLocked(id string, admin bool) bool { return r.mayEnterLocked(id, admin) }

// RoomsFor lists the rooms identity id may see, sorted by name: every open
// room, and the private ones it is in or invited to (all of them for an
// admin).
func (h *Hub) RoomsFor(id string, admin bool) []RoomInfo {
	h.mu.Lock()
	out := make([]RoomInfo, 0, len(h.rooms))
	for _, r := range h.rooms {
		if r.visibleToLocked(id, admin) {
			out = append(out, r.infoLocked())
		}
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// roomForLocked returns the room name ("#name" or "name") if identity id may
// see it. A private room it may not see does not exist, as far as it can
// tell. Hub.mu must be held.
func (h *Hub) roomForLocked(name, id string, admin bool) (*room, error) {
	f, err := roomName(name)
	if err != nil {
		return nil, err
	}
	r := h.rooms[f]
	if r == nil || !r.visibleToLocked(id, admin) {
		return nil, Errorf("there is no #%s (the rooms command lists them)", f)
	}
	return r, nil
}

// MembersFor lists the people in the room name, as identity id may see it.
func (h *Hub) MembersFor(name, id string, admin bool) ([]MemberInfo, error) {
	h.mu.Lock()
	r, err := h.roomForLocked(name, id, admin)
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return h.Members(r.name), nil
}

// Recent returns up to n of the newest messages of the room name, oldest
// first, as identity id may see them: from memory, and from the history
// store for what memory no longer holds.
func (h *Hub) Recent(ctx context.Context, name, id string, admin bool, n int) ([]Message, error) {
	if n <= 0 {
		return nil, nil
	}
	h.mu.Lock()
	r, err := h.roomForLocked(name, id, admin)
	var msgs []Message
	if err == nil {
		msgs = append([]Message(nil), r.ring.last(n)...) // last is shared
	}
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if hist := h.cfg.History; hist != nil && len(msgs) < n && (len(msgs) == 0 || msgs[0].Seq > 1) {
		before := uint64(0)
		if len(msgs) > 0 {
			before = msgs[0].Seq
		}
		ctx, cancel := context.WithTimeout(ctx, storeTimeout)
		defer cancel()
		older, err := hist.Before(ctx, r.name, before, n-len(msgs))
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", r.name, err)
		}
		msgs = append(older, msgs...)
	}
	return msgs, nil
}

// listChangedLocked tells every session in r that its member list changed
// without a line in the conversation: a bot (an identity whose only
// sessions are programs, Identity.Bot) posting with `ssh host say` is not a
// visit, so it is not announced as one, yet the lists beside the
// conversation show it (with ⚙) while it runs. id is the identity whose
// entry changed (a front door that sends list changes one entry at a time
// sends that one), or "" when it is not known. Hub.mu must be held.
func (h *Hub) listChangedLocked(r *room, id string) {
	r.membersList = nil
	now := h.cfg.Now()
	for s := range r.sessions {
		h.deliverLocked(s, Message{Time: now, Room: r.name, Kind: KindPresence, FromID: id})
	}
}

// enterQuietlyLocked makes a bot's identity a member of r, as joinLocked
// does, without a join line (and its leaving, at the end of its command,
// has none either: see member.quiet). The others' member lists change.
func (s *Session) enterQuietlyLocked(r *room) {
	m := s.m
	r.members[m.id] = m
	m.rooms[r] = struct{}{}
	s.hub.rosterChangedLocked(m.id)
	for t := range m.sessions {
		r.enqueueLocked(&op{register: t, enter: true})
	}
	s.hub.listChangedLocked(r, m.id)
	s.room = r
}
