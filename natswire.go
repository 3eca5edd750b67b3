package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/app"
	"parley/natsaccess"
	"parley/natslog"
	"parley/web"
)

// natsOptions is the cluster part of the command line: with URLs set, the
// node shares its rooms with every other node on the same NATS JetStream
// (package natslog); without, it runs alone as before.
type natsOptions struct {
	urls     string // comma-separated NATS server URLs; empty: no cluster
	node     string // this node's name in logs, metrics and /healthz
	replicas int    // each room stream's replicas
	creds    string // --nats-creds: a .creds file (JWT and nkey seed)
	nkey     string // --nats-nkey: an nkey seed file
	tlsCA    string // --nats-tls-ca: CA certificates for the servers' TLS
	tlsCert  string // --nats-tls-cert and --nats-tls-key: a client certificate
	tlsKey   string
}

// natsFlags declares --nats, --node and --nats-replicas on fs over their
// PARLEY_* environment variables.
func natsFlags(fs *flag.FlagSet, getenv func(string) string, o *natsOptions) error {
	o.urls = getenv("PARLEY_NATS_URL")
	fs.StringVar(&o.urls, "nats", o.urls, "NATS server URLs (comma-separated, JetStream enabled): share rooms with the other nodes on it; empty runs alone (env PARLEY_NATS_URL)")
	o.node = getenv("PARLEY_NODE")
	if o.node == "" {
		o.node, _ = os.Hostname()
	}
	fs.StringVar(&o.node, "node", o.node, "this node's name in logs, metrics (parley_node_info) and /healthz (env PARLEY_NODE; default the host name)")
	o.replicas = 1
	if v := getenv("PARLEY_NATS_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("PARLEY_NATS_REPLICAS=%q: use a number", v)
		}
		o.replicas = n
	}
	fs.IntVar(&o.replicas, "nats-replicas", o.replicas, "servers holding each room's stream: 3 on a three-server NATS cluster (env PARLEY_NATS_REPLICAS)")
	natsAuthFlags(fs, getenv, o) // natsauth.go
	return nil
}

// natsConnectTimeout bounds the first connection: a node that cannot reach
// NATS at start says so and stops, rather than coming up unable to show
// any room.
const natsConnectTimeout = 10 * time.Second

// wire connects to NATS when URLs are set, makes the JetStream log the
// hub's Log and History (cfg.Room), and names the node in cfg.Logger. It
// returns what closes the connection, to be called after the server is
// closed, and the NATS part of /readyz (natslog.Health); with no URLs it
// does nothing and ready is nil.
func (o natsOptions) wire(cfg *app.Config, log *slog.Logger) (closeNATS func(), ready func(context.Context) error, err error) {
	if o.urls == "" {
		if o.authGiven() {
			return nil, nil, errors.New("--nats-creds, --nats-nkey and --nats-tls-* need --nats (PARLEY_NATS_URL): they say how to reach NATS, not whether to")
		}
		return func() {}, nil, nil
	}
	if o.replicas < 1 || o.replicas > 5 {
		return nil, nil, fmt.Errorf("--nats-replicas %d: use 1 to 5 (3 on a three-server cluster)", o.replicas)
	}
	auth, err := o.authOptions() // natsauth.go
	if err != nil {
		return nil, nil, err
	}
	log = log.With("node", o.node)
	cfg.Logger = log // the node's name on everything it logs
	nc, err := nats.Connect(o.urls, append(auth,
		nats.Name("parley "+o.node),
		nats.Timeout(natsConnectTimeout),
		nats.MaxReconnects(-1),                   // never give up: the node recovers by itself
		nats.ReconnectWait(250*time.Millisecond), // plus jitter
		nats.ReconnectBufSize(-1),                // while down, refuse (the sender hears it), never hold
		nats.PingInterval(5*time.Second),         // a link that went silent is found within ~15 s,
		nats.MaxPingsOutstanding(2),              // not the client's default of minutes
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("NATS disconnected: messages are kept and retried until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
		}),
	)...)
	if err != nil {
		return nil, nil, fmt.Errorf("nats %s: %w%s", redactURLs(o.urls), err, o.connectHint(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), natsConnectTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = js.AccountInfo(ctx)
	}
	if err != nil {
		nc.Close()
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, nil, fmt.Errorf("nats %s: JetStream is not enabled (start nats-server with -js)", redactURLs(o.urls))
		}
		return nil, nil, fmt.Errorf("nats %s: JetStream: %w", redactURLs(o.urls), err)
	}
	if o.replicas > 1 && nc.ConnectedClusterName() == "" {
		nc.Close()
		return nil, nil, fmt.Errorf("--nats-replicas %d needs a NATS cluster, and %s is a single server: use 1, or a cluster of at least %d", o.replicas, nc.ConnectedUrlRedacted(), o.replicas)
	}
	l, err := natslog.New(nc, natslog.Options{Replicas: o.replicas, Logger: log, MaxAge: cfg.Retain})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	health, err := natslog.NewHealth(nc, 0)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	cfg.Room.Log, cfg.Room.History = l, l.History()
	// Keys, bans, mutes, kicks, invites and room access: one truth for
	// every node (natsaccess).
	if cfg.Shared, err = natsaccess.New(ctx, nc, natsaccess.Options{Replicas: o.replicas, Logger: log, WebSessionTTL: web.SessionTTL}); err != nil {
		nc.Close()
		return nil, nil, err
	}
	cfg.LocalIndex = localIndex(l) // clusterindex.go
	// Who is online, names and private messages are shared too (natslog
	// doc, "Presence and names"); the roster's Close is the node's goodbye.
	roster, err := natslog.NewRoster(nc, natslog.RosterOptions{Node: o.node, Replicas: o.replicas, Logger: log})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	dms, err := natslog.NewDMs(nc, natslog.Options{Replicas: o.replicas, Logger: log})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	cfg.Room.Roster, cfg.Room.Private = roster, dms
	log.Info("sharing rooms through NATS JetStream", "server", nc.ConnectedUrlRedacted(), "replicas", o.replicas)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), natsConnectTimeout)
		defer cancel()
		if err := roster.Close(ctx); err != nil {
			log.Warn("saying goodbye to the other nodes failed: they drop this node's people when its heartbeat stops", "err", err)
		}
		nc.Close()
	}, health.Check, nil
}

// readyWith is the ops listener's readiness: the server's own (the store),
// then NATS's when the node is in a cluster.
func readyWith(server, nats func(context.Context) error) func(context.Context) error {
	if nats == nil {
		return server
	}
	return func(ctx context.Context) error {
		if err := server(ctx); err != nil {
			return err
		}
		return nats(ctx)
	}
}

// redactURLs hides the passwords of user:password@ URLs, for messages.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			scheme := ""
			if s, rest, ok := strings.Cut(u, "://"); ok {
				scheme, u = s+"://", rest
				at = strings.LastIndex(u, "@")
			}
			parts[i] = scheme + "***" + u[at:]
		}
	}
	return strings.Join(parts, ",")
}
