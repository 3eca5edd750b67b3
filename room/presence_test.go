package room

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestACrowdArrivingIsAnnouncedTogether: past the burst, joins are grouped
// into one announcement a second, and every arrival is accounted for.
func TestACrowdArrivingIsAnnouncedTogether(t *testing.T) {
	clock := newFakeClock() // no refill while the crowd arrives
	h := newHub(t, Config{Now: clock.Now})
	watcher := connect(t, h, "w", "watcher")
	const crowd = 60
	for i := 0; i < crowd; i++ {
		connect(t, h, fmt.Sprintf("id%02d", i), fmt.Sprintf("p%02d", i))
	}
	individual, grouped, names := 0, 0, 0
	deadline := time.After(10 * time.Second)
	for names < crowd {
		select {
		case m := <-watcher.Events():
			if m.Kind != KindJoin || m.From == "watcher" {
				continue
			}
			if m.From != "" {
				individual++
				names++
				continue
			}
			grouped++
			// "p20, p21, p22 and 37 others"
			n := 1 + strings.Count(m.Text, ",")
			if i := strings.Index(m.Text, " and "); i >= 0 {
				var others int
				if _, err := fmt.Sscanf(m.Text[i:], " and %d other", &others); err == nil {
					n += others
				} else {
					n++ // "a and b"
				}
			}
			names += n
		case <-deadline:
			t.Fatalf("after 10s: %d individual joins, %d grouped, %d people of %d", individual, grouped, names, crowd)
		}
	}
	if names != crowd {
		t.Errorf("announced %d people, want %d", names, crowd)
	}
	if individual > presenceBurst || grouped == 0 {
		t.Errorf("%d individual joins and %d grouped announcements; want at most %d individual, then grouped", individual, grouped, presenceBurst)
	}
	if got := len(h.Members("lobby")); got != crowd+1 {
		t.Errorf("%d members, want %d", got, crowd+1)
	}
}

func TestPendingText(t *testing.T) {
	var p pending
	for _, c := range []struct {
		add  string
		want string
	}{{"a", "a"}, {"b", "a and b"}, {"c", "a, b and c"}, {"d", "a, b, c and 1 other"}, {"e", "a, b, c and 2 others"}} {
		p.add(c.add)
		if got := p.text(); got != c.want {
			t.Errorf("after %s: %q, want %q", c.add, got, c.want)
		}
	}
}

// Issue 13 item 17: member lists are woken once a minute while someone's
// idle time shows (and changes), and not otherwise.
func TestIdleListsAreWokenWhileIdleTimesChange(t *testing.T) {
	clock := newFakeClock()
	h := newHub(t, Config{Now: clock.Now})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	presences := func(msgs []Message) (n int) {
		for _, m := range msgs {
			if m.Kind == KindPresence {
				n++
			}
		}
		return n
	}
	step := 0
	wakeThenSay := func() int { // presences bob got from one wake-up
		step++
		h.wakeIdleLists()
		text := fmt.Sprintf("step %d", step)
		send(t, alice, text)
		_, before := until(t, bob, isChat(text))
		return presences(before)
	}
	if n := wakeThenSay(); n != 0 {
		t.Errorf("nobody idle yet: %d wake-ups", n)
	}
	clock.Advance(2 * time.Minute) // bob idle 2m (alice has just spoken)
	if n := wakeThenSay(); n != 1 {
		t.Errorf("bob idle 2 minutes: %d wake-ups, want 1", n)
	}
	clock.Advance(3*time.Hour + 10*time.Minute) // 3h12m: shown as 3h, unchanged this minute
	if n := wakeThenSay(); n != 0 {
		t.Errorf("bob idle 3h12m: %d wake-ups, want 0", n)
	}
	clock.Advance(48 * time.Minute) // 4h0m: the hours turned
	if n := wakeThenSay(); n != 1 {
		t.Errorf("bob idle 4h: %d wake-ups, want 1", n)
	}
}
