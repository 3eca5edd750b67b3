package room

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"parley/safetext"
)

// Limits of the history commands.
const (
	searchLimit  = 20
	contextLines = 6
	maxHistory   = 100
)

func cmdSearch(c *Call) error {
	q := safetext.Line(c.Args, 200)
	if q == "" {
		return c.UsageError()
	}
	h, s := c.Hub, c.Session
	if h.cfg.Search == nil {
		return Errorf("search needs the server's history store, which is off")
	}
	r, err := h.readableRoom(s.Room(), s.ID(), s.Admin()) // checked here, whoever called
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Ctx, storeTimeout)
	defer cancel()
	room := r.name
	found, err := h.cfg.Search.Search(ctx, room, s.ID(), q, searchLimit)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	var b strings.Builder
	if len(found) == 0 {
		fmt.Fprintf(&b, "Nothing in #%s or your private messages matches %q.", room, q)
	} else {
		fmt.Fprintf(&b, "%d found for %q, newest first (/jump N shows one in context):", len(found), q)
		for _, m := range found {
			b.WriteString("\n  ")
			b.WriteString(h.formatLine(s, m))
		}
	}
	s.Notice(b.String())
	return nil
}

func cmdJump(c *Call) error {
	seq, err := strconv.ParseUint(strings.TrimPrefix(c.Args, "#"), 10, 64)
	if err != nil || seq == 0 {
		return c.UsageError()
	}
	h, s := c.Hub, c.Session
	if h.cfg.History == nil {
		return Errorf("older messages need the server's history store, which is off")
	}
	r, err := h.readableRoom(s.Room(), s.ID(), s.Admin()) // checked here, whoever called
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Ctx, storeTimeout)
	defer cancel()
	room := r.name
	around, err := h.cfg.History.Before(ctx, room, seq+contextLines+1, 2*contextLines+1)
	if err != nil {
		return fmt.Errorf("jump: %w", err)
	}
	if len(around) == 0 {
		return Errorf("#%s has no message %d", room, seq)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Around message %d of #%s:", seq, room)
	for _, m := range around {
		b.WriteString("\n")
		if m.Seq == seq {
			b.WriteString("▶ ")
		} else {
			b.WriteString("  ")
		}
		b.WriteString(h.formatLine(s, m))
	}
	s.Notice(b.String())
	return nil
}

func cmdHistory(c *Call) error {
	n := 20
	if c.Args != "" {
		v, err := strconv.Atoi(c.Args)
		if err != nil || v < 1 {
			return c.UsageError()
		}
		n = min(v, maxHistory)
	}
	h, s := c.Hub, c.Session
	if h.cfg.Private == nil {
		return Errorf("private history needs the server's history store, which is off")
	}
	ctx, cancel := context.WithTimeout(c.Ctx, storeTimeout)
	defer cancel()
	msgs, err := h.cfg.Private.PrivateBefore(ctx, s.ID(), 0, n)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	var b strings.Builder
	if len(msgs) == 0 {
		b.WriteString("You have no private messages yet.")
	} else {
		fmt.Fprintf(&b, "Your last %d private messages:", len(msgs))
		for _, m := range msgs {
			b.WriteString("\n  ")
			b.WriteString(h.formatLine(s, m))
		}
	}
	s.Notice(b.String())
	return nil
}

// formatLine renders a stored message as one plain line for command output.
func (h *Hub) formatLine(s *Session, m Message) string {
	ts := m.Time.UTC().Format("Jan 2 15:04")
	switch m.Kind {
	case KindPrivate:
		if m.FromID == s.ID() {
			return fmt.Sprintf("%s [private] to %s: %s", ts, m.To, oneLine(m.Text))
		}
		return fmt.Sprintf("%s [private] from %s: %s", ts, m.From, oneLine(m.Text))
	case KindEmote:
		return fmt.Sprintf("#%d %s * %s %s", m.Seq, ts, m.From, oneLine(m.Text))
	case KindJoin:
		return fmt.Sprintf("#%d %s → %s joined", m.Seq, ts, m.From)
	case KindLeave:
		return fmt.Sprintf("#%d %s ← %s left", m.Seq, ts, m.From)
	case KindNick:
		return fmt.Sprintf("#%d %s %s is now %s", m.Seq, ts, m.From, m.Text)
	case KindTopic:
		return fmt.Sprintf("#%d %s %s set the topic: %s", m.Seq, ts, m.From, oneLine(m.Text))
	}
	return fmt.Sprintf("#%d %s %s: %s", m.Seq, ts, m.From, oneLine(m.Text))
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if r := []rune(s); len(r) > 160 {
		return string(r[:160]) + "…"
	}
	return s
}

// Older returns up to n messages of room stored before seq, oldest first,
// for scrolling back past what a screen holds, if the session's identity
// may read the room. Without a store it returns nothing.
func (s *Session) Older(ctx context.Context, room string, before uint64, n int) ([]Message, error) {
	hist := s.hub.cfg.History
	if hist == nil || before <= 1 {
		return nil, nil
	}
	if _, err := s.hub.readableRoom(room, s.ID(), s.Admin()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	msgs, err := hist.Before(ctx, RoomKey(room), before, n)
	if err != nil {
		return nil, fmt.Errorf("older messages of %s: %w", room, err)
	}
	return msgs, nil
}
