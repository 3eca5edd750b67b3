package natslog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"parley/room"
	"parley/safetext"
)

// maxName bounds a sender's name and identity read from the stream.
const maxName = 128

// Options tune a Log. The zero value is usable.
type Options struct {
	// Replicas is how many servers hold each room's stream: 3 in a
	// production cluster, 1 (the default) on a single NATS server.
	Replicas int
	// Duplicates is the window in which JetStream drops a message whose ID
	// it has already stored (a retried Append). Default 2 minutes.
	Duplicates time.Duration
	// Timeout bounds a call that has no deadline of its own (Subscribe,
	// creating a stream). Default 5 s.
	Timeout time.Duration
	// Logger receives operational events; nil discards them.
	Logger *slog.Logger
	// MaxAge, when set (--retain), is the MaxAge of the rooms' streams:
	// JetStream deletes older messages. Zero keeps everything. The streams
	// a node creates get it, and its Index sets it on the others.
	MaxAge time.Duration
	// Heartbeat is how often a room subscription's server says it is
	// alive; two missed and the subscription is made again from where it
	// left off (the server that held it is gone). Default 2 s, so a node
	// whose NATS server dies stalls about 4 s, not the client's default
	// 10 s; it costs one small message per room and node per Heartbeat.
	Heartbeat time.Duration
}

// Log is a room.Log over JetStream (doc.go). Build it with New.
type Log struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	streams map[string]jetstream.Stream // rooms whose stream is known to exist
}

var _ room.Log = (*Log)(nil)

// Headers and names.
const (
	streamPrefix  = "PARLEY_ROOM_"
	subjectPrefix = "parley.room."
	batchID       = "Nats-Batch-Id"
	batchSeq      = "Nats-Batch-Sequence"
	batchCommit   = "Nats-Batch-Commit"
)

// JetStream error codes that Append handles.
const (
	// errCodeBatchDuplicate: an atomic batch holds a message ID already
	// stored (a retried batch that was committed before).
	errCodeBatchDuplicate jetstream.ErrorCode = 10201
)

// ErrNotConnected is returned (wrapped) by Append when the NATS connection
// is down: the message is not sent, and the caller may try again later.
var ErrNotConnected = errors.New("natslog: not connected to NATS")

// New returns a Log over nc, which the caller keeps and closes (after the
// hubs using the Log are closed). nc should be made with
// nats.ReconnectBufSize(-1), so that nothing is buffered while it is
// disconnected, and with MaxReconnects(-1), so that it never gives up.
func New(nc *nats.Conn, opts Options) (*Log, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Duplicates <= 0 {
		opts.Duplicates = 2 * time.Minute
	}
	if opts.MaxAge > 0 { // JetStream wants the window within the age
		opts.Duplicates = min(opts.Duplicates, opts.MaxAge)
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 2 * time.Second
	}
	js, log, err := jetStreamOf(nc, &opts.Timeout, opts.Logger)
	if err != nil {
		return nil, err
	}
	return &Log{nc: nc, js: js, opts: opts, log: log, streams: make(map[string]jetstream.Stream)}, nil
}

// jetStreamOf is what New, NewRoster and NewDMs each start with: the
// JetStream context of nc, the default timeout (5 s) set where none was
// given, and the logger (nil discards).
func jetStreamOf(nc *nats.Conn, timeout *time.Duration, logger *slog.Logger) (jetstream.JetStream, *slog.Logger, error) {
	if *timeout <= 0 {
		*timeout = 5 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("natslog: jetstream: %w", err)
	}
	return js, logger, nil
}

// StreamName returns the JetStream stream of a room (its folded name).
func StreamName(room string) string { return streamPrefix + Token(room) }

// Subject returns the subject a room's messages are published on.
func Subject(room string) string { return subjectPrefix + Token(room) }

// stream returns the room's stream, creating it when it does not exist.
// Every node creates it with the same configuration; when another node
// created it first (or with other options), the existing one is used.
func (l *Log) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	l.mu.Lock()
	s := l.streams[name]
	l.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := l.js.Stream(ctx, StreamName(name))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = l.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:               StreamName(name),
			Description:        "parley room " + name,
			Subjects:           []string{Subject(name)},
			Storage:            jetstream.FileStorage,
			Replicas:           l.opts.Replicas,
			Duplicates:         l.opts.Duplicates,
			MaxAge:             l.opts.MaxAge,
			AllowDirect:        true,
			AllowAtomicPublish: true,
			Discard:            jetstream.DiscardOld,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = l.js.Stream(ctx, StreamName(name))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("room %s: stream %s: %w", name, StreamName(name), err)
	}
	l.mu.Lock()
	l.streams[name] = s
	l.mu.Unlock()
	return s, nil
}

// forget drops a cached stream (it may have been deleted).
func (l *Log) forget(name string) {
	l.mu.Lock()
	delete(l.streams, name)
	l.mu.Unlock()
}

// Append publishes recs to the room's stream and sets their Seq from
// JetStream's acknowledgement: one message, or one atomic batch.
func (l *Log) Append(ctx context.Context, name string, recs []room.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if !l.nc.IsConnected() {
		return unavailable(fmt.Errorf("room %s: append: %w", name, ErrNotConnected))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.opts.Timeout)
		defer cancel()
	}
	if _, err := l.stream(ctx, name); err != nil {
		return unavailable(err)
	}
	var err error
	if len(recs) == 1 {
		err = l.publishEach(ctx, name, recs)
	} else {
		err = l.publishBatch(ctx, name, recs)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeBatchDuplicate {
			// Part of this batch was committed by an earlier attempt:
			// publish it one by one, each deduplicated.
			err = l.publishEach(ctx, name, recs)
		}
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrNoStreamResponse) {
			l.forget(name)
		}
		for i := range recs {
			recs[i].Seq = 0
		}
		return unavailable(fmt.Errorf("room %s: append %d: %w", name, len(recs), err))
	}
	return nil
}

// publishEach publishes recs one at a time, in order, waiting for each
// acknowledgement. A duplicate's Seq is the one it was stored with.
func (l *Log) publishEach(ctx context.Context, name string, recs []room.Record) error {
	for i := range recs {
		m, err := encode(name, &recs[i])
		if err != nil {
			return err
		}
		ack, err := l.js.PublishMsg(ctx, m)
		if err != nil {
			return fmt.Errorf("message %d of %d: %w", i+1, len(recs), err)
		}
		recs[i].Seq = ack.Sequence
	}
	return nil
}

// publishBatch publishes recs as one atomic batch: every message but the
// last is sent without waiting (the server stages it), and the last one
// commits the batch and is acknowledged with the last sequence number.
func (l *Log) publishBatch(ctx context.Context, name string, recs []room.Record) error {
	id := nuid.Next()
	for i := range recs {
		m, err := encode(name, &recs[i])
		if err != nil {
			return err
		}
		m.Header.Set(batchID, id)
		m.Header.Set(batchSeq, strconv.Itoa(i+1))
		if i < len(recs)-1 {
			if err := l.nc.PublishMsg(m); err != nil {
				return fmt.Errorf("batch message %d of %d: %w", i+1, len(recs), err)
			}
			continue
		}
		m.Header.Set(batchCommit, "1")
		ack, err := l.js.PublishMsg(ctx, m)
		if err != nil {
			return fmt.Errorf("batch commit: %w", err)
		}
		if ack.Sequence < uint64(len(recs)) {
			return fmt.Errorf("batch commit: acknowledged sequence %d for %d messages", ack.Sequence, len(recs))
		}
		first := ack.Sequence - uint64(len(recs)) + 1
		for j := range recs {
			recs[j].Seq = first + uint64(j)
		}
	}
	return nil
}

// Subscribe delivers the room's records after sequence after, in order,
// through an ordered consumer: one record per delivery.
func (l *Log) Subscribe(name string, after uint64, deliver func([]room.Record)) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Timeout)
	defer cancel()
	s, err := l.stream(ctx, name)
	if err != nil {
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1}
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		l.forget(name)
		return nil, fmt.Errorf("room %s: consumer from %d: %w", name, after+1, err)
	}
	sub := &subscription{name: name, last: after, deliver: deliver, log: l.log}
	cc, err := cons.Consume(sub.handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		l.log.Debug("room subscription", "room", name, "err", err)
	}), jetstream.PullHeartbeat(l.opts.Heartbeat), jetstream.PullExpiry(5*l.opts.Heartbeat))
	if err != nil {
		return nil, fmt.Errorf("room %s: consume: %w", name, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			sub.mu.Lock()
			sub.stopped = true
			sub.mu.Unlock()
			cc.Stop()
		})
	}, nil
}

// subscription is one Subscribe. mu is held across each delivery, so that
// stop, which takes it, waits for a delivery in progress.
type subscription struct {
	name    string
	deliver func([]room.Record)
	log     *slog.Logger

	mu      sync.Mutex
	stopped bool
	last    uint64 // the last stream sequence delivered
	one     [1]room.Record
}

func (s *subscription) handle(m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		s.log.Warn("room message without metadata: skipped", "room", s.name, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := meta.Sequence.Stream
	if s.stopped || seq <= s.last {
		return
	}
	s.last = seq
	rec, err := decode(s.name, seq, m.Headers(), m.Data())
	if err != nil {
		s.log.Warn("undecodable room message: skipped", "room", s.name, "seq", seq, "err", err)
		return
	}
	s.one[0] = rec
	s.deliver(s.one[:])
	s.one[0] = room.Record{}
}

// payload is a room message on the wire. The room is the subject's, the
// sequence the stream's, the record ID the Nats-Msg-Id header.
type payload struct {
	Time   time.Time `json:"t"`
	Kind   room.Kind `json:"k"`
	From   string    `json:"f,omitempty"`
	FromID string    `json:"fi,omitempty"`
	Text   string    `json:"x,omitempty"`
}

func encode(name string, rec *room.Record) (*nats.Msg, error) {
	data, err := json.Marshal(payload{Time: rec.Time, Kind: rec.Kind, From: rec.From, FromID: rec.FromID, Text: rec.Text})
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	m := nats.NewMsg(Subject(name))
	m.Data = data
	if id := rec.ID; id != (room.RecordID{}) {
		m.Header.Set(jetstream.MsgIDHeader, FormatID(id))
	}
	return m, nil
}

func decode(name string, seq uint64, h nats.Header, data []byte) (room.Record, error) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return room.Record{}, fmt.Errorf("decode: %w", err)
	}
	if !p.Kind.Stored() { // a notice or a private message has no place in a room's stream
		return room.Record{}, fmt.Errorf("decode: kind %d is not a room message", p.Kind)
	}
	// What hubs publish is already inert; anything else that could publish
	// on the subject is made so again before it reaches a terminal.
	text, _ := safetext.Message(p.Text)
	rec := room.Record{Message: room.Message{Seq: seq, Time: p.Time, Room: name, Kind: p.Kind,
		From: safetext.Line(p.From, maxName), FromID: safetext.Line(p.FromID, maxName), Text: text}}
	if v := h.Get(jetstream.MsgIDHeader); v != "" {
		id, err := ParseID(v)
		if err != nil {
			return room.Record{}, err
		}
		rec.ID = id
	}
	return rec, nil
}

// FormatID writes a RecordID as a Nats-Msg-Id: "<node hex>-<n>".
func FormatID(id room.RecordID) string {
	return strconv.FormatUint(id.Node, 16) + "-" + strconv.FormatUint(id.N, 10)
}

// ParseID reads a Nats-Msg-Id written by FormatID.
func ParseID(s string) (room.RecordID, error) {
	node, n, ok := strings.Cut(s, "-")
	if ok {
		a, err1 := strconv.ParseUint(node, 16, 64)
		b, err2 := strconv.ParseUint(n, 10, 64)
		if err1 == nil && err2 == nil {
			return room.RecordID{Node: a, N: b}, nil
		}
	}
	return room.RecordID{}, fmt.Errorf("message id %q: not a parley record id", s)
}
