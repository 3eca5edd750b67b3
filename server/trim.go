package server

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"parley/room"
)

// A crowd arriving leaves the server holding memory it no longer uses:
// the garbage of the key exchanges and of the member lists rebuilt as
// people joined, goroutine stacks grown during handshakes (a stack shrinks
// only when the heap is collected) and free heap the runtime keeps for
// later, about as much again as is live. A server whose people then sit
// idle allocates nothing, so it never collects and keeps all of it
// resident. Once a burst of sessions has settled and no message has
// flowed for a while either (a collection in the middle of a conversation
// would delay it, and a busy server collects anyway), the server therefore
// collects and hands free memory back to the operating system, once per
// burst: 5,000 idle sessions drop from ~190 to ~95 KiB resident each
// (BENCHMARKS.md), for one collection (~0.1 s of a core at that size).
const (
	trimBurst = 100              // sessions arrived since the last trim
	trimQuiet = 10 * time.Second // with none arriving for this long
)

// burstTrim decides when a burst of arrivals has settled. Safe for use by
// many goroutines: session handlers call arrive, the trim loop calls due.
type burstTrim struct {
	burst int
	quiet time.Duration

	mu      sync.Mutex
	arrived int       // since the last trim
	last    time.Time // the last arrival or message
}

// active notes a message flowing at now: the trim waits for quiet.
func (b *burstTrim) active(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.After(b.last) {
		b.last = now
	}
}

// arrive notes a session arriving at now.
func (b *burstTrim) arrive(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.arrived++
	b.last = now
}

// due reports, once per burst, whether at least burst sessions arrived
// since the last trim and neither a session nor a message for quiet
// before now; it returns how many sessions.
func (b *burstTrim) due(now time.Time) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.arrived < b.burst || now.Sub(b.last) < b.quiet {
		return 0, false
	}
	n := b.arrived
	b.arrived = 0
	return n, true
}

// trimLoop checks every second whether a burst has settled and then
// returns free memory to the operating system. It runs until ctx ends.
func (s *Server) trimLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, ok := s.trim.due(now)
			if !ok {
				continue
			}
			start := time.Now()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			s.log.Debug("returned free memory after a burst of sessions", "sessions", n,
				"took", time.Since(start).String(), "heap_in_use", ms.HeapInuse, "stacks", ms.StackInuse)
		}
	}
}

// activityObserver passes the hub's counts on and tells the trim when
// messages flow.
type activityObserver struct {
	room.Observer
	trim *burstTrim
}

// MessageStored notes activity and counts the messages.
func (a activityObserver) MessageStored(kind room.Kind, n int) {
	a.trim.active(time.Now())
	a.Observer.MessageStored(kind, n)
}
