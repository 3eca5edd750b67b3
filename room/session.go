package room

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"parley/safetext"
)

// Session is one connection of one person: what the transport renders and
// where what the person types goes. Its fields are guarded by Hub.mu; its
// queue is read by the transport's own goroutine.
type Session struct {
	hub   *Hub
	id    uint64
	m     *member
	out   chan Message
	done  chan struct{}
	ready chan struct{}
	bot   bool // set at creation: a program's session (Identity.Bot)

	// Guarded by Hub.mu.
	room     *room                // the room this session shows and posts to
	backlogs map[string][]Message // per room: the messages before the session was registered there
	settings map[string]string    // the identity's saved settings
	marks    map[string]uint64    // read marks at connect, by room
	seen     map[string]uint64    // the newest Seq delivered, by room (the next read marks)
	closed   bool
	reason   string
}

// Events delivers, in order, everything this session should show after its
// backlog. It is closed when the session ends; the reason is in Reason.
func (s *Session) Events() <-chan Message { return s.out }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Reason says why the session ended, once Done is closed.
func (s *Session) Reason() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.reason
}

// Backlog returns the recent messages of the session's current room as they
// were when the session entered it, oldest first. Events continues exactly
// where it ends.
func (s *Session) Backlog() []Message {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return append([]Message(nil), s.backlogs[s.room.name]...)
}

// RoomBacklog is Backlog for any room the session is in (after its
// KindEnter event for that room).
func (s *Session) RoomBacklog(name string) []Message {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return append([]Message(nil), s.backlogs[RoomKey(name)]...)
}

// ID returns the session's identity (key fingerprint).
func (s *Session) ID() string { return s.m.id }

// Name returns the session's current display name.
func (s *Session) Name() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.m.name
}

// Admin reports whether the session's identity is an admin.
func (s *Session) Admin() bool { return s.m.admin } // set once at creation

// Room returns the name of the room the session shows, without '#'.
func (s *Session) Room() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.room.name
}

// Topic returns the topic of the session's room.
func (s *Session) Topic() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.room.topic
}

// Close ends the session with a reason shown to the others in the room when
// it was the person's last session there. Closing twice does nothing.
func (s *Session) Close(reason string) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.closeSessionLocked(s, reason)
}

// Send handles one line (or pasted block) the person entered: a /command
// or a message to the room. It returns once the message is stored and
// delivered, or with an error safe to show the person (see UserMessage).
// Command output arrives on Events as notices.
func (s *Session) Send(ctx context.Context, text string) error {
	// " /msg bob secret" is a command too: a stray space must never
	// broadcast a private message.
	if trimmed := strings.TrimLeft(text, " \t"); strings.HasPrefix(trimmed, "/") {
		text = trimmed
	}
	if name, args, ok := ParseCommand(text); ok {
		return s.hub.runCommand(ctx, s, name, args)
	}
	text = strings.TrimPrefix(text, "/") // "//x" sends "/x"
	return s.post(ctx, KindChat, text)
}

// post sanitises text and sends it to the session's room as kind.
func (s *Session) post(ctx context.Context, kind Kind, text string) error {
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
	s.m.lastActive = h.cfg.Now()
	o := &op{msg: Message{Room: s.room.name, Kind: kind, From: s.m.name, FromID: s.m.id, Text: clean}, done: make(chan error, 1)}
	s.room.enqueueLocked(o)
	h.mu.Unlock()
	select {
	case err = <-o.done:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the room: %w", ctx.Err())
	}
	if err == nil && cut {
		s.Notice(cutNotice)
	}
	return err
}

// cutNotice tells a sender that the caps shortened their message.
var cutNotice = fmt.Sprintf("Your message was cut to %d characters and %d lines.", safetext.MaxMessageRunes, safetext.MaxMessageLines)

// prepare turns what a person typed into the text to send (shortcodes
// expanded, made inert, capped) and applies the flood limit.
func (s *Session) prepare(text string) (clean string, cut bool, err error) {
	clean, cut = safetext.Message(ExpandShortcodes(text))
	if clean == "" {
		return "", false, Errorf("nothing to send: the message is empty")
	}
	if err := s.hub.allowMessage(s.m.id); err != nil {
		return "", false, err
	}
	return clean, cut, nil
}

// Notice shows text to this session only.
func (s *Session) Notice(text string) { s.deliver(KindNotice, text) }

func (s *Session) deliver(kind Kind, text string) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliverLocked(s, Message{Time: h.cfg.Now(), Kind: kind, Text: text})
}

// Error is a failure whose text is safe and useful to show the person who
// caused it. Other errors are internal: log them and show a generic line.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Errorf builds an Error.
func Errorf(format string, args ...any) error { return &Error{msg: fmt.Sprintf(format, args...)} }

// UserMessage returns the text to show a person for err: the text of an
// Error, or a generic line for anything else (which it logs).
func UserMessage(log *slog.Logger, err error) string {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.msg
	}
	if errors.Is(err, ErrClosed) {
		return "the session has ended"
	}
	if log != nil {
		log.Error("internal error shown generically", "err", err)
	}
	return "something went wrong on the server; please try again"
}

// Members lists the people in the session's room.
func (s *Session) Members() []MemberInfo { return s.hub.Members(s.Room()) }

// Commands lists the commands this session may use.
func (s *Session) Commands() []Command { return s.hub.commands.List(s.Admin()) }

// allowMessage applies the per-identity message limit.
func (h *Hub) allowMessage(id string) error {
	if err := h.mutedErr(id); err != nil {
		return err
	}
	if h.cfg.MessageLimit == nil {
		return nil
	}
	if ok, wait := h.cfg.MessageLimit.Allow(id); !ok {
		h.cfg.Observer.MessageRefused("rate")
		return rateLimited(wait)
	}
	return nil
}

// noticeAllowedLocked applies the per-identity notice limit.
func (h *Hub) noticeAllowedLocked(id string) bool {
	if h.cfg.NoticeLimit == nil {
		return true
	}
	ok, _ := h.cfg.NoticeLimit.Allow(id)
	return ok
}

// roundUp formats d in whole seconds, at least one.
func roundUp(d time.Duration) string {
	return (max(d, time.Second) + time.Second - 1).Truncate(time.Second).String()
}
