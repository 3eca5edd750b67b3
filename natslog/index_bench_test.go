package natslog_test

import (
	"context"
	"testing"
	"time"

	"parley/natslog"
	"parley/room"
)

// BenchmarkIndexCatchUp measures how fast a node's index catches up with a
// room's stream after downtime: b.N messages are in the stream (appended
// in batches of 256), and the timer runs from Index.Start until the index
// has applied them all to SQLite (synchronous=FULL). Reports indexed
// messages per second.
func BenchmarkIndexCatchUp(b *testing.B) {
	js := startJS(b)
	l, _ := newLog(b, js)
	ctx := context.Background()
	recs := make([]room.Record, 256)
	var n uint64
	for done := 0; done < b.N; done += len(recs) {
		k := min(len(recs), b.N-done)
		for i := range k {
			n++
			recs[i] = rec(1, n, "a message of an ordinary length, some forty bytes")
		}
		if err := l.Append(ctx, "lobby", recs[:k]); err != nil {
			b.Fatal(err)
		}
	}
	st := openStore(b, b.TempDir())
	lB, _ := newLog(b, js)
	x := lB.NewIndex(st, natslog.IndexOptions{})
	b.ResetTimer()
	start := time.Now()
	if err := x.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	started := time.Since(start)
	eventually(b, "the index caught up", func() bool { return x.Applied("lobby") >= n })
	b.Logf("%d messages: Start returned after %v, caught up after %v", n, started, time.Since(start))
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "indexed-msgs/s")
}
