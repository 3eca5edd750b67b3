package natslog_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/room"
)

// benchAppend appends b.N records in batches of size to one room and
// reports acknowledged messages per second.
func benchAppend(b *testing.B, size, rooms int) {
	js := startJS(b)
	l, _ := newLog(b, js)
	ctx := context.Background()
	var n atomic.Uint64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + rooms - 1) / rooms
	for r := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("bench-%d", r)
			recs := make([]room.Record, size)
			for done := 0; done < per; done += size {
				for i := range recs {
					recs[i] = rec(uint64(r+1), n.Add(1), "a message of an ordinary length, some forty bytes")
				}
				if err := l.Append(ctx, name, recs); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(n.Load())/el.Seconds(), "acked-msgs/s")
}

// One message per Append, one room: the latency-bound case (a quiet room).
func BenchmarkAppendOne(b *testing.B) { benchAppend(b, 1, 1) }

// Batches of 16 and of 256 (group commit under load), one room: each is
// one atomic batch.
func BenchmarkAppendBatch16(b *testing.B)  { benchAppend(b, 16, 1) }
func BenchmarkAppendBatch256(b *testing.B) { benchAppend(b, 256, 1) }

// One message per Append in 8 rooms at once (each room's sequencer appends
// on its own).
func BenchmarkAppendOne8Rooms(b *testing.B) { benchAppend(b, 1, 8) }

// Messages sent by 8 people on node A, all read by one session on node B:
// end-to-end through two hubs and JetStream.
func BenchmarkTwoNodesDelivered(b *testing.B) {
	js := startJS(b)
	a, _ := newNode(b, js)
	nb, _ := newNode(b, js)
	reader := connect(b, nb, "id-reader", "reader")
	var senders []*room.Session
	for i := range 8 {
		senders = append(senders, connect(b, a, fmt.Sprintf("id-s%d", i), fmt.Sprintf("s%d", i)))
	}
	for _, s := range senders { // read what they are sent, or their queues overflow
		go func() {
			for range s.Events() {
			}
		}()
	}
	send(b, senders[0], "start")
	untilChat(b, reader, "start")
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + len(senders) - 1) / len(senders)
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := s.Send(context.Background(), fmt.Sprintf("m %d", i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	got := len(chats(b, reader, per*len(senders)))
	wg.Wait()
	b.ReportMetric(float64(got)/time.Since(start).Seconds(), "delivered-msgs/s")
}
