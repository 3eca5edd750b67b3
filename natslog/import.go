package natslog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"parley/room"
)

// ErrOtherMessages is returned (wrapped) by Import when the room's stream
// already holds messages that are not from the history being imported.
var ErrOtherMessages = errors.New("the room's stream already holds other messages")

// ImportResult says what Import did to one room.
type ImportResult struct {
	// Published is how many messages this run published (those of an
	// earlier run found in the stream are Present instead).
	Published int
	// Present is how many were there already, from an earlier run.
	Present int
	// Others is how many messages of the stream are not from this history.
	Others int
	// Last is the stream's last sequence afterwards.
	Last uint64
}

// importPage is how many messages Import reads from the history at a time,
// and importBatch how many it publishes in one atomic batch (JetStream
// takes up to 1,000 by default).
const (
	importPage  = 500
	importBatch = 250
)

// Import publishes a room's history from before the cluster into the
// room's stream, oldest first, in atomic batches (Append), each
// acknowledged before the next, so that the stream keeps the history's
// order. read pages through the history
// (after, n: up to n messages numbered above after, oldest first).
//
// Each message carries the Nats-Msg-Id FormatID(RecordID{node, its old
// number}), where node names the database the history comes from. Before
// publishing, Import reads the IDs already in the stream: the messages of
// an earlier run with the same node, finished or interrupted, are not
// published again, however long ago it ran (JetStream's own duplicate
// window, minutes, covers only a retry). So running it twice stores each
// message once, in order.
//
// A stream that holds any other message after since (0, or for the
// messages a cluster node stored while it ran without --nats, the stream
// sequence its index had applied: what came before is what the node knew)
// is refused with ErrOtherMessages, unless force: then the history is
// published after what is there (its numbers, and its place in the room,
// come after those messages).
func (l *Log) Import(ctx context.Context, name string, node, since uint64, read func(ctx context.Context, after uint64, n int) ([]room.Message, error), force bool) (ImportResult, error) {
	var res ImportResult
	if node == 0 {
		return res, fmt.Errorf("room %s: import: node 0", name)
	}
	s, err := l.stream(ctx, name)
	if err != nil {
		return res, err
	}
	present, others, err := l.importedIDs(ctx, s, name, node, since)
	if err != nil {
		return res, err
	}
	res.Others = others
	if others > 0 && !force {
		return res, fmt.Errorf("room %s: %w (%d)", name, ErrOtherMessages, others)
	}
	var after uint64
	for {
		page, err := read(ctx, after, importPage)
		if err != nil {
			return res, fmt.Errorf("room %s: reading the history after %d: %w", name, after, err)
		}
		if len(page) == 0 {
			break
		}
		recs := make([]room.Record, 0, len(page))
		for _, m := range page {
			after = m.Seq
			if present[m.Seq] {
				res.Present++
				continue
			}
			if !m.Kind.Stored() || m.Room != name {
				return res, fmt.Errorf("room %s: message %d: a %s message of room %q is not this room's history", name, m.Seq, m.Kind, m.Room)
			}
			recs = append(recs, room.Record{ID: room.RecordID{Node: node, N: m.Seq}, Message: m})
		}
		// Atomic batches (all or none, in order); a retry within the
		// duplicate window is deduplicated by the IDs.
		for len(recs) > 0 {
			k := min(len(recs), importBatch)
			first := recs[0].ID.N
			if err := l.Append(ctx, name, recs[:k]); err != nil {
				return res, fmt.Errorf("room %s: publishing messages %d-%d (%d published before): %w", name, first, recs[k-1].ID.N, res.Published, err)
			}
			res.Published += k
			res.Last = recs[k-1].Seq
			recs = recs[k:]
		}
	}
	if res.Last == 0 {
		info, err := s.Info(ctx)
		if err != nil {
			return res, fmt.Errorf("room %s: stream info: %w", name, err)
		}
		res.Last = info.State.LastSeq
	}
	return res, nil
}

// importedIDs reads the Nats-Msg-Id of every message in the stream after
// since: the old numbers of those published from node's history, and how
// many others there are.
func (l *Log) importedIDs(ctx context.Context, s jetstream.Stream, name string, node, since uint64) (map[uint64]bool, int, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("room %s: stream info: %w", name, err)
	}
	present := make(map[uint64]bool)
	last := info.State.LastSeq
	if info.State.Msgs == 0 || last <= since {
		return present, 0, nil
	}
	cfg := jetstream.OrderedConsumerConfig{HeadersOnly: true, InactiveThreshold: l.opts.Timeout}
	if since > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, since+1
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("room %s: reading the stream: %w", name, err)
	}
	others := 0
	for {
		batch, err := cons.Fetch(importPage, jetstream.FetchMaxWait(l.opts.Timeout))
		if err != nil {
			return nil, 0, fmt.Errorf("room %s: reading the stream: %w", name, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return nil, 0, fmt.Errorf("room %s: reading the stream: %w", name, err)
			}
			id, err := ParseID(m.Headers().Get(jetstream.MsgIDHeader))
			if err == nil && id.Node == node {
				present[id.N] = true
			} else {
				others++
			}
			if meta.Sequence.Stream >= last {
				return present, others, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, 0, fmt.Errorf("room %s: reading the stream: %w", name, err)
		}
		if got == 0 {
			return nil, 0, fmt.Errorf("room %s: reading the stream: it ended before sequence %d", name, last)
		}
	}
}
