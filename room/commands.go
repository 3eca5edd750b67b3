package room

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"parley/command"
	"parley/safetext"
)

// Command is one /command people can type: its declaration (the Spec that
// /help and usage lines are generated from, as for every surface) and its
// handler. Help text is generated from the registry, so a command exists
// exactly when it is listed; Spec.Admin hides the command from, and refuses
// it to, non-admins.
type Command struct {
	command.Spec
	// Run carries the command out. An *Error it returns is shown to the
	// person; any other error is logged and shown generically.
	Run func(c *Call) error
}

// chat declares a chat-only command.
func chat(name, args, help string, run func(c *Call) error) Command {
	return Command{Spec: command.Spec{Name: name, Args: args, Help: help, On: command.Chat}, Run: run}
}

// chatAdmin declares a chat-only command for admins.
func chatAdmin(name, args, help string, run func(c *Call) error) Command {
	c := chat(name, args, help, run)
	c.Admin = true
	return c
}

// Call is one invocation of a command.
type Call struct {
	Ctx     context.Context
	Hub     *Hub
	Session *Session
	// Args is everything after the command name, trimmed.
	Args string
	cmd  *Command
}

// UsageError returns an Error with the command's usage line.
func (c *Call) UsageError() error { return Errorf("usage: %s (%s)", c.cmd.ChatUsage(), c.cmd.Help) }

// Registry holds the commands. It is safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	byName map[string]*Command
}

// Register adds a command; a second command of the same name is an error.
func (r *Registry) Register(c Command) error {
	if c.Name == "" || c.Run == nil || strings.ToLower(c.Name) != c.Name {
		return fmt.Errorf("room: command %q needs a lower-case name and a Run func", c.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byName[c.Name]; dup {
		return fmt.Errorf("room: command /%s registered twice", c.Name)
	}
	r.byName[c.Name] = &c
	return nil
}

// Lookup finds a command by name.
func (r *Registry) Lookup(name string) (*Command, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.byName[name]
	return c, ok
}

// List returns the commands someone may use, sorted by name.
func (r *Registry) List(admin bool) []Command {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Command, 0, len(r.byName))
	for _, c := range r.byName {
		if c.Admin && !admin {
			continue
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ParseCommand splits "/name args" into its parts. ok is false when text is
// not a command: it does not start with '/', or starts with "//" (which
// sends a message beginning with one slash).
func ParseCommand(text string) (name, args string, ok bool) {
	if !strings.HasPrefix(text, "/") || strings.HasPrefix(text, "//") {
		return "", "", false
	}
	rest := text[1:]
	i := strings.IndexFunc(rest, unicode.IsSpace)
	if i < 0 {
		return strings.ToLower(rest), "", true
	}
	return strings.ToLower(rest[:i]), strings.TrimFunc(rest[i:], unicode.IsSpace), true
}

func (h *Hub) runCommand(ctx context.Context, s *Session, name, args string) error {
	cmd, ok := h.commands.Lookup(name)
	if !ok || (cmd.Admin && !s.Admin()) {
		shown := safetext.Line(name, 24)
		if shown == "" {
			return Errorf("type a command after the slash; /help lists them")
		}
		return Errorf("unknown command /%s; /help lists the commands", shown)
	}
	h.cfg.Observer.CommandRun(cmd.Name)
	return cmd.Run(&Call{Ctx: ctx, Hub: h, Session: s, Args: args, cmd: cmd})
}

func builtinCommands() *Registry {
	r := &Registry{byName: make(map[string]*Command)}
	for _, c := range []Command{
		chat("help", "", "list the commands", cmdHelp),
		chat("nick", "NAME", "change your name", cmdNick),
		chat("me", "ACTION", "say what you are doing", func(c *Call) error {
			if c.Args == "" {
				return c.UsageError()
			}
			return c.Session.post(c.Ctx, KindEmote, c.Args)
		}),
		chat("msg", "NAME TEXT", "send a private message", cmdMsg),
		chat("reply", "TEXT", "answer the last private message", cmdReply),
		chat("away", "[REASON]", "mark yourself away", cmdAway),
		chat("back", "", "clear your away mark", func(c *Call) error {
			h := c.Hub
			h.mu.Lock()
			was := c.Session.m.away
			c.Session.m.away = ""
			h.presenceChangedLocked(c.Session.m)
			id := c.Session.m.id
			h.savePrefLocked(func(ctx context.Context, p Preferences) error { return p.SetSetting(ctx, id, "away", "") })
			h.mu.Unlock()
			if was == "" {
				c.Session.Notice("You were not marked away.")
			} else {
				c.Session.Notice("Welcome back: you are no longer marked away.")
			}
			return nil
		}),
		chat("topic", "[TEXT]", "show or set the room topic", cmdTopic),
		chat("join", "#ROOM", "enter a room, creating it if it does not exist", cmdJoin),
		chat("leave", "[#ROOM]", "leave this room (or the one named)", cmdLeave),
		chat("search", "WORDS", "find messages in this room and your private messages", cmdSearch),
		chat("jump", "N", "show message N of this room in context", cmdJump),
		chat("history", "[N]", "show your last N private messages", cmdHistory),
		chat("invite", "NAME", "let someone into this private room", cmdInvite),
		chatAdmin("room", "private|public|remove #ROOM", "make a room private (or open), or remove an empty one", cmdRoomAdmin),
		chat("quit", "", "leave the chat", func(c *Call) error {
			c.Session.Close(ReasonQuit)
			return nil
		}),
	} {
		if err := r.Register(c); err != nil {
			panic(err) // a programming error in the list above
		}
	}
	for _, c := range shared { // declared once for the chat and exec (shared.go)
		run := c.run
		if err := r.Register(chatAdapter(c.Spec, nil, func(rc *Call, cc *command.Call) (command.Reply, error) { return run(rc.Hub, cc) })); err != nil {
			panic(err)
		}
	}
	return r
}

func cmdHelp(c *Call) error {
	var b strings.Builder
	b.WriteString("Commands:")
	cmds := c.Hub.commands.List(c.Session.Admin())
	w := 0
	for _, cmd := range cmds {
		w = max(w, len(cmd.ChatUsage()))
	}
	for _, cmd := range cmds {
		fmt.Fprintf(&b, "\n  %-*s  %s", w, cmd.ChatUsage(), cmd.Help)
		if cmd.Admin {
			b.WriteString(" (admin)")
		}
	}
	b.WriteString("\nStart a message with // to send a line that begins with /.")
	c.Session.Notice(b.String())
	return nil
}

func cmdNick(c *Call) error {
	if c.Args == "" || strings.ContainsAny(c.Args, " \t") {
		return c.UsageError()
	}
	h, s := c.Hub, c.Session
	want := c.Args
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	old := s.m.name
	if want == old {
		return Errorf("you are already %s", old)
	}
	if err := h.nameErrLocked(want, s.m.id); err != nil {
		return Errorf("cannot change your name to %s: %v", safetext.Line(want, 32), err)
	}
	if ro := h.cfg.Roster; ro != nil { // claimed across nodes first (roster.go), without the lock
		h.mu.Unlock()
		err := ro.ClaimName(c.Ctx, want, s.m.id)
		h.mu.Lock()
		var ue *Error
		if errors.As(err, &ue) {
			return Errorf("cannot change your name to %s: %v", safetext.Line(want, 32), err)
		} else if err != nil {
			return Errorf("cannot change your name now: the other nodes cannot be reached; try again later")
		}
		if s.closed {
			return ErrClosed
		}
		if err := h.nameErrLocked(want, s.m.id); err != nil || s.m.name != old {
			h.unclaimLocked(want, s.m.id)
			if err == nil {
				err = Errorf("your name changed meanwhile")
			}
			return Errorf("cannot change your name to %s: %v", safetext.Line(want, 32), err)
		}
	}
	if !h.noticeAllowedLocked(s.m.id) {
		h.unclaimLocked(want, s.m.id)
		return Errorf("slow down: you changed your name too often; try again in a minute")
	}
	delete(h.names, safetext.Fold(old))
	h.unclaimLocked(old, s.m.id) // their sessions on other nodes take the new name too (roster.go)
	h.names[safetext.Fold(want)] = s.m.id
	h.lastName[s.m.id] = want
	s.m.name = want
	s.m.nameAt = h.cfg.Now()
	s.m.listsChangedLocked()
	id := s.m.id
	h.savePrefLocked(func(ctx context.Context, p Preferences) error { return p.SetSetting(ctx, id, "nick", want) })
	for r := range s.m.rooms {
		r.enqueueLocked(&op{msg: Message{Room: r.name, Kind: KindNick, From: old, FromID: s.m.id, Text: want}})
	}
	return nil
}

func cmdMsg(c *Call) error {
	name, text := splitWord(c.Args)
	if name == "" || text == "" {
		return c.UsageError()
	}
	to, err := c.Hub.resolveRecipient(c.Ctx, name)
	if err != nil {
		return err
	}
	return c.Session.private(to, text)
}

// splitWord returns the first word of s and the rest, trimmed; any Unicode
// space separates them.
func splitWord(s string) (word, rest string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimFunc(s[i:], unicode.IsSpace)
}

func cmdReply(c *Call) error {
	if c.Args == "" {
		return c.UsageError()
	}
	h := c.Hub
	h.mu.Lock()
	id := c.Session.m.replyTo
	to := recipient{id: id, name: h.lastName[id]}
	if m := h.members[id]; m != nil {
		to.name = m.name
	} else if rm := h.remote[id]; rm != nil {
		to.name = rm.info.Name
	}
	h.mu.Unlock()
	if id == "" {
		return Errorf("nobody has sent you a private message yet; use /msg NAME TEXT")
	}
	return c.Session.private(to, c.Args)
}

// private sends text to the identity to, seen only by both people's
// sessions. Someone who is not connected is shown it when they next
// connect (offline.go).
func (s *Session) private(rcpt recipient, text string) error {
	clean, cut, err := s.prepare(text)
	if err != nil {
		return err
	}
	h := s.hub
	h.mu.Lock()
	if s.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	if rcpt.id == s.m.id {
		h.mu.Unlock()
		return Errorf("that is you: private messages go to someone else")
	}
	if rcpt.name == "" {
		rcpt.name = fallbackName(rcpt.id)
	}
	if to := h.members[rcpt.id]; to != nil {
		rcpt.name = to.name
	} else if rm := h.remote[rcpt.id]; rm != nil { // on another node (roster.go)
		rcpt.name = rm.info.Name
	} else if h.cfg.Private == nil {
		h.mu.Unlock()
		return Errorf("%s is not connected, and this server keeps no private messages for later; the message was not sent", rcpt.name)
	}
	now := h.cfg.Now()
	h.activeLocked(s.m, now)
	m := Message{Time: now, Kind: KindPrivate, From: s.m.name, FromID: s.m.id, To: rcpt.name, ToID: rcpt.id, Text: clean}
	h.mu.Unlock()

	// Stored before either of them sees it, like room messages.
	if p := h.cfg.Private; p != nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		id, err := p.AppendPrivate(ctx, m)
		cancel()
		if err != nil {
			h.log.Error("storing a private message failed; not delivered", "err", err)
			h.cfg.Observer.MessageRefused("store")
			return Errorf("not sent: the server could not store your message, please try again")
		}
		m.Seq = uint64(id)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	to := h.members[rcpt.id]
	if !h.privateFeed { // shared by nodes: shown as the feed delivers it (deliverPrivate)
		if to != nil {
			for t := range to.sessions {
				if t.seen[""] < m.Seq || m.Seq == 0 { // not shown already as waiting (offline.go)
					h.deliverLocked(t, m)
				}
			}
			to.replyTo = s.m.id
		}
		for t := range s.m.sessions {
			h.deliverLocked(t, m)
		}
	}
	s.m.replyTo = rcpt.id
	away := ""
	if to != nil {
		away = to.away
	}
	if rm := h.remote[rcpt.id]; rm != nil && away == "" {
		away = rm.info.Away
	}
	if (to == nil || !to.personOnlineLocked(nil)) && !h.elsewhereLocked(rcpt.id) {
		h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: fmt.Sprintf("%s is not connected: it will be delivered when they next connect.", rcpt.name)})
	} else if away != "" {
		h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: fmt.Sprintf("%s is away: %s", rcpt.name, away)})
	}
	if cut {
		h.deliverLocked(s, Message{Time: now, Kind: KindNotice, Text: cutNotice})
	}
	return nil
}

// Idle formats an idle duration briefly: "now", "42s", "5m", "3h", "2d".
func Idle(d time.Duration) string {
	switch {
	case d < 5*time.Second:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func cmdAway(c *Call) error {
	reason := safetext.Line(c.Args, 80)
	if reason == "" {
		reason = "away"
	}
	h := c.Hub
	if until, muted := h.Muted(c.Session.m.id); muted { // everyone sees an away reason
		h.cfg.Observer.MessageRefused("muted")
		return Errorf("you are muted %s: you cannot set an away message, which everyone sees", muteTerm(until))
	}
	h.mu.Lock()
	c.Session.m.away = reason
	h.presenceChangedLocked(c.Session.m)
	id := c.Session.m.id
	h.savePrefLocked(func(ctx context.Context, p Preferences) error { return p.SetSetting(ctx, id, "away", reason) })
	h.mu.Unlock()
	c.Session.Notice(fmt.Sprintf("You are marked away (%s). /back clears it.", reason))
	return nil
}

func cmdTopic(c *Call) error {
	s := c.Session
	if c.Args == "" {
		if t := s.Topic(); t != "" {
			s.Notice(fmt.Sprintf("The topic of #%s is: %s", s.Room(), t))
		} else {
			s.Notice(fmt.Sprintf("#%s has no topic; /topic TEXT sets one.", s.Room()))
		}
		return nil
	}
	topic := safetext.Line(c.Args, 200)
	if topic == "" {
		return c.UsageError()
	}
	h := c.Hub
	if err := h.mutedErr(s.m.id); err != nil {
		return err
	}
	h.mu.Lock()
	if s.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	o := &op{msg: Message{Room: s.room.name, Kind: KindTopic, From: s.m.name, FromID: s.m.id, Text: topic}, done: make(chan error, 1)}
	s.room.enqueueLocked(o)
	h.mu.Unlock()
	return <-o.done
}
