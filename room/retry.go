package room

import (
	"errors"
	"time"
)

// ErrUnavailable marks a Log error that is worth retrying with the same
// records: the Log cannot take messages for now (a shared log unreachable
// or without quorum) and a retry of the same RecordIDs is stored at most
// once. A Log wraps it (errors.Is) into such errors; any other Append
// error refuses the messages at once.
//
// A message refused that way is not dropped: the room keeps it, in its
// place, tells its sender once that it was "not sent, retrying", and
// appends it again (with backoff) until the Log takes it or retryFor has
// passed since the first failure, when the sender is told it was not sent.
var ErrUnavailable = errors.New("the message log is unavailable for now")

// retryFor bounds how long a sender's message is retried after the Log
// said ErrUnavailable. It is below JetStream's default duplicate window
// (2 minutes), so every retry of a message that was in fact stored is
// deduplicated by its ID there (and by seenIDs here in any case).
const retryFor = 90 * time.Second

// retryEvery is the longest wait between two attempts while the Log is
// unavailable (the backoff for a failing store goes up to 5 s): an attempt
// on a Log that is down fails at once, and a shorter wait lets the kept
// messages go within a second of its return.
const retryEvery = time.Second

// retryingNotice is what a sender is told, once per message, when the Log
// is unavailable and the message is kept for another attempt.
const retryingNotice = "not sent, retrying: the chat cannot store messages right now; yours is kept and will appear when it is back (the ones after it wait their turn)"

// gaveUpNotice is a sender's answer when retryFor passed without the Log
// taking the message.
const gaveUpNotice = "not sent: the chat could not store your message for 90 s; please try again later"

// keepTrying reports whether an op whose Append just failed with an
// unavailable Log should stay queued for another attempt, and starts its
// clock at the first failure. Called by run only.
func (o *op) keepTrying(now time.Time) bool {
	if o.failing.IsZero() {
		o.failing = now
	}
	return now.Sub(o.failing) < retryFor
}

// finish is run's last work when the room is removed or the hub closes:
// what was accepted is processed, the store tried once more for anything
// that failed, and a sender whose message is still kept for a retry is
// told it was not sent rather than left waiting.
func (r *room) finish() {
	for tries := 0; tries < 2; {
		ran, failed := r.step()
		if !ran {
			break
		}
		if failed {
			tries++
		}
	}
	h := r.hub
	h.mu.Lock()
	var waiting []chan error
	for _, o := range r.queue {
		if o.done != nil {
			waiting = append(waiting, o.done)
		}
	}
	r.queue = nil
	h.mu.Unlock()
	for _, done := range waiting {
		done <- Errorf("not sent: the server is stopping and could not store your message")
	}
}
