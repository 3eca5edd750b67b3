package natslog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultHealthCache is how long Health keeps JetStream's answer.
const DefaultHealthCache = 2 * time.Second

// healthTimeout bounds JetStream's answer to one Check: the meta leader
// answers in milliseconds, and none within this is "no quorum" (kept like
// any answer). It is below the ops listener's 2 s, so /readyz says why.
const healthTimeout = time.Second

// Health tells whether a node can store messages through NATS, for the
// ops listener's /readyz: the connection is up, and JetStream answers an
// account information request, which in a cluster only the meta leader
// does (so no answer, or "temporarily unavailable", means no quorum).
//
// The connection's state is read on every Check (it costs nothing); the
// JetStream request is made at most once per cache period and its answer
// kept, so that a load balancer polling /readyz every second costs NATS
// one request per period. A Health recovers by itself: the first Check
// after the period asks again.
//
// Health is safe for concurrent use; mu guards the cached answer and is
// held across the request, so that concurrent Checks make one.
type Health struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	cacheFor time.Duration

	mu      sync.Mutex
	checked time.Time // when err was found; zero: never
	err     error     // JetStream's last answer
}

// NewHealth returns a Health over nc that keeps JetStream's answer for
// cacheFor (DefaultHealthCache when 0 or less).
func NewHealth(nc *nats.Conn, cacheFor time.Duration) (*Health, error) {
	if cacheFor <= 0 {
		cacheFor = DefaultHealthCache
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natslog: health: %w", err)
	}
	return &Health{nc: nc, js: js, cacheFor: cacheFor}, nil
}

// Check returns nil when the node can store messages, or an error that
// says why not, on one line, for /readyz.
func (h *Health) Check(ctx context.Context) error {
	if st := h.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("NATS: %s (the node reconnects by itself)", statusName(st))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.checked.IsZero() && time.Since(h.checked) < h.cacheFor {
		return h.err
	}
	actx, cancel := context.WithTimeout(ctx, healthTimeout)
	_, err := h.js.AccountInfo(actx)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		err = fmt.Errorf("JetStream does not answer (no quorum, or no JetStream server reachable): %w", err)
	default:
		err = fmt.Errorf("JetStream: %w", err)
	}
	if ctx.Err() != nil && err != nil {
		// The caller gave up: say so, but do not keep it as the answer.
		return err
	}
	h.checked, h.err = time.Now(), err
	return err
}

func statusName(st nats.Status) string {
	switch st {
	case nats.DISCONNECTED:
		return "disconnected"
	case nats.RECONNECTING:
		return "reconnecting"
	case nats.CLOSED:
		return "closed"
	case nats.CONNECTING:
		return "connecting"
	default:
		return st.String()
	}
}
