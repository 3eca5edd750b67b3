package main

import (
	"errors"
	"fmt"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"parley/app"
	"parley/natslog"
)

// natsReady bounds the embedded NATS server's start.
const natsReady = 10 * time.Second

// embeddedNATS is a NATS server with JetStream inside this process, on a
// loopback port, and the connections of the nodes that share rooms
// through it (one each, as each parley --nats process has).
type embeddedNATS struct {
	srv *natsserver.Server

	mu    sync.Mutex
	conns []*nats.Conn
}

// startNATS starts a JetStream server storing in dir.
func startNATS(dir string) (*embeddedNATS, error) {
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(natsReady) {
		srv.Shutdown()
		return nil, errors.New("the embedded nats server did not start")
	}
	return &embeddedNATS{srv: srv}, nil
}

// url is where clients connect.
func (e *embeddedNATS) url() string { return e.srv.ClientURL() }

// wire gives a node its own connection and the JetStream log as its
// hub's Log and History, with the options parley --nats uses
// (natswire.go): nothing buffered while disconnected, reconnect for ever.
func (e *embeddedNATS) wire(cfg *app.Config) error {
	nc, err := nats.Connect(e.url(), nats.Name("parley-bench node"), nats.ReconnectBufSize(-1),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return fmt.Errorf("nats connect: %w", err)
	}
	e.mu.Lock()
	e.conns = append(e.conns, nc)
	e.mu.Unlock()
	l, err := natslog.New(nc, natslog.Options{Logger: cfg.Logger})
	if err != nil {
		return err
	}
	cfg.Room.Log, cfg.Room.History = l, l.History()
	return nil
}

// close closes the nodes' connections (after the nodes), then the server.
func (e *embeddedNATS) close() {
	e.mu.Lock()
	for _, nc := range e.conns {
		nc.Close()
	}
	e.conns = nil
	e.mu.Unlock()
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
