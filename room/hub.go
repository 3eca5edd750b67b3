package room

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/safetext"
)

// Defaults for Config fields left zero.
const (
	DefaultRoom      = "lobby"
	DefaultRingSize  = 500
	DefaultBacklog   = 50
	DefaultQueueSize = 512
	// DefaultQueueBytes is Config.QueueBytes when left zero: 1 MiB.
	DefaultQueueBytes = 1 << 20
	maxBatch          = 256
)

// ErrClosed is returned once the hub or the session has been closed.
var ErrClosed = errors.New("room: closed")

// Config holds what a Hub needs. Zero fields take the defaults above.
type Config struct {
	// DefaultRoom is the room everyone starts in, without the '#'.
	DefaultRoom string
	// RingSize is how many recent messages each room keeps in memory.
	RingSize int
	// Backlog is how many recent messages a newcomer is shown on join.
	Backlog int
	// QueueSize bounds each session's outgoing queue (what was delivered to
	// the session and its transport has not taken yet with Receive or
	// Events), in messages. A session whose queue would overflow is
	// disconnected, so that a reader that has stopped never holds up the
	// room. The queue holds no memory while empty: this is a bound, not a
	// size allocated up front.
	QueueSize int
	// QueueBytes bounds each session's outgoing queue by the approximate
	// memory of the messages in it: the length of their text fields (Room,
	// From, FromID, To, ToID, Text) plus a fixed overhead per message (the
	// size of a Message). A session whose queue would overflow is
	// disconnected, as for QueueSize; a message alone in an empty queue is
	// accepted whatever its size.
	QueueBytes int
	// History stores messages durably; nil keeps them in memory only.
	History History
	// Log orders, commits and delivers the rooms' messages (log.go). Nil
	// means NewHistoryLog(History): today's in-process sequencer, which
	// commits to History. A Log shared with other processes makes their
	// messages arrive in this hub's rooms like local ones.
	Log Log
	// Private stores private messages; nil keeps them nowhere. One that
	// is a PrivateFeed is shared with other nodes (roster.go).
	Private PrivateHistory
	// Roster shares who is online and their names with the other nodes
	// that share Log (roster.go); nil: this hub is alone.
	Roster Roster
	// Search backs /search; nil turns it off.
	Search Searcher
	// Prefs keeps names, away marks, settings and read marks across
	// connections; nil forgets them when the person leaves.
	Prefs Preferences
	// Rooms keeps who may enter each room and who is in it across
	// restarts; nil keeps them in memory (NewMemoryRooms).
	Rooms RoomStore
	// Admin reports whether identity id is an admin now. It is asked at
	// every use of an admin right (admin commands, private rooms, the @
	// mark), never cached, so that a key demoted or expired while its
	// sessions are open loses the rights at once. It is called with Hub.mu
	// held: it must not wait or call the hub. Nil means Identity.Admin as
	// given at connect.
	Admin func(id string) bool
	// Valid reports why identity id may no longer act (its key was removed
	// or has expired), or nil. It is asked before anything a session sends
	// (Send, Post), without Hub.mu; the error's text is shown to the
	// person. The transport also disconnects such an identity (Disconnect):
	// this only closes the moments in between. Nil means always valid.
	Valid func(id string) error
	// Reserved reports whether a name belongs to a particular identity (for
	// example a name given to a key by the operator), so that nobody else may
	// take it. Nil means no name is reserved.
	Reserved func(name string) (ownerID string, ok bool)
	// MOTD returns the message of the day shown on join ("" for none).
	MOTD func() string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives operational events; nil discards them.
	Logger *slog.Logger
	// Observer receives counts for metrics; nil discards them.
	Observer Observer
	// MessageLimit, when set, refuses messages (room and private) from an
	// identity that sends too fast; the sender is told to slow down.
	MessageLimit Limiter
	// NoticeLimit, when set, drops join, leave and rename notices of an
	// identity that produces too many (a reconnect loop); membership still
	// changes, only the notice is not shown.
	NoticeLimit Limiter
}

// Limiter decides whether an identity may do something now.
type Limiter interface {
	Allow(id string) (ok bool, retryAfter time.Duration)
}

// Identity is who a transport has authenticated.
type Identity struct {
	// ID is stable per person: parley uses the key's SHA256 fingerprint.
	ID string
	// Name is the preferred display name; it is validated and may be
	// replaced (with a notice) when invalid or taken.
	Name string
	// Admin grants the commands marked AdminOnly, when Config.Admin is nil
	// (otherwise Config.Admin is asked at every use).
	Admin bool
	// Bot marks a session that a program runs (ssh host COMMAND) rather
	// than a person at a terminal; see MemberInfo.Bot.
	Bot bool
}

// Hub holds every room and everyone connected. Create it with New and stop it
// with Close.
type Hub struct {
	cfg                    Config
	log                    *slog.Logger
	commands               *Registry
	quit                   chan struct{}              // closed when the rooms should finish and stop
	wg                     sync.WaitGroup             // the rooms' sequencers
	writes                 chan func(context.Context) // preference writes, done by one goroutine in order
	writerQuit, writerDone chan struct{}
	// accessMu serialises opening rooms and changing their access, with
	// the store writes that go with them (access.go). Taken before mu;
	// held across I/O, so only those changes ever wait on it.
	accessMu sync.Mutex

	// mu guards everything below, and the mutable fields of every member,
	// room and Session. It is never held while waiting on anything.
	mu          sync.Mutex
	closed      bool
	members     map[string]*member // online identities by ID
	names       map[string]string  // folded name -> ID of the online member using it
	lastName    map[string]string  // ID -> the name last used, so a reconnect keeps it
	rooms       map[string]*room
	mutes       atomic.Pointer[map[string]time.Time] // ID -> muted until (zero: until unmuted); copied on write under mu; see admin.go
	nextSession uint64

	// node is this hub's RecordID.Node, and storeObserved whether Log
	// appends are reported as StoreLatency (there is a store or a Log
	// given). Both are set by New and never change.
	node          uint64
	storeObserved bool

	// eventsGrace is the constant of that name; tests shorten it before
	// anyone connects. Read by Events goroutines without a lock.
	eventsGrace time.Duration
	// idleEvery is the constant of that name (presence.go), set before the
	// goroutine that reads it starts.
	idleEvery time.Duration

	// Presence across nodes (roster.go), guarded by mu. rosterWake wakes
	// rosterLoop; privateFeed is whether private messages are shown as the
	// feed delivers them (set by New); stopPrivate ends the feed (Close).
	rosterDirty map[string]struct{}      // identities whose Presence changed since rosterLoop last ran
	rosterFree  [][2]string              // name claims to release: name, identity
	rosterWake  chan struct{}            // capacity 1
	remote      map[string]*remoteMember // identities online on other nodes, merged
	remoteNames map[string]string        // folded name -> ID, of remote
	privateFeed bool
	stopPrivate func()
}

// member is one online identity. Guarded by Hub.mu.
type member struct {
	hub        *Hub
	id         string
	name       string
	nameAt     time.Time   // when name was chosen (Connect, /nick), for the newest to win across nodes (roster.go)
	admin      func() bool // asked at every use (Config.Admin); set at creation
	adminShown bool        // admin() when member lists last learned of it: for RightsChanged to tell a change, never to decide a right
	away       string
	since      time.Time // connected since
	lastActive time.Time
	replyTo    string // ID of the last person in a private conversation with them
	sessions   map[*Session]struct{}
	rooms      map[*room]struct{} // the rooms the identity is in (all its sessions follow)
	quiet      bool               // arrived as a program (ssh host say): no join line, so no leave line (bots.go)
}

// listsChangedLocked drops the member lists of m's rooms after something
// they show of m changed; the next Members call builds them again. Only
// those rooms: a crowd leaving the lobby must not make a quiet room's
// screens each fetch (and keep) a fresh copy of an unchanged list.
func (m *member) listsChangedLocked() {
	m.hub.rosterChangedLocked(m.id)
	for r := range m.rooms {
		r.membersList = nil
	}
}

// New creates a hub with its default room and starts the room's sequencer.
func New(cfg Config) (*Hub, error) {
	if cfg.DefaultRoom == "" {
		cfg.DefaultRoom = DefaultRoom
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = DefaultBacklog
	}
	if cfg.Backlog > cfg.RingSize {
		cfg.Backlog = cfg.RingSize
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	if cfg.Rooms == nil {
		cfg.Rooms = NewMemoryRooms()
	}
	if err := safetext.ValidateName(cfg.DefaultRoom); err != nil {
		return nil, fmt.Errorf("default room %q: %w", cfg.DefaultRoom, err)
	}
	storeObserved := cfg.History != nil || cfg.Log != nil
	if cfg.Log == nil {
		cfg.Log = NewHistoryLog(cfg.History)
	}
	h := &Hub{
		cfg:           cfg,
		log:           cfg.Logger,
		commands:      builtinCommands(),
		quit:          make(chan struct{}),
		writes:        make(chan func(context.Context), 4096),
		writerQuit:    make(chan struct{}),
		writerDone:    make(chan struct{}),
		members:       make(map[string]*member),
		names:         make(map[string]string),
		lastName:      make(map[string]string),
		rooms:         make(map[string]*room),
		node:          newNode(),
		storeObserved: storeObserved,
		rosterDirty:   make(map[string]struct{}),
		rosterWake:    make(chan struct{}, 1),
		remote:        make(map[string]*remoteMember),
		remoteNames:   make(map[string]string),
	}
	h.eventsGrace = eventsGrace
	r, err := h.loadRoom(context.Background(), RoomKey(cfg.DefaultRoom))
	if err != nil {
		return nil, err
	}
	h.rooms[r.name] = r
	h.startRoom(r)
	h.loadStoredRooms(context.Background()) // rooms outlive restarts
	go h.writer()
	h.idleEvery = idleEvery
	go h.idleTicker()
	if feed, ok := cfg.Private.(PrivateFeed); ok {
		stop, err := feed.SubscribePrivate(h.deliverPrivate)
		if err != nil {
			_ = h.Close(context.Background(), "")
			return nil, fmt.Errorf("private messages: %w", err)
		}
		h.mu.Lock()
		h.privateFeed, h.stopPrivate = true, stop
		h.mu.Unlock()
	}
	if cfg.Roster != nil {
		go h.rosterLoop()
		cfg.Roster.Watch(h.setRemote)
	}
	return h, nil
}

// newNode returns a random, non-zero RecordID.Node.
func newNode() uint64 {
	for {
		if n := rand.Uint64(); n != 0 {
			return n
		}
	}
}

// writer is the goroutine that owns preference writes (settings, read
// marks): they are small, may wait on a disk, and must never hold Hub.mu.
func (h *Hub) writer() {
	defer close(h.writerDone)
	run := func(f func(context.Context)) {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		f(ctx)
	}
	for {
		select {
		case f := <-h.writes:
			run(f)
		case <-h.writerQuit:
			for {
				select {
				case f := <-h.writes:
					run(f)
				default:
					return
				}
			}
		}
	}
}

// savePrefLocked queues a preference write without waiting. When the queue
// is full (the disk is stuck) the write is dropped and logged: preferences
// are a convenience, never worth blocking chat for.
func (h *Hub) savePrefLocked(f func(ctx context.Context, p Preferences) error) {
	p := h.cfg.Prefs
	if p == nil {
		return
	}
	select {
	case h.writes <- func(ctx context.Context) {
		if err := f(ctx, p); err != nil {
			h.log.Warn("saving a preference failed", "err", err)
		}
	}:
	default:
		h.log.Warn("preference writes are backed up; one was dropped")
	}
}

// queueWriteLocked queues a write for the writer goroutine, as
// savePrefLocked does, for a store other than Preferences.
func (h *Hub) queueWriteLocked(f func(ctx context.Context) error) {
	select {
	case h.writes <- func(ctx context.Context) {
		if err := f(ctx); err != nil {
			h.log.Warn("saving a read mark failed", "err", err)
		}
	}:
	default:
		h.log.Warn("preference writes are backed up; one was dropped")
	}
}

// SetSetting saves one of the session's identity's screen settings.
func (s *Session) SetSetting(key, value string) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	s.settings[key] = value
	id := s.m.id
	h.savePrefLocked(func(ctx context.Context, p Preferences) error { return p.SetSetting(ctx, id, key, value) })
}

// Settings returns the identity's saved settings, as loaded at connect and
// changed since by this session.
func (s *Session) Settings() map[string]string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	out := make(map[string]string, len(s.settings))
	for k, v := range s.settings {
		out[k] = v
	}
	return out
}

// ReadMark returns the sequence number up to which the identity had read
// the room when this session connected (0: unknown).
func (s *Session) ReadMark(room string) uint64 {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.marks[RoomKey(room)]
}

// Commands returns the command registry, to which a transport may add
// commands (admin actions, for example) before people connect.
func (h *Hub) Commands() *Registry { return h.commands }

// DefaultRoom returns the name of the room everyone starts in.
func (h *Hub) DefaultRoom() string { return h.cfg.DefaultRoom }

// Connect admits one session of an identity to the default room. It returns
// once the session is a member and its backlog is ready. The returned
// session must be closed by the caller when the connection ends.
func (h *Hub) Connect(ctx context.Context, id Identity) (*Session, error) {
	if id.ID == "" {
		return nil, errors.New("room: identity without an ID")
	}
	var notes []string
	if h.cfg.MOTD != nil { // may read a file: not under the lock
		if motd := h.cfg.MOTD(); motd != "" {
			notes = append(notes, motd)
		}
	}
	settings, marks := h.loadPrefs(ctx, id.ID)
	var saved []string // the rooms they were in; a program's visit restores none
	if !id.Bot {
		saved = h.loadMemberships(ctx, id.ID)
	}
	if nick := settings["nick"]; nick != "" {
		id.Name = nick // the name they chose last time comes first
	}
	claimed, claimNote := h.claimName(ctx, id) // across nodes (roster.go)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	m := h.members[id.ID]
	newMember := m == nil
	waiting := !id.Bot && (m == nil || !m.personOnlineLocked(nil)) // offline.go
	if newMember {
		name, note := claimed, claimNote
		if name == "" || h.nameErrLocked(name, id.ID) != nil {
			name, note = h.pickNameLocked(id, nil)
		}
		if note != "" {
			notes = append(notes, note)
		}
		now := h.cfg.Now()
		m = &member{hub: h, id: id.ID, name: name, nameAt: h.nameAtLocked(id.ID, name), admin: h.adminFunc(id), since: now, lastActive: now, away: settings["away"],
			sessions: make(map[*Session]struct{}), rooms: make(map[*room]struct{})}
		m.adminShown = m.admin()
		h.members[id.ID] = m
		h.names[safetext.Fold(name)] = id.ID
		h.lastName[id.ID] = name
	}
	h.nextSession++
	s := &Session{
		hub:      h,
		id:       h.nextSession,
		m:        m,
		bot:      id.Bot,
		q:        outbox{wake: make(chan struct{}, 1)},
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
		backlogs: make(map[string][]Message),
		settings: settings,
		marks:    marks,
		seen:     make(map[string]uint64),
	}
	m.sessions[s] = struct{}{}
	m.listsChangedLocked() // Sessions and Bot change
	lobby := h.rooms[RoomKey(h.cfg.DefaultRoom)]
	if newMember {
		s.room = lobby
		lobby.members[m.id] = m
		lobby.membersList = nil
		m.rooms[lobby] = struct{}{}
		o := &op{register: s, ready: true, notes: notes}
		loud := !id.Bot && !h.elsewhereLocked(m.id) && h.noticeAllowedLocked(m.id) // on another node already: not an arrival
		if m.quiet = id.Bot; m.quiet {
			h.presenceChangedLocked(m) // a bot's one-shot command is not a visit: the list only (issue 13 item 7)
		} else if loud { // a reconnect loop goes quiet
			o.msg = lobby.presenceLocked(Message{Room: lobby.name, Kind: KindJoin, From: m.name, FromID: m.id})
		}
		lobby.enqueueLocked(o)
		h.restoreLocked(m, s, saved, !loud)
	} else {
		// Another session of someone already here follows them into every
		// room they are in, quietly; it shows the lobby if they are in it.
		s.room = lobby
		if _, in := m.rooms[lobby]; !in {
			s.room = m.firstRoom()
		}
		arrives := m.quiet && !id.Bot // a person at last, where only their bot was
		m.quiet = m.quiet && id.Bot
		for r := range m.rooms {
			o := &op{register: s, enter: r != s.room}
			if r == s.room {
				o.ready, o.notes = true, notes
			}
			if arrives && h.noticeAllowedLocked(m.id) {
				o.msg = r.presenceLocked(Message{Room: r.name, Kind: KindJoin, From: m.name, FromID: m.id})
			}
			r.enqueueLocked(o)
		}
	}
	h.mu.Unlock()

	select {
	case <-s.ready:
		if waiting {
			h.deliverWaiting(ctx, s)
		}
		return s, nil
	case <-ctx.Done():
		s.Close("connection ended while joining")
		return nil, ctx.Err()
	}
}

// loadPrefs reads an identity's settings and its read mark of the default
// room. Failures only cost the convenience: they are logged.
func (h *Hub) loadPrefs(ctx context.Context, id string) (map[string]string, map[string]uint64) {
	settings, marks := map[string]string{}, map[string]uint64{}
	p := h.cfg.Prefs
	if p == nil {
		return settings, marks
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if s, err := p.Settings(ctx, id); err != nil {
		h.log.Warn("loading settings failed", "id", id, "err", err)
	} else if s != nil {
		settings = s
	}
	lobby := RoomKey(h.cfg.DefaultRoom)
	if mark, err := p.ReadMark(ctx, id, lobby); err != nil {
		h.log.Warn("loading read mark failed", "id", id, "err", err)
	} else {
		marks[lobby] = mark
	}
	return settings, marks
}

// firstRoom returns the member's room with the smallest name.
func (m *member) firstRoom() *room {
	var first *room
	for r := range m.rooms {
		if first == nil || r.name < first.name {
			first = r
		}
	}
	return first
}

// pickNameLocked chooses a display name for an identity that is coming
// online, and explains any change from the name it asked for.
// Names in refused were refused by the Roster (another node's person holds
// them): refused[name] is why.
func (h *Hub) pickNameLocked(id Identity, refused map[string]error) (name, note string) {
	nameErr := func(name string) error {
		if err := refused[safetext.Fold(name)]; err != nil {
			return err
		}
		return h.nameErrLocked(name, id.ID)
	}
	want := safetext.Line(id.Name, 64)
	if rm := h.remote[id.ID]; rm != nil && nameErr(rm.info.Name) == nil {
		return rm.info.Name, "" // the name they have on another node now (roster.go)
	}
	if last, ok := h.lastName[id.ID]; ok && nameErr(last) == nil {
		return last, ""
	}
	err := nameErr(want)
	if err == nil {
		return want, ""
	}
	explain := func(cand string) (string, string) {
		if want == "" {
			return cand, fmt.Sprintf("You are %s. Use /nick NAME to choose a name.", cand)
		}
		return cand, fmt.Sprintf("The name %q could not be used (%v), so you are %s. Use /nick NAME to choose another.", want, err, cand)
	}
	var bases []string
	if safetext.ValidateName(want) == nil {
		bases = append(bases, want)
	}
	bases = append(bases, fallbackName(id.ID))
	for _, base := range bases {
		if base != want && nameErr(base) == nil {
			return explain(base)
		}
		for i := 2; i <= 99; i++ {
			suffix := "-" + strconv.Itoa(i)
			if cand := truncateName(base, safetext.MaxNameRunes-len(suffix)) + suffix; nameErr(cand) == nil {
				return explain(cand)
			}
		}
	}
	// Every likely name is taken (someone is holding them on purpose): a
	// random guest name is free with overwhelming probability; check anyway.
	for {
		if cand := fmt.Sprintf("guest-%08x", rand.Uint32()); nameErr(cand) == nil {
			return explain(cand)
		}
	}
}

// nameErrLocked reports why name cannot be used by identity id, or nil.
func (h *Hub) nameErrLocked(name, id string) error {
	if err := safetext.ValidateName(name); err != nil {
		return Errorf("%v", err)
	}
	f := safetext.Fold(name)
	if owner, ok := h.names[f]; ok && owner != id {
		if m := h.members[owner]; m != nil {
			if !strings.EqualFold(m.name, name) {
				return Errorf("%s looks too much like %s, who is here", name, m.name)
			}
			return Errorf("%s is already taken by %s, who is here", name, m.name)
		}
		return Errorf("%s is already taken by someone here", name)
	}
	if err := h.takenElsewhereLocked(name, id); err != nil {
		return err
	}
	if h.cfg.Reserved != nil {
		if owner, ok := h.cfg.Reserved(name); ok && owner != id {
			return Errorf("%s belongs to another key", name)
		}
	}
	return nil
}

func fallbackName(id string) string {
	f := fnv.New32a()
	_, _ = f.Write([]byte(id))
	return fmt.Sprintf("guest-%06x", f.Sum32()&0xffffff)
}

func truncateName(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// Close tells everyone reason, disconnects every session, stores what was
// already accepted and stops the rooms. It waits for the rooms to finish
// or for ctx to end.
func (h *Hub) Close(ctx context.Context, reason string) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true // from now on nothing new is accepted (enqueueLocked)
	h.mu.Unlock()

	// What was accepted is stored and shown before anyone is told to go,
	// so a sender never sees "shutting down" for a message that went out.
	close(h.quit)
	h.mu.Lock()
	stopPrivate := h.stopPrivate
	h.mu.Unlock()
	if stopPrivate != nil {
		stopPrivate()
	}
	var err error
	if !finishBy(ctx, h.wg.Wait) {
		err = fmt.Errorf("room: stopping rooms: %w", ctx.Err())
	}

	h.mu.Lock()
	now := h.cfg.Now()
	for _, m := range h.members {
		for s := range m.sessions {
			if reason != "" {
				h.deliverLocked(s, Message{Time: now, Kind: KindAnnounce, Text: reason})
			}
			h.closeSessionLocked(s, reason) // queues their read marks
		}
	}
	h.mu.Unlock()
	close(h.writerQuit)
	if !finishBy(ctx, func() { <-h.writerDone }) && err == nil {
		err = fmt.Errorf("room: saving preferences: %w", ctx.Err())
	}
	return err
}

// finishBy runs wait and reports whether it returned before ctx ended.
func finishBy(ctx context.Context, wait func()) bool {
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// MemberInfo describes one person in a room, for member lists and /who.
type MemberInfo struct {
	ID         string
	Name       string
	Admin      bool
	Bot        bool // every session of the identity is a program (ssh host COMMAND), none a person's
	Away       string
	Sessions   int
	Since      time.Time
	LastActive time.Time
}

// presenceChangedLocked tells every session in m's rooms that the member
// list changed (m went away or came back): a KindPresence each, so member
// lists beside the conversation stay true without a line in it.
func (h *Hub) presenceChangedLocked(m *member) {
	m.listsChangedLocked()
	now := h.cfg.Now()
	for r := range m.rooms {
		for s := range r.sessions { // their own screens too: the list beside their notice shows the mark
			h.deliverLocked(s, Message{Time: now, Room: r.name, Kind: KindPresence, FromID: m.id})
		}
	}
}

// activeLocked notes that m spoke at now. The members list shows idle
// time in minutes, so it is built again only when that can change: a busy
// room does not make every screen fetch a new list for every message.
func (h *Hub) activeLocked(m *member, now time.Time) {
	if !m.lastActive.Truncate(time.Minute).Equal(now.Truncate(time.Minute)) {
		m.listsChangedLocked()
	}
	m.lastActive = now
}

// Members lists the people in room (without '#'), sorted by name. The
// list is shared by every caller until the room's people change: callers
// must not modify it. (A thousand screens in one room hold one list, not a
// thousand copies.)
func (h *Hub) Members(roomName string) []MemberInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[RoomKey(roomName)]
	if r == nil {
		return nil
	}
	if r.membersList != nil {
		return r.membersList
	}
	out := make([]MemberInfo, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m.infoLocked())
	}
	out = h.mergeRemoteLocked(r, out) // roster.go
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	r.membersList = out
	return out
}

func (m *member) infoLocked() MemberInfo {
	return MemberInfo{ID: m.id, Name: m.name, Admin: m.admin(), Bot: m.botLocked(), Away: m.away,
		Sessions: len(m.sessions), Since: m.since, LastActive: m.lastActive}
}

// Online reports how many identities and sessions are connected.
func (h *Hub) Online() (people, sessions int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.members {
		sessions += len(m.sessions)
	}
	return len(h.members), sessions
}

// deliverLocked puts m on s's queue without waiting. A session whose queue
// is full (Config.QueueSize messages or Config.QueueBytes bytes) is
// disconnected: it has stopped reading, and nobody else may wait for it.
func (h *Hub) deliverLocked(s *Session, m Message) {
	h.deliverSharedLocked(s, &m)
}

// deliverSharedLocked is deliverLocked for a message that many sessions
// receive: they all queue (and show) the same one, which nobody modifies.
func (h *Hub) deliverSharedLocked(s *Session, m *Message) {
	if s.closed {
		return
	}
	bound, n, bytes := s.q.put(m, h.cfg.QueueSize, h.cfg.QueueBytes)
	if bound == "" {
		if m.Seq > 0 && (m.Room != "" || m.Kind == KindPrivate) { // "": private (offline.go)
			s.seen[m.Room] = max(s.seen[m.Room], m.Seq)
		}
		return
	}
	limit := h.cfg.QueueSize
	if bound == boundBytes {
		limit = h.cfg.QueueBytes
	}
	h.log.Warn("session disconnected: outgoing queue full", "id", s.m.id, "session", s.id,
		"messages", n, "bytes", bytes, "bound", bound, "limit", limit)
	h.cfg.Observer.SessionDropped("slow")
	h.closeSessionLocked(s, "your connection could not keep up with the room")
}

// closeSessionLocked ends s: no more deliveries (what is queued stays for
// its reader, and Receive reports the end after it), and the person leaves
// the room when it was their last session there.
func (h *Hub) closeSessionLocked(s *Session, reason string) {
	if s.closed {
		return
	}
	s.closed = true
	s.reason = reason
	s.q.end()
	close(s.done) // after end: the Events goroutine, woken by done, finds the queue ended
	if s.onEnd != nil {
		s.onEnd()
	}
	m := s.m
	for room, seq := range s.seen {
		if room == "" && s.bot {
			continue // a program shown a private message has not shown it to the person
		}
		id, room, seq := m.id, room, seq
		if pm, ok := h.cfg.Private.(PrivateMarks); ok && room == "" { // shared by nodes (roster.go)
			h.queueWriteLocked(func(ctx context.Context) error { return pm.SetPrivateMark(ctx, id, seq) })
			continue
		}
		h.savePrefLocked(func(ctx context.Context, p Preferences) error { return p.SetReadMark(ctx, id, room, seq) })
	}
	delete(m.sessions, s)
	m.listsChangedLocked()
	for r := range m.rooms {
		delete(r.sessions, s)
	}
	if len(m.sessions) == 0 {
		// Their last session: they leave every room they were in.
		quiet := h.closed || m.quiet || h.elsewhereLocked(m.id) || !h.noticeAllowedLocked(m.id) // still on another node: not a departure
		for r := range m.rooms {
			delete(r.members, m.id)
			if m.quiet {
				h.listChangedLocked(r, m.id) // no line for a bot: the member lists only
			}
			if !quiet {
				if msg := r.presenceLocked(Message{Room: r.name, Kind: KindLeave, From: m.name, FromID: m.id, Text: leaveText(reason)}); msg.Kind != 0 {
					r.enqueueLocked(&op{msg: msg})
				}
			}
		}
		delete(h.members, m.id)
		if h.names[safetext.Fold(m.name)] == m.id {
			delete(h.names, safetext.Fold(m.name))
			h.releaseNameLocked(m.name, m.id)
		}
	}
}

// leaveText keeps the reasons worth telling others; a plain quit says nothing.
func leaveText(reason string) string {
	switch reason {
	case "", ReasonQuit, ReasonDisconnected:
		return ""
	}
	return reason
}

// Reasons a session ends that the room itself gives.
const (
	ReasonQuit         = "quit"
	ReasonDisconnected = "disconnected"
)

// Disconnect ends every session of the identity id with reason (their
// Reason, which the transport shows them, and their leave reason in the room). It returns how many
// sessions it ended.
func (h *Hub) Disconnect(id, reason string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[id]
	if m == nil {
		return 0
	}
	n := 0
	for s := range m.sessions {
		h.closeSessionLocked(s, reason)
		n++
	}
	return n
}

// OnlineIDs returns the identities connected now.
func (h *Hub) OnlineIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.members))
	for id := range h.members {
		ids = append(ids, id)
	}
	return ids
}
