package guard

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func newTestGate(cfg GateConfig) (*Gate, *fakeClock) {
	clk := newClock()
	cfg.Now = clk.Now
	if cfg.Rand == nil {
		cfg.Rand = fixedRand(0.999999) // never drop below MaxUnauth unless a test says so
	}
	return NewGate(cfg), clk
}

func wantStats(t *testing.T, g *Gate, want GateStats) {
	t.Helper()
	if got := g.Stats(); got != want {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
}

func TestGatePerSourceCapAndRelease(t *testing.T) {
	g, _ := newTestGate(GateConfig{MaxUnauth: 10, MaxUnauthPerSource: 2, StartDrop: 10})
	a1, err := g.Admit("a")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := g.Admit("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Admit("a"); !errors.Is(err, ErrSourceBusy) {
		t.Fatalf("third from a: err = %v, want ErrSourceBusy", err)
	}
	b1, err := g.Admit("b")
	if err != nil {
		t.Fatalf("other source refused: %v", err)
	}
	wantStats(t, g, GateStats{Unauthenticated: 3, UnauthSources: 2})

	a1.Done(false)
	if _, err := g.Admit("a"); err != nil {
		t.Fatalf("after a Done: %v", err)
	}
	a2.Authenticated() // frees a slot too
	a3, err := g.Admit("a")
	if err != nil {
		t.Fatalf("after Authenticated: %v", err)
	}
	_ = a3
	wantStats(t, g, GateStats{Unauthenticated: 3, UnauthSources: 2})
	b1.Done(false)
	wantStats(t, g, GateStats{Unauthenticated: 2, UnauthSources: 1})
}

func TestGateTotalCap(t *testing.T) {
	g, _ := newTestGate(GateConfig{MaxUnauth: 4, MaxUnauthPerSource: 4, StartDrop: 4})
	var ts []Ticket
	for i := range 4 {
		tk, err := g.Admit(fmt.Sprint("s", i))
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tk)
	}
	if _, err := g.Admit("new"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("err = %v, want ErrTooMany", err)
	}
	ts[0].Authenticated()
	if _, err := g.Admit("new"); err != nil {
		t.Fatalf("after one authenticated: %v", err)
	}
}

func TestGateEarlyDropCurve(t *testing.T) {
	// 64:30:256 as in OpenSSH. At n unauthenticated the drop chance is
	// 0.30 + 0.70*(n-64)/192; a connection is dropped when Rand() < chance.
	tests := []struct {
		n    int     // unauthenticated connections already held
		rnd  float64 // what Rand returns
		drop bool
	}{
		{0, 0.0, false},
		{63, 0.0, false},   // below StartDrop nothing is dropped
		{64, 0.0, true},    // chance 0.30
		{64, 0.29, true},   //
		{64, 0.30, false},  //
		{64, 0.5, false},   //
		{118, 0.5, false},  // chance 0.4969
		{119, 0.5, true},   // chance 0.5005
		{160, 0.5, true},   // chance 0.65
		{160, 0.99, false}, //
		{255, 0.99, true},  // chance 0.9964
		{255, 0.9999, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d,rand=%v", tt.n, tt.rnd), func(t *testing.T) {
			g, _ := newTestGate(GateConfig{MaxUnauthPerSource: 256, Rand: fixedRand(0.999999)})
			for i := range tt.n {
				if _, err := g.Admit(fmt.Sprint(i)); err != nil {
					t.Fatalf("filling %d: %v", i, err)
				}
			}
			g.cfg.Rand = fixedRand(tt.rnd)
			_, err := g.Admit("x")
			if tt.drop != errors.Is(err, ErrDropped) {
				t.Fatalf("err = %v, want dropped=%v (chance %.4f)", err, tt.drop, g.dropChance(tt.n))
			}
			if !tt.drop && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
		})
	}
	g, _ := newTestGate(GateConfig{})
	for _, c := range []struct {
		n    int
		want float64
	}{{63, 0}, {64, 0.30}, {160, 0.65}, {256, 1}, {1000, 1}} {
		if got := g.dropChance(c.n); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("dropChance(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

func TestGateEarlyDropOff(t *testing.T) {
	g, _ := newTestGate(GateConfig{MaxUnauth: 8, MaxUnauthPerSource: 8, StartDrop: 100, Rand: fixedRand(0)})
	for i := range 8 {
		if _, err := g.Admit("a"); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	if _, err := g.Admit("b"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("err = %v, want ErrTooMany", err)
	}
}

// fail makes one failed login from src.
func fail(t *testing.T, g *Gate, src string) {
	t.Helper()
	tk, err := g.Admit(src)
	if err != nil {
		// Connections admitted before a penalty may still fail; model that
		// by taking a ticket directly.
		g.mu.Lock()
		g.unauth++
		g.perSource[src]++
		g.mu.Unlock()
		tk = Ticket{t: &ticket{g: g, src: src}}
	}
	tk.Done(true)
}

func penaltyLeft(t *testing.T, g *Gate, src string) time.Duration {
	t.Helper()
	return g.PenaltyLeft(src)
}

func TestGatePenalty(t *testing.T) {
	cfg := GateConfig{FailuresBeforePenalty: 3, PenaltyWindow: time.Minute, PenaltyBase: 10 * time.Second, PenaltyMax: 60 * time.Second}

	t.Run("threshold", func(t *testing.T) {
		g, _ := newTestGate(cfg)
		fail(t, g, "a")
		fail(t, g, "a")
		if d := penaltyLeft(t, g, "a"); d != 0 {
			t.Fatalf("penalized after 2 failures: %v", d)
		}
		fail(t, g, "a")
		if d := penaltyLeft(t, g, "a"); d != 10*time.Second {
			t.Fatalf("penalty = %v, want 10s", d)
		}
		if d := penaltyLeft(t, g, "b"); d != 0 {
			t.Fatalf("another source penalized: %v", d)
		}
		wantStats(t, g, GateStats{Tracked: 1, Penalized: 1})
	})

	t.Run("window", func(t *testing.T) {
		g, clk := newTestGate(cfg)
		fail(t, g, "a")
		fail(t, g, "a")
		clk.Advance(time.Minute) // the window from the first failure is over
		fail(t, g, "a")
		if d := penaltyLeft(t, g, "a"); d != 0 {
			t.Fatalf("failures across windows penalized: %v", d)
		}
		fail(t, g, "a")
		fail(t, g, "a")
		if d := penaltyLeft(t, g, "a"); d != 10*time.Second {
			t.Fatalf("penalty = %v, want 10s", d)
		}
	})

	t.Run("doubling, cap, expiry", func(t *testing.T) {
		g, clk := newTestGate(cfg)
		for range 3 {
			fail(t, g, "a")
		}
		clk.Advance(4 * time.Second)
		if d := penaltyLeft(t, g, "a"); d != 6*time.Second {
			t.Fatalf("remaining = %v, want 6s", d)
		}
		for _, want := range []time.Duration{20, 40, 60, 60} {
			fail(t, g, "a") // while penalized
			if d := penaltyLeft(t, g, "a"); d != want*time.Second {
				t.Fatalf("penalty = %v, want %vs", d, want)
			}
		}
		clk.Advance(59 * time.Second)
		if d := penaltyLeft(t, g, "a"); d != time.Second {
			t.Fatalf("remaining = %v, want 1s", d)
		}
		clk.Advance(time.Second)
		if d := penaltyLeft(t, g, "a"); d != 0 {
			t.Fatalf("penalty did not expire: %v left", d)
		}
		wantStats(t, g, GateStats{Tracked: 1})
		// Within PenaltyWindow after it ended, one failure re-penalizes,
		// doubled (capped here).
		fail(t, g, "a")
		if d := penaltyLeft(t, g, "a"); d != 60*time.Second {
			t.Fatalf("recidivist penalty = %v, want 60s", d)
		}
		// After the penalty and a quiet window, the source is forgotten.
		clk.Advance(2 * time.Minute)
		wantStats(t, g, GateStats{})
		fail(t, g, "a")
		if d := penaltyLeft(t, g, "a"); d != 0 {
			t.Fatalf("forgotten source penalized: %v", d)
		}
	})

	t.Run("authenticated connections do not count", func(t *testing.T) {
		g, _ := newTestGate(cfg)
		for range 5 {
			tk, err := g.Admit("a")
			if err != nil {
				t.Fatal(err)
			}
			tk.Authenticated()
			tk.Done(true)
		}
		wantStats(t, g, GateStats{})
	})
}

func TestPenaltyErrorText(t *testing.T) {
	pe := &PenaltyError{Remaining: 1500 * time.Millisecond, Retry: 300 * time.Millisecond, Every: 2 * time.Second}
	if got, want := error(pe).Error(), "guard: source penalized after repeated failed logins (2s left, next in 1s)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if got, want := pe.Tell(), "too many failed logins from your address: try again in 1s (one connection every 2s is let through for the next 2s)"; got != want {
		t.Fatalf("Tell() = %q, want %q", got, want)
	}
}

// Issue 13 item 2: a penalty slows a source down to a trickle; it does not
// shut out the valid keys behind the same address.
func TestGatePenaltyTrickle(t *testing.T) {
	g, clk := newTestGate(GateConfig{FailuresBeforePenalty: 3, PenaltyBase: time.Minute, PenaltyTrickle: 2 * time.Second})
	for range 3 {
		fail(t, g, "a")
	}
	if d := g.PenaltyLeft("a"); d != time.Minute {
		t.Fatalf("penalty = %v, want 1m", d)
	}
	// The first connection of the penalty goes through at once: a person
	// with a valid key gets in.
	first, err := g.Admit("a")
	if err != nil {
		t.Fatalf("first connection while penalized: %v", err)
	}
	first.Authenticated()
	first.Done(false)
	// The next ones wait their turn, and are told when it comes.
	clk.Advance(500 * time.Millisecond)
	_, err = g.Admit("a")
	var pe *PenaltyError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPenalized) {
		t.Fatalf("second connection within the trickle: %v, want a *PenaltyError", err)
	}
	if pe.Retry != 1500*time.Millisecond || pe.Every != 2*time.Second || pe.Remaining != time.Minute-500*time.Millisecond {
		t.Fatalf("PenaltyError = %+v", pe)
	}
	if _, err := g.Admit("b"); err != nil {
		t.Fatalf("another source: %v", err)
	}
	clk.Advance(1500 * time.Millisecond)
	tk, err := g.Admit("a")
	if err != nil {
		t.Fatalf("at its turn: %v", err)
	}
	// A trickled connection that fails doubles the penalty.
	tk.Done(true)
	if d := g.PenaltyLeft("a"); d != 2*time.Minute {
		t.Fatalf("penalty after a failure while penalized = %v, want 2m", d)
	}
	// A flood at full speed gets one connection per trickle through (the
	// turn taken just now counts: at 2, 4, 6 and 8 s).
	admitted := 0
	for range 100 { // 10 s at 100 connections a second
		if tk, err := g.Admit("a"); err == nil {
			admitted++
			tk.Done(false)
		}
		clk.Advance(100 * time.Millisecond)
	}
	if admitted != 4 {
		t.Fatalf("%d of 100 connections in 10s were let through, want 4", admitted)
	}
}

func TestGateBoundedTable(t *testing.T) {
	g, clk := newTestGate(GateConfig{MaxTracked: 3, FailuresBeforePenalty: 2, PenaltyBase: 10 * time.Second})
	// p is penalized; x, y count one failure each, y later than x.
	fail(t, g, "p")
	fail(t, g, "p")
	clk.Advance(time.Second)
	fail(t, g, "x")
	clk.Advance(time.Second)
	fail(t, g, "y")
	wantStats(t, g, GateStats{Tracked: 3, Penalized: 1})

	// A new source evicts the record expiring soonest: x.
	fail(t, g, "z")
	wantStats(t, g, GateStats{Tracked: 3, Penalized: 1})
	g.mu.Lock()
	_, hasX := g.records["x"]
	_, hasY := g.records["y"]
	g.mu.Unlock()
	if hasX || !hasY {
		t.Fatalf("evicted the wrong record: x kept=%v, y kept=%v", hasX, hasY)
	}
	// A flood of new sources never evicts the active penalty...
	for i := range 100 {
		fail(t, g, fmt.Sprint("flood", i))
		if d := penaltyLeft(t, g, "p"); d == 0 {
			t.Fatalf("penalty of p evicted by flood source %d", i)
		}
	}
	wantStats(t, g, GateStats{Tracked: 3, Penalized: 1})
	// ...unless the table is full of active penalties.
	for _, s := range []string{"q", "r", "s"} {
		fail(t, g, s)
		fail(t, g, s)
	}
	if d := penaltyLeft(t, g, "p"); d != 0 {
		t.Fatalf("the soonest-ending penalty was kept: %v left", d)
	}
	wantStats(t, g, GateStats{Tracked: 3, Penalized: 3})
}

func TestTicketIdempotent(t *testing.T) {
	g, _ := newTestGate(GateConfig{FailuresBeforePenalty: 1})
	var zero Ticket
	zero.Authenticated()
	zero.Done(true)

	tk, err := g.Admit("a")
	if err != nil {
		t.Fatal(err)
	}
	copyOf := tk
	tk.Authenticated()
	copyOf.Authenticated()
	wantStats(t, g, GateStats{})
	tk.Done(true) // after Authenticated: no failure
	tk.Done(true)
	wantStats(t, g, GateStats{})

	tk, _ = g.Admit("b")
	tk.Done(false)
	tk.Done(true) // second Done is ignored, failure included
	tk.Authenticated()
	wantStats(t, g, GateStats{})

	tk, _ = g.Admit("c")
	tk.Done(true)
	tk.Done(true)
	wantStats(t, g, GateStats{Tracked: 1, Penalized: 1})
}

func TestGateConcurrent(t *testing.T) {
	g := NewGate(GateConfig{MaxUnauth: 64, MaxUnauthPerSource: 8, StartDrop: 32, MaxTracked: 16})
	var wg, racers sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			src := fmt.Sprint("s", i%10)
			for j := range 200 {
				tk, err := g.Admit(src)
				if err != nil {
					continue
				}
				switch j % 4 {
				case 0:
					tk.Authenticated()
					tk.Done(true)
				case 1:
					racers.Go(tk.Authenticated) // races with Done
					tk.Done(false)
				case 2:
					tk.Done(j%8 == 2)
				default:
					tk.Done(false)
					tk.Done(true)
				}
				_ = g.Stats()
			}
		})
	}
	wg.Wait()
	racers.Wait()
	st := g.Stats()
	if st.Unauthenticated != 0 || st.UnauthSources != 0 || st.Tracked > 16 {
		t.Fatalf("Stats() = %+v after everyone left", st)
	}
}

func TestGateDefaults(t *testing.T) {
	g := NewGate(GateConfig{MaxUnauth: 10, MaxUnauthPerSource: 50, StartDrop: 20, DropRate: 500, PenaltyBase: time.Hour})
	c := g.cfg
	if c.MaxUnauthPerSource != 10 || c.StartDrop != 10 || c.DropRate != 100 || c.PenaltyMax != time.Hour || c.MaxTracked != 10_000 {
		t.Fatalf("config not normalized: %+v", c)
	}
}

func BenchmarkGateAdmit(b *testing.B) {
	g := NewGate(GateConfig{})
	srcs := make([]string, 64)
	for i := range srcs {
		srcs[i] = fmt.Sprint("198.51.100.", i)
	}
	i := 0
	for b.Loop() {
		tk, err := g.Admit(srcs[i%len(srcs)])
		if err != nil {
			b.Fatal(err)
		}
		tk.Authenticated()
		tk.Done(false)
		i++
	}
}

func BenchmarkGateAdmitParallel(b *testing.B) {
	g := NewGate(GateConfig{})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk, err := g.Admit("198.51.100.1")
			if err != nil {
				continue
			}
			tk.Done(false)
		}
	})
}
