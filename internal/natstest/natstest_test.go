package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/internal/natstest"
)

// The cluster helper gives an R3 stream that keeps taking messages with
// one server of three stopped, acknowledges none with two stopped (no
// quorum), and takes them again, with nothing acknowledged lost, when they
// are started again on the same ports and stores.
func TestClusterR3SurvivesOneServerAndRecovers(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), natstest.ReadyTimeout)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	publish := func(what string) error {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := js.Publish(pctx, "t", []byte(what))
		return err
	}
	// eventually retries a publish that should work, until it does.
	eventually := func(what string) {
		t.Helper()
		deadline := time.Now().Add(natstest.ReadyTimeout)
		for err := publish(what); err != nil; err = publish(what) {
			if time.Now().After(deadline) {
				t.Fatalf("publish %q: %v", what, err)
			}
		}
	}
	eventually("1")
	c.Servers[0].Stop()
	eventually("2") // two of three: a quorum
	c.Servers[1].Stop()
	if err := publish("lost"); err == nil {
		t.Fatal("a publish was acknowledged by one server of three (no quorum)")
	}
	c.Servers[0].Start()
	c.Servers[1].Start()
	c.WaitReady()
	eventually("3")
	s, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for seq := uint64(1); ; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			break
		}
		got = append(got, string(m.Data))
	}
	// "lost" was not acknowledged, but the one server left may have held
	// it and committed it once the others came back: unacknowledged is
	// not the same as not stored (which is why parley retries with the
	// same Nats-Msg-Id). It is there at most once, and the acknowledged
	// ones are there once each, in order.
	var acked []string
	lost := 0
	for _, g := range got {
		if g == "lost" {
			lost++
			continue
		}
		acked = append(acked, g)
	}
	if len(acked) != 3 || acked[0] != "1" || acked[1] != "2" || acked[2] != "3" || lost > 1 {
		t.Fatalf("stream holds %q, want 1, 2, 3 (each once, in order) and the unacknowledged one at most once", got)
	}
	t.Logf("stream after the outage: %q", got)
}
