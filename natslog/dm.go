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

	"parley/room"
	"parley/safetext"
)

// Private messages across nodes (doc.go, "Private messages").
const (
	DMStream     = "PARLEY_DM"
	DMMarks      = "PARLEY_DM_MARKS"
	dmSubjectPre = "parley.dm."
	maxDMScan    = 100_000 // the most messages PrivateBefore reads for one identity
)

// DMs is a room.PrivateHistory, room.PrivateFeed and room.PrivateMarks
// over JetStream: one stream for every private message, each on the
// subject parley.dm.<to>.<from> (identity tokens), and a KV bucket of
// how far each identity has been shown them. Build it with NewDMs.
type DMs struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	marks  jetstream.KeyValue
	opts   Options
	log    *slog.Logger
}

var (
	_ room.PrivateHistory = (*DMs)(nil)
	_ room.PrivateFeed    = (*DMs)(nil)
	_ room.PrivateMarks   = (*DMs)(nil)
)

// dmPayload is a private message on the wire; the sequence is the
// stream's.
type dmPayload struct {
	Time   time.Time `json:"t"`
	From   string    `json:"f"`
	FromID string    `json:"fi"`
	To     string    `json:"o"`
	ToID   string    `json:"oi"`
	Text   string    `json:"x"`
}

// NewDMs creates (or opens) the private messages' stream and marks bucket.
// Options.Replicas and Timeout apply; Duplicates does not (private
// messages carry no ID).
func NewDMs(nc *nats.Conn, opts Options) (*DMs, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	js, log, err := jetStreamOf(nc, &opts.Timeout, opts.Logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	cfg := jetstream.StreamConfig{Name: DMStream, Description: "parley private messages",
		Subjects: []string{dmSubjectPre + ">"}, Storage: jetstream.FileStorage, Replicas: opts.Replicas,
		AllowDirect: true, Discard: jetstream.DiscardOld}
	s, err := js.Stream(ctx, DMStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, DMStream)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natslog: stream %s: %w", DMStream, err)
	}
	marks, err := bucket(ctx, js, jetstream.KeyValueConfig{Bucket: DMMarks, Description: "parley: private messages shown to each identity",
		Storage: jetstream.FileStorage, Replicas: opts.Replicas})
	if err != nil {
		return nil, err
	}
	return &DMs{js: js, stream: s, marks: marks, opts: opts, log: log}, nil
}

// dmSubject is the subject of a private message from one identity to
// another.
func dmSubject(toID, fromID string) string {
	return dmSubjectPre + Token(toID) + "." + Token(fromID)
}

// AppendPrivate stores m; its id is the stream sequence, once JetStream
// has acknowledged it.
func (d *DMs) AppendPrivate(ctx context.Context, m room.Message) (int64, error) {
	if m.ToID == "" || m.FromID == "" {
		return 0, errors.New("natslog: private message without its two identities")
	}
	data, err := json.Marshal(dmPayload{Time: m.Time, From: m.From, FromID: m.FromID, To: m.To, ToID: m.ToID, Text: m.Text})
	if err != nil {
		return 0, fmt.Errorf("natslog: encode private message: %w", err)
	}
	ack, err := d.js.Publish(ctx, dmSubject(m.ToID, m.FromID), data)
	if err != nil {
		return 0, fmt.Errorf("natslog: private message: %w", err)
	}
	return int64(ack.Sequence), nil
}

// decodeDM reads a private message stored on subject subj at seq. Its two
// identities must be the subject's, so that what the subject filters
// (PrivateBefore) and what the payload names (the feed) never differ.
func decodeDM(subj string, seq uint64, data []byte) (room.Message, error) {
	var p dmPayload
	if err := json.Unmarshal(data, &p); err != nil {
		return room.Message{}, fmt.Errorf("private message %d: %w", seq, err)
	}
	if p.ToID == "" || p.FromID == "" || subj != dmSubject(p.ToID, p.FromID) ||
		safetext.Line(p.ToID, maxName) != p.ToID || safetext.Line(p.FromID, maxName) != p.FromID {
		return room.Message{}, fmt.Errorf("private message %d: its identities are not its subject's", seq)
	}
	text, _ := safetext.Message(p.Text)
	return room.Message{Seq: seq, Time: p.Time, Kind: room.KindPrivate,
		From: safetext.Line(p.From, maxName), FromID: p.FromID,
		To: safetext.Line(p.To, maxName), ToID: p.ToID, Text: text}, nil
}

// PrivateBefore returns up to n of the private messages identity sent or
// received with a sequence below beforeID (0: the newest), oldest first.
// It reads the identity's messages from the first (at most maxDMScan).
func (d *DMs) PrivateBefore(ctx context.Context, identity string, beforeID int64, n int) ([]room.Message, error) {
	if n <= 0 || identity == "" {
		return nil, nil
	}
	tok := Token(identity)
	cfg := jetstream.ConsumerConfig{
		FilterSubjects:    []string{dmSubjectPre + tok + ".*", dmSubjectPre + "*." + tok},
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	}
	cons, err := d.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("natslog: private messages of %s: %w", identity, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
		defer cancel()
		_ = d.stream.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	remaining := min(cons.CachedInfo().NumPending, maxDMScan)
	var out []room.Message
	for remaining > 0 {
		batch, err := cons.Fetch(int(min(remaining, 256)), jetstream.FetchMaxWait(d.opts.Timeout))
		if err != nil {
			return nil, fmt.Errorf("natslog: private messages of %s: %w", identity, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			remaining--
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			if meta.NumPending == 0 {
				remaining = 0
			}
			seq := meta.Sequence.Stream
			if beforeID > 0 && seq >= uint64(beforeID) {
				remaining = 0
				continue
			}
			msg, err := decodeDM(m.Subject(), seq, m.Data())
			if err != nil {
				d.log.Warn("undecodable private message: skipped", "seq", seq, "err", err)
				continue
			}
			out = append(out, msg)
			if len(out) > n {
				out = out[1:]
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("natslog: private messages of %s: %w", identity, err)
		}
		if got == 0 {
			break
		}
	}
	return out, nil
}

// SubscribePrivate delivers every private message stored from now on, in
// the stream's order, through an ordered consumer that recreates itself
// after a disconnection where it left off.
func (d *DMs) SubscribePrivate(deliver func(room.Message)) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
	defer cancel()
	cons, err := d.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return nil, fmt.Errorf("natslog: private messages: consumer: %w", err)
	}
	var mu sync.Mutex // held across each delivery, so that stop waits for one in progress
	stopped := false
	var last uint64
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seq := meta.Sequence.Stream
		if stopped || seq <= last {
			return
		}
		last = seq
		msg, err := decodeDM(m.Subject(), seq, m.Data())
		if err != nil {
			d.log.Warn("undecodable private message: skipped", "seq", seq, "err", err)
			return
		}
		deliver(msg)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		d.log.Debug("private messages subscription", "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("natslog: private messages: consume: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			stopped = true
			mu.Unlock()
			cc.Stop()
		})
	}, nil
}

// PrivateMark returns how far identity has been shown its private
// messages, on any node (0: never).
func (d *DMs) PrivateMark(ctx context.Context, identity string) (uint64, error) {
	e, err := d.marks.Get(ctx, Token(identity))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("natslog: private mark: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(e.Value())), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("natslog: private mark %q: %w", e.Value(), err)
	}
	return v, nil
}

// SetPrivateMark raises identity's mark to seq, revision-checked, so that
// two nodes saving marks at once never lower it.
func (d *DMs) SetPrivateMark(ctx context.Context, identity string, seq uint64) error {
	key := Token(identity)
	val := []byte(strconv.FormatUint(seq, 10))
	for range 4 {
		e, err := d.marks.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			_, err = d.marks.Create(ctx, key, val)
		case err != nil:
			return fmt.Errorf("natslog: private mark: %w", err)
		default:
			if cur, perr := strconv.ParseUint(string(e.Value()), 10, 64); perr == nil && cur >= seq {
				return nil
			}
			_, err = d.marks.Update(ctx, key, val, e.Revision())
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("natslog: private mark: %w", err)
		}
	}
	return errors.New("natslog: private mark: too many concurrent updates")
}
