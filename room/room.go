package room

import (
	"context"
	"fmt"
	"time"
)

// storeTimeout bounds one History call, so a stuck disk fails a message
// instead of hanging the room.
const storeTimeout = 5 * time.Second

// room is one chat room. The sequencer goroutine (run) owns seq; every
// other field is guarded by Hub.mu.
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

	seq uint64 // owned by run
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
		recent, err := hist.Before(ctx, name, 0, h.cfg.RingSize)
		if err != nil {
			return nil, fmt.Errorf("room %s: recent history: %w", name, err)
		}
		r.seq = last
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

// run is the room's sequencer goroutine. It takes queued work in batches:
// numbers the messages, stores them in one History call (group commit), and
// only then registers sessions and fans the messages out, in order.
func (r *room) run() {
	h := r.hub
	defer h.wg.Done()
	backoff := time.Duration(0)
	for {
		select {
		case <-r.wake:
		case <-r.gone:
			for r.stepOK() {
			}
			return
		case <-h.quit:
			// Closed hubs accept no new work; finish what was accepted,
			// trying the store once more for anything that failed.
			for tries := 0; tries < 2; {
				ran, failed := r.step()
				if !ran {
					break
				}
				if failed {
					tries++
				}
			}
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
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			select {
			case <-time.After(backoff):
			case <-h.quit:
				break drain // the quit branch above makes the last attempts
			}
		}
	}
}

// stepOK runs one batch and reports whether there was one.
func (r *room) stepOK() bool {
	ran, _ := r.step()
	return ran
}

// step processes one batch and reports whether there was one, and whether
// the store failed (the caller backs off before the next batch).
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
	if len(batch) == 0 {
		return false, false
	}

	now := h.cfg.Now()
	seq := r.seq
	var msgs []Message
	for _, o := range batch {
		if o.msg.Kind == 0 {
			continue
		}
		seq++
		o.msg.Seq = seq
		o.msg.Time = now
		msgs = append(msgs, o.msg)
	}
	var err error
	if hist := h.cfg.History; hist != nil && len(msgs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		start := time.Now()
		err = hist.Append(ctx, msgs)
		cancel()
		h.cfg.Observer.StoreLatency(time.Since(start), len(msgs), err)
		if err != nil {
			h.cfg.Observer.MessageRefused("store")
			h.log.Error("storing messages failed; not delivered", "room", r.name, "count", len(msgs), "err", err)
			err = Errorf("not sent: the server could not store your message, please try again")
		}
	}
	if err == nil {
		r.seq = seq
	}

	h.mu.Lock()
	var retry []*op
	for _, o := range batch {
		if err != nil && o.done == nil && o.msg.Kind != 0 {
			// Nobody waits to hear this failed (joins, leaves, renames):
			// keep it, in order, for the next batch instead of losing it.
			retry = append(retry, &op{msg: o.msg})
		}
		// The identity may have left the room since this was queued.
		if s := o.register; s != nil && !s.closed && r.members[s.m.id] != nil {
			r.sessions[s] = struct{}{}
			s.backlogs[r.name] = r.ring.last(h.cfg.Backlog)
			if o.enter {
				h.deliverLocked(s, Message{Time: now, Room: r.name, Kind: KindEnter})
			}
			for _, n := range o.notes {
				h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: n})
			}
		}
		if err == nil && o.msg.Kind != 0 {
			if o.msg.Kind == KindTopic {
				r.topic = o.msg.Text
			}
			r.ring.push(o.msg)
			h.cfg.Observer.MessageStored(o.msg.Kind, 1)
			shared := new(Message) // one for every receiver
			*shared = o.msg
			for s := range r.sessions {
				h.deliverSharedLocked(s, shared)
			}
		}
		if s := o.register; s != nil && o.ready {
			close(s.ready)
		}
	}
	if len(retry) > 0 {
		r.queue = append(retry, r.queue...)
	}
	h.mu.Unlock()

	for _, o := range batch {
		if o.done != nil {
			o.done <- err
		}
	}
	return true, err != nil
}
