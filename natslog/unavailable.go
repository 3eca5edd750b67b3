package natslog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"parley/room"
)

// unavailable marks err, an Append failure, as room.ErrUnavailable unless
// retrying the same records cannot help: a message too big for the
// server, or a caller that gave up (its context canceled). Everything else
// (not connected, no responders while a stream has no leader, no quorum,
// a timeout on a silent link) passes with time, and a retry carries the
// same Nats-Msg-Id, so the hub keeps the message and tries again.
func unavailable(err error) error {
	if err == nil || errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, room.ErrUnavailable)
}
