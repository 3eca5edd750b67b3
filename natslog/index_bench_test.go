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

// BenchmarkImport measures `parley cluster import`'s publishing: b.N
// messages of a single node's room, each acknowledged before the next,
// into an empty stream. Reports imported messages per second.
func BenchmarkImport(b *testing.B) {
	js := startJS(b)
	st := openStore(b, b.TempDir())
	t0 := time.Now().Add(-time.Hour)
	var batch []room.Message
	for i := 1; i <= b.N; i++ {
		batch = append(batch, room.Message{Seq: uint64(i), Time: t0, Room: "lobby", Kind: room.KindChat,
			From: "alice", FromID: "SHA256:alice", Text: "a message of an ordinary length, some forty bytes"})
		if len(batch) == 256 || i == b.N {
			if err := st.Append(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	l, _ := newLog(b, js)
	node, err := st.ImportNode(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	read := func(ctx context.Context, after uint64, n int) ([]room.Message, error) {
		return st.After(ctx, "lobby", after, n)
	}
	b.ResetTimer()
	start := time.Now()
	res, err := l.Import(context.Background(), "lobby", node, 0, read, false)
	if err != nil || res.Published != b.N {
		b.Fatalf("import: %+v, %v", res, err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "imported-msgs/s")
}
