package server

import (
	"testing"
	"time"
)

func TestTrimComesOncePerSettledBurst(t *testing.T) {
	b := burstTrim{burst: 3, quiet: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	b.arrive(t0)
	b.arrive(t0)
	if _, ok := b.due(t0.Add(time.Minute)); ok {
		t.Fatal("a trim after 2 arrivals; the burst is 3")
	}
	b.arrive(t0.Add(time.Minute))
	if _, ok := b.due(t0.Add(time.Minute + 9*time.Second)); ok {
		t.Fatal("a trim 9 s after the last arrival; quiet is 10 s")
	}
	n, ok := b.due(t0.Add(time.Minute + 10*time.Second))
	if !ok || n != 3 {
		t.Fatalf("due = %d, %v after 3 arrivals and 10 s of quiet; want 3, true", n, ok)
	}
	if _, ok := b.due(t0.Add(time.Hour)); ok {
		t.Fatal("a second trim for the same burst")
	}
	for range 3 {
		b.arrive(t0.Add(time.Hour))
	}
	b.active(t0.Add(time.Hour + 5*time.Second)) // a message
	if _, ok := b.due(t0.Add(time.Hour + 10*time.Second)); ok {
		t.Fatal("a trim 5 s after a message; quiet is 10 s")
	}
	if _, ok := b.due(t0.Add(time.Hour + 15*time.Second)); !ok {
		t.Fatal("no trim for a second burst")
	}
}
