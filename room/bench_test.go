package room

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkFanout measures one Send to a room of n sessions (the sender's
// among them), until the message is stored and queued for every session.
// Each session is drained by its own goroutine, as a transport would.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			// A queue of 256 keeps 10000 sessions within a few hundred MB.
			h, err := New(Config{QueueSize: 256})
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
					for range s.Events() {
					}
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
