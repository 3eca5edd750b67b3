package guard

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestSessionsCaps(t *testing.T) {
	s := NewSessions(0, 0)
	if s.maxPerKey != 3 || s.maxPerSource != 1000 {
		t.Fatalf("defaults: %d, %d", s.maxPerKey, s.maxPerSource)
	}

	s = NewSessions(2, 3)
	r1, err := s.Acquire("k1", "a")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Acquire("k1", "b")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Acquire("k1", "c")
	var le *SessionLimitError
	if !errors.Is(err, ErrKeyBusy) || !errors.As(err, &le) || le.Limit != 2 {
		t.Fatalf("third session of k1: err = %v, want ErrKeyBusy", err)
	}
	if got, want := err.Error(), "you already have 2 sessions open; close one first"; got != want {
		t.Fatalf("text = %q, want %q", got, want)
	}
	r3, err := s.Acquire("k2", "a")
	if err != nil {
		t.Fatal(err)
	}
	r4, err := s.Acquire("k3", "a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Acquire("k4", "a")
	if !errors.Is(err, ErrSourceBusy) || errors.Is(err, ErrKeyBusy) {
		t.Fatalf("fourth session from a: err = %v, want ErrSourceBusy", err)
	}
	if got, want := err.Error(), "there are already 3 sessions open from your network; close one first"; got != want {
		t.Fatalf("text = %q, want %q", got, want)
	}
	if got, want := s.Stats(), (SessionStats{Sessions: 4, Keys: 3, Sources: 2}); got != want {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}

	r1()
	r1() // idempotent: must not free a second slot
	if _, err := s.Acquire("k1", "c"); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if _, err := s.Acquire("k1", "c"); !errors.Is(err, ErrKeyBusy) {
		t.Fatalf("double release freed two slots: err = %v", err)
	}
	for _, r := range []func(){r2, r3, r4} {
		r()
	}
}

func TestSessionLimitErrorSingular(t *testing.T) {
	err := &SessionLimitError{Err: ErrKeyBusy, Limit: 1}
	if got, want := err.Error(), "you already have 1 session open; close one first"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestConnectionsPerKey(t *testing.T) {
	c := NewConnections(2)
	var rel []func()
	for i := range 2 {
		r, err := c.Acquire("k", fmt.Sprint("src", i))
		if err != nil {
			t.Fatal(err)
		}
		rel = append(rel, r)
	}
	_, err := c.Acquire("k", "src9")
	if !errors.Is(err, ErrKeyBusy) || err.Error() != "you already have 2 connections open; close one first" {
		t.Fatalf("third connection of one key: %v", err)
	}
	if _, err := c.Acquire("other", "src0"); err != nil {
		t.Fatalf("another key: %v", err)
	}
	rel[0]()
	if _, err := c.Acquire("k", "src0"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}

func TestSessionsReturnToZero(t *testing.T) {
	s := NewSessions(3, 16)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			for j := range 100 {
				release, err := s.Acquire(fmt.Sprint("k", (i+j)%7), fmt.Sprint("s", i%5))
				if err != nil {
					continue
				}
				release()
				release()
			}
		})
	}
	wg.Wait()
	if got := s.Stats(); got != (SessionStats{}) {
		t.Fatalf("Stats() = %+v after every release", got)
	}
}
