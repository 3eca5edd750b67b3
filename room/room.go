package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// storeTimeout bounds one History call, so a stuck disk fails a message
// instead of hanging the room.
const storeTimeout = 5 * time.Second

// room is one chat room. The sequencer goroutine (run) owns the fields
// marked so; incoming is guarded by inMu; every other field is guarded by
// Hub.mu.
type room struct {
	hub  *Hub
	name string // folded, without '#'

	topic    string
	private  bool            // only invited identities (and admins) may join
	invited  map[string]bool // identity IDs allowed into a private room
	creator  string          // the identity that made it (or made it private)
	unknown  bool            // its access could not be established: admins only (access.go)
	removed  bool            // loaded as removed by an admin, not reopened yet
	fresh    bool            // nothing was stored of it: a new room
	members  map[string]*member
	sessions map[*Session]struct{} // every session of every member
	gone     chan struct{}         // closed when the room is removed
	ring     *ring
	queue    []*op // waiting for the sequencer

	presence    presence     // grouping of joins and leaves (presence.go)
	membersList []MemberInfo // Members' sorted list, shared; nil when it must be built again
	wake        chan struct{}

	// Owned by run (and read by step, which run calls):
	delivered uint64            // the highest Seq fanned out (or skipped as a duplicate)
	appended  uint64            // the highest Seq this hub's own Appends committed
	nextID    uint64            // RecordID.N of the last message this hub appended
	seenIDs   map[uint64]uint64 // RecordID.Node -> highest N shown: a retried Append is shown once
	pending   []*op             // registrations waiting for delivery to reach their after
	recs      []Record          // the batch being appended, reused
	// unavailable: the last Append failed with ErrUnavailable (retry.go).
	unavailable bool

	// inMu guards incoming: what the Log delivered and run has not fanned
	// out yet. It is taken by the Log's delivery (any goroutine) and by run,
	// never with Hub.mu held and never while taking another lock.
	inMu     sync.Mutex
	incoming []Record
	spare    []Record // the other buffer, swapped with incoming by run
}

// op is one unit of work for a room's sequencer: an optional message to
// sequence, store and fan out, and an optional session to register first.
type op struct {
	msg      Message // Kind 0: no message
	register *Session
	enter    bool     // tell the session with a KindEnter (a room joined after connecting)
	ready    bool     // close the session's ready channel (the room it connected to)
	notes    []string // notices for the registering session, after its backlog
	done     chan error
	id       RecordID // given by step at the first attempt, kept for retries
	// A sender's message kept after an unavailable Log (retry.go): who to
	// tell, whether they were told, and when the first attempt failed.
	// kept: answered by its retry, or already answered (set by run).
	sender  *Session
	told    bool
	failing time.Time
	kept    bool
	// Set by step for a registration (owned by run from then on):
	after      uint64 // register once the room has shown every Seq up to this
	readyAt    uint64 // and close ready once it has shown this one
	registered bool
}

// loadRoom builds a room: first its access from the RoomStore, then its
// sequence and recent messages from History. A room with history whose
// access is not stored is marked unknown (admins only); one whose access
// cannot be read is not loaded at all. It does I/O: never call it with
// Hub.mu held.
func (h *Hub) loadRoom(ctx context.Context, name string) (*room, error) {
	r := &room{
		hub:      h,
		name:     name,
		invited:  make(map[string]bool),
		members:  make(map[string]*member),
		sessions: make(map[*Session]struct{}),
		gone:     make(chan struct{}),
		ring:     newRing(h.cfg.RingSize),
		wake:     make(chan struct{}, 1),
		seenIDs:  make(map[uint64]uint64),
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	a, found, err := h.cfg.Rooms.RoomAccess(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("room %s: access: %w", name, err)
	}
	r.private, r.creator, r.removed = a.Private, a.Creator, a.Removed
	for _, id := range a.Invited {
		r.invited[id] = true
	}
	if hist := h.cfg.History; hist != nil {
		last, err := hist.LastSeq(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("room %s: last sequence: %w", name, err)
		}
		if !found && last > 0 {
			// History without access: it may have been private. Never
			// open it to everyone on a guess.
			r.unknown = true
			if name == RoomKey(h.cfg.DefaultRoom) { // everyone's room is open by definition
				r.unknown = false
			}
		}
		r.fresh = !found && last == 0
		recent, err := hist.Before(ctx, name, last+1, h.cfg.RingSize) // what LastSeq saw: the Log delivers the rest
		if err != nil {
			return nil, fmt.Errorf("room %s: recent history: %w", name, err)
		}
		r.delivered, r.appended = last, last
		for _, m := range recent {
			r.ring.push(m)
			if m.Kind == KindTopic {
				r.topic = m.Text
			}
		}
		if ts, ok := hist.(topicStore); ok { // the topic outlives the ring
			topic, err := ts.Topic(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("room %s: topic: %w", name, err)
			}
			r.topic = topic
		}
	} else {
		r.fresh = !found
	}
	return r, nil
}

func (h *Hub) startRoom(r *room) {
	h.wg.Add(1)
	go r.run()
}

// enqueueLocked hands o to the sequencer without waiting.
func (r *room) enqueueLocked(o *op) {
	if r.hub.closed { // the sequencer may be gone: refuse, never strand a waiter
		if o.done != nil {
			o.done <- ErrClosed
		}
		return
	}
	r.queue = append(r.queue, o)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run is the room's sequencer goroutine. It subscribes the room to the Log,
// then takes queued work in batches: appends the messages to the Log in one
// call (group commit), and fans out what the Log delivers, in the Log's
// order, registering sessions at their place in that order (step).
func (r *room) run() {
	h := r.hub
	defer h.wg.Done()
	stop := r.subscribe()
	defer func() {
		if stop != nil {
			stop()
		}
		r.abandonPending()
	}()
	backoff := time.Duration(0)
	for {
		if stop == nil { // the Log refused the subscription: try again
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			select {
			case <-time.After(backoff):
			case <-r.gone:
			case <-h.quit:
			}
			if stop = r.subscribe(); stop != nil {
				backoff = 0
			}
		}
		select {
		case <-r.wake:
		case <-r.gone:
			r.finish()
			return
		case <-h.quit:
			r.finish()
			return
		}
	drain:
		for {
			ran, failed := r.step()
			if !ran {
				break
			}
			if !failed {
				backoff = 0
				continue
			}
			// The store is failing: wait before trying again, so a broken
			// disk is not hammered; senders meanwhile hear that it failed.
			// A Log that is only unavailable (kept messages wait, retry.go)
			// is tried at least every retryEvery, so they go soon after it
			// is back.
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			if r.unavailable {
				backoff = min(backoff, retryEvery)
			}
			select {
			case <-time.After(backoff):
			case <-h.quit:
				break drain // the quit branch above makes the last attempts
			}
		}
	}
}

// subscribe asks the Log for the room's messages after the last one shown.
// It returns nil (and logs why) when the Log refuses.
func (r *room) subscribe() (stop func()) {
	stop, err := r.hub.cfg.Log.Subscribe(r.name, r.delivered, r.receive)
	if err != nil {
		r.hub.log.Error("subscribing to the room's log failed; retrying", "room", r.name, "err", err)
		return nil
	}
	return stop
}

// receive is the room's delivery from the Log: it keeps recs for run and
// wakes it. It may run on any goroutine (the room's own, inside Append, for
// the in-process Log).
func (r *room) receive(recs []Record) {
	r.inMu.Lock()
	r.incoming = append(r.incoming, recs...)
	r.inMu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// takeIncoming returns what the Log delivered since the last call; run
// gives the slice back with giveBack when done with it.
func (r *room) takeIncoming() []Record {
	r.inMu.Lock()
	in := r.incoming
	r.incoming = r.spare[:0]
	r.inMu.Unlock()
	r.spare = nil
	return in
}

func (r *room) giveBack(in []Record) {
	r.spare = reuse(in)
}

// keepRecords is the largest buffer a room or the default Log keeps between
// batches: the usual batch reuses it, and a burst's big buffer is let go
// instead of being held by every room that once had one.
const keepRecords = 64

// reuse returns buf emptied for the next batch, or nil when it is too big
// to keep. It keeps no texts alive.
func reuse[T any](buf []T) []T {
	if cap(buf) > keepRecords {
		return nil
	}
	clear(buf)
	return buf[:0]
}

func (r *room) hasIncoming() bool {
	r.inMu.Lock()
	defer r.inMu.Unlock()
	return len(r.incoming) > 0
}

// step processes one batch and reports whether there was one, and whether
// the store failed (the caller backs off before the next batch). A batch is
// the queued work and what the Log delivered: the queued messages are
// appended first, so that the Log's delivery of them (synchronous for the
// in-process Log) is fanned out in this same step.
func (r *room) step() (ran, failed bool) {
	h := r.hub
	h.mu.Lock()
	batch := r.queue
	if len(batch) > maxBatch {
		batch = batch[:maxBatch]
	}
	r.queue = r.queue[len(batch):]
	if len(r.queue) == 0 {
		r.queue = nil
	}
	h.mu.Unlock()
	if len(batch) == 0 && !r.hasIncoming() {
		return false, false
	}

	now := h.cfg.Now()
	recs := r.recs[:0]
	for _, o := range batch {
		if o.msg.Kind == 0 {
			continue
		}
		if o.id == (RecordID{}) {
			r.nextID++
			o.id = RecordID{Node: h.node, N: r.nextID}
		}
		o.msg.Time = now
		recs = append(recs, Record{ID: o.id, Message: o.msg})
	}
	var err error
	unavailable := false // the Log said ErrUnavailable: senders' messages are kept (retry.go)
	defer func() { r.unavailable = unavailable }()
	if len(recs) > 0 {
		if h.storeObserved { // a store or a Log that may wait: bound it, time it
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			start := time.Now()
			err = h.cfg.Log.Append(ctx, r.name, recs)
			cancel()
			h.cfg.Observer.StoreLatency(time.Since(start), len(recs), err)
		} else { // the in-process Log over no History: memory only, never waits
			err = h.cfg.Log.Append(context.Background(), r.name, recs)
		}
		if err != nil {
			if unavailable = errors.Is(err, ErrUnavailable); unavailable {
				h.log.Warn("storing messages failed; kept and retried", "room", r.name, "count", len(recs), "err", err)
			} else {
				h.cfg.Observer.MessageRefused("store")
				h.log.Error("storing messages failed; not delivered", "room", r.name, "count", len(recs), "err", err)
			}
			err = Errorf("not sent: the server could not store your message, please try again")
		} else {
			j := 0
			for _, o := range batch {
				if o.msg.Kind != 0 {
					o.msg.Seq = recs[j].Seq
					j++
				}
			}
		}
	}
	r.recs = reuse(recs)
	// The in-process Log delivered this batch from inside Append, waking
	// run for it: it is taken just below. Drop that wake-up, or run would
	// call step once more for nothing; every caller of step calls it
	// again until it finds no work, so no wake-up that matters is lost.
	select {
	case <-r.wake:
	default:
	}
	all := r.takeIncoming()
	in := all

	h.mu.Lock()
	var retry []*op
	last := r.appended // the last Seq this hub committed before the op at hand
	for _, o := range batch {
		committed := err == nil && o.msg.Kind != 0
		if err != nil && o.done == nil && o.msg.Kind != 0 {
			// Nobody waits to hear this failed (joins, leaves, renames):
			// keep it, in order, for the next batch instead of losing it.
			retry = append(retry, &op{msg: o.msg, id: o.id})
		} else if err != nil && unavailable && o.msg.Kind != 0 {
			if o.keepTrying(now) {
				// A sender's message: keep it in its place, with its ID (a
				// retry is stored once), and tell the sender once.
				if !o.told && o.sender != nil {
					h.deliverLocked(o.sender, Message{Time: now, Kind: KindError, Text: retryingNotice})
				}
				retry = append(retry, &op{msg: o.msg, id: o.id, done: o.done, sender: o.sender, told: true, failing: o.failing})
				o.kept = true // answered when the retry is
			} else if o.done != nil {
				o.done <- Errorf("%s", gaveUpNotice)
				o.kept = true
			}
		}
		if o.register != nil {
			// The session comes in after everything this hub committed
			// before it, and before its own message: the place it had in
			// the queue.
			o.after, o.readyAt = last, last
			if committed {
				o.after, o.readyAt = o.msg.Seq-1, o.msg.Seq
			}
			in = r.advanceLocked(in, o.after, now)
			r.pending = append(r.pending, o)
			r.registerLocked(now)
		}
		if committed {
			last = o.msg.Seq
		}
	}
	r.appended = max(r.appended, last)
	r.advanceLocked(in, ^uint64(0), now) // all of it
	if len(retry) > 0 {
		r.queue = append(retry, r.queue...)
	}
	h.mu.Unlock()
	r.giveBack(all)

	for _, o := range batch {
		if o.done != nil && !o.kept {
			o.done <- err
		}
	}
	return true, err != nil
}

// advanceLocked fans out the Records of in up to Seq upTo, in order,
// registering waiting sessions at their places, and returns the rest.
// Hub.mu is held.
func (r *room) advanceLocked(in []Record, upTo uint64, now time.Time) []Record {
	h := r.hub
	for len(in) > 0 && in[0].Seq <= upTo {
		rec := &in[0]
		in = in[1:]
		r.registerLocked(now)
		if rec.Seq <= r.delivered {
			continue // delivered twice by the Log
		}
		r.delivered = rec.Seq
		if id := rec.ID; id.Node != 0 {
			if id.N <= r.seenIDs[id.Node] {
				continue // a retried Append committed again: shown once
			}
			r.seenIDs[id.Node] = id.N
		}
		if rec.Kind == KindTopic {
			r.topic = rec.Text
		}
		r.ring.push(rec.Message)
		h.cfg.Observer.MessageStored(rec.Kind, 1)
		shared := new(Message) // one for every receiver
		*shared = rec.Message
		for s := range r.sessions {
			h.deliverSharedLocked(s, shared)
		}
	}
	r.registerLocked(now)
	return in
}

// registerLocked registers, in order, the waiting sessions whose place the
// room has reached, and closes a connecting session's ready channel once
// the room has shown its own message (its join). Hub.mu is held.
func (r *room) registerLocked(now time.Time) {
	h := r.hub
	for len(r.pending) > 0 {
		o := r.pending[0]
		if !o.registered {
			if r.delivered < o.after {
				return
			}
			o.registered = true
			// The identity may have left the room since this was queued.
			if s := o.register; !s.closed && r.members[s.m.id] != nil {
				r.sessions[s] = struct{}{}
				s.backlogs[r.name] = r.ring.last(h.cfg.Backlog)
				if o.enter {
					h.deliverLocked(s, Message{Time: now, Room: r.name, Kind: KindEnter})
				}
				for _, n := range o.notes {
					h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: n})
				}
			}
		}
		if r.delivered < o.readyAt {
			return
		}
		if o.ready {
			close(o.register.ready)
		}
		r.pending[0] = nil
		r.pending = r.pending[1:]
	}
	r.pending = nil
}

// abandonPending lets sessions still waiting for their place go on when the
// room stops (only a remote Log can leave any): nothing more will come.
func (r *room) abandonPending() {
	h := r.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range r.pending {
		if o.ready {
			close(o.register.ready)
		}
	}
	r.pending = nil
}
