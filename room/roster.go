package room

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"parley/safetext"
)

// Presence across nodes (issue 15). A hub knows the people connected to
// it; when several hubs share their rooms (a Log shared with other
// processes), a Roster tells each hub who is online on the others, and
// holds the names people use, so that:
//
//   - member lists and /who show everyone in the room, on every node, once
//     (an identity connected to two nodes is one line, its sessions added);
//   - a join line is written only when a person arrives where they were
//     nowhere before, and a leave line only when their last session
//     anywhere ends;
//   - two people on two nodes cannot hold the same name: a name is claimed
//     through the Roster before it is used (Roster.ClaimName), and the
//     loser is told;
//   - a private message finds its recipient on any node.
//
// The hub tells its Roster what it shows of each local identity
// (Presence) from one goroutine of its own (rosterLoop), never with Hub.mu
// held, and the Roster tells the hub who is on the other nodes through the
// function given to Watch, which takes Hub.mu. Without a Roster
// (Config.Roster nil) a hub is alone, as before: nothing is published and
// every name is claimed at once.

// Presence is what one node shows of one identity: the line a member list
// draws for it, and the rooms it is in there.
type Presence struct {
	// Node names the node that reported it; set by the Roster for remote
	// entries, empty for the hub's own.
	Node string
	ID   string
	Name string
	// Rooms are the folded names of the rooms the identity is in on that
	// node.
	Rooms    []string
	Away     string
	Admin    bool
	Bot      bool
	Sessions int // 0: the identity has left that node
	// Renamed is when Name was chosen there: the newest name of an
	// identity wins on every node.
	Renamed time.Time
	Since   time.Time
	// LastActive is when the identity last spoke on that node.
	LastActive time.Time
}

// Roster shares who is online with the other nodes (package natslog
// implements it over JetStream KV).
type Roster interface {
	// Publish records this node's view of identity p.ID (Sessions 0: it
	// left). It is called from the hub's roster goroutine, never with
	// Hub.mu held, in the order things changed; it should not wait long.
	Publish(p Presence)
	// Watch gives the function the Roster calls with everyone online on
	// the other nodes, each time that changes. f takes Hub.mu: the Roster
	// must call it without holding a lock the hub could wait on (Publish,
	// ClaimName, ReleaseName).
	Watch(f func(remote []Presence))
	// ClaimName makes name (compared folded) identity id's across nodes,
	// or returns a user-facing *Error when someone else holds it. Any
	// other error means the claim could not be made (NATS unreachable).
	// It is called without Hub.mu.
	ClaimName(ctx context.Context, name, id string) error
	// ReleaseName gives up id's claim on name. It is called from the
	// hub's roster goroutine, never with Hub.mu held.
	ReleaseName(name, id string)
}

// A Roster that is also a NameIndex tells who last used a name on any
// node, so that a private message finds someone offline who was only ever
// on another node.

// PrivateFeed is implemented by a PrivateHistory that several nodes share:
// the hub subscribes at New, and a private message is shown to the
// sessions of its sender and recipient on this node when it arrives
// through the feed (in the store's order), not when it is stored, so that
// every node shows it the same way.
type PrivateFeed interface {
	// SubscribePrivate delivers every private message stored from now on,
	// in order, with Seq set, until stop is called.
	SubscribePrivate(deliver func(Message)) (stop func(), err error)
}

// PrivateMarks is implemented by a PrivateHistory that keeps how far each
// identity has been shown its private messages (the read mark of the room
// "", offline.go) for every node; without it, Preferences keeps it.
type PrivateMarks interface {
	PrivateMark(ctx context.Context, identity string) (uint64, error)
	// SetPrivateMark raises the mark to seq (never lowers it).
	SetPrivateMark(ctx context.Context, identity string, seq uint64) error
}

// remoteMember is one identity online on other nodes, merged across them.
type remoteMember struct {
	info    MemberInfo
	rooms   map[string]bool
	renamed time.Time // when info.Name was chosen: the newest of the nodes'
}

// presenceLocked is what this node shows of m, for the Roster.
func (m *member) presenceLocked() Presence {
	p := Presence{ID: m.id, Name: m.name, Away: m.away, Admin: m.admin(), Bot: m.botLocked(),
		Sessions: len(m.sessions), Renamed: m.nameAt, Since: m.since, LastActive: m.lastActive}
	for r := range m.rooms {
		p.Rooms = append(p.Rooms, r.name)
	}
	sort.Strings(p.Rooms)
	return p
}

// rosterChangedLocked notes that what this node shows of identity id
// changed, for rosterLoop to publish.
func (h *Hub) rosterChangedLocked(id string) {
	if h.cfg.Roster == nil {
		return
	}
	h.rosterDirty[id] = struct{}{}
	h.wakeRosterLocked()
}

// releaseNameLocked queues the release of id's claim on name, unless the
// identity is online on another node (which may still show the name).
func (h *Hub) releaseNameLocked(name, id string) {
	if h.cfg.Roster == nil || h.remote[id] != nil {
		return
	}
	h.rosterFree = append(h.rosterFree, [2]string{name, id})
	h.wakeRosterLocked()
}

// unclaimLocked queues the release of a claim that was made and not used
// (a /nick refused after its claim); no-op without a Roster.
func (h *Hub) unclaimLocked(name, id string) {
	if h.cfg.Roster == nil {
		return
	}
	h.rosterFree = append(h.rosterFree, [2]string{name, id})
	h.wakeRosterLocked()
}

func (h *Hub) wakeRosterLocked() {
	select {
	case h.rosterWake <- struct{}{}:
	default:
	}
}

// rosterLoop is the goroutine that publishes what changed to the Roster,
// outside Hub.mu; it ends at Close.
func (h *Hub) rosterLoop() {
	for {
		select {
		case <-h.rosterWake:
		case <-h.quit:
			return
		}
		h.mu.Lock()
		ps := make([]Presence, 0, len(h.rosterDirty))
		for id := range h.rosterDirty {
			if m := h.members[id]; m != nil {
				ps = append(ps, m.presenceLocked())
			} else {
				ps = append(ps, Presence{ID: id})
			}
		}
		clear(h.rosterDirty)
		free := h.rosterFree
		h.rosterFree = nil
		h.mu.Unlock()
		for _, p := range ps {
			h.cfg.Roster.Publish(p)
		}
		for _, f := range free {
			h.cfg.Roster.ReleaseName(f[0], f[1])
		}
	}
}

// remoteChangesNamed is how many changed entries of one room's member
// list setRemote names one by one (a KindPresence each, with FromID); more,
// and one KindPresence without FromID says the whole list changed. A web
// page is sent what a KindPresence names: the whole list of a room of
// thousands after every speaker's minute turned on another node cost each
// page its whole list several times a minute.
const remoteChangesNamed = 8

// setRemote takes the Roster's news of who is on the other nodes: the
// member lists of the rooms whose people changed are built again, and
// their screens told (a KindPresence each).
func (h *Hub) setRemote(remote []Presence) {
	merged := make(map[string]*remoteMember, len(remote))
	for _, p := range remote {
		if p.Sessions <= 0 || p.ID == "" {
			continue
		}
		rm := merged[p.ID]
		if rm == nil {
			rm = &remoteMember{info: MemberInfo{ID: p.ID, Name: safetext.Line(p.Name, 64), Bot: true, Since: p.Since}, rooms: map[string]bool{}, renamed: p.Renamed}
			merged[p.ID] = rm
		}
		i := &rm.info
		if p.Renamed.After(rm.renamed) {
			i.Name, rm.renamed = safetext.Line(p.Name, 64), p.Renamed
		}
		i.Admin = i.Admin || p.Admin
		i.Bot = i.Bot && p.Bot
		if i.Away == "" {
			i.Away = safetext.Line(p.Away, 80)
		}
		i.Sessions += p.Sessions
		if p.Since.Before(i.Since) {
			i.Since = p.Since
		}
		if p.LastActive.After(i.LastActive) {
			i.LastActive = p.LastActive
		}
		for _, r := range p.Rooms {
			rm.rooms[r] = true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	changed := map[string]map[string]bool{} // room -> the identities whose entries changed there
	note := func(room, id string) {
		if changed[room] == nil {
			changed[room] = map[string]bool{}
		}
		changed[room][id] = true
	}
	for id, old := range h.remote {
		if nw := merged[id]; nw == nil || nw.info != old.info || !maps(nw.rooms, old.rooms) {
			for r := range old.rooms {
				note(r, id)
			}
		}
	}
	for id, nw := range merged {
		if old := h.remote[id]; old == nil || nw.info != old.info || !maps(nw.rooms, old.rooms) {
			for r := range nw.rooms {
				note(r, id)
			}
		}
	}
	h.remote = merged
	clear(h.remoteNames)
	for id, rm := range merged {
		h.remoteNames[safetext.Fold(rm.info.Name)] = id
	}
	for name, ids := range changed {
		r := h.rooms[name]
		if r == nil {
			continue
		}
		if len(ids) > remoteChangesNamed {
			h.listChangedLocked(r, "") // many: read the whole list again
			continue
		}
		for id := range ids { // few: each named, so a page sends that entry, not the list
			h.listChangedLocked(r, id)
		}
	}
	for id, rm := range merged {
		if m := h.members[id]; m != nil && rm.info.Name != m.name && rm.renamed.After(m.nameAt) {
			h.adoptNameLocked(m, rm.info.Name, rm.renamed)
		}
	}
}

// adoptNameLocked gives m the name its identity chose later on another
// node (/nick there): the line in the rooms came from that node; here its
// sessions are told, and the lists and the saved name follow.
func (h *Hub) adoptNameLocked(m *member, name string, at time.Time) {
	f := safetext.Fold(name)
	if owner, ok := h.names[f]; ok && owner != m.id {
		h.log.Warn("a name chosen on another node is held here by someone else", "id", m.id, "other", owner)
		return
	}
	old := m.name
	if h.names[safetext.Fold(old)] == m.id {
		delete(h.names, safetext.Fold(old))
	}
	h.unclaimLocked(old, m.id)
	h.names[f] = m.id
	h.lastName[m.id] = name
	m.name, m.nameAt = name, at
	m.listsChangedLocked()
	id := m.id
	h.savePrefLocked(func(ctx context.Context, p Preferences) error { return p.SetSetting(ctx, id, "nick", name) })
	now := h.cfg.Now()
	for s := range m.sessions {
		h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: fmt.Sprintf("You are now %s (renamed in another session).", name)})
	}
}

// nameAtLocked is when the name an identity arrives with was chosen: when
// it has that name on another node already, then; otherwise now.
func (h *Hub) nameAtLocked(id, name string) time.Time {
	if rm := h.remote[id]; rm != nil && rm.info.Name == name {
		return rm.renamed
	}
	return h.cfg.Now()
}

func maps(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// elsewhereLocked reports whether identity id is online on another node
// as a person (not only as a program).
func (h *Hub) elsewhereLocked(id string) bool {
	rm := h.remote[id]
	return rm != nil && !rm.info.Bot
}

// mergeRemoteLocked adds to out (r's local members) the people in r on
// other nodes; an identity on both is one entry with their sessions added.
func (h *Hub) mergeRemoteLocked(r *room, out []MemberInfo) []MemberInfo {
	var local map[string]int // ID -> index in out, made when first needed
	for id, rm := range h.remote {
		if !rm.rooms[r.name] {
			continue
		}
		if local == nil {
			local = make(map[string]int, len(out))
			for i, m := range out {
				local[m.ID] = i
			}
		}
		i, ok := local[id]
		if !ok {
			out = append(out, rm.info)
			continue
		}
		mergeRemote(&out[i], rm)
	}
	return out
}

// mergeRemote adds to l, an identity's entry from this node, what its
// sessions on other nodes add: one entry for a person on several nodes.
func mergeRemote(l *MemberInfo, rm *remoteMember) {
	l.Sessions += rm.info.Sessions
	l.Bot = l.Bot && rm.info.Bot
	if l.Away == "" {
		l.Away = rm.info.Away
	}
	if rm.info.Since.Before(l.Since) {
		l.Since = rm.info.Since
	}
	if rm.info.LastActive.After(l.LastActive) {
		l.LastActive = rm.info.LastActive
	}
}

// claimName picks the name an identity that is not connected here yet
// will use, and claims it through the Roster, trying the next candidate
// when another node's person holds one. It returns "" when the identity is
// already here (its name is held) or there is no Roster.
func (h *Hub) claimName(ctx context.Context, id Identity) (name, note string) {
	if h.cfg.Roster == nil {
		return "", ""
	}
	refused := map[string]error{}
	for range 8 {
		h.mu.Lock()
		if h.members[id.ID] != nil {
			h.mu.Unlock()
			return "", ""
		}
		name, note = h.pickNameLocked(id, refused)
		h.mu.Unlock()
		err := h.cfg.Roster.ClaimName(ctx, name, id.ID)
		if err == nil {
			return name, note
		}
		var ue *Error
		if !errors.As(err, &ue) {
			// NATS is unreachable: nobody can claim anything now, and
			// the room cannot be written either; let them in.
			h.log.Warn("claiming a name failed; using it unclaimed", "id", id.ID, "err", err)
			return name, note
		}
		refused[safetext.Fold(name)] = ue
	}
	return "", ""
}

// takenElsewhereLocked reports the error for a name held by a person on
// another node, or nil.
func (h *Hub) takenElsewhereLocked(name, id string) error {
	owner, ok := h.remoteNames[safetext.Fold(name)]
	if !ok || owner == id {
		return nil
	}
	if rm := h.remote[owner]; rm != nil && !strings.EqualFold(rm.info.Name, name) {
		return Errorf("%s looks too much like %s, who is on another node", name, rm.info.Name)
	}
	return Errorf("%s is already taken by someone on another node", name)
}

// deliverPrivate shows a private message that the PrivateFeed delivered
// to the sessions on this node of its sender and its recipient, and no
// one else's; one a session was already shown (as waiting, at connect) is
// not shown again.
func (h *Hub) deliverPrivate(m Message) {
	if m.Kind != KindPrivate || m.ToID == "" || m.FromID == "" || m.ToID == m.FromID {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, id := range []string{m.ToID, m.FromID} {
		who := h.members[id]
		if who == nil {
			continue
		}
		for t := range who.sessions {
			if t.seen[""] < m.Seq {
				h.deliverLocked(t, m)
			}
		}
		if id == m.ToID {
			who.replyTo = m.FromID
		}
	}
}
