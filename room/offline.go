package room

import (
	"context"
	"fmt"

	"parley/safetext"
)

// Private messages to someone who is not connected (issue 13 item 6): the
// name is looked up among the identities the hub knows (online, seen since
// start, named by the operator's key list, or that chose the name with
// /nick), the message is stored, and it is shown to them, with a count,
// when they next connect. What they have been shown is the read mark of
// the room "" (the id of the newest private message a person's session
// was given), saved when a session ends, like the marks of rooms.

// NameIndex is implemented by a Preferences store that can tell who chose
// a name (with /nick) while they are offline.
type NameIndex interface {
	// IdentityByName returns the identity whose saved name is name
	// (ignoring case) and that name as saved; ok is false when nobody's is.
	IdentityByName(ctx context.Context, name string) (id, saved string, ok bool, err error)
}

// maxWaiting is how many waiting private messages are shown at connect;
// older ones are left to /history.
const maxWaiting = 200

// recipient is who a private message goes to: an identity and the name to
// show for it.
type recipient struct{ id, name string }

// resolveRecipient finds the identity called name, online or not.
func (h *Hub) resolveRecipient(ctx context.Context, name string) (recipient, error) {
	f := safetext.Fold(name)
	h.mu.Lock()
	if id, ok := h.names[f]; ok {
		r := recipient{id: id, name: h.lastName[id]}
		if m := h.members[id]; m != nil {
			r.name = m.name
		}
		h.mu.Unlock()
		return r, nil
	}
	if id, ok := h.remoteNames[f]; ok { // on another node (roster.go)
		r := recipient{id: id, name: h.remote[id].info.Name}
		h.mu.Unlock()
		return r, nil
	}
	for id, last := range h.lastName { // seen since start; offline now
		if safetext.Fold(last) == f {
			h.mu.Unlock()
			return recipient{id: id, name: last}, nil
		}
	}
	h.mu.Unlock()
	clean := safetext.Line(name, 32)
	if h.cfg.Reserved != nil {
		if id, ok := h.cfg.Reserved(clean); ok {
			return recipient{id: id, name: clean}, nil
		}
	}
	for _, src := range []any{h.cfg.Prefs, h.cfg.Roster} { // the Roster knows the names used on every node (roster.go)
		ix, ok := src.(NameIndex)
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, storeTimeout)
		id, saved, ok, err := ix.IdentityByName(ctx, clean)
		cancel()
		if err != nil {
			return recipient{}, fmt.Errorf("looking up %q: %w", clean, err)
		}
		if ok && safetext.Fold(saved) == f {
			return recipient{id: id, name: saved}, nil
		}
	}
	return recipient{}, Errorf("nobody called %s is known here; /who lists who is online", clean)
}

// personOnlineLocked reports whether m has a session that a person uses
// (not a program's), other than except.
func (m *member) personOnlineLocked(except *Session) bool {
	for s := range m.sessions {
		if s != except && !s.bot {
			return true
		}
	}
	return false
}

// deliverWaiting shows s the private messages that arrived for its
// identity since it was last shown one, with a notice of how many. It is
// called once a person's first session (not a program's) has connected.
func (h *Hub) deliverWaiting(ctx context.Context, s *Session) {
	p, prefs := h.cfg.Private, h.cfg.Prefs
	marks, shared := p.(PrivateMarks) // kept for every node (roster.go)
	if p == nil || prefs == nil && !shared {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	var mark uint64
	var err error
	if shared {
		mark, err = marks.PrivateMark(ctx, s.m.id)
	} else {
		mark, err = prefs.ReadMark(ctx, s.m.id, "")
	}
	if err != nil {
		h.log.Warn("loading the private read mark failed", "id", s.m.id, "err", err)
		return
	}
	msgs, err := p.PrivateBefore(ctx, s.m.id, 0, maxWaiting)
	if err != nil {
		h.log.Warn("loading waiting private messages failed", "id", s.m.id, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return
	}
	var waiting []Message
	for _, m := range msgs {
		// Not one delivered live since it was read (s.seen).
		if m.ToID == s.m.id && m.FromID != s.m.id && m.Seq > mark && m.Seq > s.seen[""] {
			waiting = append(waiting, m)
		}
	}
	if len(waiting) == 0 {
		return
	}
	text := "1 private message arrived while you were away:"
	if n := len(waiting); n > 1 {
		text = fmt.Sprintf("%d private messages arrived while you were away:", n)
		if n == maxWaiting {
			text = fmt.Sprintf("%d private messages (or more) arrived while you were away; the newest %d follow (/history shows more):", n, n)
		}
	}
	h.deliverLocked(s, Message{Time: h.cfg.Now(), Kind: KindNotice, Text: text})
	for _, m := range waiting {
		h.deliverLocked(s, m)
	}
	s.m.replyTo = waiting[len(waiting)-1].FromID
}
