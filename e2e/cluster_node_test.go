package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"parley/app"
	"parley/natsaccess"
	"parley/natslog"
)

// natsNode says how a test server joins a NATS cluster. withNATSNode wires
// it as main's --nats does (natswire.go): the room log always; presence
// (roster) and private messages, and shared access, when asked for. It is
// the one place the e2e cluster tests build a node.
type natsNode struct {
	urls     string // comma-separated NATS URLs, as --nats takes them
	name     string // --node: the roster's name for this node
	replicas int    // --nats-replicas; 0 is the packages' default (1)
	dataDir  string // "": the fresh one startServer made

	presence  bool          // share who is online, names and private messages (natslog Roster, DMs)
	access    bool          // share keys, bans, mutes, kicks, invites and rooms (natsaccess)
	heartbeat time.Duration // the roster's heartbeat and TTL; 0: natslog's defaults
	ttl       time.Duration

	// inOrder connects to the first URL that answers rather than a random
	// one (nats.DontRandomize), so that a test can put nodes on different
	// servers of one cluster.
	inOrder bool
	conn    **nats.Conn // when not nil, set to the node's connection (to cut it as a crash does)
}

// withNATSNode makes the server a node as n says. Its goodbye and NATS
// connection close after the server.
func withNATSNode(t *testing.T, n natsNode) serverOpt {
	return withConfig(func(cfg *app.Config) {
		if n.dataDir != "" {
			cfg.DataDir = n.dataDir
		}
		opts := []nats.Option{nats.ReconnectBufSize(-1), nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond)}
		if n.inOrder {
			opts = append(opts, nats.DontRandomize())
		}
		nc, err := nats.Connect(n.urls, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close) // registered before startServer's Close: runs after it
		l, err := natslog.New(nc, natslog.Options{Replicas: n.replicas})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Room.Log, cfg.Room.History = l, l.History()
		if n.access {
			if cfg.Shared, err = natsaccess.New(context.Background(), nc, natsaccess.Options{Replicas: n.replicas}); err != nil {
				t.Fatal(err)
			}
		}
		if n.presence {
			ro, err := natslog.NewRoster(nc, natslog.RosterOptions{Node: n.name, Replicas: n.replicas, Heartbeat: n.heartbeat, TTL: n.ttl})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { // before nc.Close
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				defer cancel()
				_ = ro.Close(ctx) // fails once the test has cut the connection: a crash says no goodbye
			})
			dms, err := natslog.NewDMs(nc, natslog.Options{Replicas: n.replicas})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Room.Roster, cfg.Room.Private = ro, dms
		}
		if n.conn != nil {
			*n.conn = nc
		}
	})
}
