package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"charm.land/ssh"

	"parley/cli"
	"parley/command"
	"parley/keys"
	"parley/room"
	"parley/safetext"
)

// Sessions without a terminal run one command (`ssh host COMMAND`) instead
// of the chat screen: for bots, pipes and admins. Each command parses its
// flags with the flag package and exits 0 (ok), 1 (error or refused) or 2
// (usage), as cli defines.

// Limits of the commands.
const (
	defaultTail = 50
	maxTail     = 1000
	// maxSayLine is the longest line `say` reads from stdin; longer lines
	// end the command with an error (a message is cut far shorter anyway).
	maxSayLine = 1 << 20
)

// execCommand is one command of `ssh host COMMAND`: its Spec (name,
// arguments, admin, --json; help is generated from it) and its handler.
type execCommand struct {
	command.Spec
	// raw, when set, runs the command with its arguments unparsed (help,
	// join and keys read their own).
	raw func(x *execCall, args []string) int
	// run adds the command's own flags to fs and returns the
	// handler of the positional arguments, which runs once the runner has
	// parsed the flags, added --json where the Spec has JSON, and checked
	// the number of arguments against the Spec.
	run func(x *execCall, fs *flag.FlagSet) func(args []string) int
}

// execRegistry returns the commands of `ssh host COMMAND`: those only a
// session without the chat screen has, then the shared ones (room's who and
// rooms; moderation's, and whois), declared once in their package for the
// chat line too.
func execRegistry(shared []command.Command) []execCommand {
	cmds := []execCommand{
		{Spec: command.Spec{Name: "help", Args: "[COMMAND]", Help: "list the commands"}, raw: (*execCall).help},
		{Spec: command.Spec{Name: "say", Args: "[TEXT]", Room: true, Help: "post TEXT, or each line of stdin, as a message", Max: command.Many}, run: (*execCall).say},
		{Spec: command.Spec{Name: "tail", Args: "[-n N] [-f]", Room: true, Help: "print the last N messages (default 50); -f prints new ones from now on (with -n N, the last N first)", JSON: true}, run: (*execCall).tail},
		{Spec: command.Spec{Name: "web", Help: "print a one-time link that signs a browser in as you (works once, for 10 minutes)"}, run: (*execCall).web},
		{Spec: command.Spec{Name: "join", Args: "CODE", Help: "add a new key with an invite code (for keys not on the list yet)"}, raw: (*execCall).joinKnown},
		{Spec: command.Spec{Name: "keys", Args: "add|list|remove ...", Help: "manage the authorized keys (keys help)", Admin: true}, raw: (*execCall).keys},
		{Spec: command.Spec{Name: "motd", Args: "[TEXT | - | --clear]", Help: "show or set the message of the day (- reads stdin)", Admin: true, Max: command.Many}, run: (*execCall).motd},
		{Spec: command.Spec{Name: "invite", Args: "[--uses N] [--ttl 24h]", Help: "make a one-time code with which a newcomer adds their key", Admin: true}, run: (*execCall).invite},
	}
	for _, c := range shared {
		if c.On&command.Exec != 0 {
			cmds = append(cmds, execCommand{Spec: c.Spec, run: runShared(c)})
		}
	}
	return cmds
}

// runShared adapts a command declared for every surface to exec: its
// reply's text on stdout, or its Data as JSON with --json.
func runShared(c command.Command) func(x *execCall, fs *flag.FlagSet) func([]string) int {
	return func(x *execCall, _ *flag.FlagSet) func([]string) int {
		return func(pos []string) int {
			r, err := c.Run(&command.Call{Ctx: x.ctx, By: x.actor(), Words: pos, Room: x.room, On: command.Exec})
			if err != nil {
				return x.report("", err)
			}
			if x.json {
				return x.writeJSON(r.Data)
			}
			return x.report(r.Text, nil)
		}
	}
}

func (s *Server) findExec(name string) *execCommand {
	for i := range s.execs {
		if s.execs[i].Name == name {
			return &s.execs[i]
		}
	}
	return nil
}

// runCommand is the one runner of every exec command: flags (and --json),
// the number of arguments, then the handler.
func (x *execCall) runCommand(args []string) int {
	c := x.cmd
	if c.raw != nil {
		return c.raw(x, args)
	}
	fs := x.flags()
	x.room = x.s.hub.DefaultRoom()
	if c.Room {
		fs.StringVar(&x.room, "r", x.room, "the room")
		fs.StringVar(&x.room, "room", x.room, "the room (same as -r)")
	}
	if c.JSON {
		fs.BoolVar(&x.json, "json", false, "print JSON instead of text")
	}
	run := c.run(x, fs)
	pos, code, ok := x.parse(fs, args)
	if !ok {
		return code
	}
	if !c.Words(len(pos)) {
		return x.usage()
	}
	return run(pos)
}

// execCall is one command being run for an authorized key.
type execCall struct {
	s      *Server
	ctx    context.Context
	sess   ssh.Session
	entry  keys.Entry
	name   string // the name to connect with: the key's, else the SSH user
	log    *slog.Logger
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	pty    bool
	cmd    *execCommand
	json   bool   // --json was given
	room   string // -r ROOM, or the default room
}

// runExec runs the session's command for an authorized key and returns
// the exit code.
func (s *Server) runExec(sess ssh.Session, entry keys.Entry, log *slog.Logger) int {
	if s.testExecHook != nil {
		s.testExecHook(sess.RawCommand())
	}
	_, _, pty := sess.Pty()
	x := &execCall{s: s, ctx: sess.Context(), sess: sess, entry: entry, log: log,
		stdin: sess, stdout: sess, stderr: sess.Stderr(), pty: pty}
	if pty { // no line discipline on this side: a terminal needs \r\n
		x.stdout, x.stderr = crlfWriter{sess}, crlfWriter{sess.Stderr()}
	}
	x.name = entry.Name
	if x.name == "" {
		x.name = safetext.Line(sess.User(), safetext.MaxNameRunes)
	}
	args := sess.Command()
	if len(args) == 0 {
		if sess.RawCommand() != "" {
			fmt.Fprintln(x.stderr, "parley: cannot read that command line (an unbalanced quote?)")
			return cli.ExitUsage
		}
		port := localPort(sess.LocalAddr())
		fmt.Fprintf(x.stderr, "parley is a chat room: connect with a terminal, for example  ssh -t -p %s HOST\n(or run a command: ssh -p %s HOST help)\n", port, port)
		return cli.ExitUsage
	}
	cmd := s.findExec(args[0])
	if cmd == nil {
		fmt.Fprintf(x.stderr, "parley: unknown command %q; `help` lists the commands (to chat, connect with a terminal: ssh -t -p %s HOST)\n", safetext.Line(args[0], 32), localPort(sess.LocalAddr()))
		return cli.ExitUsage
	}
	if cmd.Admin && !entry.Admin {
		log.Info("admin command refused: not an admin", "command", cmd.Name)
		fmt.Fprintf(x.stderr, "parley: %s is for admins only, and your key (%s) is not an admin key\n", cmd.Name, entry.Fingerprint)
		return cli.ExitError
	}
	if cmd.Admin { // re-checked on every read: revoke.go
		x.stdin = adminInput{r: x.stdin, s: s, fp: entry.Fingerprint}
	}
	x.cmd = cmd
	log.Debug("command", "command", cmd.Name)
	return x.runCommand(args[1:])
}

// flags returns a FlagSet for the command, printing its usage on errors.
func (x *execCall) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(x.cmd.Name, flag.ContinueOnError)
	fs.SetOutput(x.stderr)
	fs.Usage = func() {
		x.usage()
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; when ok is false the command returns code.
func (x *execCall) parse(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	pos, err := cli.Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, cli.ExitOK, false
	}
	if err != nil {
		return nil, cli.ExitUsage, false
	}
	return pos, 0, true
}

// usage prints the command's usage and returns the usage exit code.
func (x *execCall) usage() int {
	fmt.Fprintf(x.stderr, "usage: %s\n  %s\n", x.cmd.ExecUsage(), x.cmd.Help)
	return cli.ExitUsage
}

// fail reports err (its safe text, or a generic line for an internal
// error, which is logged) and returns the error exit code.
func (x *execCall) fail(err error) int {
	fmt.Fprintln(x.stderr, "parley:", room.UserMessage(x.log, err))
	return cli.ExitError
}

func (x *execCall) identity() room.Identity {
	return room.Identity{ID: x.entry.Fingerprint, Name: x.name, Admin: x.entry.Admin, Bot: true}
}

func (x *execCall) help(args []string) int {
	if len(args) > 0 {
		if c := x.s.findExec(args[0]); c != nil && (!c.Admin || x.entry.Admin) {
			fmt.Fprintf(x.stdout, "usage: %s\n  %s\n", c.ExecUsage(), c.Help)
			return cli.ExitOK
		}
		return x.usage()
	}
	var b strings.Builder
	port := localPort(x.sess.LocalAddr())
	fmt.Fprintf(&b, "parley without a terminal: ssh -p %s HOST COMMAND [ARGS]\n", port)
	b.WriteString("Exit status: 0 ok, 1 error or refused, 2 usage. Flags may come before or after the arguments.\n\n")
	width := 0
	for _, c := range x.s.execs {
		width = max(width, len(c.ExecUsage()))
	}
	section := func(title string, admin bool) {
		b.WriteString(title)
		for _, c := range x.s.execs {
			if c.Admin != admin {
				continue
			}
			fmt.Fprintf(&b, "  %-*s  %s\n", width, c.ExecUsage(), c.Help)
		}
	}
	section("Commands:\n", false)
	if x.entry.Admin {
		section("\nAdmin commands:\n", true)
	}
	fmt.Fprintf(&b, "\nTo chat, connect with a terminal: ssh -t -p %s HOST\n", port)
	fmt.Fprint(x.stdout, b.String())
	return cli.ExitOK
}

func (x *execCall) writeJSON(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return x.fail(err)
	}
	fmt.Fprintf(x.stdout, "%s\n", b)
	return cli.ExitOK
}

// connect joins the hub as a bot session of the key, showing roomName.
// When the session did not connect to that room, it enters it; wait then
// says whether a KindEnter for it will arrive.
func (x *execCall) connect(roomName string) (rs *room.Session, wait bool, err error) {
	rs, err = x.s.hub.Connect(x.ctx, x.identity())
	if err != nil {
		return nil, false, err
	}
	want := room.RoomKey(roomName)
	if rs.Room() == want {
		return rs, false, nil
	}
	if err := rs.Enter(roomName); err != nil {
		rs.Close(room.ReasonDisconnected)
		return nil, false, err
	}
	return rs, true, nil
}

func (x *execCall) say(*flag.FlagSet) func([]string) int {
	return func(pos []string) int {
		if len(pos) == 0 && x.pty {
			fmt.Fprintln(x.stderr, "say: give the text (ssh host say TEXT); lines from stdin need a session without a terminal")
			return cli.ExitUsage
		}
		rs, _, err := x.connect(x.room)
		if err != nil {
			return x.fail(err)
		}
		defer rs.Close(room.ReasonDisconnected)
		x.relayNotices(rs)

		if len(pos) > 0 {
			if err := x.post(rs, strings.Join(pos, " ")); err != nil {
				return x.fail(err)
			}
			return cli.ExitOK
		}

		// Lines from stdin, in order, each waiting its turn under the rate
		// limit rather than being dropped. The reader runs ahead by one line
		// at most; it ends when the channel closes after we return.
		lines := make(chan string, 1)
		readErr := make(chan error, 1)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(x.stdin)
			sc.Buffer(make([]byte, 0, 4096), maxSayLine)
			for sc.Scan() {
				select {
				case lines <- sc.Text():
				case <-rs.Done():
					return
				}
			}
			readErr <- sc.Err()
		}()
		posted := 0
		for {
			select {
			case line, more := <-lines:
				if !more {
					select {
					case err := <-readErr:
						if err != nil {
							fmt.Fprintf(x.stderr, "parley: reading stdin after %d messages: %v\n", posted, err)
							return cli.ExitError
						}
					default:
					}
					return cli.ExitOK
				}
				line = strings.TrimSuffix(line, "\r")
				if strings.TrimSpace(line) == "" {
					continue
				}
				if err := x.post(rs, line); err != nil {
					if x.ctx.Err() != nil {
						return cli.ExitError
					}
					fmt.Fprintf(x.stderr, "parley: after %d messages: %s\n", posted, room.UserMessage(x.log, err))
					return cli.ExitError
				}
				posted++
			case <-rs.Done():
				fmt.Fprintln(x.stderr, "parley:", rs.Reason())
				return cli.ExitError
			case <-x.ctx.Done():
				return cli.ExitError
			}
		}
	}
}

// post posts text, waiting and trying again while the rate limit refuses
// it: a pipe's lines are delayed, never dropped.
func (x *execCall) post(rs *room.Session, text string) error {
	rs.WaitOnRate() // what the limit holds back is a delay, not a refusal
	for {
		err := rs.Post(x.ctx, text)
		wait, limited := room.RetryAfter(err)
		if !limited {
			if errors.Is(err, room.ErrClosed) {
				return room.Errorf("%s", rs.Reason())
			}
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-rs.Done():
			t.Stop()
			return room.Errorf("%s", rs.Reason())
		case <-x.ctx.Done():
			t.Stop()
			return x.ctx.Err()
		}
	}
}

// relayNotices drains the session's events so that its queue never fills,
// and shows on stderr the notices meant for this session from now on
// (a mute, a message that was cut); what was already queued (the message
// of the day) is skipped.
func (x *execCall) relayNotices(rs *room.Session) {
	for queued := true; queued; {
		select {
		case _, ok := <-rs.Events():
			queued = ok
		default:
			queued = false
		}
	}
	go func() {
		for m := range rs.Events() {
			if m.Kind == room.KindNotice || m.Kind == room.KindError {
				fmt.Fprintln(x.stderr, "parley:", strings.ReplaceAll(m.Text, "\n", "\n  "))
			}
		}
	}()
}

// messageJSON is one message in `tail --json`: one object per line.
type messageJSON struct {
	ID          uint64 `json:"id"`
	Room        string `json:"room"`
	Time        string `json:"time"`
	From        string `json:"from"`
	Fingerprint string `json:"fingerprint"`
	To          string `json:"to,omitempty"`
	Text        string `json:"text"`
	Kind        string `json:"kind"`
}

func (x *execCall) tail(fs *flag.FlagSet) func([]string) int {
	n := fs.Int("n", defaultTail, fmt.Sprintf("how many recent messages to print first (0 to %d; with -f, 0 unless given)", maxTail))
	follow := fs.Bool("f", false, "keep printing new messages (and your private messages) until interrupted (ctrl+c or q with a terminal)")
	fs.BoolVar(follow, "follow", false, "same as -f")
	return func([]string) int {
		if *n < 0 || *n > maxTail {
			return x.usage()
		}
		if *follow && !flagGiven(fs, "n") {
			*n = 0 // tail -f follows from now; -n N asks for history first (issue 13 item 10)
		}
		print := func(m room.Message) bool {
			var err error
			if x.json {
				b, _ := json.Marshal(messageJSON{ID: m.Seq, Room: m.Room, Time: m.Time.UTC().Format(time.RFC3339), From: m.From,
					Fingerprint: m.FromID, To: m.To, Text: m.Text, Kind: m.Kind.String()})
				_, err = fmt.Fprintf(x.stdout, "%s\n", b)
			} else {
				_, err = fmt.Fprintln(x.stdout, formatMessage(m))
			}
			return err == nil
		}

		if !*follow {
			msgs, err := x.s.hub.Recent(x.ctx, x.room, x.entry.Fingerprint, x.entry.Admin, *n)
			if err != nil {
				return x.fail(err)
			}
			for _, m := range msgs {
				if !print(m) {
					return cli.ExitError
				}
			}
			return cli.ExitOK
		}

		if x.pty {
			// A terminal sends ctrl+c as a byte, not a signal: it ends tail -f.
			ctx, cancel := context.WithCancel(x.ctx)
			defer cancel()
			x.ctx = ctx
			go func() {
				defer cancel()
				buf := make([]byte, 64)
				for {
					n, err := x.stdin.Read(buf)
					if err != nil || bytes.ContainsAny(buf[:n], "\x03\x04q") {
						return
					}
				}
			}()
		}
		rs, wait, err := x.connect(x.room)
		if err != nil {
			return x.fail(err)
		}
		defer rs.Close(room.ReasonDisconnected)
		r := rs.Room()
		var backlog []room.Message
		if wait {
			r = room.RoomKey(x.room)
			for entered := false; !entered; {
				select {
				case m, ok := <-rs.Events():
					if !ok {
						fmt.Fprintln(x.stderr, "parley:", rs.Reason())
						return cli.ExitError
					}
					entered = m.Kind == room.KindEnter && m.Room == r
				case <-x.ctx.Done():
					return cli.ExitOK
				}
			}
			backlog = rs.RoomBacklog(r)
		} else {
			backlog = rs.Backlog()
		}
		if len(backlog) > *n {
			backlog = backlog[len(backlog)-*n:]
		}
		if len(backlog) < *n && len(backlog) > 0 {
			older, err := rs.Older(x.ctx, r, backlog[0].Seq, *n-len(backlog))
			if err != nil {
				x.log.Warn("tail: older messages", "err", err)
			}
			backlog = append(older, backlog...)
		}
		for _, m := range backlog {
			if !print(m) {
				return cli.ExitError
			}
		}
		for {
			select {
			case m, ok := <-rs.Events():
				if !ok {
					if x.ctx.Err() != nil {
						return cli.ExitOK
					}
					fmt.Fprintln(x.stderr, "parley:", rs.Reason())
					return cli.ExitError
				}
				switch {
				case m.Kind == room.KindLeave && m.FromID == x.entry.Fingerprint && m.Room == r && m.Seq == 0:
					// This identity left the room from another session.
					fmt.Fprintf(x.stderr, "parley: you left #%s\n", r)
					return cli.ExitError
				case m.Kind == room.KindNotice, m.Kind == room.KindError, m.Kind == room.KindEnter, m.Kind == room.KindPresence:
					continue
				case m.Room != r && m.Kind != room.KindPrivate && m.Kind != room.KindAnnounce:
					continue
				}
				if !print(m) {
					return cli.ExitError
				}
			case <-x.ctx.Done():
				return cli.ExitOK
			}
		}
	}
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// formatMessage renders a message as one or more plain lines for `tail`.
func formatMessage(m room.Message) string {
	ts := m.Time.UTC().Format("2006-01-02 15:04:05")
	where := "#" + m.Room
	var line string
	switch m.Kind {
	case room.KindEmote:
		line = fmt.Sprintf("* %s %s", m.From, m.Text)
	case room.KindJoin:
		if m.From == "" { // many at once: the room wrote the names (room/presence.go)
			line = "→ " + m.Text + " joined"
			break
		}
		line = fmt.Sprintf("→ %s joined", m.From)
		if m.Text != "" {
			line += " (with " + m.Text + ")"
		}
	case room.KindLeave:
		if m.From == "" {
			line = "← " + m.Text + " left"
			break
		}
		line = fmt.Sprintf("← %s left", m.From)
		if m.Text != "" {
			line += " (" + m.Text + ")"
		}
	case room.KindNick:
		line = fmt.Sprintf("%s is now %s", m.From, m.Text)
	case room.KindTopic:
		line = fmt.Sprintf("%s set the topic: %s", m.From, m.Text)
	case room.KindAnnounce:
		where, line = "*", m.Text
	case room.KindPrivate:
		where, line = "[private]", fmt.Sprintf("%s → %s: %s", m.From, m.To, m.Text)
	default:
		line = fmt.Sprintf("<%s> %s", m.From, m.Text)
	}
	return fmt.Sprintf("%s %s %s", ts, where, strings.ReplaceAll(line, "\n", "\n    "))
}

// joinKnown is `join CODE` from a key that is already authorized.
func (x *execCall) joinKnown(args []string) int {
	if len(args) != 1 {
		return x.usage()
	}
	fmt.Fprintf(x.stdout, "Your key %s is already on the guest list (as %s); nothing to do, and the code was not used.\n", x.entry.Fingerprint, x.name)
	return cli.ExitOK
}

// crlfWriter turns "\n" into "\r\n", for a client that asked for a
// terminal: nothing on this side translates line endings.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	s := strings.ReplaceAll(strings.ReplaceAll(string(p), "\r\n", "\n"), "\n", "\r\n")
	if _, err := io.WriteString(c.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
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

// firstWord is the command's name, for logs (never its arguments, which
// may hold a message).
func firstWord(cmd string) string {
	w, _ := cutWord(cmd)
	return w
}
