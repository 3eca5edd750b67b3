package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/natslog"
	"parley/room"
)

// jsTimeout bounds one question to JetStream.
const jsTimeout = 5 * time.Second

// jetStreamStats is what JetStream acknowledged in the chat room while
// the senders typed: the room stream's last sequence before and after
// (each acknowledged message takes the next one; a deduplicated retry
// takes none).
type jetStreamStats struct {
	Stream string `json:"stream"`
	// AckedDuringSend: messages the stream acknowledged over the sending
	// phase; AckedPerS that over the phase's length. Joins and leaves in
	// that time count too: with none, it equals the tokens sent.
	AckedDuringSend int64   `json:"acked_during_send"`
	AckedPerS       float64 `json:"acked_per_s"`
	// AckedByEnd: from the start of sending until the deliveries were all
	// seen (or the drain ended).
	AckedByEnd int64 `json:"acked_by_end"`
	TokensSent int64 `json:"tokens_sent"`
}

// jsProbe reads a room stream's last sequence.
type jsProbe struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
}

// newJSProbe connects to the NATS server(s) at urls to watch room's stream.
func newJSProbe(urls, roomName string) (*jsProbe, error) {
	nc, err := nats.Connect(urls, nats.Name("parley-bench probe"), nats.Timeout(jsTimeout))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", urls, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &jsProbe{nc: nc, js: js, stream: natslog.StreamName(room.RoomKey(roomName))}, nil
}

// lastSeq is the stream's last sequence; 0 when it does not exist yet.
func (p *jsProbe) lastSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, jsTimeout)
	defer cancel()
	s, err := p.js.Stream(ctx, p.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", p.stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", p.stream, err)
	}
	return info.State.LastSeq, nil
}

func (p *jsProbe) close() { p.nc.Close() }
