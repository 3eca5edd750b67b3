package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"parley/guard"
)

// Defences configures the server's limits; zero fields take guard's defaults.
type Defences struct {
	// Gate bounds unauthenticated connections and penalises failed logins.
	Gate guard.GateConfig
	// SessionsPerKey and SessionsPerSource cap concurrent sessions.
	SessionsPerKey, SessionsPerSource int
	// ChannelsPerConn caps session channels on one connection (default 2).
	ChannelsPerConn int
	// Env bounds the environment a client may send.
	Env guard.EnvPolicy
	// Messages and Notices are the per-identity flood limits for chat
	// messages and for join/leave/nick notices.
	Messages, Notices guard.LimiterConfig
}

// ConnObserver counts connections and authentication results (metrics).
type ConnObserver interface {
	ConnectionOpened()
	AuthResult(result string)
}

type nopConns struct{}

func (nopConns) ConnectionOpened() {}
func (nopConns) AuthResult(string) {}

// Context keys for per-connection state set before the handshake.
type (
	ticketKey   struct{}
	channelsKey struct{}
	authFailKey struct{}
	windowKey   struct{}
)

// windowBox holds the latest window size a client asked for. charm/ssh
// passes window changes through a one-slot channel that nobody reads
// before the shell starts (or after the screen ends), which blocks that
// session's whole request loop; so parley's request filter answers
// window-change itself and keeps only the newest size here, which also
// coalesces resize storms. One terminal per connection owns the box.
type windowBox struct {
	mu     sync.Mutex
	owned  bool // a pty-req on this connection took it
	w, h   int
	listen func(w, h int) // the running screen's, or nil; must not wait
}

// watch calls f with every new size from now on (and with the newest
// size at once, when one came since the pty request), until watch(nil).
func (b *windowBox) watch(f func(w, h int), ptyW, ptyH int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listen = f
	if f != nil && b.w > 0 && (b.w != ptyW || b.h != ptyH) {
		f(b.w, b.h)
	}
}

func (b *windowBox) claim() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.owned {
		return false
	}
	b.owned = true
	return true
}

func (b *windowBox) set(w, h int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.w, b.h = w, h
	if b.listen != nil {
		b.listen(w, h)
	}
}

// gatedConn ties a connection to its Gate ticket. charm.land/ssh clears the
// handshake deadline with SetDeadline(time.Time{}) right after a successful
// handshake (HandshakeTimeout > 0 and no idle or max timeout): that is
// when the connection stops counting as unauthenticated. The session
// handler calls Authenticated too, as a backstop (it is idempotent).
type gatedConn struct {
	net.Conn
	ticket guard.Ticket
	ctx    ssh.Context
}

func (c *gatedConn) SetDeadline(t time.Time) error {
	if t.IsZero() {
		c.ticket.Authenticated()
	}
	return c.Conn.SetDeadline(t)
}

func (c *gatedConn) Close() error {
	failed, _ := c.ctx.Value(authFailKey{}).(bool)
	c.ticket.Done(failed)
	return c.Conn.Close()
}

// admit runs before the SSH handshake: the Gate decides, and the
// connection carries its ticket from then on.
func (s *Server) admit(ctx ssh.Context, conn net.Conn) net.Conn {
	s.conns.ConnectionOpened()
	t, err := s.gate.Admit(guard.Source(conn.RemoteAddr()))
	if err != nil {
		s.log.Info("connection refused", "addr", conn.RemoteAddr().String(), "why", err.Error())
		return nil
	}
	ctx.SetValue(ticketKey{}, t)
	ctx.SetValue(channelsKey{}, new(atomic.Int32))
	ctx.SetValue(windowKey{}, &windowBox{})
	return &gatedConn{Conn: conn, ticket: t, ctx: ctx}
}

// sessionChannel wraps the default session handler: at most
// ChannelsPerConn session channels per connection, and a filter on the
// channel's requests.
func (s *Server) sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	n, _ := ctx.Value(channelsKey{}).(*atomic.Int32)
	if n != nil {
		if n.Add(1) > int32(s.cfg.Defences.ChannelsPerConn) {
			n.Add(-1)
			_ = newChan.Reject(gossh.ResourceShortage, "parley allows only a few sessions per connection")
			return
		}
		defer n.Add(-1)
	}
	box, _ := ctx.Value(windowKey{}).(*windowBox)
	ssh.DefaultSessionHandler(srv, conn, &filteredChannel{NewChannel: newChan, s: s, box: box}, ctx)
}

// filteredChannel answers, on the server's behalf, the requests parley
// refuses, before the session code sees them: agent and X11 forwarding,
// and env requests beyond the budget.
type filteredChannel struct {
	gossh.NewChannel
	s   *Server
	box *windowBox // the connection's; nil only in tests without admit
}

func (f *filteredChannel) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	ch, reqs, err := f.NewChannel.Accept()
	if err != nil {
		return ch, reqs, err
	}
	out := make(chan *gossh.Request)
	budget := f.s.cfg.Defences.Env.Budget()
	go func() { // ends when the channel's request stream ends
		defer close(out)
		terminal := false // this channel owns the connection's window box
		for r := range reqs {
			switch r.Type {
			case "pty-req":
				if f.box != nil && !f.box.claim() {
					_ = r.Reply(false, nil) // one terminal per connection
					continue
				}
				terminal = true
			case "window-change":
				var win struct{ W, H, PW, PH uint32 }
				ok := terminal && f.box != nil && gossh.Unmarshal(r.Payload, &win) == nil
				if ok {
					f.box.set(int(win.W), int(win.H))
				}
				_ = r.Reply(ok, nil)
				continue
			case "auth-agent-req@openssh.com", "x11-req", "subsystem":
				_ = r.Reply(false, nil)
				continue
			case "env":
				var kv struct{ Key, Value string }
				if gossh.Unmarshal(r.Payload, &kv) != nil || !budget.Allow(kv.Key, kv.Value) {
					_ = r.Reply(false, nil)
					continue
				}
			}
			out <- r
		}
	}()
	return ch, out, nil
}
