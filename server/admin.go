package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"parley/access"
	"parley/cli"
	"parley/keys"
	"parley/room"
	"parley/safetext"
)

// What admins do, over SSH (`ssh host ban ...`) and in the chat (`/ban`):
// one implementation, so both behave and log the same. Every action is
// logged at info with who did what to whom. Errors made with room.Errorf
// are safe to show; others are logged and shown generically.

// actor is who performs an admin action.
type actor struct{ id, name string }

func (s *Server) logAdmin(a actor, action string, t target, attrs ...any) {
	s.log.Info("admin action", append([]any{"action", action, "by", a.id, "by_name", a.name,
		"target", t.id, "target_name", t.label()}, attrs...)...)
}

func notYou(a actor, t target, what string) error {
	if a.id == t.id {
		return room.Errorf("that is you: you cannot %s yourself", what)
	}
	return nil
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

func (s *Server) kick(a actor, who, reason string) (string, error) {
	t, err := s.resolveOnline(who)
	if err != nil {
		return "", err
	}
	if err := notYou(a, t, "kick"); err != nil {
		return "", err
	}
	reason = safetext.Line(reason, 200)
	why := "kicked by " + a.name
	if reason != "" {
		why += ": " + reason
	}
	n := s.hub.Kick(t.id, why)
	s.logAdmin(a, "kick", t, "reason", reason, "sessions", n)
	return fmt.Sprintf("Kicked %s: %s ended.", t, plural(n, "session")), nil
}

// parseBan reads "NAME [DURATION] [REASON]".
func parseBan(words []string) (who string, d time.Duration, reason string, err error) {
	if len(words) == 0 {
		return "", 0, "", errUsage
	}
	who, rest := words[0], words[1:]
	if len(rest) > 0 {
		switch w := rest[0]; {
		case w == "forever" || w == "permanent":
			rest = rest[1:]
		case w[0] >= '0' && w[0] <= '9':
			if d, err = access.ParseDuration(w); err != nil {
				return "", 0, "", room.Errorf("%v", err)
			}
			rest = rest[1:]
		}
	}
	return who, d, strings.Join(rest, " "), nil
}

// errUsage asks the caller to show the command's usage.
var errUsage = errors.New("usage")

func (s *Server) ban(ctx context.Context, a actor, who string, d time.Duration, reason string) (string, error) {
	t, err := s.resolve(who)
	if err != nil {
		return "", err
	}
	if err := notYou(a, t, "ban"); err != nil {
		return "", err
	}
	b := access.Ban{Fingerprint: t.id, Name: t.name, Reason: reason, By: a.id, ByName: a.name}
	if d > 0 {
		b.Until = time.Now().Add(d)
	}
	if err := s.access.Ban(ctx, b); err != nil {
		return "", fmt.Errorf("ban: %w", err)
	}
	b, _ = s.access.Banned(t.id) // as stored: reason cleaned
	why := fmt.Sprintf("banned by %s %s", a.name, b.Term())
	if b.Reason != "" {
		why += ": " + b.Reason
	}
	n := s.hub.Kick(t.id, why)
	s.logAdmin(a, "ban", t, "until", untilAttr(b.Until), "reason", b.Reason, "sessions", n)
	return fmt.Sprintf("Banned %s %s; %s ended.", t, b.Term(), plural(n, "session")), nil
}

func untilAttr(t time.Time) string {
	if t.IsZero() {
		return "lifted"
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) unban(ctx context.Context, a actor, who string) (string, error) {
	cands, err := s.lookup(who, true)
	if err != nil {
		return "", err
	}
	banned := func(t target) bool { _, ok := s.access.Banned(t.id); return ok }
	t, err := pick(who, cands, banned,
		room.Errorf("%s is not banned (bans lists the bans)", safetext.Line(who, 48)),
		func(t target) error { return room.Errorf("%s is not banned (bans lists the bans)", t) })
	if err != nil {
		return "", err
	}
	b, ok, err := s.access.Unban(ctx, t.id)
	if err != nil {
		return "", fmt.Errorf("unban: %w", err)
	}
	if !ok { // lifted meanwhile
		return "", room.Errorf("%s is not banned (bans lists the bans)", t)
	}
	if t.label() == "" {
		t.name = b.Name
	}
	s.logAdmin(a, "unban", t)
	return fmt.Sprintf("Lifted the ban of %s.", t), nil
}

func (s *Server) banList() string {
	bans := s.access.Bans()
	if len(bans) == 0 {
		return "Nobody is banned."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", plural(len(bans), "ban"))
	for _, x := range bans {
		fmt.Fprintf(&b, "\n  %s %s, by %s on %s", target{id: x.Fingerprint, name: x.Name}.long(), x.Term(), x.ByName, x.Created.UTC().Format("2006-01-02"))
		if x.Reason != "" {
			fmt.Fprintf(&b, ": %s", x.Reason)
		}
	}
	return b.String()
}

func (s *Server) mute(a actor, who string, d time.Duration) (string, error) {
	t, err := s.resolve(who)
	if err != nil {
		return "", err
	}
	if err := notYou(a, t, "mute"); err != nil {
		return "", err
	}
	var until time.Time
	term := "until unmuted"
	if d > 0 {
		until = time.Now().Add(d)
		term = "until " + until.UTC().Format("2006-01-02 15:04 UTC")
	}
	s.hub.Mute(t.id, until, a.name)
	s.logAdmin(a, "mute", t, "until", untilAttr(until))
	return fmt.Sprintf("Muted %s %s.", t, term), nil
}

func (s *Server) unmute(a actor, who string) (string, error) {
	cands, err := s.lookup(who, false)
	if err != nil {
		return "", err
	}
	muted := func(t target) bool { _, ok := s.hub.Muted(t.id); return ok }
	t, err := pick(who, cands, muted,
		room.Errorf("nobody called %s is muted", safetext.Line(who, 48)),
		func(t target) error { return room.Errorf("%s is not muted", t) })
	if err != nil {
		return "", err
	}
	if !s.hub.Unmute(t.id, a.name) {
		return "", room.Errorf("%s is not muted", t)
	}
	s.logAdmin(a, "unmute", t)
	return fmt.Sprintf("Unmuted %s.", t), nil
}

// setMOTD replaces the message of the day ("" removes it). The file is
// replaced atomically: a join never reads half of it.
func (s *Server) setMOTD(a actor, text string) (string, error) {
	path := s.path(motdFile)
	clean, _ := safetext.Message(text)
	if len(clean) > maxMOTD {
		return "", room.Errorf("the message of the day is limited to %d bytes", maxMOTD)
	}
	if clean == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("motd: %w", err)
		}
		s.logAdmin(a, "motd", target{}, "cleared", true)
		return "The message of the day is cleared.", nil
	}
	tmp, err := os.CreateTemp(s.cfg.DataDir, ".motd.*.tmp")
	if err != nil {
		return "", fmt.Errorf("motd: %w", err)
	}
	_, werr := io.WriteString(tmp, clean+"\n")
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("motd: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("motd: %w", err)
	}
	s.logAdmin(a, "motd", target{}, "bytes", len(clean))
	return "The message of the day is set; people see it when they join.", nil
}

// registerAdminCommands adds the admin commands to the chat's registry:
// /kick, /ban, /unban, /bans, /mute, /unmute.
func (s *Server) registerAdminCommands() error {
	wrap := func(run func(c *room.Call, a actor) (string, error)) func(*room.Call) error {
		return func(c *room.Call) error {
			a := actor{id: c.Session.ID(), name: c.Session.Name()}
			if !s.isAdmin(a.id) { // the room asked too, just now; a demotion may have come in between
				return room.Errorf("your key is no longer an admin key")
			}
			msg, err := run(c, a)
			if errors.Is(err, errUsage) {
				return c.UsageError()
			}
			if err != nil {
				return err
			}
			c.Session.Notice(msg)
			return nil
		}
	}
	for _, c := range []room.Command{
		{Name: "kick", Args: "NAME [REASON]", Help: "disconnect someone", AdminOnly: true,
			Run: wrap(func(c *room.Call, a actor) (string, error) {
				who, reason := cutWord(c.Args)
				if who == "" {
					return "", errUsage
				}
				return s.kick(a, who, reason)
			})},
		{Name: "ban", Args: "NAME [DURATION] [REASON]", Help: "keep someone's key out, for a while (30m, 12h, 7d) or until /unban", AdminOnly: true,
			Run: wrap(func(c *room.Call, a actor) (string, error) {
				who, d, reason, err := parseBan(strings.Fields(c.Args))
				if err != nil {
					return "", err
				}
				return s.ban(c.Ctx, a, who, d, reason)
			})},
		{Name: "unban", Args: "NAME|FINGERPRINT", Help: "lift a ban", AdminOnly: true,
			Run: wrap(func(c *room.Call, a actor) (string, error) {
				if len(strings.Fields(c.Args)) != 1 {
					return "", errUsage
				}
				return s.unban(c.Ctx, a, c.Args)
			})},
		{Name: "bans", Help: "list the bans", AdminOnly: true,
			Run: wrap(func(c *room.Call, a actor) (string, error) { return s.banList(), nil })},
		{Name: "mute", Args: "NAME [DURATION]", Help: "stop someone posting, for a while (10m, 1h) or until /unmute", AdminOnly: true,
			Run: wrap(func(c *room.Call, a actor) (string, error) {
				who, d, err := parseMute(strings.Fields(c.Args))
				if err != nil {
					return "", err
				}
				return s.mute(a, who, d)
			})},
		{Name: "unmute", Args: "NAME", Help: "let someone post again", AdminOnly: true,
			Run: wrap(func(c *room.Call, a actor) (string, error) {
				if len(strings.Fields(c.Args)) != 1 {
					return "", errUsage
				}
				return s.unmute(a, c.Args)
			})},
	} {
		if err := s.hub.Commands().Register(c); err != nil {
			return err
		}
	}
	return nil
}

// parseMute reads "NAME [DURATION]".
func parseMute(words []string) (string, time.Duration, error) {
	switch len(words) {
	case 1:
		return words[0], 0, nil
	case 2:
		d, err := access.ParseDuration(words[1])
		if err != nil {
			return "", 0, room.Errorf("%v", err)
		}
		return words[0], d, nil
	}
	return "", 0, errUsage
}

// cutWord returns the first word of s and the rest, trimmed.
func cutWord(s string) (string, string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// The same over SSH.

func (x *execCall) actor() actor { return actor{x.entry.Fingerprint, x.name} }

// report prints what an admin action did, or why it did not.
func (x *execCall) report(msg string, err error) int {
	if errors.Is(err, errUsage) {
		return x.usage()
	}
	if err != nil {
		return x.fail(err)
	}
	fmt.Fprintln(x.stdout, msg)
	return cli.ExitOK
}

func (x *execCall) kick(args []string) int {
	pos, code, ok := x.parse(x.flags(), args)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return x.usage()
	}
	return x.report(x.s.kick(x.actor(), pos[0], strings.Join(pos[1:], " ")))
}

func (x *execCall) ban(args []string) int {
	pos, code, ok := x.parse(x.flags(), args)
	if !ok {
		return code
	}
	who, d, reason, err := parseBan(pos)
	if err != nil {
		return x.report("", err)
	}
	return x.report(x.s.ban(x.ctx, x.actor(), who, d, reason))
}

func (x *execCall) unban(args []string) int {
	pos, code, ok := x.parse(x.flags(), args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return x.usage()
	}
	return x.report(x.s.unban(x.ctx, x.actor(), pos[0]))
}

// banJSON is one ban in `bans --json`.
type banJSON struct {
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name,omitempty"`
	Reason      string `json:"reason,omitempty"`
	By          string `json:"by"`
	ByName      string `json:"by_name"`
	Created     string `json:"created"`
	Until       string `json:"until,omitempty"`
}

func (x *execCall) bans(args []string) int {
	fs := x.flags()
	asJSON := fs.Bool("json", false, "print a JSON array")
	pos, code, ok := x.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return x.usage()
	}
	if *asJSON {
		out := []banJSON{}
		for _, b := range x.s.access.Bans() {
			j := banJSON{Fingerprint: b.Fingerprint, Name: b.Name, Reason: b.Reason, By: b.By, ByName: b.ByName, Created: b.Created.UTC().Format(time.RFC3339)}
			if !b.Until.IsZero() {
				j.Until = b.Until.UTC().Format(time.RFC3339)
			}
			out = append(out, j)
		}
		return x.writeJSON(out)
	}
	fmt.Fprintln(x.stdout, x.s.banList())
	return cli.ExitOK
}

func (x *execCall) mute(args []string) int {
	pos, code, ok := x.parse(x.flags(), args)
	if !ok {
		return code
	}
	who, d, err := parseMute(pos)
	if err != nil {
		return x.report("", err)
	}
	return x.report(x.s.mute(x.actor(), who, d))
}

func (x *execCall) unmute(args []string) int {
	pos, code, ok := x.parse(x.flags(), args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return x.usage()
	}
	return x.report(x.s.unmute(x.actor(), pos[0]))
}

func (x *execCall) motd(args []string) int {
	fs := x.flags()
	clear := fs.Bool("clear", false, "remove the message of the day")
	pos, code, ok := x.parse(fs, args)
	if !ok {
		return code
	}
	switch {
	case *clear && len(pos) > 0:
		return x.usage()
	case *clear:
		return x.report(x.s.setMOTD(x.actor(), ""))
	case len(pos) == 0:
		if m := x.s.motd(); m != "" {
			fmt.Fprintln(x.stdout, m)
		} else {
			fmt.Fprintln(x.stderr, "(no message of the day; motd TEXT sets one)")
		}
		return cli.ExitOK
	case len(pos) == 1 && pos[0] == "-":
		b, err := io.ReadAll(io.LimitReader(x.stdin, maxMOTD+1))
		if err != nil {
			return x.fail(err)
		}
		if len(b) > maxMOTD {
			return x.fail(room.Errorf("the message of the day is limited to %d bytes", maxMOTD))
		}
		if strings.TrimSpace(string(b)) == "" {
			return x.usage()
		}
		return x.report(x.s.setMOTD(x.actor(), string(b)))
	}
	return x.report(x.s.setMOTD(x.actor(), strings.Join(pos, " ")))
}

func (x *execCall) invite(args []string) int {
	fs := x.flags()
	uses := fs.Int("uses", 1, fmt.Sprintf("how many new keys the code may add (1 to %d)", access.MaxUses))
	ttl := fs.String("ttl", "24h", "how long the code stays valid (for example 30m, 24h, 7d)")
	pos, code, ok := x.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return x.usage()
	}
	d, err := access.ParseDuration(*ttl)
	if err != nil {
		fmt.Fprintln(x.stderr, "invite: --ttl:", err)
		return cli.ExitUsage
	}
	if *uses < 1 || *uses > access.MaxUses || d < time.Minute || d > access.MaxTTL {
		fmt.Fprintf(x.stderr, "invite: --uses must be 1 to %d and --ttl between 1m and %s\n", access.MaxUses, access.FormatDuration(access.MaxTTL))
		return cli.ExitUsage
	}
	a := x.actor()
	invite, inv, err := x.s.access.CreateInvite(x.ctx, *uses, d, a.id, a.name)
	if err != nil {
		return x.fail(err)
	}
	x.s.logAdmin(a, "invite", target{}, "uses", *uses, "expires", inv.Expires.UTC().Format(time.RFC3339))
	port := "2222"
	if _, p, err := net.SplitHostPort(x.sess.LocalAddr().String()); err == nil {
		port = p
	}
	fmt.Fprintf(x.stdout, "Invite code: %s\n", invite)
	fmt.Fprintf(x.stdout, "Good for %s until %s. It is shown only this once.\n", plural(*uses, "new key"), inv.Expires.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(x.stdout, "The newcomer runs, with the name they want as the user name:\n  ssh -p %s NAME@HOST join %s\n", port, invite)
	return cli.ExitOK
}

// keys is `keys add|list|remove` over SSH: the same command as the local
// CLI, on the server's file, without file access, applied at once.
func (x *execCall) keys(args []string) int {
	a := x.actor()
	if len(args) == 2 && (args[0] == "remove" || args[0] == "rm") && !strings.HasPrefix(args[1], "-") {
		// keys remove takes the name people see too: find the key here,
		// and hand the command its fingerprint.
		fp, code, ok := x.keyToRemove(args[1])
		if !ok {
			return code
		}
		args = []string{args[0], fp}
	}
	k := &cli.KeysCommand{
		Prog:   "keys",
		Path:   x.s.keys.Path(),
		Stdin:  x.stdin,
		Stdout: x.stdout,
		Stderr: x.stderr,
		Lock:   &x.s.keysMu,
		Pinned: x.s.pinnedNote,
		Protect: func(e keys.Entry) error {
			if e.Fingerprint == a.id {
				return errors.New("that is the key you are connected with; another admin, or the operator's parley keys, can remove it")
			}
			return nil
		},
		Changed: func(action string, e keys.Entry) {
			x.s.logAdmin(a, "keys "+action, target{id: e.Fingerprint, key: e.Name}, "admin", e.Admin)
			if err := x.s.ReloadKeys(); err != nil {
				x.log.Error("keys: reload after a change", "err", err)
			}
		},
	}
	return k.Run(args)
}

// keyToRemove finds the key in authorized_keys that who names for keys
// remove (see lookup), says which it is when it was named otherwise than
// by its key name, and returns its fingerprint. A name that matches no
// listed key is handed on as it is: keys remove explains, and removes a
// refused line by its fingerprint.
func (x *execCall) keyToRemove(who string) (fp string, code int, ok bool) {
	cands, err := x.s.lookup(who, false)
	if err != nil {
		return "", x.report("", err), false
	}
	snap := x.s.keys.Current()
	listed := func(t target) bool { _, ok := snap.ByFingerprint(t.id); return ok }
	t, err := pick(who, cands, listed, nil, nil)
	if err != nil {
		return "", x.fail(err), false
	}
	if t.id == "" {
		return who, 0, true
	}
	if safetext.Fold(who) != safetext.Fold(t.key) && t.id != keys.NormalizeFingerprint(who) {
		fmt.Fprintf(x.stdout, "%s is %s.\n", safetext.Line(who, 48), t)
	}
	return t.id, 0, true
}
