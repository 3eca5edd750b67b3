package guard

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Errors returned by Gate.Admit. Their text is meant for the server log;
// flood refusals are silent (a closed connection, as from OpenSSH). A
// penalty is returned as a *PenaltyError, which matches ErrPenalized with
// errors.Is and whose Tell text is safe to show the refused client.
var (
	// ErrTooMany: the server holds MaxUnauth unauthenticated connections.
	ErrTooMany = errors.New("guard: too many unauthenticated connections")
	// ErrSourceBusy: the source holds MaxUnauthPerSource unauthenticated
	// connections (from Gate.Admit), or MaxPerSource sessions (from
	// Sessions.Acquire, as a *SessionLimitError).
	ErrSourceBusy = errors.New("guard: too many connections from this source")
	// ErrDropped: refused at random because the unauthenticated load is past
	// StartDrop.
	ErrDropped = errors.New("guard: connection dropped early under load")
	// ErrPenalized: the source is slowed down for a while after repeated
	// failed logins, and this connection came before its next turn; see
	// PenaltyError for how long.
	ErrPenalized = errors.New("guard: source penalized after repeated failed logins")
)

// PenaltyError is the error of Gate.Admit for a penalized source. It matches
// ErrPenalized with errors.Is.
type PenaltyError struct {
	// Remaining is how long the source stays penalized.
	Remaining time.Duration
	// Retry is how long until the source's next connection is let through.
	Retry time.Duration
	// Every is the penalty's trickle: one connection per Every.
	Every time.Duration
}

// Error says the source is penalized and for how much longer, in seconds
// rounded up.
func (e *PenaltyError) Error() string {
	return fmt.Sprintf("%v (%v left, next in %v)", ErrPenalized, roundSecond(e.Remaining), roundSecond(e.Retry))
}

// Tell is the one line the refused client is shown: why, and when to try
// again. It names no address and no key.
func (e *PenaltyError) Tell() string {
	return fmt.Sprintf("too many failed logins from your address: try again in %v (one connection every %v is let through for the next %v)",
		roundSecond(e.Retry), roundSecond(e.Every), roundSecond(e.Remaining))
}

// roundSecond rounds d up to whole seconds, at least one.
func roundSecond(d time.Duration) time.Duration {
	return (max(d, time.Second) + time.Second - 1).Truncate(time.Second)
}

// Unwrap returns ErrPenalized.
func (e *PenaltyError) Unwrap() error { return ErrPenalized }

// GateConfig configures a Gate. Zero fields take the values of
// DefaultGateConfig.
type GateConfig struct {
	// MaxUnauth caps unauthenticated connections in total (256).
	MaxUnauth int
	// MaxUnauthPerSource caps unauthenticated connections per Source (16).
	MaxUnauthPerSource int
	// StartDrop and DropRate are OpenSSH's MaxStartups start:rate:full with
	// MaxUnauth as full (64:30:256): once StartDrop connections are
	// unauthenticated, a new one is dropped with probability DropRate%,
	// rising linearly to 100% at MaxUnauth. StartDrop >= MaxUnauth turns
	// early drop off (the hard cap stays).
	StartDrop int
	DropRate  int // percent, 1..100 (30)

	// FailuresBeforePenalty failed logins from one source within
	// PenaltyWindow of the first (a fixed window) put the source under a
	// penalty of PenaltyBase (5, 1 min, 10 s). Each further failure while
	// penalized, or within PenaltyWindow after the penalty ended, doubles the
	// penalty, up to PenaltyMax (10 min), counted from that failure.
	//
	// A penalty slows the source down, it does not shut it out: while it
	// lasts, one connection per PenaltyTrickle (2 s) is let through (the
	// first at once), so that a person with a valid key behind the same
	// address (a NAT, an office) still gets in within seconds, while a
	// brute force or a flood from it runs at that trickle. The others are
	// refused before the handshake (PenaltyError says when to retry).
	FailuresBeforePenalty int
	PenaltyWindow         time.Duration
	PenaltyBase           time.Duration
	PenaltyMax            time.Duration
	PenaltyTrickle        time.Duration
	// MaxTracked bounds the failure table (10,000 sources). When it is full,
	// the record that would expire soonest is evicted: a source under an
	// active penalty always outlives one that is merely counting failures.
	MaxTracked int

	// Now is the clock (time.Now).
	Now func() time.Time
	// Rand returns a number in [0, 1) for early drop (math/rand/v2.Float64).
	Rand func() float64
}

// DefaultGateConfig returns the defaults, in one place.
func DefaultGateConfig() GateConfig {
	return GateConfig{
		MaxUnauth:             256,
		MaxUnauthPerSource:    16,
		StartDrop:             64,
		DropRate:              30,
		FailuresBeforePenalty: 5,
		PenaltyWindow:         time.Minute,
		PenaltyBase:           10 * time.Second,
		PenaltyMax:            10 * time.Minute,
		PenaltyTrickle:        2 * time.Second,
		MaxTracked:            10_000,
		Now:                   time.Now,
		Rand:                  rand.Float64,
	}
}

func (c GateConfig) withDefaults() GateConfig {
	d := DefaultGateConfig()
	pos := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	posD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	pos(&c.MaxUnauth, d.MaxUnauth)
	pos(&c.MaxUnauthPerSource, d.MaxUnauthPerSource)
	pos(&c.StartDrop, d.StartDrop)
	pos(&c.DropRate, d.DropRate)
	pos(&c.FailuresBeforePenalty, d.FailuresBeforePenalty)
	posD(&c.PenaltyWindow, d.PenaltyWindow)
	posD(&c.PenaltyBase, d.PenaltyBase)
	posD(&c.PenaltyMax, d.PenaltyMax)
	posD(&c.PenaltyTrickle, d.PenaltyTrickle)
	pos(&c.MaxTracked, d.MaxTracked)
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.Rand == nil {
		c.Rand = d.Rand
	}
	c.MaxUnauthPerSource = min(c.MaxUnauthPerSource, c.MaxUnauth)
	c.StartDrop = min(c.StartDrop, c.MaxUnauth)
	c.DropRate = min(c.DropRate, 100)
	c.PenaltyMax = max(c.PenaltyMax, c.PenaltyBase)
	return c
}

// Gate admits connections before authentication. Call Admit when a
// connection arrives; the Ticket it returns leaves the unauthenticated count
// on Authenticated or Done. A Gate is safe for concurrent use.
type Gate struct {
	cfg GateConfig // immutable after NewGate

	// mu guards the unauthenticated counts, the failure records and the
	// state of every Ticket this Gate issued.
	mu        sync.Mutex
	unauth    int                // connections admitted, neither authenticated nor done
	perSource map[string]int     // the same per source; no zero entries
	records   map[string]*record // failure records by source; len <= MaxTracked
	expiry    recordHeap         // the same records, soonest expiry first
}

// record is the failed-login history of one source.
type record struct {
	src         string
	fails       int           // failures in the window starting at windowStart
	windowStart time.Time     //
	penalty     time.Duration // current or last penalty; 0 if none yet
	until       time.Time     // penalized while now < until
	nextAdmit   time.Time     // while penalized, the next connection is let through from then on
	expires     time.Time     // the record is forgotten from then on
	index       int           // position in Gate.expiry
}

// GateStats is a snapshot of a Gate's tables, for metrics and tests.
type GateStats struct {
	Unauthenticated int // connections admitted and not yet authenticated or done
	UnauthSources   int // sources with at least one of those
	Tracked         int // sources with a live failure record
	Penalized       int // of which penalized right now
}

// NewGate returns a Gate; zero fields of cfg take their defaults.
func NewGate(cfg GateConfig) *Gate {
	return &Gate{
		cfg:       cfg.withDefaults(),
		perSource: make(map[string]int),
		records:   make(map[string]*record),
	}
}

// Admit decides whether a new connection from src (see Source) may start
// authenticating. On success the caller must eventually call Done on the
// Ticket. Otherwise the error is a *PenaltyError (a penalized source's
// connection before its turn), ErrTooMany, ErrSourceBusy or ErrDropped, in
// that order of precedence.
func (g *Gate) Admit(src string) (Ticket, error) {
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.purgeLocked(now)
	if r := g.records[src]; r != nil && now.Before(r.until) {
		if now.Before(r.nextAdmit) {
			return Ticket{}, &PenaltyError{Remaining: r.until.Sub(now), Retry: r.nextAdmit.Sub(now), Every: g.cfg.PenaltyTrickle}
		}
		r.nextAdmit = now.Add(g.cfg.PenaltyTrickle) // this one is the trickle; the caps still apply
	}
	if g.unauth >= g.cfg.MaxUnauth {
		return Ticket{}, ErrTooMany
	}
	if g.perSource[src] >= g.cfg.MaxUnauthPerSource {
		return Ticket{}, ErrSourceBusy
	}
	if p := g.dropChance(g.unauth); p > 0 && g.cfg.Rand() < p {
		return Ticket{}, ErrDropped
	}
	g.unauth++
	g.perSource[src]++
	return Ticket{t: &ticket{g: g, src: src}}, nil
}

// dropChance is the probability, in [0, 1], that a new connection is dropped
// when n are unauthenticated: 0 below StartDrop, DropRate% at StartDrop,
// rising linearly to 1 at MaxUnauth.
func (g *Gate) dropChance(n int) float64 {
	c := &g.cfg
	switch {
	case n < c.StartDrop:
		return 0
	case n >= c.MaxUnauth:
		return 1
	}
	base := float64(c.DropRate) / 100
	return base + (1-base)*float64(n-c.StartDrop)/float64(c.MaxUnauth-c.StartDrop)
}

// PenaltyLeft returns how long src stays penalized (0 if it is not). It
// lets nothing through and takes no turn.
func (g *Gate) PenaltyLeft(src string) time.Duration {
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.purgeLocked(now)
	if r := g.records[src]; r != nil && now.Before(r.until) {
		return r.until.Sub(now)
	}
	return 0
}

// Stats returns the current counts. It costs O(tracked sources).
func (g *Gate) Stats() GateStats {
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.purgeLocked(now)
	st := GateStats{Unauthenticated: g.unauth, UnauthSources: len(g.perSource), Tracked: len(g.records)}
	for _, r := range g.records {
		if now.Before(r.until) {
			st.Penalized++
		}
	}
	return st
}

// releaseLocked takes one connection from src out of the unauthenticated
// counts.
func (g *Gate) releaseLocked(src string) {
	g.unauth--
	decrement(g.perSource, src)
}

// failLocked counts a failed login from src at now.
func (g *Gate) failLocked(src string, now time.Time) {
	c := &g.cfg
	r := g.records[src]
	if r != nil && !now.Before(r.expires) {
		g.removeLocked(r)
		r = nil
	}
	isNew := r == nil
	if isNew {
		if len(g.records) >= c.MaxTracked {
			g.purgeLocked(now)
		}
		for len(g.records) >= c.MaxTracked {
			g.removeLocked(g.expiry[0])
		}
		r = &record{src: src, windowStart: now}
	}
	if r.penalty > 0 {
		// Penalized, or penalized recently enough to be remembered.
		r.penalty = min(2*r.penalty, c.PenaltyMax)
		r.until = now.Add(r.penalty)
	} else {
		if now.Sub(r.windowStart) >= c.PenaltyWindow {
			r.windowStart, r.fails = now, 0
		}
		r.fails++
		if r.fails >= c.FailuresBeforePenalty {
			r.penalty = c.PenaltyBase
			r.until = now.Add(r.penalty)
		}
	}
	r.expires = r.windowStart.Add(c.PenaltyWindow)
	if r.penalty > 0 {
		r.expires = r.until.Add(c.PenaltyWindow)
	}
	if isNew {
		g.records[src] = r
		heap.Push(&g.expiry, r)
	} else {
		heap.Fix(&g.expiry, r.index)
	}
}

// purgeLocked forgets the records that have expired at now.
func (g *Gate) purgeLocked(now time.Time) {
	for len(g.expiry) > 0 && !now.Before(g.expiry[0].expires) {
		g.removeLocked(g.expiry[0])
	}
}

func (g *Gate) removeLocked(r *record) {
	heap.Remove(&g.expiry, r.index)
	delete(g.records, r.src)
}

// Ticket is one admitted connection's place in its Gate. The zero Ticket
// does nothing. Copies share state; methods are safe for concurrent use.
type Ticket struct {
	t *ticket
}

type ticket struct {
	g      *Gate
	src    string
	authed bool // guarded by g.mu: the connection left the unauthenticated count
	done   bool // guarded by g.mu: the connection closed
}

// Authenticated takes the connection out of the unauthenticated counts once
// it has logged in. It is idempotent, and does nothing after Done.
func (t Ticket) Authenticated() {
	if t.t == nil {
		return
	}
	g := t.t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.t.authed || t.t.done {
		return
	}
	t.t.authed = true
	g.releaseLocked(t.t.src)
}

// Done records that the connection closed. If it never authenticated it
// leaves the unauthenticated counts, and authFailed counts one failed login
// against its source (once per connection, however many keys it tried). It
// is idempotent, and safe after Authenticated (authFailed is then ignored:
// a client that offered a few wrong keys before the right one did not fail).
// It reports whether this call closed a connection that never
// authenticated.
func (t Ticket) Done(authFailed bool) (unauthenticated bool) {
	if t.t == nil {
		return false
	}
	g := t.t.g
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.t.done {
		return false
	}
	t.t.done = true
	if t.t.authed {
		return false
	}
	g.releaseLocked(t.t.src)
	if authFailed {
		g.failLocked(t.t.src, now)
	}
	return true
}

// recordHeap orders records by expiry for container/heap.
type recordHeap []*record

func (h recordHeap) Len() int           { return len(h) }
func (h recordHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h recordHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *recordHeap) Push(x any) {
	r := x.(*record)
	r.index = len(*h)
	*h = append(*h, r)
}
func (h *recordHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.index = -1
	return r
}
