package guard

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

func newTestLimiter(cfg LimiterConfig) (*Limiter, *fakeClock) {
	clk := newClock()
	cfg.Now = clk.Now
	return NewLimiter(cfg), clk
}

func TestLimiterBurstAndRefill(t *testing.T) {
	l, clk := newTestLimiter(LimiterConfig{}) // 2/s, burst 5
	for i := range 5 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("burst event %d refused", i)
		}
	}
	ok, retry := l.Allow("alice")
	if ok || retry != 500*time.Millisecond {
		t.Fatalf("6th: ok=%v retry=%v, want refused, 500ms", ok, retry)
	}
	if ok, _ := l.Allow("bob"); !ok {
		t.Fatal("bob limited by alice")
	}
	clk.Advance(200 * time.Millisecond)
	if ok, retry := l.Allow("alice"); ok || retry != 300*time.Millisecond {
		t.Fatalf("after 200ms: ok=%v retry=%v, want refused, 300ms", ok, retry)
	}
	clk.Advance(300 * time.Millisecond)
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("refused after refill")
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Fatal("refill gave more than one token")
	}
	// A steady 2 per second is sustained.
	for i := range 20 {
		clk.Advance(500 * time.Millisecond)
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("steady event %d refused", i)
		}
	}
	// Quiet long enough refills the burst, no more.
	clk.Advance(time.Minute)
	for i := range 5 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("burst after quiet: event %d refused", i)
		}
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Fatal("burst after quiet exceeded 5")
	}
}

func TestNoticeLimiter(t *testing.T) {
	cfg := NoticeLimiterConfig()
	l, clk := newTestLimiter(cfg)
	for i := range 3 {
		if ok, _ := l.Allow("loop"); !ok {
			t.Fatalf("notice %d refused", i)
		}
	}
	if ok, retry := l.Allow("loop"); ok || retry != 10*time.Second {
		t.Fatalf("4th notice: ok=%v retry=%v, want refused, 10s", ok, retry)
	}
	clk.Advance(10 * time.Second)
	if ok, _ := l.Allow("loop"); !ok {
		t.Fatal("notice refused after 10s")
	}
}

func TestLimiterIdleEviction(t *testing.T) {
	l, clk := newTestLimiter(LimiterConfig{Idle: time.Minute})
	l.Allow("a")
	clk.Advance(30 * time.Second)
	l.Allow("b")
	clk.Advance(30 * time.Second) // a idle for 1 min, b for 30 s
	l.Allow("c")
	if n := l.Len(); n != 2 {
		t.Fatalf("Len() = %d, want 2 (a forgotten)", n)
	}
	clk.Advance(time.Hour)
	l.Allow("d")
	if n := l.Len(); n != 1 {
		t.Fatalf("Len() = %d, want 1", n)
	}

	// Idle is raised to the refill time, so forgetting is never a free
	// refill: burst 3 at 0.01/s takes 300 s to refill.
	l, clk = newTestLimiter(LimiterConfig{Rate: 0.01, Burst: 3, Idle: time.Second})
	for range 3 {
		l.Allow("a")
	}
	clk.Advance(10 * time.Second)
	l.Allow("b")
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("short Idle gave a free refill")
	}
}

func TestLimiterBoundedLRU(t *testing.T) {
	l, clk := newTestLimiter(LimiterConfig{Max: 3})
	for _, id := range []string{"a", "b", "c"} {
		for range 5 {
			l.Allow(id)
		}
		clk.Advance(time.Millisecond)
	}
	l.Allow("a") // a is now the most recently seen; b the least
	l.Allow("d") // evicts b
	if n := l.Len(); n != 3 {
		t.Fatalf("Len() = %d, want 3", n)
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a was evicted and reset")
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("b (least recently seen) was not the one evicted")
	}
}

func TestLimiterMillionIDs(t *testing.T) {
	l, clk := newTestLimiter(LimiterConfig{}) // Max 100,000
	for i := range 1_000_000 {
		l.Allow(strconv.Itoa(i))
		if i%1000 == 0 {
			clk.Advance(time.Millisecond)
		}
	}
	if n := l.Len(); n != 100_000 {
		t.Fatalf("Len() = %d after 1,000,000 IDs, want 100,000", n)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l, _ := newTestLimiter(LimiterConfig{Max: 50})
	var wg sync.WaitGroup
	allowed := make([]int, 100)
	for i := range 100 {
		wg.Go(func() {
			for j := range 100 {
				if ok, _ := l.Allow(fmt.Sprint(j % 10)); ok {
					allowed[i]++
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range allowed {
		total += n
	}
	if total != 10*5 { // frozen clock: exactly one burst per ID
		t.Fatalf("allowed %d events, want 50", total)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	b.Run("one id", func(b *testing.B) {
		l := NewLimiter(LimiterConfig{Rate: 1e9, Burst: 1})
		for b.Loop() {
			l.Allow("SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
		}
	})
	b.Run("1000 ids", func(b *testing.B) {
		l := NewLimiter(LimiterConfig{})
		ids := make([]string, 1000)
		for i := range ids {
			ids[i] = fmt.Sprint("SHA256:key", i)
		}
		i := 0
		for b.Loop() {
			l.Allow(ids[i%len(ids)])
			i++
		}
	})
	b.Run("new id each time, table full", func(b *testing.B) {
		l := NewLimiter(LimiterConfig{Max: 1000})
		ids := make([]string, 1<<16)
		for i := range ids {
			ids[i] = fmt.Sprint("SHA256:key", i)
		}
		i := 0
		for b.Loop() {
			l.Allow(ids[i%len(ids)])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l := NewLimiter(LimiterConfig{})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow("SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
			}
		})
	})
}
