package tui

import (
	"testing"

	"parley/room"
)

// fedFake is a session the runtime feeds (Options.Fed) that hands over
// the room's shared messages, as room.Session does.
type fedFake struct {
	*fakeSession
	queue []*room.Message
	ready chan struct{}
}

func newFedFake() *fedFake {
	return &fedFake{fakeSession: newFake(), ready: make(chan struct{}, 1)}
}

func (f *fedFake) Ready() <-chan struct{} { return f.ready }

func (f *fedFake) TryReceive(dst []room.Message, max int) ([]room.Message, bool) {
	for len(f.queue) > 0 && len(dst) < max {
		dst = append(dst, *f.queue[0])
		f.queue = f.queue[1:]
	}
	return dst, true
}

func (f *fedFake) TryReceiveShared(dst []*room.Message, max int) ([]*room.Message, bool) {
	n := min(len(f.queue), max)
	dst = append(dst, f.queue[:n]...)
	f.queue = f.queue[:copy(f.queue, f.queue[n:])] // keeps its array
	return dst, true
}

// TestTakeReusesItsSlice: a busy room hands every screen a message many
// times a second; taking it must not allocate a new slice each time
// (it was a tenth of the server's CPU with 5,000 receivers).
func TestTakeReusesItsSlice(t *testing.T) {
	f := newFedFake()
	m := New(f, Options{Width: 100, Height: 30, Fed: true})
	msg := chat(1, "bob", "hello")
	wrong := 0
	allocs := testing.AllocsPerRun(200, func() {
		f.queue = append(f.queue[:0], &msg)
		if ev, ok := m.Take().(*eventsMsg); !ok || len(ev.shared) != 1 || ev.shared[0] != &msg {
			wrong++
		}
	})
	if wrong > 0 {
		t.Fatalf("%d Takes did not return the one queued message", wrong)
	}
	if allocs > 0 {
		t.Errorf("Take allocates %.1f times per message, want none", allocs)
	}
}

// TestTakeKeepsNoMessagesItHandedOver: the reused slice must not keep
// messages alive after they were handed over, nor a burst's large array.
func TestTakeKeepsNoMessagesItHandedOver(t *testing.T) {
	f := newFedFake()
	m := New(f, Options{Width: 100, Height: 30, Fed: true})
	msgs := make([]room.Message, 3)
	for i := range msgs {
		msgs[i] = chat(uint64(i+1), "bob", "hello")
		f.queue = append(f.queue, &msgs[i])
	}
	if ev, ok := m.Take().(*eventsMsg); !ok || len(ev.shared) != 3 {
		t.Fatalf("Take returned %#v, want 3 messages", ev)
	} else {
		m.Update(ev)
	}
	if m.takenMsg.shared != nil {
		t.Error("the message Take handed over still holds its messages after Update")
	}
	if msg := m.Take(); msg != nil {
		t.Fatalf("Take with nothing queued returned %#v", msg)
	}
	for i, p := range m.taken[:cap(m.taken)] {
		if p != nil {
			t.Errorf("slot %d still holds message %d after it was handed over", i, p.Seq)
		}
	}
	burst := make([]room.Message, maxKeptTake+1)
	for i := range burst {
		burst[i] = chat(uint64(10+i), "bob", "burst")
		f.queue = append(f.queue, &burst[i])
	}
	m.Update(m.Take())
	m.Take()
	if cap(m.taken) > maxKeptTake {
		t.Errorf("Take keeps a slice of %d after a burst, want at most %d", cap(m.taken), maxKeptTake)
	}
}
