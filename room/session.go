package room

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"parley/safetext"
)

// Session is one connection of one person: what the transport renders and
// where what the person types goes. Its fields are guarded by Hub.mu, except
// the outgoing queue, which has its own lock so that the transport's reader
// (Receive, or the Events goroutine) never takes Hub.mu, and the Events
// channel, set once.
type Session struct {
	hub   *Hub
	id    uint64
	m     *member
	q     outbox // what the session has still to show, in order
	done  chan struct{}
	onEnd func() // OnEnd's; guarded by Hub.mu
	ready chan struct{}
	bot   bool // set at creation: a program's session (Identity.Bot)
	// waits: the caller sends again what the rate limit refuses (WaitOnRate).
	waits atomic.Bool

	eventsOnce sync.Once    // starts the Events goroutine
	events     chan Message // Events' channel, set by eventsOnce

	// Guarded by Hub.mu.
	room     *room                // the room this session shows and posts to
	backlogs map[string][]Message // per room: the messages before the session was registered there
	settings map[string]string    // the identity's saved settings
	marks    map[string]uint64    // read marks at connect, by room
	seen     map[string]uint64    // the newest Seq delivered, by room (the next read marks)
	closed   bool
	reason   string
}

// Receive waits for what this session should show after its backlog and
// returns up to max messages (at least one; max below 1 counts as 1), oldest
// first, appended to dst[:0], so that a caller can pass the same buffer
// every time. It returns false, with no messages, once the session has ended
// and everything queued before the end has been returned: nothing accepted
// for the session is lost. The reason is then in Reason.
//
// Receive is how a transport should read a session: it costs nothing while
// the session is idle and never takes the hub's lock. A session has one
// reader: use either Receive or Events, not both, as each message goes to
// only one of them.
func (s *Session) Receive(dst []Message, max int) ([]Message, bool) {
	dst = dst[:0]
	for {
		var got, ended bool
		if dst, got, ended = s.q.take(dst, max); got || ended {
			return dst, got
		}
		<-s.q.wake
	}
}

// OnEnd has f called once when the session ends (at once if it has):
// without a goroutine per session waiting on Done. f runs with the hub
// locked: it must not wait or call the hub (start a timer, say).
func (s *Session) OnEnd(f func()) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.closed {
		f()
		return
	}
	s.onEnd = f
}

// Ready is signalled when messages may be waiting for TryReceive, and when
// the session has ended. A transport that waits for many sessions in its
// own loops selects on it instead of keeping a goroutine in Receive. One
// reader per session.
func (s *Session) Ready() <-chan struct{} { return s.q.wake }

// TryReceive is Receive without waiting: what is queued, up to max (none
// when nothing is). ok is false once the session has ended and everything
// queued before was taken.
func (s *Session) TryReceive(dst []Message, max int) (msgs []Message, ok bool) {
	dst, got, ended := s.q.take(dst[:0], max)
	return dst, got || !ended
}

// TryReceiveShared is TryReceive without the copies: each message is the
// one every session it went to holds (a room's message is allocated once
// however many receive it). Read them; never modify them.
func (s *Session) TryReceiveShared(dst []*Message, max int) (msgs []*Message, ok bool) {
	dst, got, ended := s.q.takeShared(dst[:0], max)
	return dst, got || !ended
}

// Events delivers, in order, everything this session should show after its
// backlog, like Receive. It is closed when the session has ended and
// everything queued before was delivered; the reason is in Reason.
//
// Events costs a goroutine per session, and a goroutine switch per message:
// Receive is the cheap path. The first call starts that goroutine, which
// feeds the channel from Receive. What is queued at that first call is put
// in the channel's buffer at once, so a caller may take it without waiting;
// later messages are handed over one at a time as the caller reads them
// (the goroutine holds up to eventsBatch of them, beyond Config.QueueSize).
// The goroutine ends with the session: if the reader has stopped reading by
// then, it waits at most eventsGrace (30s) for the reader to take each
// remaining message, then drops them (see handOver).
func (s *Session) Events() <-chan Message {
	s.eventsOnce.Do(s.startEvents)
	return s.events
}

// startEvents moves what is queued into a new channel's buffer and starts
// the goroutine that forwards the rest.
func (s *Session) startEvents() {
	queued, _, _ := s.q.take(nil, math.MaxInt)
	ch := make(chan Message, len(queued))
	for _, m := range queued {
		ch <- m
	}
	s.events = ch
	go s.forward(ch)
}

const (
	// eventsBatch is how many messages the Events goroutine takes from the
	// queue at a time: fewer trips to the queue's lock, for at most this
	// many messages held outside the queue's bounds.
	eventsBatch = 16
	// eventsGrace is how long the Events goroutine of an ended session waits
	// for its reader to take each remaining message before dropping them.
	eventsGrace = 30 * time.Second
)

// forward is the Events goroutine: it owns the sending side of ch.
func (s *Session) forward(ch chan<- Message) {
	defer close(ch)
	var buf []Message
	for {
		var ok bool
		if buf, ok = s.Receive(buf, eventsBatch); !ok {
			return
		}
		for i := range buf {
			select {
			case ch <- buf[i]:
				buf[i] = Message{} // keep no text while waiting
				continue
			case <-s.done:
			}
			s.handOver(ch, buf[i:])
			return
		}
	}
}

// handOver gives the pending messages, and whatever is still queued, to a
// reader that goes on reading after the session has ended. Nothing more
// can be queued, so a reader that keeps reading gets everything and then
// sees ch closed. But nothing tells a channel's sender that its reader has
// gone away, so when one message waits longer than eventsGrace for the
// reader, the rest are dropped and the goroutine ends instead of leaking.
func (s *Session) handOver(ch chan<- Message, pending []Message) {
	grace := s.hub.eventsGrace
	t := time.NewTimer(grace)
	defer t.Stop()
	for {
		for i := range pending {
			select {
			case ch <- pending[i]:
				pending[i] = Message{}
				t.Reset(grace)
			case <-t.C:
				n := len(pending) - i + s.q.discard()
				clear(pending)
				s.hub.log.Debug("session ended and its events were not read; dropped them",
					"id", s.m.id, "session", s.id, "messages", n)
				return
			}
		}
		var ok bool
		if pending, ok = s.Receive(pending, eventsBatch); !ok { // does not wait: the session has ended
			return
		}
	}
}

// outbox is a session's outgoing queue: a FIFO of the messages delivered to
// the session that its reader has not taken yet. The hub puts messages in
// (with Hub.mu held, then mu: never the other way round) and never waits;
// the reader takes them out holding only mu.
//
// It holds no memory while empty: its ring is taken when a message arrives,
// replaced by one twice as large when full, and given back once drained.
// Rings are recycled through pools shared by every session (ringPools), so
// that a busy room does not allocate per message, nor a lagging reader per
// burst.
type outbox struct {
	mu    sync.Mutex
	ring  *outRing      // owns buf, to give it back; nil when empty
	buf   []*Message    // ring.slots: a ring of len(buf) slots
	head  int           // the slot of the oldest message
	n     int           // messages queued
	bytes int           // their approximate size (messageSize)
	ended bool          // the session has ended: nothing more will be queued
	wake  chan struct{} // capacity 1: a message was queued, or the end
}

// outRing holds the slots of an outbox ring, so that the ring can be
// recycled through a pool without allocating.
type outRing struct{ slots []*Message }

const (
	// ringFirst is the size of a ring when a message arrives in an empty
	// queue.
	ringFirst = 16
	// ringClasses is how many ring sizes are recycled: 16 to 8,192 slots.
	ringClasses = 10
)

// ringPools recycle rings by size (ringFirst<<k in ringPools[k]), with all
// their slots zero. A ring of another size (a QueueSize that is not a
// power of two) is left to the collector.
var ringPools [ringClasses]sync.Pool

// ringClass returns k for a ring of ringFirst<<k slots.
func ringClass(size int) (int, bool) {
	if size < ringFirst || size&(size-1) != 0 {
		return 0, false
	}
	k := bits.Len(uint(size/ringFirst)) - 1
	return k, k < ringClasses
}

// getRing returns a ring of size slots, all zero.
func getRing(size int) *outRing {
	if k, ok := ringClass(size); ok {
		if r, _ := ringPools[k].Get().(*outRing); r != nil {
			return r
		}
	}
	return &outRing{slots: make([]*Message, size)}
}

// putRing recycles r, whose slots must all be zero.
func putRing(r *outRing) {
	if k, ok := ringClass(len(r.slots)); ok {
		ringPools[k].Put(r)
	}
}

// messageOverhead is what a queued message costs besides its strings.
const messageOverhead = int(unsafe.Sizeof(Message{}))

// messageSize approximates the memory m holds: its text fields and the
// message itself.
func messageSize(m *Message) int {
	return messageOverhead + len(m.Room) + len(m.From) + len(m.FromID) + len(m.To) + len(m.ToID) + len(m.Text)
}

// Which bound a full outbox hit, for the log.
const (
	boundMessages = "messages"
	boundBytes    = "bytes"
)

// put queues m unless that would take the queue past maxMessages messages
// or maxBytes bytes; then it queues nothing and returns the bound and what
// the queue holds. A message alone in the queue is accepted whatever its
// size, so that one large message never ends a session that keeps up. After
// end, put drops m.
func (q *outbox) put(m *Message, maxMessages, maxBytes int) (bound string, n, bytes int) {
	size := messageSize(m)
	q.mu.Lock()
	switch {
	case q.ended:
	case q.n >= maxMessages:
		bound = boundMessages
	case q.n > 0 && q.bytes+size > maxBytes:
		bound = boundBytes
	default:
		if q.n == len(q.buf) {
			q.growLocked(maxMessages)
		}
		i := q.head + q.n
		if i >= len(q.buf) {
			i -= len(q.buf)
		}
		q.buf[i] = m
		q.n++
		q.bytes += size
	}
	n, bytes = q.n, q.bytes
	q.mu.Unlock()
	if bound == "" {
		q.signal()
	}
	return bound, n, bytes
}

// signal wakes one waiting reader, or the next one to wait.
func (q *outbox) signal() {
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// growLocked makes room for one more message: a first ring for an empty
// queue, else one twice as large (at most maxMessages).
func (q *outbox) growLocked(maxMessages int) {
	size := ringFirst
	if q.ring != nil {
		size = max(min(2*len(q.buf), maxMessages), q.n+1)
	}
	r := getRing(size)
	if old := q.ring; old != nil {
		k := copy(r.slots, q.buf[q.head:])
		copy(r.slots[k:], q.buf[:q.head])
		clear(q.buf)
		putRing(old)
	}
	q.ring, q.buf, q.head = r, r.slots, 0
}

// take moves up to limit messages (at least one) from the queue to dst and
// reports whether there were any and, when there were none, whether the
// session has ended (so none will come).
func (q *outbox) take(dst []Message, limit int) (_ []Message, got, ended bool) {
	return takeAs(q, dst, limit, func(m *Message) Message { return *m })
}

// takeShared is take for the messages themselves, shared with every
// session they went to.
func (q *outbox) takeShared(dst []*Message, limit int) (_ []*Message, got, ended bool) {
	return takeAs(q, dst, limit, func(m *Message) *Message { return m })
}

// takeAs is take and takeShared: each message taken is appended as as(m).
func takeAs[T any](q *outbox, dst []T, limit int, as func(*Message) T) (_ []T, got, ended bool) {
	limit = max(limit, 1)
	q.mu.Lock()
	if q.n == 0 {
		ended = q.ended
		q.mu.Unlock()
		if ended {
			q.signal() // for another reader, if there is one
		}
		return dst, false, ended
	}
	if q.n <= limit {
		// Everything: take the whole ring, and copy out of it without
		// holding up the hub, which may be waiting for mu.
		r, head, n := q.ring, q.head, q.n
		q.ring, q.buf, q.head, q.n, q.bytes = nil, nil, 0, 0, 0
		ended := q.ended
		q.mu.Unlock()
		if ended {
			q.signal() // the end is next: a reader waiting on wake must come back for it
		}
		for i := range n {
			dst = append(dst, as(r.slots[(head+i)%len(r.slots)]))
		}
		clearRing(r.slots, head, n)
		putRing(r)
		return dst, true, false
	}
	for i := range limit {
		m := q.buf[(q.head+i)%len(q.buf)]
		q.bytes -= messageSize(m)
		dst = append(dst, as(m))
	}
	clearRing(q.buf, q.head, limit)
	q.head = (q.head + limit) % len(q.buf)
	q.n -= limit
	q.mu.Unlock()
	q.signal() // more are queued: for another reader, if there is one
	return dst, true, false
}

// clearRing zeroes the n slots of ring from head, so that it keeps no
// message it no longer needs (and can go back to a pool).
func clearRing(ring []*Message, head, n int) {
	first := min(n, len(ring)-head)
	clear(ring[head : head+first])
	clear(ring[:n-first])
}

// end marks the session ended: nothing more is queued. What is queued
// stays for the reader, who is woken to find out.
func (q *outbox) end() {
	q.mu.Lock()
	q.ended = true
	q.mu.Unlock()
	q.signal()
}

// discard empties the queue and returns how many messages it dropped.
func (q *outbox) discard() int {
	q.mu.Lock()
	r, head, n := q.ring, q.head, q.n
	q.ring, q.buf, q.head, q.n, q.bytes = nil, nil, 0, 0, 0
	q.mu.Unlock()
	if r != nil {
		clearRing(r.slots, head, n)
		putRing(r)
	}
	return n
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Reason says why the session ended, once Done is closed.
func (s *Session) Reason() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.reason
}

// Backlog returns the recent messages of the session's current room as they
// were when the session entered it, oldest first. Receive (or Events)
// continues exactly where it ends. The slice is shared with everyone who
// entered the room since its last message: read it, never modify it.
func (s *Session) Backlog() []Message {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.backlogs[s.room.name]
}

// RoomBacklog is Backlog for any room the session is in (after its
// KindEnter event for that room).
func (s *Session) RoomBacklog(name string) []Message {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.backlogs[RoomKey(name)]
}

// ID returns the session's identity (key fingerprint).
func (s *Session) ID() string { return s.m.id }

// Name returns the session's current display name.
func (s *Session) Name() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.m.name
}

// Admin reports whether the session's identity is an admin.
func (s *Session) Admin() bool { return s.m.admin() } // asked now: see Config.Admin

// Room returns the name of the room the session shows, without '#'.
func (s *Session) Room() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.room.name
}

// Topic returns the topic of the session's room.
func (s *Session) Topic() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.room.topic
}

// Close ends the session with a reason shown to the others in the room when
// it was the person's last session there. Closing twice does nothing.
func (s *Session) Close(reason string) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.closeSessionLocked(s, reason)
}

// Send handles one line (or pasted block) the person entered: a /command
// or a message to the room. It returns once the message is stored and
// delivered, or with an error safe to show the person (see UserMessage).
// Command output arrives on Receive (or Events) as notices.
func (s *Session) Send(ctx context.Context, text string) error {
	if err := s.hub.validErr(s.m.id); err != nil { // admin.go
		return err
	}
	// " /msg bob secret" is a command too: a stray space must never
	// broadcast a private message.
	if trimmed := strings.TrimLeft(text, " \t"); strings.HasPrefix(trimmed, "/") {
		text = trimmed
	}
	if name, args, ok := ParseCommand(text); ok {
		return s.hub.runCommand(ctx, s, name, args)
	}
	text = strings.TrimPrefix(text, "/") // "//x" sends "/x"
	return s.post(ctx, KindChat, text)
}

// post sanitises text and sends it to the session's room as kind.
func (s *Session) post(ctx context.Context, kind Kind, text string) error {
	clean, cut, err := s.prepare(text)
	if err != nil {
		return err
	}
	h := s.hub
	h.mu.Lock()
	if s.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	h.activeLocked(s.m, h.cfg.Now())
	o := &op{msg: Message{Room: s.room.name, Kind: kind, From: s.m.name, FromID: s.m.id, Text: clean}, done: make(chan error, 1), sender: s}
	s.room.enqueueLocked(o)
	h.mu.Unlock()
	select {
	case err = <-o.done:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the room: %w", ctx.Err())
	}
	if err == nil && cut {
		s.Notice(cutNotice)
	}
	return err
}

// cutNotice tells a sender that the caps shortened their message.
var cutNotice = fmt.Sprintf("Your message was cut to %d characters and %d lines.", safetext.MaxMessageRunes, safetext.MaxMessageLines)

// prepare turns what a person typed into the text to send (shortcodes
// expanded, made inert, capped) and applies the flood limit.
func (s *Session) prepare(text string) (clean string, cut bool, err error) {
	clean, cut = safetext.Message(ExpandShortcodes(text))
	if clean == "" {
		return "", false, Errorf("nothing to send: the message is empty")
	}
	if err := s.hub.allowMessage(s.m.id, s.waits.Load()); err != nil {
		return "", false, err
	}
	return clean, cut, nil
}

// Notice shows text to this session only.
func (s *Session) Notice(text string) { s.deliver(KindNotice, text) }

func (s *Session) deliver(kind Kind, text string) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliverLocked(s, Message{Time: h.cfg.Now(), Kind: kind, Text: text})
}

// Error is a failure whose text is safe and useful to show the person who
// caused it. Other errors are internal: log them and show a generic line.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Errorf builds an Error.
func Errorf(format string, args ...any) error { return &Error{msg: fmt.Sprintf(format, args...)} }

// UserMessage returns the text to show a person for err: the text of an
// Error, or a generic line for anything else (which it logs).
func UserMessage(log *slog.Logger, err error) string {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.msg
	}
	if errors.Is(err, ErrClosed) {
		return "the session has ended"
	}
	if log != nil {
		log.Error("internal error shown generically", "err", err)
	}
	return "something went wrong on the server; please try again"
}

// Members lists the people in the session's room.
func (s *Session) Members() []MemberInfo { return s.hub.Members(s.Room()) }

// Commands lists the commands this session may use.
func (s *Session) Commands() []Command { return s.hub.commands.List(s.Admin()) }

// allowMessage applies the per-identity message limit. A refusal is counted
// as "rate", or as "delayed" when the sender waits and sends it again.
func (h *Hub) allowMessage(id string, waits bool) error {
	if err := h.mutedErr(id); err != nil {
		return err
	}
	if h.cfg.MessageLimit == nil {
		return nil
	}
	if ok, wait := h.cfg.MessageLimit.Allow(id); !ok {
		if waits {
			h.cfg.Observer.MessageRefused("delayed")
		} else {
			h.cfg.Observer.MessageRefused("rate")
		}
		return rateLimited(wait)
	}
	return nil
}

// noticeAllowedLocked applies the per-identity notice limit.
func (h *Hub) noticeAllowedLocked(id string) bool {
	if h.cfg.NoticeLimit == nil {
		return true
	}
	ok, _ := h.cfg.NoticeLimit.Allow(id)
	return ok
}

// roundUp formats d in whole seconds, at least one.
func roundUp(d time.Duration) string {
	return (max(d, time.Second) + time.Second - 1).Truncate(time.Second).String()
}
