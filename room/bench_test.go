package room

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// BenchmarkFanout measures one Send to a room of n sessions (the sender's
// among them), until the message is stored and queued for every session.
// Each session is drained by its own goroutine, as a transport would, here
// with Events (a goroutine per session forwards into the channel).
func BenchmarkFanout(b *testing.B) {
	benchmarkFanout(b, func(s *Session) {
		for range s.Events() {
		}
	})
}

// BenchmarkFanoutReceive is BenchmarkFanout with sessions drained by
// Receive, as the terminal UI does.
func BenchmarkFanoutReceive(b *testing.B) {
	benchmarkFanout(b, func(s *Session) {
		var buf []Message
		for ok := true; ok; {
			buf, ok = s.Receive(buf, 512)
		}
	})
}

func benchmarkFanout(b *testing.B, drain func(*Session)) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			// b.Loop sends as fast as it can, faster than reader
			// goroutines take: queues may grow (they hold nothing until
			// used). A queued message is a pointer to the one shared
			// message, so even 10000 sessions' queues stay small.
			h, err := New(Config{QueueSize: 1 << 16, QueueBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var drained sync.WaitGroup
			sessions := make([]*Session, n)
			for i := range n {
				// Up to 1000 people; beyond that, people with several
				// sessions. Send costs the same per session either way, and
				// this keeps the setup's join fan-out (quadratic in people)
				// to seconds.
				id := i % 1000
				s, err := h.Connect(ctx, Identity{ID: fmt.Sprintf("id-%d", id), Name: fmt.Sprintf("user%d", id)})
				if err != nil {
					b.Fatal(err)
				}
				sessions[i] = s
				drained.Add(1)
				go func() {
					defer drained.Done()
					drain(s)
				}()
			}
			sender := sessions[0]

			b.ReportAllocs()
			for b.Loop() {
				if err := sender.Send(ctx, "a line of chat of an ordinary length, like this one"); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()

			// A session dropped for falling behind would make the numbers
			// meaningless.
			if _, online := h.Online(); online != n {
				b.Fatalf("%d of %d sessions were disconnected during the benchmark", n-online, n)
			}
			if err := h.Close(ctx, ""); err != nil {
				b.Fatal(err)
			}
			drained.Wait()
		})
	}
}

// BenchmarkIdleSessionMemory connects 1,000 sessions (each its own
// identity, all in the default room, as after a reconnect storm), reads
// everything they were sent, and reports the heap they hold, per session:
// members, sessions, their backlogs (up to Config.Backlog messages each)
// and whatever their outgoing queues keep while idle.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	var perSession float64
	for b.Loop() {
		h, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		heap := func() uint64 {
			var ms runtime.MemStats
			runtime.GC()
			runtime.GC() // the second frees what the first left in pools
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := heap()
		sessions := make([]*Session, 0, n)
		for i := range n {
			s, err := h.Connect(ctx, Identity{ID: fmt.Sprintf("id-%d", i), Name: fmt.Sprintf("user%d", i)})
			if err != nil {
				b.Fatal(err)
			}
			sessions = append(sessions, s)
			if i%100 == 99 { // everyone reads the joins so far
				for _, s := range sessions {
					drainQueued(s)
				}
			}
		}
		for _, s := range sessions {
			drainQueued(s)
		}
		after := heap()
		if _, online := h.Online(); online != n {
			b.Fatalf("%d of %d sessions are online", online, n)
		}
		perSession = (float64(after) - float64(before)) / n
		runtime.KeepAlive(sessions)
		if err := h.Close(ctx, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perSession, "heap-B/session")
}
