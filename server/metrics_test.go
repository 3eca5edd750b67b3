package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"parley/room"
)

// refusalCounts is a room.Observer that counts MessageRefused by reason.
type refusalCounts struct {
	room.NopObserver
	mu sync.Mutex
	n  map[string]int
}

func (r *refusalCounts) MessageRefused(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[reason]++
}

func (r *refusalCounts) get(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[reason]
}

// Issue 13 item 9: parley_messages_refused_total{reason="rate"} counted the
// lines `say` only delayed (35 of 40 delivered lines counted as refused).
// Delays and refusals are counted apart.
func TestSayDelaysAreNotCountedAsRefusals(t *testing.T) {
	alice, ci := newTUser(t, "alice"), newTUser(t, "ci")
	counts := &refusalCounts{n: map[string]int{}}
	ts := startTestServerWith(t, "", func(c *testConfig) {
		c.Defences.Gate.FailuresBeforePenalty = 1000
		c.Room.Observer = counts
	}, alice.line(""), ci.line(""))
	w := ts.watcher(t, alice)

	var in []string
	for i := 1; i <= 40; i++ {
		in = append(in, fmt.Sprintf("line %d", i))
	}
	if r := ts.run(t, ci, "", "say -r lobby", strings.Join(in, "\n")+"\n"); r.code != 0 {
		t.Fatalf("say: exit %d, %q", r.code, r.stderr)
	}
	for i := 1; i <= 40; i++ {
		untilEvent(t, w, chatText(fmt.Sprintf("line %d", i)))
	}
	if got := counts.get("rate"); got != 0 {
		t.Errorf("%d of 40 delivered lines counted as refused for the rate", got)
	}
	if got := counts.get("delayed"); got == 0 {
		t.Error("no delay counted, though 40 lines went past a burst of 3")
	}

	// A person's message refused for the rate is still a refusal.
	refusedBefore := counts.get("rate")
	var refused int
	// Post until the limit refuses a few (a loaded machine refills the
	// bucket between slow posts, so no fixed count is sure to hit it).
	for i := 0; i < 500 && refused < 3; i++ {
		if _, limited := room.RetryAfter(w.Post(context.Background(), fmt.Sprintf("fast %d", i))); limited {
			refused++
		}
	}
	if refused == 0 || counts.get("rate")-refusedBefore != refused {
		t.Errorf("%d messages refused, %d counted as rate", refused, counts.get("rate")-refusedBefore)
	}
}
