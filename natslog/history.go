package natslog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"parley/room"
)

// History returns a read-only room.History over the rooms' streams, for a
// hub whose Log is l: the recent messages of a room it opens, scrollback,
// /jump and tail read what every node appended. Its Append refuses: a
// room's messages are written through the Log only.
func (l *Log) History() room.History { return history{l} }

type history struct{ l *Log }

// errReadOnly is History.Append's answer.
var errReadOnly = errors.New("natslog: the history is written through the Log, not History.Append")

func (h history) Append(context.Context, []room.Message) error { return errReadOnly }

// state returns the room's first and last sequence numbers, (0, 0) when
// it has no stream yet. It does not create the stream.
func (h history) state(ctx context.Context, name string) (first, last uint64, err error) {
	s, err := h.l.js.Stream(ctx, StreamName(name))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("room %s: stream info: %w", name, err)
	}
	st := s.CachedInfo().State
	return st.FirstSeq, st.LastSeq, nil
}

// LastSeq returns the room's stream's last sequence number.
func (h history) LastSeq(ctx context.Context, name string) (uint64, error) {
	_, last, err := h.state(ctx, name)
	return last, err
}

// Before reads up to n messages below before (0: the newest) through a
// short-lived ordered consumer, oldest first.
func (h history) Before(ctx context.Context, name string, before uint64, n int) ([]room.Message, error) {
	if n <= 0 {
		return nil, nil
	}
	first, last, err := h.state(ctx, name)
	if err != nil || last == 0 {
		return nil, err
	}
	hi := last
	if before != 0 && before-1 < hi {
		hi = before - 1
	}
	if hi < first || hi == 0 {
		return nil, nil
	}
	lo := first
	if hi-lo+1 > uint64(n) {
		lo = hi - uint64(n) + 1
	}
	cons, err := h.l.js.OrderedConsumer(ctx, StreamName(name), jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       lo,
		InactiveThreshold: h.l.opts.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("room %s: reading %d..%d: %w", name, lo, hi, err)
	}
	out := make([]room.Message, 0, hi-lo+1)
	for len(out) < int(hi-lo+1) {
		batch, err := cons.FetchNoWait(int(hi-lo+1) - len(out))
		if err != nil {
			return nil, fmt.Errorf("room %s: reading %d..%d: %w", name, lo, hi, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			seq := meta.Sequence.Stream
			if seq > hi {
				return out, nil
			}
			rec, err := decode(name, seq, m.Headers(), m.Data())
			if err != nil {
				h.l.log.Warn("undecodable room message: skipped", "room", name, "seq", seq, "err", err)
				continue
			}
			out = append(out, rec.Message)
			if seq == hi {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("room %s: reading %d..%d: %w", name, lo, hi, err)
		}
		if got == 0 {
			break
		}
	}
	return out, nil
}
