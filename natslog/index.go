package natslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/room"
)

// IndexStore is a node's local database as an index of the rooms' streams
// (store.SQLite is one): the messages of each room with their stream
// sequence numbers, and how far each room's stream has been applied.
type IndexStore interface {
	// IndexState returns the last stream sequence applied for room (0:
	// none), the creation time of the stream it followed (zero: unknown)
	// and whether its messages are imported history to be replaced.
	IndexState(ctx context.Context, room string) (applied uint64, streamCreated time.Time, imported bool, err error)
	// IndexApply stores msgs, the room's next messages in stream order,
	// and records through as applied, in one transaction.
	IndexApply(ctx context.Context, room string, streamCreated time.Time, through uint64, msgs []room.Message) error
	// IndexReset forgets the room's messages and index state.
	IndexReset(ctx context.Context, room string) error
}

// IndexOptions tune an Index. The zero value is usable.
type IndexOptions struct {
	// Rescan is how often the list of room streams is read again, beside
	// the stream-created advisories that announce a new room at once
	// (they are not delivered while the connection is down). Default 30 s.
	Rescan time.Duration
	// FlushAfter bounds how long a message read from a stream waits before
	// it is written to the index, so that messages arriving together are
	// written in one transaction. Default 50 ms.
	FlushAfter time.Duration
	// Batch is the most messages written in one transaction. Default 512.
	Batch int
}

// Index keeps a node's local database (an IndexStore) fed from every
// room's stream, the rooms made on other nodes included, so that
// scrollback, /jump and search read the node's own disk (issue 15: the
// stream is the source of truth, each node's SQLite its index). Each room
// is followed from the last sequence its index applied, so a node that was
// down catches up when it starts.
//
// # Concurrency
//
// Each room is followed by one goroutine of its own, the only writer of
// that room's index; mu guards the set of rooms followed. A room's applied
// sequence is an atomic, read by History's callers on any goroutine.
type Index struct {
	l    *Log
	st   IndexStore
	opts IndexOptions
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	rooms    map[string]*indexRoom // rooms followed
	closed   bool
	advisory *nats.Subscription
}

// indexRoom is one followed room.
type indexRoom struct {
	applied atomic.Uint64 // the last stream sequence in the local index
	restart chan struct{} // buffered 1: follow the stream again (it may be new)
}

// NewIndex returns an Index that feeds st from l's streams. Call Start.
func (l *Log) NewIndex(st IndexStore, opts IndexOptions) *Index {
	if opts.Rescan <= 0 {
		opts.Rescan = 30 * time.Second
	}
	if opts.FlushAfter <= 0 {
		opts.FlushAfter = 50 * time.Millisecond
	}
	if opts.Batch <= 0 {
		opts.Batch = 512
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Index{l: l, st: st, opts: opts, log: l.log, ctx: ctx, cancel: cancel, rooms: make(map[string]*indexRoom)}
}

// advisoryCreated is the subject of JetStream's stream-created advisories.
const advisoryCreated = "$JS.EVENT.ADVISORY.STREAM.CREATED."

// Start lists the room streams and follows each one, and from then on
// every room stream created, by this node or another. Catching up runs in
// the background: Start returns once every room is being followed.
func (x *Index) Start(ctx context.Context) error {
	sub, err := x.l.nc.Subscribe(advisoryCreated+"*", func(m *nats.Msg) {
		stream := strings.TrimPrefix(m.Subject, advisoryCreated)
		if name, ok := roomOfStream(stream); ok {
			x.follow(name, true)
		}
	})
	if err != nil {
		return fmt.Errorf("natslog: index: stream advisories: %w", err)
	}
	x.mu.Lock()
	x.advisory = sub
	x.mu.Unlock()
	if err := x.scan(ctx); err != nil {
		return err
	}
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		t := time.NewTicker(x.opts.Rescan)
		defer t.Stop()
		for {
			select {
			case <-x.ctx.Done():
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(x.ctx, x.l.opts.Timeout)
			if err := x.scan(ctx); err != nil && x.ctx.Err() == nil {
				x.log.Warn("index: listing the room streams", "err", err)
			}
			cancel()
		}
	}()
	return nil
}

// roomOfStream returns the room whose stream is named stream.
func roomOfStream(stream string) (string, bool) {
	tok, ok := strings.CutPrefix(stream, streamPrefix)
	if !ok {
		return "", false
	}
	name, err := ParseToken(tok)
	return name, err == nil && name != ""
}

// scan follows every room stream not followed yet.
func (x *Index) scan(ctx context.Context) error {
	names := x.l.js.StreamNames(ctx, jetstream.WithStreamListSubject(subjectPrefix+">"))
	for s := range names.Name() {
		if name, ok := roomOfStream(s); ok {
			x.follow(name, false)
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("natslog: index: listing the room streams: %w", err)
	}
	return nil
}

// follow starts following the room, or, when it is followed already and
// again is true (its stream was just created, maybe made again), has its
// goroutine look at the stream anew.
func (x *Index) follow(name string, again bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return
	}
	if ir := x.rooms[name]; ir != nil {
		if again {
			select {
			case ir.restart <- struct{}{}:
			default:
			}
		}
		return
	}
	ir := &indexRoom{restart: make(chan struct{}, 1)}
	x.rooms[name] = ir
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		x.run(name, ir)
	}()
}

// Applied returns the last stream sequence of the room in the local index
// (0 before the room's index is read).
func (x *Index) Applied(name string) uint64 {
	x.mu.Lock()
	ir := x.rooms[name]
	x.mu.Unlock()
	if ir == nil {
		return 0
	}
	return ir.applied.Load()
}

// Close stops following the rooms and waits until what was read is
// written. Call it before closing the IndexStore and the connection.
func (x *Index) Close() {
	x.mu.Lock()
	x.closed = true
	sub := x.advisory
	x.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	x.cancel()
	x.wg.Wait()
}

// errStreamGone ends a room's goroutine: its stream was deleted.
var errStreamGone = errors.New("the room's stream is gone")

// run follows a room until the Index closes, starting again after a
// failure (with a growing pause) or when told to.
func (x *Index) run(name string, ir *indexRoom) {
	pause := time.Second
	for {
		err := x.followOnce(name, ir)
		if x.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errStreamGone) {
			x.mu.Lock()
			delete(x.rooms, name) // a stream made again is followed anew
			x.mu.Unlock()
			x.log.Info("index: room stream deleted: no longer followed", "room", name)
			return
		}
		if err == nil { // told to start again: at once
			pause = time.Second
			continue
		}
		x.log.Warn("index: following a room stream: trying again", "room", name, "err", err, "in", pause)
		t := time.NewTimer(pause)
		select {
		case <-x.ctx.Done():
			t.Stop()
			return
		case <-ir.restart:
			t.Stop()
		case <-t.C:
			pause = min(2*pause, 5*time.Second) // back soon after an outage
		}
	}
}

// followOnce reads the room's stream from after what its index applied and
// writes what it reads, until the Index closes (nil), the room is told to
// start again (nil) or something fails.
func (x *Index) followOnce(name string, ir *indexRoom) error {
	ctx, cancel := context.WithTimeout(x.ctx, x.l.opts.Timeout)
	s, err := x.l.js.Stream(ctx, StreamName(name))
	if err == nil {
		if rerr := x.retain(ctx, s); rerr != nil { // the index works without it
			x.log.Warn("index: --retain not applied to the room's stream", "room", name, "err", rerr)
		}
	}
	var applied uint64
	var created time.Time
	var imported bool
	if err == nil {
		applied, created, imported, err = x.st.IndexState(ctx, name)
	}
	cancel()
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return errStreamGone
	}
	if err != nil {
		return err
	}
	info := s.CachedInfo()
	reset := true
	switch {
	case imported:
		x.log.Info("index: replacing the room's imported history by its stream's", "room", name)
	case !created.IsZero() && !created.Equal(info.Created):
		x.log.Warn("index: the room's stream was made again: indexing it from its start", "room", name, "applied", applied)
	case applied > info.State.LastSeq:
		x.log.Warn("index: the room's stream ends before what was indexed: indexing it from its start", "room", name, "applied", applied, "stream_last", info.State.LastSeq)
	default:
		reset = false
	}
	if reset {
		ir.applied.Store(0)
		if err := x.st.IndexReset(x.ctx, name); err != nil {
			return err
		}
		applied = 0
	}
	ir.applied.Store(applied)
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if applied > 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: applied + 1}
	}
	ctx, cancel = context.WithTimeout(x.ctx, x.l.opts.Timeout)
	cons, err := s.OrderedConsumer(ctx, cfg)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return errStreamGone
		}
		return fmt.Errorf("consumer from %d: %w", applied+1, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("reading from %d: %w", applied+1, err)
	}
	defer it.Stop()
	// Stop reading when told to start again.
	ctx, cancel = context.WithCancel(x.ctx)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-ir.restart:
			cancel()
		}
	}()
	w := indexWriter{x: x, name: name, ir: ir, created: info.Created, through: applied}
	for {
		var m jetstream.Msg
		if len(w.buf) > 0 || w.through > ir.applied.Load() {
			wait := time.Until(w.since.Add(x.opts.FlushAfter))
			if wait <= 0 {
				if err := w.flush(); err != nil {
					return err
				}
				continue
			}
			m, err = it.Next(jetstream.NextMaxWait(wait))
		} else {
			m, err = it.Next(jetstream.NextContext(ctx))
		}
		switch {
		case errors.Is(err, nats.ErrTimeout):
			continue // time to flush
		case err != nil:
			if ctx.Err() != nil { // closing, or starting again: keep what was read
				return w.flush()
			}
			return errors.Join(fmt.Errorf("reading after %d: %w", w.through, err), w.flush())
		}
		meta, err := m.Metadata()
		if err != nil {
			x.log.Warn("index: room message without metadata: skipped", "room", name, "err", err)
			continue
		}
		seq := meta.Sequence.Stream
		if seq <= w.through {
			continue
		}
		if w.through == ir.applied.Load() && len(w.buf) == 0 {
			w.since = time.Now()
		}
		w.through = seq
		rec, err := decode(name, seq, m.Headers(), m.Data())
		switch {
		case err != nil:
			x.log.Warn("index: undecodable room message: skipped", "room", name, "seq", seq, "err", err)
		case x.l.opts.MaxAge > 0 && rec.Time.Before(time.Now().Add(-x.l.opts.MaxAge)):
			// Older than --retain (imported history, say): the retention
			// loop would delete it; the index never takes it.
		default:
			w.buf = append(w.buf, rec.Message)
		}
		if len(w.buf) >= x.opts.Batch {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
}

// indexWriter gathers what a room's goroutine read, to write it in one
// transaction.
type indexWriter struct {
	x       *Index
	name    string
	ir      *indexRoom
	created time.Time
	through uint64 // the last stream sequence read
	since   time.Time
	buf     []room.Message
}

// flush writes what was read since the last flush.
func (w *indexWriter) flush() error {
	if w.through <= w.ir.applied.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.x.l.opts.Timeout)
	defer cancel()
	if err := w.x.st.IndexApply(ctx, w.name, w.created, w.through, w.buf); err != nil {
		// Read again from what was applied: nothing is skipped.
		return fmt.Errorf("writing %d messages up to %d: %w", len(w.buf), w.through, err)
	}
	w.ir.applied.Store(w.through)
	clear(w.buf)
	w.buf = w.buf[:0]
	return nil
}

// retain makes the stream's MaxAge the Log's (Options.MaxAge, --retain)
// when that is set and the stream has another: the node that last started
// decides, so give every node the same --retain.
func (x *Index) retain(ctx context.Context, s jetstream.Stream) error {
	want := x.l.opts.MaxAge
	cfg := s.CachedInfo().Config
	if want <= 0 || cfg.MaxAge == want {
		return nil
	}
	old := cfg.MaxAge
	cfg.MaxAge = want
	cfg.Duplicates = min(cfg.Duplicates, want)
	if _, err := x.l.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("setting the stream's max age to %v: %w", want, err)
	}
	x.log.Info("index: the room stream's max age set from --retain", "stream", cfg.Name, "max_age", want, "was", old)
	return nil
}

// History returns what a hub reads in cluster mode: the local index
// (local, the IndexStore's room.History) for what it holds, the stream
// for the rest. A page of scrollback or /jump whose messages the index
// has all applied is read from the local disk; the newest messages of a
// room (Before 0) and anything past what the index applied come from the
// stream, so a reader never misses what the index has not caught up with.
func (x *Index) History(local room.History) room.History {
	return indexHistory{x: x, local: local, stream: history{x.l}}
}

type indexHistory struct {
	x      *Index
	local  room.History
	stream history
}

func (h indexHistory) Append(context.Context, []room.Message) error { return errReadOnly }

func (h indexHistory) LastSeq(ctx context.Context, name string) (uint64, error) {
	return h.stream.LastSeq(ctx, name)
}

func (h indexHistory) Before(ctx context.Context, name string, before uint64, n int) ([]room.Message, error) {
	if before > 1 && h.x.Applied(name) >= before-1 {
		msgs, err := h.local.Before(ctx, name, before, n)
		if err == nil {
			return msgs, nil
		}
		h.x.log.Warn("index: reading the local index failed: reading the stream", "room", name, "err", err)
	}
	return h.stream.Before(ctx, name, before, n)
}
