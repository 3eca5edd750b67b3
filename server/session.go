package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"parley/guard"
	"parley/keys"
	"parley/room"
	"parley/safetext"
	"parley/screen"
	"parley/tui"
)

// The chat screen tells the terminal runtime where its conversation scrolls.
var _ screen.Band = (*tui.Model)(nil)

// The chat screen's messages are fed by the terminal runtime's loop.
var _ screen.Feed = (*tui.Model)(nil)

// exitGrace is how long a session's program may take to finish after its
// room session ended before the channel is closed under it (a client that
// stopped reading would otherwise hold it forever).
const exitGrace = 5 * time.Second

// refusedKey is the context key under which the public-key callback leaves
// the last refused key, so the keyboard-interactive step can tell the
// person what to send the operator. It is never used as an identity.
type refusedKey struct{}

type refusalShown struct{}

type refusal struct {
	key gossh.PublicKey
	err error
}

// authPublicKey answers yes or no for a key. Identity is read later from
// the session's verified key, never from here. A key refused here was only
// offered (a client holding several keys offers each in turn): that is
// logged at debug; the connection's outcome is logged once it is known.
func (s *Server) authPublicKey(ctx ssh.Context, key ssh.PublicKey) bool {
	_, err := s.keys.Current().Authorized(key, remoteIP(ctx.RemoteAddr()), time.Now())
	if b, banned := s.access.Banned(gossh.FingerprintSHA256(key)); banned {
		err = &banError{b}
	} else if err != nil && s.admitGuest(ctx, key, err) { // guest.go: join CODE only
		s.conns.AuthResult("guest")
		return true
	}
	if err != nil {
		s.conns.AuthResult("refused")
		ctx.SetValue(authFailKey{}, true)
		ctx.SetValue(refusedKey{}, refusal{key: key, err: err})
		s.log.Debug("auth: key refused", "fingerprint", gossh.FingerprintSHA256(key), "addr", ctx.RemoteAddr().String(), "why", err.Error())
		return false
	}
	s.conns.AuthResult("accepted")
	return true
}

// authRefusal runs after every offered key was refused: it shows the person
// why and what to do, then refuses. A key refused only because it has too
// many connections open is no failed login.
func (s *Server) authRefusal(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	r, _ := ctx.Value(refusedKey{}).(refusal)
	_, limited := errors.AsType[*guard.SessionLimitError](r.err)
	if !limited {
		ctx.SetValue(authFailKey{}, true)
	}
	if ctx.Value(refusalShown{}) != nil {
		return false // clients retry keyboard-interactive; say it once
	}
	ctx.SetValue(refusalShown{}, true)
	text := refusalText(r, safetext.Line(ctx.User(), 32))
	if errors.Is(r.err, keys.ErrUnknownKey) && !s.access.InvitesOpen() {
		// The newcomer may have run `join CODE` with a spent code: no
		// invite is open, so the key never reached the command.
		text += "If you ran join CODE: invalid or expired invite code.\n"
	}
	_, _ = challenge("", text, nil, nil)
	return false
}

func refusalText(r refusal, user string) string {
	if r.key == nil {
		return "parley lets people in by SSH key, and your client offered none.\n" +
			"Create one with:  ssh-keygen -t ed25519\n" +
			"then send the operator the line in ~/.ssh/id_ed25519.pub and connect again.\n"
	}
	fp := gossh.FingerprintSHA256(r.key)
	var banned *banError
	var limit *guard.SessionLimitError
	switch {
	case errors.As(r.err, &limit):
		return fmt.Sprintf("parley: %v.\n", limit)
	case errors.As(r.err, &banned):
		return banText(fp, banned.ban)
	case errors.Is(r.err, keys.ErrExpired):
		return fmt.Sprintf("parley: your key %s has expired (%v).\nAsk the operator to renew it.\n", fp, r.err)
	case errors.Is(r.err, keys.ErrNotAllowedFrom):
		return fmt.Sprintf("parley: your key %s is not allowed from this address.\nAsk the operator if this is unexpected.\n", fp)
	}
	if user == "" {
		user = "me"
	}
	return fmt.Sprintf("parley: this key is not on the guest list.\n"+
		"Your key fingerprint: %s\n"+
		"To get in, send this line to the operator of this chat:\n\n  %s\n\n"+
		"(They add it to authorized_keys; no restart is needed.)\n", fp, keys.FormatLine(r.key, user))
}

func remoteIP(a net.Addr) net.IP {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP
	}
	return nil
}

// handle serves one SSH session: the chat TUI when there is a terminal.
func (s *Server) handle(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.serve(sess)
		next(sess)
	}
}

func (s *Server) serve(sess ssh.Session) {
	if !s.enter() {
		fmt.Fprintln(sess.Stderr(), "parley: the server is shutting down; please reconnect in a moment")
		_ = sess.Exit(1)
		return
	}
	defer s.handlers.Done()
	defer func() {
		// A bug in one session (a command, the exec API) ends that session,
		// logged with its stack; the server and everyone else go on.
		if r := recover(); r != nil {
			s.log.Error("session panicked", "addr", sess.RemoteAddr().String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			fmt.Fprintln(sess.Stderr(), "parley: something went wrong on the server; please reconnect")
			_ = sess.Exit(1)
		}
	}()
	ctx := sess.Context()
	start := time.Now()
	pk := sess.PublicKey()
	if pk == nil {
		_ = sess.Exit(1)
		return
	}
	entry, err := s.keys.Current().Authorized(pk, remoteIP(sess.RemoteAddr()), time.Now())
	if b, banned := s.access.Banned(gossh.FingerprintSHA256(pk)); banned { // banned since authenticating
		fmt.Fprint(sess.Stderr(), banText(gossh.FingerprintSHA256(pk), b))
		_ = sess.Exit(1)
		return
	}
	if errors.Is(err, keys.ErrUnknownKey) { // a guest (guest.go), or removed since
		s.serveGuest(sess, pk)
		return
	}
	if err != nil { // removed between authentication and now
		fmt.Fprintln(sess.Stderr(), "parley: access refused:", err)
		_ = sess.Exit(1)
		return
	}
	if t, ok := ctx.Value(ticketKey{}).(guard.Ticket); ok {
		t.Authenticated()
	}
	ctx.SetValue(authFailKey{}, false) // earlier refused keys do not count against a login that worked
	s.startKeepalive(ctx)
	log := s.log.With("fingerprint", entry.Fingerprint, "addr", sess.RemoteAddr().String())
	release, err := s.sessions.Acquire(entry.Fingerprint, guard.Source(sess.RemoteAddr()))
	if err != nil {
		fmt.Fprintln(sess.Stderr(), "parley:", err)
		log.Info("session refused", "why", err.Error())
		_ = sess.Exit(1)
		return
	}
	defer release()

	pty, _, ok := sess.Pty()
	if !ok || sess.RawCommand() != "" { // ssh host COMMAND: exec.go
		code := s.runExec(sess, entry, log)
		log.Info("command ended", "command", safetext.Line(firstWord(sess.RawCommand()), 16), "exit", code, "duration", time.Since(start).Round(time.Millisecond).String())
		_ = sess.Exit(code)
		return
	}
	name := entry.Name
	if name == "" {
		name = sess.User()
	}
	rs, err := s.hub.Connect(ctx, room.Identity{ID: entry.Fingerprint, Name: name, Admin: entry.Admin})
	if err != nil {
		fmt.Fprintln(sess.Stderr(), "parley:", room.UserMessage(log, err))
		_ = sess.Exit(1)
		return
	}
	log.Info("session started", "term", safetext.Line(pty.Term, 32), "client", safetext.Line(clientVersion(ctx), 64))

	w, h := s.clamp(pty.Window)
	env, _ := s.cfg.Defences.Env.Filter(sess.Environ())
	env = append(env, "TERM="+safetext.Line(pty.Term, 64))
	model := tui.New(rs, tui.Options{Env: env, Width: w, Height: h, Fed: true})
	defer model.Close()
	box, _ := ctx.Value(windowKey{}).(*windowBox)
	out := io.Writer(sess)
	if box != nil && box.terminal() != nil && sess.EmulatedPty() {
		out = frameWriter{raw: box.terminal(), pty: sess} // output.go
	}
	prog := screen.New(model, screen.Options{Input: sess, Output: chunkedWriter{w: out, max: maxWrite}, Env: env, Width: w, Height: h})

	if box != nil {
		// Window changes go straight to the screen, clamped; it keeps only
		// the newest, so storms coalesce without a goroutine per session.
		box.watch(func(w, h int) {
			prog.Resize(s.clamp(ssh.Window{Width: w, Height: h}))
		}, pty.Window.Width, pty.Window.Height)
		defer box.watch(nil, 0, 0)
	}
	// A session ended by the room must not wait on a stuck client: if the
	// screen has not finished exitGrace after the end, close the channel.
	var finished atomic.Bool
	defer finished.Store(true)
	rs.OnEnd(func() {
		time.AfterFunc(exitGrace, func() {
			if !finished.Load() {
				log.Warn("closing a session that did not finish", "reason", rs.Reason())
				_ = sess.Close()
			}
		})
	})

	if err := prog.Run(ctx); err != nil && ctx.Err() == nil {
		log.Warn("session program ended with an error", "err", err)
	}
	rs.Close(room.ReasonDisconnected)
	reason := rs.Reason()
	switch reason {
	case room.ReasonQuit:
		fmt.Fprintln(sess, "Bye from parley.")
	case room.ReasonDisconnected:
	default:
		fmt.Fprintln(sess, "parley:", reason)
	}
	log.Info("session ended", "duration", time.Since(start).Round(time.Millisecond).String(), "reason", reason)
	_ = sess.Exit(0)
}

// clamp bounds a client-claimed window so no client can make the server
// allocate a huge screen.
func (s *Server) clamp(w ssh.Window) (int, int) {
	width, height := w.Width, w.Height
	if width <= 0 || height <= 0 {
		return 80, 24
	}
	return min(width, s.cfg.MaxWidth), min(height, s.cfg.MaxHeight)
}

func clientVersion(ctx ssh.Context) string { return ctx.ClientVersion() }

type keepaliveKey struct{}

// startKeepalive runs keepalives for the connection once: every interval a
// keepalive@openssh.com request; after KeepaliveMax unanswered intervals
// the connection is closed, so dead peers leave no ghosts. It may start
// before the handshake has finished (Server.verified): the connection is
// looked up at each tick. No goroutine waits between keepalives (a timer
// calls tick); one lives only while a request waits for its reply.
func (s *Server) startKeepalive(ctx ssh.Context) {
	if ctx.Value(keepaliveKey{}) != nil {
		return
	}
	ctx.SetValue(keepaliveKey{}, true)
	k := &keepalive{s: s, ctx: ctx}
	time.AfterFunc(s.cfg.KeepaliveInterval, k.tick)
}

// keepalive is one connection's keepalive state; mu guards it between the
// timer's ticks and the goroutine that waits for a reply.
type keepalive struct {
	s   *Server
	ctx ssh.Context

	mu      sync.Mutex
	waiting bool // a request has not been answered yet
	missed  int  // intervals in a row it was not
}

func (k *keepalive) tick() {
	if k.ctx.Err() != nil {
		return // the connection is gone
	}
	conn, ok := k.ctx.Value(ssh.ContextKeyConn).(gossh.Conn)
	if !ok { // the handshake has not quite finished
		time.AfterFunc(k.s.cfg.KeepaliveInterval, k.tick)
		return
	}
	k.mu.Lock()
	if k.waiting {
		k.missed++
		if k.missed >= k.s.cfg.KeepaliveMax {
			k.mu.Unlock()
			k.s.log.Info("closing unresponsive connection", "addr", conn.RemoteAddr().String(), "missed", k.missed)
			_ = conn.Close()
			return
		}
	} else {
		k.waiting = true
		go func() {
			if _, _, err := conn.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				return // connection gone
			}
			k.mu.Lock()
			k.waiting, k.missed = false, 0
			k.mu.Unlock()
		}()
	}
	k.mu.Unlock()
	time.AfterFunc(k.s.cfg.KeepaliveInterval, k.tick)
}
