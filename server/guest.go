package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"parley/access"
	"parley/cli"
	"parley/guard"
	"parley/keys"
	"parley/safetext"
)

// Guests: how a newcomer's unknown key gets in with an invite code.
//
// While at least one invite is open, authentication says yes to a key that
// is simply not in authorized_keys (not to an expired, address-restricted,
// banned or certificate key), as it must for the newcomer to run
// `ssh host join CODE` at all. That yes grants nothing by itself:
//
//   - Identity is never taken from the authentication callback. The session
//     handler looks the session's verified key up in the current
//     authorized_keys, as for everyone; a key that is not there is a guest,
//     whatever happened during authentication.
//   - A guest's session does exactly one thing: an exec request whose
//     command is exactly `join CODE`, without a terminal. Anything else (a
//     terminal, the chat, any other command) gets the same guidance the
//     refusal at authentication gives, exit status 1, and the connection
//     is closed. A guest never reaches room.Hub.Connect.
//   - Join attempts are rate limited per source address, and a wrong,
//     spent or expired code is refused with one message.
//   - A guest's connection stays counted as unauthenticated by the gate
//     (per address, in total) until its join succeeds, and a guest that
//     leaves without joining (a wrong code, any other command, a terminal,
//     nothing at all) counts as a failed login toward the address's penalty.
//   - A connection let in as a guest is closed after loginGrace whatever it
//     does, unless the key that finally verified is authorized.
//
// When no invite is open, unknown keys are refused at authentication, with
// the guidance shown through keyboard-interactive, exactly as before.

// Join attempts per source: a burst, then one every joinEvery.
const (
	joinBurst = 10
	joinEvery = 30 * time.Second
)

type guestTimerKey struct{}

// banError is the refusal of a banned key.
type banError struct{ ban access.Ban }

func (e *banError) Error() string { return "banned " + e.ban.Term() }

// banText is what a banned key is told.
func banText(fp string, b access.Ban) string {
	msg := fmt.Sprintf("parley: your key %s is banned %s", fp, b.Term())
	if b.Reason != "" {
		msg += ": " + b.Reason
	}
	return msg + ".\n"
}

func newJoinLimiter() *guard.Limiter {
	return guard.NewLimiter(guard.LimiterConfig{Rate: 1 / joinEvery.Seconds(), Burst: joinBurst})
}

// admitGuest decides, in the public-key callback, whether a key that err
// refused may come in as a guest: only an unknown plain key, only while an
// invite is open. It grants nothing but the chance to run `join CODE`.
func (s *Server) admitGuest(ctx ssh.Context, key ssh.PublicKey, err error) bool {
	if !errors.Is(err, keys.ErrUnknownKey) || !s.access.InvitesOpen() {
		return false
	}
	if _, cert := key.(*gossh.Certificate); cert {
		return false
	}
	// Until its join succeeds, a guest's connection is a failed login (the
	// verified key, if authorized after all, clears this: Server.verified).
	ctx.SetValue(authFailKey{}, true)
	ctx.SetValue(refusedKey{}, refusal{key: key, err: errGuestLeft})
	if ctx.Value(guestTimerKey{}) == nil {
		ctx.SetValue(guestTimerKey{}, true)
		ip := remoteIP(ctx.RemoteAddr())
		time.AfterFunc(loginGrace, func() {
			if ctx.Err() != nil {
				return // already gone
			}
			if pk, ok := ctx.Value(ssh.ContextKeyPublicKey).(ssh.PublicKey); ok {
				if _, err := s.keys.Current().Authorized(pk, ip, time.Now()); err == nil {
					return // it signed with an authorized key after all
				}
			}
			if conn, ok := ctx.Value(ssh.ContextKeyConn).(gossh.Conn); ok {
				s.log.Info("closing a guest connection: time is up", "addr", conn.RemoteAddr().String())
				_ = conn.Close()
			}
		})
	}
	s.log.Debug("auth: unknown key let in as a guest (an invite is open): it may only run join CODE",
		"fingerprint", gossh.FingerprintSHA256(key), "addr", ctx.RemoteAddr().String())
	return true
}

// errGuestLeft is the logged reason of a guest's connection that closed
// without a successful join.
var errGuestLeft = errors.New("an unknown key let in as a guest did not join")

// guestLinger is how long a guest's connection stays open after its
// command has ended, for the client to read the exit status and close it
// itself (closing under it makes OpenSSH exit 255 with "Broken pipe"
// instead of the command's status).
const guestLinger = 5 * time.Second

// serveGuest serves a session whose verified key is not authorized: only
// `join CODE`, without a terminal; then the connection is closed. A
// successful join takes the connection out of the unauthenticated counts;
// anything else leaves it a failed login.
func (s *Server) serveGuest(sess ssh.Session, pk ssh.PublicKey) {
	ctx := sess.Context()
	fp := gossh.FingerprintSHA256(pk)
	log := s.log.With("fingerprint", fp, "addr", sess.RemoteAddr().String(), "guest", true)
	defer func() {
		t := time.NewTimer(guestLinger)
		defer t.Stop()
		select {
		case <-ctx.Done(): // the client closed the connection
		case <-t.C:
		}
		if conn, ok := ctx.Value(ssh.ContextKeyConn).(gossh.Conn); ok {
			_ = conn.Close()
		}
	}()
	release, err := s.sessions.Acquire(fp, guard.Source(sess.RemoteAddr()))
	if err != nil {
		fmt.Fprintln(sess.Stderr(), "parley:", err)
		_ = sess.Exit(cli.ExitError)
		return
	}
	defer release()

	_, _, pty := sess.Pty()
	args := sess.Command()
	if pty || len(args) == 0 || args[0] != "join" {
		log.Info("guest refused: only join CODE is open to unknown keys", "pty", pty, "command", safetext.Line(firstWord(sess.RawCommand()), 16))
		var stderr io.Writer = sess.Stderr()
		if pty {
			stderr = crlfWriter{stderr}
		}
		user := safetext.Line(sess.User(), 32)
		fmt.Fprint(stderr, refusalText(refusal{key: pk, err: keys.ErrUnknownKey}, user))
		fmt.Fprintf(stderr, "\nIf you were given an invite code, run (without -t):\n  ssh -p %s %s@HOST join CODE\n", localPort(sess.LocalAddr()), nameOr(user, "NAME"))
		fmt.Fprintf(stderr, "If another of your keys is on the list, use that one:\n  ssh -i ~/.ssh/THAT_KEY -o IdentitiesOnly=yes -p %s HOST\n", localPort(sess.LocalAddr()))
		_ = sess.Exit(cli.ExitError)
		return
	}
	if len(args) != 2 {
		fmt.Fprintln(sess.Stderr(), "usage: join CODE")
		_ = sess.Exit(cli.ExitUsage)
		return
	}
	name := sess.User()
	if err := s.join(ctx, pk, name, args[1], sess.RemoteAddr()); err != nil {
		log.Info("join refused", "why", err.Error())
		fmt.Fprintln(sess.Stderr(), "parley:", err)
		_ = sess.Exit(cli.ExitError)
		return
	}
	if t, ok := ctx.Value(ticketKey{}).(guard.Ticket); ok {
		t.Authenticated()
	}
	ctx.SetValue(authFailKey{}, false)
	s.conns.AuthResult("joined")
	fmt.Fprintf(sess, "Welcome to parley, %s! Your key %s is now on the guest list.\nConnect with:  ssh -p %s %s@HOST\n", name, fp, localPort(sess.LocalAddr()), name)
	_ = sess.Exit(cli.ExitOK)
}

// join adds key to authorized_keys under name if code is a valid invite.
// Its errors are safe to show to the guest.
func (s *Server) join(ctx context.Context, key ssh.PublicKey, name, code string, addr net.Addr) error {
	fp := gossh.FingerprintSHA256(key)
	if ok, wait := s.joinLimit.Allow(guard.Source(addr)); !ok {
		return fmt.Errorf("too many invite attempts from your address; try again in %s", wait.Round(time.Second))
	}
	if err := safetext.ValidateName(name); err != nil {
		return fmt.Errorf("your SSH user name %q cannot be your name here (%v); connect as the name you want: ssh NAME@HOST join CODE", safetext.Line(name, 32), err)
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	snap := s.keys.Current()
	if _, ok := snap.Lookup(key); ok {
		return errors.New("your key is already on the guest list; connect without a command to chat")
	}
	if _, taken := snap.NameOwner(name); taken {
		return fmt.Errorf("the name %s belongs to another key; choose another: ssh OTHERNAME@HOST join CODE", name)
	}
	if _, ok := s.accountReserved(name); ok {
		return fmt.Errorf("the name %s belongs to someone else; choose another: ssh OTHERNAME@HOST join CODE", name)
	}
	if m, online := s.hub.FindMember(name); online && m.ID != fp {
		return fmt.Errorf("the name %s is in use by someone here; choose another: ssh OTHERNAME@HOST join CODE", name)
	}
	undo, err := s.access.Redeem(ctx, code)
	if errors.Is(err, access.ErrInvalidInvite) {
		return err
	}
	if err != nil {
		s.log.Error("join: redeeming an invite", "err", err)
		return errors.New("the server could not check the code; please try again")
	}
	if err := keys.Append(s.keys.Path(), key, name, false); err != nil {
		if uerr := undo(context.WithoutCancel(ctx)); uerr != nil {
			s.log.Error("join: giving an invite use back", "err", uerr)
		}
		s.log.Error("join: adding the key", "fingerprint", fp, "err", err)
		return errors.New("the server could not add your key; the code was not used, please try again")
	}
	if err := s.ReloadKeys(); err != nil {
		s.log.Error("join: reload", "err", err)
	}
	s.log.Info("invite used: key added", "fingerprint", fp, "name", name, "addr", addr.String())
	return nil
}

func localPort(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return fmt.Sprint(ta.Port)
	}
	return "PORT"
}

func nameOr(s, def string) string {
	if safetext.ValidateName(s) != nil {
		return def
	}
	return s
}
