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
)

// inprocess is the real server running inside this process on a loopback
// listener, with a temporary data dir holding the bench identities.
type inprocess struct {
	srv    *app.App
	addr   string
	dir    string
	logs   *logCounter
	served chan error
}

// startInProcess starts a server that admits identities 0..n-1 of seed.
func startInProcess(seed string, n int) (_ *inprocess, err error) {
	dir, err := os.MkdirTemp("", "parley-bench-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
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
	logs := &logCounter{counts: map[string]int{}}
	srv, err := app.New(app.Config{Config: server.Config{DataDir: dir, Logger: slog.New(logs)}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Close(context.Background())
		return nil, err
	}
	p := &inprocess{srv: srv, addr: ln.Addr().String(), dir: dir, logs: logs, served: make(chan error, 1)}
	go func() { p.served <- srv.Serve(ln) }()
	return p, nil
}

// close stops the server, within serverStopMax and by the deadline, and
// removes its data.
func (p *inprocess) close(deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, serverStopMax)
	defer cancel2()
	err := p.srv.Close(ctx)
	select {
	case serr := <-p.served:
		err = errors.Join(err, serr)
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("the server did not stop in time: %w", ctx.Err()))
	}
	return errors.Join(err, os.RemoveAll(p.dir))
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
