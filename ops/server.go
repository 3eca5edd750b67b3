package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// ReadyTimeout bounds one call of the readiness function behind /readyz.
const ReadyTimeout = 2 * time.Second

// Options are the optional features of the ops listener.
type Options struct {
	// EnablePprof serves net/http/pprof under /debug/pprof/ on this
	// listener (and nowhere else). Off by default: profiles reveal a lot
	// and some cost CPU.
	EnablePprof bool
	// Node is this node's name (--node): /healthz answers "ok" and then
	// "node NAME" on a second line. Empty: "ok" alone.
	Node string
}

// Server is the ops HTTP listener: /metrics, /healthz, /readyz and,
// optionally, /debug/pprof/.
type Server struct {
	http *http.Server
}

// NewServer prepares the ops listener for addr (informational: Serve takes
// the listener). ready reports whether parley can serve users; nil means
// always ready. It does not listen yet; call Serve.
func NewServer(addr string, m *Metrics, ready func(context.Context) error, opts Options) *Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
		if opts.Node != "" {
			io.WriteString(w, "node "+oneLine(opts.Node)+"\n")
		}
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
			err := ready(ctx)
			cancel()
			if err != nil {
				http.Error(w, "not ready: "+oneLine(err.Error()), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	writeTimeout := 15 * time.Second
	if opts.EnablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		// CPU profiles and traces run for ?seconds=N (30 by default).
		writeTimeout = 2 * time.Minute
	}
	return &Server{http: &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}}
}

// Serve answers requests on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops accepting, waits (until ctx ends at most) for requests in
// flight, then closes the remaining connections.
func (s *Server) Close(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("ops listener shutdown: %w", err), s.http.Close())
	}
	return err
}

// oneLine keeps an error text to one line of bounded length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return s
}
