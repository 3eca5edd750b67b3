package room

import (
	"context"
	"fmt"
	"sync"
)

// Log orders, commits and delivers the messages of rooms: it is the port
// through which a room's messages pass between being accepted and being
// shown. Every message shown in a room, sent on this hub or on another
// process that shares the log, comes to the hub through Subscribe, and is
// fanned out to local sessions in the log's order.
//
// A room's sequencer goroutine (room.run) is the only caller of Append for
// that room in a hub, and it calls it with batches (group commit). Append
// assigns the sequence numbers; Subscribe delivers what was committed.
//
// The sender of a message learns its sequence number from Append (the
// Records' Seq), but the message is shown to local sessions, the sender's
// own included, only when it comes back through Subscribe: one path for
// local and remote messages, so both are ordered the same way. An in-process
// Log (the default, NewHistoryLog) delivers synchronously from Append, so
// this costs no hop.
//
// Delivery is at least once: a Log may commit a retried Append twice (for
// example when it timed out after committing). Each Record carries the ID
// its hub gave it, and a hub shows a room only the first Record of each ID.
// A Log may also drop such duplicates itself.
//
// Implementations must be safe for concurrent use by several rooms and
// several hubs.
type Log interface {
	// Append commits recs, which all belong to room, in order and all or
	// none, and sets each one's Seq: the room's next sequence numbers, with
	// no gaps among committed messages. When it returns nil the Records
	// are durable (as durable as the Log is). On error nothing is
	// committed, as far as the Log knows; the caller may retry with the
	// same IDs.
	Append(ctx context.Context, room string, recs []Record) error
	// Subscribe calls deliver with every Record of room committed with a
	// Seq above after, in Seq order, each once, from now until stop is
	// called; the Records that a successful Append committed are delivered
	// before that Append returns, or soon after when the Log is remote.
	// deliver is called from one goroutine at a time per subscription; it
	// must not block or call the Log, and it may not keep recs (the Log may
	// reuse it). stop waits for a delivery in progress and must not be
	// called from deliver.
	Subscribe(room string, after uint64, deliver func(recs []Record)) (stop func(), err error)
}

// RecordID identifies a message across retries: the hub that accepted it
// (Node, random per Hub) and its place in that hub's messages to the room
// (N, from 1, increasing in the order the hub appends them). The zero ID
// means no ID: such a Record is never taken for a duplicate.
type RecordID struct {
	Node uint64
	N    uint64
}

// Record is a Message as it passes through a Log: the message and the ID
// that tells a retried Append from a new one.
type Record struct {
	ID RecordID
	Message
}

// NewHistoryLog returns the in-process Log: a sequencer per room over hist
// (nil: messages are kept nowhere but in the rooms' memory). It is the Log
// of a Hub whose Config.Log is nil. Its sequence numbers start after
// hist.LastSeq and it delivers synchronously from Append, to the
// subscribers of this Log value only: hubs in other processes never see
// its messages. It keeps no messages itself: a subscriber that asks for
// Records committed before it subscribed gets them from hist.
func NewHistoryLog(hist History) Log {
	return &historyLog{hist: hist, rooms: make(map[string]*logRoom)}
}

// historyLog is the in-process Log. mu guards rooms; each logRoom's own mu
// is held across its History calls and deliveries (so deliveries keep the
// order of commits) and is never taken with historyLog.mu held.
type historyLog struct {
	hist  History
	mu    sync.Mutex
	rooms map[string]*logRoom
}

// logRoom is one room of a historyLog. Its fields are guarded by mu, except
// refs, guarded by historyLog.mu.
type logRoom struct {
	refs int // subscribers and Appends in progress; the entry goes at 0

	mu     sync.Mutex
	loaded bool   // seq was read from History
	seq    uint64 // the last sequence number committed
	subs   []*logSub
	buf    []Message // reused for History.Append
}

// logSub is one subscription to a logRoom.
type logSub struct {
	deliver func([]Record)
}

var _ Log = (*historyLog)(nil)

// acquire returns room's entry with a reference taken; release gives it
// back. An entry nobody references is forgotten, so a room removed and
// opened again reads its sequence from History again (and, with no
// History, starts from 1 as before).
func (l *historyLog) acquire(room string) *logRoom {
	l.mu.Lock()
	defer l.mu.Unlock()
	lr := l.rooms[room]
	if lr == nil {
		lr = &logRoom{}
		l.rooms[room] = lr
	}
	lr.refs++
	return lr
}

func (l *historyLog) release(room string, lr *logRoom) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lr.refs--; lr.refs == 0 && l.rooms[room] == lr {
		delete(l.rooms, room)
	}
}

// loadLocked reads the room's last sequence number once. lr.mu is held.
func (l *historyLog) loadLocked(ctx context.Context, room string, lr *logRoom) error {
	if lr.loaded {
		return nil
	}
	if l.hist != nil {
		last, err := l.hist.LastSeq(ctx, room)
		if err != nil {
			return fmt.Errorf("room %s: last sequence: %w", room, err)
		}
		lr.seq = last
	}
	lr.loaded = true
	return nil
}

// Append numbers recs after the room's last sequence number, stores them
// in one History call, and on success delivers them to every subscriber
// before returning.
func (l *historyLog) Append(ctx context.Context, room string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	lr := l.acquire(room)
	defer l.release(room, lr)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if err := l.loadLocked(ctx, room, lr); err != nil {
		return err
	}
	seq := lr.seq
	for i := range recs {
		seq++
		recs[i].Seq = seq
	}
	if l.hist != nil {
		msgs := lr.buf[:0]
		for i := range recs {
			msgs = append(msgs, recs[i].Message)
		}
		err := l.hist.Append(ctx, msgs)
		lr.buf = reuse(msgs)
		if err != nil {
			for i := range recs {
				recs[i].Seq = 0
			}
			return err
		}
	}
	lr.seq = seq
	for _, s := range lr.subs {
		s.deliver(recs)
	}
	return nil
}

// Subscribe registers deliver for the room's next commits. When after is
// below the last sequence number this Log committed, the Records in
// between are read from History and delivered first (they carry no ID).
func (l *historyLog) Subscribe(room string, after uint64, deliver func([]Record)) (func(), error) {
	lr := l.acquire(room)
	lr.mu.Lock()
	if lr.loaded && after < lr.seq && l.hist != nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		missed, err := l.hist.Before(ctx, room, lr.seq+1, int(lr.seq-after))
		cancel()
		if err != nil {
			lr.mu.Unlock()
			l.release(room, lr)
			return nil, fmt.Errorf("room %s: catching up from %d: %w", room, after, err)
		}
		recs := make([]Record, 0, len(missed))
		for _, m := range missed {
			if m.Seq > after {
				recs = append(recs, Record{Message: m})
			}
		}
		if len(recs) > 0 {
			deliver(recs)
		}
	}
	sub := &logSub{deliver: deliver}
	lr.subs = append(lr.subs, sub)
	lr.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			lr.mu.Lock()
			for i, s := range lr.subs {
				if s == sub {
					lr.subs = append(lr.subs[:i:i], lr.subs[i+1:]...)
					break
				}
			}
			lr.mu.Unlock()
			l.release(room, lr)
		})
	}, nil
}
