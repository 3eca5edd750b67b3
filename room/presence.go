package room

import (
	"fmt"
	"strings"
	"time"
)

// Joins and leaves of many people at once (a class arriving, everyone
// reconnecting after a restart) would otherwise put a line per person on
// every screen: N arrivals cost N x N deliveries, and a screen that falls
// behind is disconnected, which is one more leave for everyone. Each room
// announces presence individually up to a burst, then, while the burst is
// spent, together once a second: "alice, bob, carol and 45 others joined".
// An announcement of several people has From "" and the names in Text.
const (
	presenceBurst = 20              // individual joins/leaves before grouping
	presenceRate  = 5.0             // per second, refilling the burst
	presenceEvery = 1 * time.Second // how often grouped ones are announced
	presenceNames = 3               // names a grouped announcement lists
)

// presence is a room's budget and what waits for the next grouped
// announcement. Guarded by Hub.mu.
type presence struct {
	tokens float64
	at     time.Time
	armed  bool // a flush is scheduled
	joins  pending
	leaves pending
}

type pending struct {
	names []string // the first presenceNames
	n     int
}

func (p *pending) add(name string) {
	if len(p.names) < presenceNames {
		p.names = append(p.names, name)
	}
	p.n++
}

// text is "alice", "alice and bob", or "alice, bob, carol and 45 others".
func (p *pending) text() string {
	switch {
	case p.n == 1:
		return p.names[0]
	case p.n <= presenceNames:
		return strings.Join(p.names[:p.n-1], ", ") + " and " + p.names[p.n-1]
	}
	if others := p.n - len(p.names); others > 1 {
		return strings.Join(p.names, ", ") + fmt.Sprintf(" and %d others", others)
	}
	return strings.Join(p.names, ", ") + " and 1 other"
}

// presenceLocked returns the message that announces m joining or leaving
// now, or a zero Message when it is grouped into the next announcement.
func (r *room) presenceLocked(m Message) Message {
	p := &r.presence
	now := r.hub.cfg.Now()
	if p.at.IsZero() {
		p.tokens = presenceBurst
	} else {
		p.tokens = min(presenceBurst, p.tokens+now.Sub(p.at).Seconds()*presenceRate)
	}
	p.at = now
	if p.tokens >= 1 && p.joins.n == 0 && p.leaves.n == 0 {
		p.tokens--
		return m
	}
	if m.Kind == KindJoin {
		p.joins.add(m.From)
	} else {
		p.leaves.add(m.From)
	}
	if !p.armed {
		p.armed = true
		h := r.hub
		time.AfterFunc(presenceEvery, func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			r.flushPresenceLocked()
		})
	}
	return Message{}
}

// flushPresenceLocked announces the grouped joins and leaves.
func (r *room) flushPresenceLocked() {
	p := &r.presence
	p.armed = false
	for _, g := range []struct {
		kind Kind
		p    *pending
	}{{KindJoin, &p.joins}, {KindLeave, &p.leaves}} {
		if g.p.n > 0 {
			r.enqueueLocked(&op{msg: Message{Room: r.name, Kind: g.kind, Text: g.p.text()}})
			*g.p = pending{}
		}
	}
}

// Member lists show how long each person has been idle, in minutes. Screens
// draw only when something arrives, so a quiet room's lists would keep the
// idle times they were drawn with: once a minute (just after the minute
// turns, when those times change), every room where someone's idle time
// shows gets a KindPresence for each session, which draws the list again.
// One goroutine for the hub; nothing for a room where nobody shows idle.

// idleEvery is how often member lists are woken to show idle times.
const idleEvery = time.Minute

// idleTicker is the goroutine that wakes member lists; it ends at Close.
func (h *Hub) idleTicker() {
	every := h.idleEvery
	for {
		now := h.cfg.Now()
		wait := now.Truncate(every).Add(every + time.Second).Sub(now) // just after the turn
		t := time.NewTimer(wait)
		select {
		case <-h.quit:
			t.Stop()
			return
		case <-t.C:
		}
		h.wakeIdleLists()
	}
}

// wakeIdleLists sends a KindPresence to every session of each room whose
// member list shows an idle time that changed.
func (h *Hub) wakeIdleLists() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	for _, r := range h.rooms {
		if r.idleShowsLocked(now) {
			for s := range r.sessions {
				h.deliverLocked(s, Message{Time: now, Room: r.name, Kind: KindPresence, Text: PresenceIdle})
			}
		}
	}
}

// idleShowsLocked reports whether a member list of r shows an idle time
// that changed in the last minute: someone idle for 1 to 60 minutes (shown
// in minutes), or whose hours just turned.
func (r *room) idleShowsLocked(now time.Time) bool {
	if len(r.sessions) == 0 {
		return false
	}
	for _, m := range r.members {
		if m.away != "" {
			continue // shown as away, not idle
		}
		d := now.Sub(m.lastActive)
		if d >= time.Minute && d < 48*time.Hour && (d < time.Hour+time.Minute || d%time.Hour < time.Minute) {
			return true
		}
	}
	return false
}
