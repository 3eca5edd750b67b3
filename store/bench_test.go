package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"parley/room"
)

// benchText is a typical chat line, varied so the search index grows as it
// would in use.
func benchText(seq uint64) string {
	return fmt.Sprintf("message %d: has anyone tried the new build on arm64? it fails at step %d for me", seq, seq%97)
}

// BenchmarkAppend stores batches of the given size in one room, as the
// room's sequencer does. msgs/s is durable messages per second: each batch
// is fsynced before Append returns.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := openTest(b)
			ctx := context.Background()
			batch := make([]room.Message, size)
			seq := uint64(0)
			for b.Loop() {
				for i := range batch {
					seq++
					batch[i] = chat("lobby", seq, benchText(seq))
				}
				if err := s.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(seq), "ns/msg")
			var pages, pageSize int64
			if err := s.write.QueryRowContext(ctx, "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size").Scan(&pages, &pageSize); err == nil {
				b.ReportMetric(float64(pages*pageSize)/float64(seq), "dbB/msg")
			}
		})
	}
}

// BenchmarkAppendRooms has 8 rooms append single messages at once: the
// commits queue for the one write connection.
func BenchmarkAppendRooms(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	var rooms, total atomic.Int64
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // about 8 goroutines
	b.RunParallel(func(pb *testing.PB) {
		name := fmt.Sprintf("room%d", rooms.Add(1))
		seq := uint64(0)
		for pb.Next() {
			seq++
			if err := s.Append(ctx, []room.Message{chat(name, seq, benchText(seq))}); err != nil {
				b.Error(err)
				return
			}
		}
		total.Add(int64(seq))
	})
	b.ReportMetric(float64(total.Load())/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkAppendPrivate stores private messages one at a time.
func BenchmarkAppendPrivate(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		n++
		if _, err := s.AppendPrivate(ctx, dm("SHA256:alice", "SHA256:bob", benchText(uint64(n)), base)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkBefore reads a page of 100 at a random place in a room of 10,000
// messages.
func BenchmarkBefore(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	const total = 10_000
	fill(b, s, "lobby", 1, total, 256)
	fill(b, s, "other", 1, total, 256)
	for b.Loop() {
		before := uint64(101 + rand.IntN(total-100))
		msgs, err := s.Before(ctx, "lobby", before, 100)
		if err != nil || len(msgs) != 100 {
			b.Fatalf("%d messages, %v", len(msgs), err)
		}
	}
}

// BenchmarkSearch searches 20,000 messages of two busy rooms, which take
// turns, for words every message holds, a rare word and a word too short
// for the index; and a quiet room whose 100 messages are older than all of
// those, for a word the busy rooms hold too, which is the worst case: every
// newer match elsewhere is looked at and skipped.
func BenchmarkSearch(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	quiet := make([]room.Message, 100)
	for i := range quiet {
		quiet[i] = chat("quiet", uint64(i+1), benchText(uint64(i+1)))
	}
	if err := s.Append(ctx, quiet); err != nil {
		b.Fatal(err)
	}
	for seq := uint64(1); seq <= 10_000; seq += 50 {
		for _, name := range []string{"lobby", "other"} {
			batch := make([]room.Message, 0, 50)
			for i := range uint64(50) {
				batch = append(batch, chat(name, seq+i, benchText(seq+i)))
			}
			if err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, c := range []struct{ name, room, query string }{
		{"common", "lobby", "anyone arm64"},
		{"rare", "lobby", "7777:"},
		{"short", "lobby", "42"},
		{"quiet-room", "quiet", "anyone arm64"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				msgs, err := s.Search(ctx, c.room, "SHA256:alice", c.query, 20)
				if err != nil || len(msgs) == 0 {
					b.Fatalf("%d messages, %v", len(msgs), err)
				}
			}
		})
	}
}
