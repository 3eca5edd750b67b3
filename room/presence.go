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
