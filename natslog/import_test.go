package natslog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"parley/natslog"
	"parley/room"
	"parley/store"
)

// fillHistory stores n messages of a single node's room in st (a join, a
// topic, chat), as a node without NATS would have.
func fillHistory(t *testing.T, st *store.SQLite, roomName string, n int) {
	t.Helper()
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	var batch []room.Message
	for i := 1; i <= n; i++ {
		m := room.Message{Seq: uint64(i), Time: t0.Add(time.Duration(i) * time.Minute), Room: roomName, Kind: room.KindChat,
			From: "alice", FromID: "SHA256:alice", Text: fmt.Sprintf("old message %d", i)}
		switch i {
		case 1:
			m.Kind, m.Text = room.KindJoin, ""
		case 2:
			m.Kind, m.Text = room.KindTopic, "the old topic"
		}
		batch = append(batch, m)
		if len(batch) == 100 || i == n {
			if err := st.Append(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

func texts(msgs []room.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%s %s %s %s", m.Kind, m.From, m.Text, m.Time.UTC().Format(time.RFC3339))
	}
	return out
}

// Importing a single node's history twice, the first run interrupted,
// stores each message once, in the history's order, with its time and
// sender; the second run recognises the first one's messages even though
// the stream's duplicate window has passed. A stream that holds other
// messages is refused unless forced. Issue 15 item 3.
func TestImportTwiceStoresEachMessageOnce(t *testing.T) {
	js := startJS(t)
	st := openStore(t, t.TempDir())
	const n = 1200
	fillHistory(t, st, "lobby", n)
	node, err := st.ImportNode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The smallest window JetStream takes (100 ms): the second run cannot lean
	// on it for the first messages of the first run.
	nc := dial(t, js)
	l, err := natslog.New(nc, natslog.Options{Duplicates: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	read := func(ctx context.Context, after uint64, k int) ([]room.Message, error) {
		return st.After(ctx, "lobby", after, k)
	}
	broken := errors.New("the disk went away")
	interrupted := func(ctx context.Context, after uint64, k int) ([]room.Message, error) {
		if after >= 500 {
			return nil, broken
		}
		return read(ctx, after, k)
	}
	start := time.Now()
	res, err := l.Import(ctx, "lobby", node, 0, interrupted, false)
	if !errors.Is(err, broken) || res.Published != 500 {
		t.Fatalf("interrupted import: %+v, %v; want 500 published and the read error", res, err)
	}
	res, err = l.Import(ctx, "lobby", node, 0, read, false)
	if err != nil || res.Published != n-500 || res.Present != 500 || res.Others != 0 || res.Last != n {
		t.Fatalf("second import: %+v, %v; want %d published, 500 present, last %d", res, err, n-500, n)
	}
	res, err = l.Import(ctx, "lobby", node, 0, read, false)
	if err != nil || res.Published != 0 || res.Present != n || res.Last != n {
		t.Fatalf("third import: %+v, %v; want nothing published", res, err)
	}
	t.Logf("%d messages imported in three runs in %v", n, time.Since(start))

	local, err := st.Before(ctx, "lobby", 0, 10*n)
	if err != nil {
		t.Fatal(err)
	}
	got := streamMessages(t, l, "lobby")
	if !slices.Equal(texts(got), texts(local)) {
		t.Fatalf("the stream holds %d messages, the history %d, or their order differs", len(got), len(local))
	}
	for i, m := range got {
		if m.Seq != uint64(i+1) {
			t.Fatalf("stream message %d has sequence %d", i, m.Seq)
		}
	}

	// Another room whose stream already has a message from a node.
	fillHistory(t, st, "ops", 3)
	if err := l.Append(ctx, "ops", []room.Record{{ID: room.RecordID{Node: 7, N: 1}, Message: room.Message{Time: time.Now(), Room: "ops", Kind: room.KindChat, From: "bob", Text: "said in the cluster"}}}); err != nil {
		t.Fatal(err)
	}
	readOps := func(ctx context.Context, after uint64, k int) ([]room.Message, error) {
		return st.After(ctx, "ops", after, k)
	}
	if res, err := l.Import(ctx, "ops", node, 0, readOps, false); !errors.Is(err, natslog.ErrOtherMessages) || res.Others != 1 || res.Published != 0 {
		t.Fatalf("import into a stream with other messages: %+v, %v; want ErrOtherMessages", res, err)
	}
	if res, err := l.Import(ctx, "ops", node, 0, readOps, true); err != nil || res.Published != 3 || res.Last != 4 {
		t.Fatalf("forced import: %+v, %v; want 3 published after the other message", res, err)
	}
	if res, err := l.Import(ctx, "ops", node, 0, readOps, true); err != nil || res.Published != 0 || res.Present != 3 {
		t.Fatalf("forced import again: %+v, %v; want nothing published", res, err)
	}
}
