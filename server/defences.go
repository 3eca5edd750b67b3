package server

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	"github.com/pires/go-proxyproto"
	gossh "golang.org/x/crypto/ssh"

	"parley/guard"
)

// Defences configures the server's limits; zero fields take guard's defaults.
type Defences struct {
	// Gate bounds unauthenticated connections and penalises failed logins.
	Gate guard.GateConfig
	// SessionsPerKey and SessionsPerSource cap concurrent sessions.
	SessionsPerKey, SessionsPerSource int
	// ConnsPerKey caps the authenticated connections of one key, with or
	// without sessions (guard.DefaultMaxConnsPerKey).
	ConnsPerKey int
	// ChannelsPerConn caps session channels on one connection
	// (DefaultChannelsPerConn).
	ChannelsPerConn int
	// Env bounds the environment a client may send.
	Env guard.EnvPolicy
	// Messages and Notices are the per-identity flood limits for chat
	// messages and for join/leave/nick notices.
	Messages, Notices guard.LimiterConfig
}

// Limiters returns the per-identity limiters of d for room.Config: Messages
// (zero fields take guard.DefaultLimiterConfig's) and Notices (entirely
// zero: guard.NoticeLimiterConfig).
func (d Defences) Limiters() (messages, notices *guard.Limiter) {
	n := d.Notices
	if n.Rate == 0 && n.Burst == 0 {
		n = guard.NoticeLimiterConfig()
	}
	return guard.NewLimiter(d.Messages), guard.NewLimiter(n)
}

// DefaultChannelsPerConn is how many sessions one connection may open when
// Defences.ChannelsPerConn is not set.
const DefaultChannelsPerConn = 2

// ConnObserver counts connections and authentication results (metrics).
// Its methods must be fast and must not block.
type ConnObserver interface {
	// ConnectionOpened counts a TCP connection before the gate.
	ConnectionOpened()
	// AuthResult counts an authentication result: "accepted" or "refused"
	// per offered key, "guest" per unknown key let through to run join
	// while an invite is open, "joined" per guest whose join succeeded,
	// "failed" per connection that closed without authenticating.
	AuthResult(result string)
	// ConnectionRefused counts a connection refused before a session, by a
	// fixed reason: "penalty" (a penalized source before its turn),
	// "source" (the per-address cap of unauthenticated connections),
	// "total" (the total cap), "dropped" (early drop under load), "key"
	// (the key's connection cap).
	ConnectionRefused(reason string)
}

type nopConns struct{}

func (nopConns) ConnectionOpened()        {}
func (nopConns) AuthResult(string)        {}
func (nopConns) ConnectionRefused(string) {}

// Context keys for per-connection state set before the handshake.
type (
	ticketKey   struct{}
	channelsKey struct{}
	authFailKey struct{}
	windowKey   struct{}
	keySlotKey  struct{} // func(): releases the key's connection slot
)

// windowBox holds the latest window size a client asked for. charm/ssh
// passes window changes through a one-slot channel that nobody reads
// before the shell starts (or after the screen ends), which blocks that
// session's whole request loop; so parley's request filter answers
// window-change itself and keeps only the newest size here, which also
// coalesces resize storms. One terminal per connection owns the box.
type windowBox struct {
	mu     sync.Mutex
	owned  bool          // a pty-req on this connection took it
	term   gossh.Channel // the channel whose pty-req took it (session.go writes frames to it)
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

func (b *windowBox) claim(ch gossh.Channel) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.owned {
		return false
	}
	b.owned, b.term = true, ch
	return true
}

// terminal is the channel that holds the connection's terminal, or nil.
func (b *windowBox) terminal() gossh.Channel {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.term
}

func (b *windowBox) set(w, h int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.w, b.h = w, h
	if b.listen != nil {
		b.listen(w, h)
	}
}

// gatedConn ties a connection to its Gate ticket. The connection leaves
// the unauthenticated counts when a verified key turns out to be
// authorized (Server.verified), or when a guest's join succeeds
// (guest.go); until then it counts, whatever it does. Closing it ends the
// ticket (a failed login if authFailKey says so) and frees the key's
// connection slot.
type gatedConn struct {
	net.Conn
	s      *Server
	ticket guard.Ticket
	ctx    ssh.Context
	once   sync.Once // Close's accounting
	// headerOnce logs a refused PROXY header once.
	headerOnce sync.Once
}

// Read reads the connection; a PROXY header from a peer that may not send
// one fails the first read or write (proxy.go), which is logged and
// counted here.
func (c *gatedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.checkHeader(err)
	return n, err
}

// Write writes to the connection; see Read.
func (c *gatedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.checkHeader(err)
	return n, err
}

func (c *gatedConn) checkHeader(err error) {
	if err != nil && errors.Is(err, proxyproto.ErrSuperfluousProxyHeader) {
		c.headerOnce.Do(func() {
			c.s.log.Info("connection refused: PROXY header from a peer not trusted to send one", "addr", c.RemoteAddr().String())
			c.s.conns.ConnectionRefused("proxy")
		})
	}
}

func (c *gatedConn) Close() error {
	c.once.Do(func() {
		failed, _ := c.ctx.Value(authFailKey{}).(bool)
		if c.ticket.Done(failed) {
			c.s.conns.AuthResult("failed")
			if failed { // one line per failed login, not per key offered
				r, _ := c.ctx.Value(refusedKey{}).(refusal)
				fp, why := "", "no key offered"
				if r.key != nil {
					fp = gossh.FingerprintSHA256(r.key)
				}
				if r.err != nil {
					why = r.err.Error()
				}
				c.s.log.Info("auth refused", "fingerprint", fp, "addr", c.RemoteAddr().String(), "why", why)
			}
		}
		if release, ok := c.ctx.Value(keySlotKey{}).(func()); ok {
			release()
		}
	})
	return c.Conn.Close()
}

// refusedReason is the metric label of a Gate refusal.
func refusedReason(err error) string {
	switch {
	case errors.Is(err, guard.ErrPenalized):
		return "penalty"
	case errors.Is(err, guard.ErrSourceBusy):
		return "source"
	case errors.Is(err, guard.ErrTooMany):
		return "total"
	case errors.Is(err, guard.ErrDropped):
		return "dropped"
	}
	return "other"
}

// admit runs before the SSH handshake: the Gate decides, and the
// connection carries its ticket from then on. A penalized source's
// connection before its turn is told why and when to retry (tellRefused);
// flood refusals are closed silently, at once.
func (s *Server) admit(ctx ssh.Context, conn net.Conn) net.Conn {
	s.conns.ConnectionOpened()
	addr, ok := s.proxiedAddr(conn) // the client's, from a trusted proxy's PROXY header (proxy.go)
	if !ok {
		return nil
	}
	t, err := s.gate.Admit(guard.Source(addr))
	if err != nil {
		s.conns.ConnectionRefused(refusedReason(err))
		s.log.Info("connection refused", "addr", addr.String(), "why", err.Error())
		if pe, ok := errors.AsType[*guard.PenaltyError](err); ok {
			select {
			case s.telling <- struct{}{}: // a bounded number at once: a flood is closed silently
				tellRefused(conn, pe.Tell())
				<-s.telling
			default:
			}
		}
		return nil
	}
	ctx.SetValue(ticketKey{}, t)
	ctx.SetValue(channelsKey{}, new(atomic.Int32))
	ctx.SetValue(windowKey{}, &windowBox{})
	return &gatedConn{Conn: conn, s: s, ticket: t, ctx: ctx}
}

// refusalLinger bounds how long a refused connection is kept to let the
// client read why; maxTelling bounds how many are kept at once (beyond,
// refused connections are closed at once, silently).
const (
	refusalLinger = time.Second
	maxTelling    = 64
)

// tellRefused tells a client refused before the handshake why, in the one
// form an OpenSSH client shows without a key exchange: the server's version
// line, then an SSH_MSG_DISCONNECT packet in the clear (RFC 4253 sections
// 4.2, 6 and 11.1: before the first key exchange, packets are neither
// encrypted nor MACed). OpenSSH prints "Received disconnect from HOST port
// PORT:12: TEXT"; x/crypto returns "ssh: disconnect, reason 12: TEXT". It
// then half-closes and drains what the client sent, for at most
// refusalLinger, so that closing does not reset the connection before the
// client has read the text. The caller closes conn.
func tellRefused(conn net.Conn, text string) {
	payload := gossh.Marshal(&struct {
		Reason   uint32 `sshtype:"1"`
		Message  string
		Language string
	}{Reason: 12, Message: "parley: " + text}) // 12: SSH_DISCONNECT_TOO_MANY_CONNECTIONS
	// Packet: uint32 length, byte padding length, payload, padding; at least
	// 4 bytes of padding, the whole a multiple of 8.
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	pkt := make([]byte, 0, len(serverVersion)+2+5+len(payload)+pad)
	pkt = append(pkt, serverVersion+"\r\n"...)
	pkt = binary.BigEndian.AppendUint32(pkt, uint32(1+len(payload)+pad))
	pkt = append(pkt, byte(pad))
	pkt = append(pkt, payload...)
	pkt = append(pkt, make([]byte, pad)...)
	_ = conn.SetDeadline(time.Now().Add(refusalLinger))
	if _, err := conn.Write(pkt); err != nil {
		return
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, 64<<10))
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
				if f.box != nil && !f.box.claim(ch) {
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

// verified runs when a client has proved it holds key (x/crypto's
// VerifiedPublicKeyCallback, the one place that knows the key that will
// authenticate the connection), before authentication succeeds. An
// authorized key takes one of its connection slots (refused when they are
// all taken: a key that never opens a session cannot hold connections
// without end), leaves the unauthenticated counts and gets keepalives,
// whether or not it ever opens a session. Any other key is a guest
// (guest.go), which stays counted as unauthenticated until join succeeds.
func (s *Server) verified(ctx ssh.Context, key gossh.PublicKey) error {
	entry, err := s.keys.Current().Authorized(key, remoteIP(ctx.RemoteAddr()), time.Now())
	if err != nil {
		return nil // a guest: admitGuest let it through to run join CODE
	}
	release, err := s.keyConns.Acquire(entry.Fingerprint, guard.Source(ctx.RemoteAddr()))
	if err != nil {
		s.conns.ConnectionRefused("key")
		s.log.Info("connection refused", "fingerprint", entry.Fingerprint, "addr", ctx.RemoteAddr().String(), "why", err.Error())
		ctx.SetValue(refusedKey{}, refusal{key: key, err: err})
		return err
	}
	forget := s.live.add(entry.Fingerprint, ctx)
	ctx.SetValue(keySlotKey{}, func() { forget(); release() })
	if t, ok := ctx.Value(ticketKey{}).(guard.Ticket); ok {
		t.Authenticated()
	}
	ctx.SetValue(authFailKey{}, false) // keys refused before this one do not make it a failed login
	s.startKeepalive(ctx)
	return nil
}

// GateStats returns the connection gate's counts, for metrics.
func (s *Server) GateStats() guard.GateStats { return s.gate.Stats() }

// PenaltyLeft returns how long the address src (see guard.Source) stays
// under a failed-login penalty; 0 if it is not.
func (s *Server) PenaltyLeft(src string) time.Duration { return s.gate.PenaltyLeft(src) }
