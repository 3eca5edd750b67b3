package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"parley/app"
	"parley/server"
	"parley/web"
)

// inprocess is the real server running inside this process on loopback
// listeners, with a temporary data dir holding the bench identities: one
// node, or several sharing rooms through an embedded NATS JetStream
// server (inprocess_nats.go). Each node serves its web page too, wired as
// the parley binary wires it (webwire.go).
type inprocess struct {
	nodes []*ipNode
	dir   string // the data dirs of every node, and NATS's store
	logs  *logCounter
	nats  *embeddedNATS // nil with one node
}

// ipNode is one in-process node.
type ipNode struct {
	app       *app.App
	addr      string // SSH
	web       *web.Server
	webURL    string
	served    chan error // SSH Serve's result
	webServed chan error
}

// startInProcess starts nodes that admit identities 0..n-1 of seed; with
// more than one node, they share rooms through an embedded NATS server.
func startInProcess(seed string, n, nodes int) (_ *inprocess, err error) {
	dir, err := os.MkdirTemp("", "parley-bench-*")
	if err != nil {
		return nil, err
	}
	p := &inprocess{dir: dir, logs: &logCounter{counts: map[string]int{}}}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.close(time.Now().Add(serverStopMax)))
		}
	}()
	if nodes > 1 {
		if p.nats, err = startNATS(filepath.Join(dir, "nats")); err != nil {
			return nil, err
		}
	}
	for i := range nodes {
		nd, err := p.startNode(filepath.Join(dir, fmt.Sprintf("node%d", i+1)), seed, n)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
		p.nodes = append(p.nodes, nd)
	}
	return p, nil
}

// startNode starts one node with its own data dir, the same identities.
func (p *inprocess) startNode(dir, seed string, n int) (_ *ipNode, err error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "authorized_keys"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	err = writeAuthorized(f, seed, n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	cfg := app.Config{Config: server.Config{DataDir: dir, Logger: slog.New(p.logs)}}
	if p.nats != nil {
		if err := p.nats.wire(&cfg); err != nil {
			return nil, err
		}
	}
	hook := &webHook{}
	cfg.WebSignIn = hook.signIn
	srv, err := app.New(cfg)
	if err != nil {
		return nil, err
	}
	nd := &ipNode{app: srv, served: make(chan error, 1), webServed: make(chan error, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Close(context.Background())
		return nil, err
	}
	wln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		_ = srv.Close(context.Background())
		return nil, err
	}
	nd.addr, nd.webURL = ln.Addr().String(), "http://"+wln.Addr().String()
	if nd.web, err = hook.start(srv, nd.webURL, nd.addr, slog.New(p.logs)); err != nil {
		ln.Close()
		wln.Close()
		_ = srv.Close(context.Background())
		return nil, err
	}
	go func() { nd.webServed <- nd.web.Serve(wln) }()
	go func() { nd.served <- srv.Serve(ln) }()
	return nd, nil
}

// close stops every node (its page, then its server), then NATS, within
// serverStopMax and by the deadline, and removes the data.
func (p *inprocess) close(deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, serverStopMax)
	defer cancel2()
	var err error
	for _, nd := range p.nodes {
		err = errors.Join(err, nd.close(ctx))
	}
	if p.nats != nil {
		p.nats.close()
	}
	return errors.Join(err, os.RemoveAll(p.dir))
}

func (nd *ipNode) close(ctx context.Context) error {
	err := errors.Join(nd.web.Close(ctx), nd.app.Close(ctx))
	for _, ch := range []chan error{nd.webServed, nd.served} {
		select {
		case serr := <-ch:
			err = errors.Join(err, serr)
		case <-ctx.Done():
			return errors.Join(err, fmt.Errorf("the server did not stop in time: %w", ctx.Err()))
		}
	}
	return err
}

// logCounter is the in-process server's log: it counts warnings and errors
// by message (a thousand sessions would drown the report otherwise).
type logCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

var _ slog.Handler = (*logCounter)(nil)

func (l *logCounter) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[r.Level.String()+" "+r.Message]++
	return nil
}

func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func (l *logCounter) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.counts) == 0 {
		return nil
	}
	return maps.Clone(l.counts)
}
