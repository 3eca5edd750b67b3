package guard

import (
	"math"
	"sync"
	"time"

	// The token bucket itself is golang.org/x/time/rate: maintained by the Go
	// team, widely used, and its refill arithmetic (fractional tokens, clock
	// going backwards, very slow and infinite rates) is correct and tested.
	// Limiter adds only what it lacks: one bucket per identity in a bounded
	// table.
	"golang.org/x/time/rate"
)

// LimiterConfig configures a Limiter. Zero fields take the values of
// DefaultLimiterConfig.
type LimiterConfig struct {
	// Rate is the sustained rate in events per second (2), after a burst of
	// Burst events (5).
	Rate  float64
	Burst int
	// Idle is how long an identity may go without events before it is
	// forgotten (10 min). It is raised to the time a bucket takes to refill
	// completely, so forgetting an identity never hands it tokens it would
	// not have had.
	Idle time.Duration
	// Max bounds the table (100,000 identities). When it is full, the least
	// recently seen identity is forgotten, and starts again with a full
	// bucket when it comes back.
	Max int
	// Now is the clock (time.Now).
	Now func() time.Time
}

// DefaultLimiterConfig returns the defaults for chat messages: bursts of 5,
// then 2 messages a second.
func DefaultLimiterConfig() LimiterConfig {
	return LimiterConfig{Rate: 2, Burst: 5, Idle: 10 * time.Minute, Max: 100_000, Now: time.Now}
}

// NoticeLimiterConfig returns the configuration for join and leave notices:
// bursts of 3, then one every 10 seconds, so that a reconnect loop cannot
// flood a room. The other fields are the defaults.
func NoticeLimiterConfig() LimiterConfig {
	c := DefaultLimiterConfig()
	c.Rate, c.Burst = 0.1, 3
	return c
}

// Limiter is a token bucket per identity (an opaque string such as a key
// fingerprint) in a bounded table. It is safe for concurrent use and cheap:
// one map lookup and one bucket update under a mutex.
type Limiter struct {
	limit rate.Limit // immutable after NewLimiter
	burst int
	idle  time.Duration
	max   int
	now   func() time.Time

	// mu guards the table: byID and the recency list through head, which
	// hold the same entries, most recently seen first.
	mu   sync.Mutex
	byID map[string]*limEntry
	head limEntry // sentinel of a circular doubly linked list
}

type limEntry struct {
	id         string
	bucket     *rate.Limiter
	seen       time.Time
	prev, next *limEntry
}

// NewLimiter returns a Limiter; zero fields of cfg take their defaults.
func NewLimiter(cfg LimiterConfig) *Limiter {
	d := DefaultLimiterConfig()
	if !(cfg.Rate > 0) { // also catches NaN
		cfg.Rate = d.Rate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = d.Burst
	}
	if cfg.Idle <= 0 {
		cfg.Idle = d.Idle
	}
	if cfg.Max <= 0 {
		cfg.Max = d.Max
	}
	if cfg.Now == nil {
		cfg.Now = d.Now
	}
	limit := rate.Limit(cfg.Rate)
	if math.IsInf(cfg.Rate, 1) {
		limit = rate.Inf
	}
	fill := time.Duration(float64(cfg.Burst) / cfg.Rate * float64(time.Second))
	l := &Limiter{
		limit: limit,
		burst: cfg.Burst,
		idle:  max(cfg.Idle, fill),
		max:   cfg.Max,
		now:   cfg.Now,
		byID:  make(map[string]*limEntry),
	}
	l.head.prev, l.head.next = &l.head, &l.head
	return l
}

// Allow reports whether id may have one more event now, and takes a token if
// so. Otherwise retryAfter is how long until the next token.
func (l *Limiter) Allow(id string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireLocked(now)
	e := l.byID[id]
	if e == nil {
		if len(l.byID) >= l.max {
			l.removeLocked(l.head.prev)
		}
		e = &limEntry{id: id, bucket: rate.NewLimiter(l.limit, l.burst)}
		l.byID[id] = e
	} else {
		e.prev.next, e.next.prev = e.next, e.prev // unlink
	}
	e.seen = now
	e.prev, e.next = &l.head, l.head.next // link at the front
	e.prev.next, e.next.prev = e, e
	if e.bucket.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - e.bucket.TokensAt(now)
	return false, time.Duration(math.Ceil(missing / float64(l.limit) * float64(time.Second)))
}

// Len returns how many identities the table holds, idle ones included until
// the next Allow forgets them.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byID)
}

// expireLocked forgets the identities idle since before now-idle, oldest
// first: they are at the back of the list.
func (l *Limiter) expireLocked(now time.Time) {
	for e := l.head.prev; e != &l.head && now.Sub(e.seen) >= l.idle; e = l.head.prev {
		l.removeLocked(e)
	}
}

func (l *Limiter) removeLocked(e *limEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(l.byID, e.id)
}
