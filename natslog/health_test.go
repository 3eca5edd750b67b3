package natslog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"parley/internal/natstest"
	"parley/natslog"
)

// checkHealth runs one Check with the ops listener's bound.
func checkHealth(h *natslog.Health) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return h.Check(ctx)
}

// Health (/readyz's NATS part) is not ready while the connection is down
// or JetStream has no quorum (two servers of three gone), says which, and
// is ready again by itself when they are back. Issue 15, Failures.
func TestHealthReportsNoQuorumAndDisconnectionAndRecovers(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	// Connected to the third server only, so that it stays connected while
	// the other two stop.
	nc, err := nats.Connect(c.Servers[2].URL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.ReconnectBufSize(-1), nats.DontRandomize())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	h, err := natslog.NewHealth(nc, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkHealth(h); err != nil {
		t.Fatalf("a healthy cluster: %v", err)
	}

	c.Servers[0].Stop()
	eventually(t, "one server of three gone to change nothing", func() bool { return checkHealth(h) == nil })
	c.Servers[1].Stop()
	var why error
	eventually(t, "no quorum to be reported", func() bool { why = checkHealth(h); return why != nil })
	if !strings.Contains(why.Error(), "JetStream") {
		t.Fatalf("without quorum: %v, want it to name JetStream", why)
	}
	t.Logf("two of three servers gone: %v", why)

	c.Servers[0].Start()
	c.Servers[1].Start()
	eventually(t, "ready again once the quorum is back", func() bool { return checkHealth(h) == nil })

	c.Servers[2].Stop() // the one it is connected to: (it may move to another)
	eventually(t, "the disconnection to be seen or the node to reconnect elsewhere", func() bool {
		err := checkHealth(h)
		return err != nil && strings.Contains(err.Error(), "NATS: reconnecting") || nc.ConnectedUrl() != c.Servers[2].URL() && err == nil
	})
	c.Servers[2].Start()
	eventually(t, "ready with every server back", func() bool { return checkHealth(h) == nil })
}

// A single server gone: not ready, "NATS: reconnecting", then ready again.
func TestHealthSingleServerDownAndBack(t *testing.T) {
	s := natstest.Start(t)
	nc, err := nats.Connect(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	h, err := natslog.NewHealth(nc, time.Hour) // the cache must not hide a disconnection
	if err != nil {
		t.Fatal(err)
	}
	if err := checkHealth(h); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	var why error
	eventually(t, "the outage to be reported", func() bool { why = checkHealth(h); return why != nil })
	if !strings.Contains(why.Error(), "NATS: reconnecting") {
		t.Fatalf("with the server down: %v", why)
	}
	s.Start()
	eventually(t, "ready again", func() bool { return checkHealth(h) == nil })
}
