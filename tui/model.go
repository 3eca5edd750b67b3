package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"parley/room"
	"parley/safetext"
)

// Session is what the model needs of a room session.
type Session interface {
	Events() <-chan room.Message
	Backlog() []room.Message
	Send(ctx context.Context, text string) error
	ID() string
	Name() string
	Room() string
	Topic() string
	Reason() string
	Members() []room.MemberInfo
}

var _ Session = (*room.Session)(nil)

// Limits of the model.
const (
	// keepEntries is how many messages a screen keeps for scrolling back.
	keepEntries = 1000
	// sideWidth is the member list's width on wide screens.
	sideWidth = 22
	// wideAt is the width from which the member list is shown.
	wideAt = 80
	// maxInputLines is the input box's tallest size.
	maxInputLines = 5
)

// Options configure a Model.
type Options struct {
	// Env is the client's environment (TZ is honoured).
	Env []string
	// Width and Height are the initial window size.
	Width, Height int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Model is the Bubble Tea model of one session.
type Model struct {
	sess   Session
	ctx    context.Context
	cancel context.CancelFunc
	now    func() time.Time
	loc    *time.Location
	st     styles

	width, height int
	input         textarea.Model
	entries       []entry
	scroll        int // lines scrolled up from the newest
	unseen        int // messages arrived while scrolled up
	members       []room.MemberInfo
	topic         string
	name          string

	pending []string // typed lines waiting to be sent, in order
	sending bool
	ended   bool
}

// New builds the model for sess.
func New(sess Session, opt Options) *Model {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{
		sess: sess, ctx: ctx, cancel: cancel, now: opt.Now, loc: time.UTC, st: newStyles(),
		width: opt.Width, height: opt.Height,
	}
	for _, kv := range opt.Env {
		if tz, ok := strings.CutPrefix(kv, "TZ="); ok && len(tz) < 64 {
			if loc, err := time.LoadLocation(strings.TrimPrefix(tz, ":")); err == nil {
				m.loc = loc
			}
		}
	}
	in := textarea.New()
	in.ShowLineNumbers = false
	in.Prompt = "> "
	in.Placeholder = "Type a message, /help for commands"
	in.DynamicHeight = true
	in.MinHeight = 1
	in.MaxHeight = maxInputLines
	in.CharLimit = safetext.MaxMessageRunes * 2
	in.KeyMap.InsertNewline.SetKeys("alt+enter", "ctrl+j")
	in.SetVirtualCursor(false)
	st := in.Styles()
	st.Focused.CursorLine = lipgloss.NewStyle()
	st.Focused.Prompt = m.st.prompt
	in.SetStyles(st)
	in.Focus()
	m.input = in
	for _, msg := range sess.Backlog() {
		m.entries = append(m.entries, entry{msg: msg})
	}
	m.refresh()
	m.layout()
	return m
}

// eventsMsg carries messages from the session, in order.
type eventsMsg struct {
	msgs  []room.Message
	ended bool
}

// sentMsg reports the outcome of one Send.
type sentMsg struct{ err error }

// waitEvents returns a command that waits for the session's next messages
// and takes everything already queued with it, so a burst becomes one frame.
func waitEvents(ch <-chan room.Message) tea.Cmd {
	return func() tea.Msg {
		first, ok := <-ch
		if !ok {
			return eventsMsg{ended: true}
		}
		batch := []room.Message{first}
		for len(batch) < 512 {
			select {
			case m, ok := <-ch:
				if !ok {
					return eventsMsg{msgs: batch, ended: true}
				}
				batch = append(batch, m)
			default:
				return eventsMsg{msgs: batch}
			}
		}
		return eventsMsg{msgs: batch}
	}
}

// Init starts listening to the session.
func (m *Model) Init() tea.Cmd { return waitEvents(m.sess.Events()) }

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case eventsMsg:
		return m, m.onEvents(msg)
	case sentMsg:
		m.sending = false
		if msg.err != nil {
			m.addLocal(room.KindError, room.UserMessage(nil, msg.err))
		}
		return m, m.sendNext()
	case tea.PasteMsg:
		clean, cut := safetext.Message(msg.Content)
		if cut {
			m.addLocal(room.KindNotice, fmt.Sprintf("The pasted text was cut to %d characters and %d lines.", safetext.MaxMessageRunes, safetext.MaxMessageLines))
		}
		m.input.InsertString(clean)
		m.layout()
		return m, nil
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "ctrl+c", "ctrl+d":
		if k.String() == "ctrl+d" && m.input.Value() != "" {
			break
		}
		return m.submit("/quit")
	case "enter":
		text := m.input.Value()
		m.input.Reset()
		m.layout()
		if strings.TrimSpace(text) == "" {
			return nil
		}
		return m.submit(text)
	case "pgup":
		m.scrollBy(m.pageLines())
		return nil
	case "pgdown":
		m.scrollBy(-m.pageLines())
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	m.layout()
	return cmd
}

// submit queues text to be sent after what is already being sent, so a
// person's lines arrive in the order typed.
func (m *Model) submit(text string) tea.Cmd {
	m.scroll, m.unseen = 0, 0
	if len(m.pending) >= 32 {
		m.addLocal(room.KindError, "Too many messages waiting to be sent; this one was dropped.")
		return nil
	}
	m.pending = append(m.pending, text)
	return m.sendNext()
}

func (m *Model) sendNext() tea.Cmd {
	if m.sending || len(m.pending) == 0 {
		return nil
	}
	text := m.pending[0]
	m.pending = m.pending[1:]
	m.sending = true
	sess, ctx := m.sess, m.ctx
	return func() tea.Msg { return sentMsg{err: sess.Send(ctx, text)} }
}

func (m *Model) onEvents(ev eventsMsg) tea.Cmd {
	refresh := false
	for _, msg := range ev.msgs {
		switch msg.Kind {
		case room.KindJoin, room.KindLeave, room.KindNick, room.KindTopic:
			refresh = true
		}
		m.entries = append(m.entries, entry{msg: msg})
		if m.scroll > 0 {
			m.unseen++
		}
	}
	if over := len(m.entries) - keepEntries; over > 0 {
		m.entries = append(m.entries[:0:0], m.entries[over:]...)
	}
	if refresh {
		m.refresh()
	}
	if ev.ended {
		m.ended = true
		m.cancel()
		// The transport prints the reason on the normal screen, where it
		// stays readable after the alt screen is gone.
		return tea.Quit
	}
	return waitEvents(m.sess.Events())
}

// addLocal shows a line that only exists on this screen.
func (m *Model) addLocal(kind room.Kind, text string) {
	m.entries = append(m.entries, entry{msg: room.Message{Time: m.now(), Kind: kind, Text: text}})
}

// refresh re-reads who is in the room and its topic.
func (m *Model) refresh() {
	m.members = m.sess.Members()
	m.topic = m.sess.Topic()
	m.name = m.sess.Name()
}

// layout sizes the input for the current window.
func (m *Model) layout() {
	m.input.SetWidth(max(m.chatWidth(), 4))
}

func (m *Model) wide() bool { return m.width >= wideAt }

func (m *Model) chatWidth() int {
	if m.wide() {
		return m.width - sideWidth - 1
	}
	return m.width
}

// pageLines is how far PgUp/PgDn move.
func (m *Model) pageLines() int { return max(m.chatHeight()-2, 1) }

func (m *Model) chatHeight() int { return max(m.height-1-m.input.Height(), 1) }

func (m *Model) scrollBy(n int) {
	m.scroll = max(m.scroll+n, 0)
	if m.scroll == 0 {
		m.unseen = 0
	}
}

// Close releases the model's context; the transport calls it when the
// program ends.
func (m *Model) Close() { m.cancel() }

// View renders the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "parley #" + m.sess.Room()
	if c := m.input.Cursor(); c != nil && !m.ended {
		c.Y += m.height - m.input.Height()
		v.Cursor = c
	}
	return v
}

func (m *Model) render() string {
	if m.width < 10 || m.height < 4 {
		return "window too small"
	}
	cw, ch := m.chatWidth(), m.chatHeight()
	var b strings.Builder
	b.WriteString(m.header())
	b.WriteByte('\n')

	chat := m.chatLines(cw, ch)
	var side []string
	if m.wide() {
		side = m.sideLines(ch)
	}
	for i, line := range chat {
		b.WriteString(line)
		if side != nil {
			pad := cw - ansi.StringWidth(line)
			b.WriteString(strings.Repeat(" ", max(pad, 0)))
			b.WriteString(m.st.dim.Render("│"))
			b.WriteString(side[i])
		}
		b.WriteByte('\n')
	}
	b.WriteString(m.input.View())
	return b.String()
}

func (m *Model) header() string {
	left := fmt.Sprintf(" #%s ", m.sess.Room())
	info := fmt.Sprintf("%d here", len(m.members))
	if m.topic != "" {
		info += " · " + m.topic
	}
	right := ""
	if m.name != "" {
		right = " " + m.name + " "
	}
	if ansi.StringWidth(left)+ansi.StringWidth(right) > m.width {
		right = ""
	}
	room := m.st.header.Render(ansi.Truncate(left, m.width, ""))
	avail := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	info = ansi.Truncate(" "+info, max(avail, 0), "…")
	pad := max(avail-ansi.StringWidth(info), 0)
	return room + m.st.headerDim.Render(info+strings.Repeat(" ", pad)+right)
}

// chatLines returns exactly h lines of the conversation, scrolled, each at
// most w cells wide.
func (m *Model) chatLines(w, h int) []string {
	var lines []string
	skip := m.scroll
	for i := len(m.entries) - 1; i >= 0 && len(lines) < h+skip; i-- {
		e := &m.entries[i]
		if e.width != w || e.lines == nil {
			e.lines, e.width = m.renderLines(e.msg, w), w
		}
		for j := len(e.lines) - 1; j >= 0 && len(lines) < h+skip; j-- {
			lines = append(lines, e.lines[j])
		}
	}
	// The top of history: clamp the scroll so the view stays full.
	if len(lines) < h+skip {
		m.scroll = max(len(lines)-h, 0)
		skip = m.scroll
	}
	if skip > len(lines) {
		skip = len(lines)
	}
	lines = lines[skip:]
	if len(lines) > h {
		lines = lines[:h]
	}
	out := make([]string, h)
	for i, l := range lines { // lines are newest first
		out[h-1-i] = l
	}
	if m.scroll > 0 {
		note := fmt.Sprintf(" ↓ %d new · PgDn to read ", m.unseen)
		if m.unseen == 0 {
			note = " ↓ scrolled up · PgDn to return "
		}
		out[h-1] = m.st.marker.Render(ansi.Truncate(note, w, "…"))
	}
	return out
}

func (m *Model) sideLines(h int) []string {
	out := make([]string, h)
	out[0] = m.st.dim.Render(ansi.Truncate(fmt.Sprintf(" %d here", len(m.members)), sideWidth, ""))
	now := m.now()
	for i, p := range m.members {
		if i+1 >= h {
			break
		}
		mark := " "
		if p.Admin {
			mark = "@"
		}
		name := lipgloss.NewStyle().Foreground(NameColor(p.ID)).Render(p.Name)
		line := mark + name
		if p.Away != "" {
			line += m.st.dim.Render(" (away)")
		} else if d := idle(now, p.LastActive); d != "now" {
			line += m.st.dim.Render(" " + d)
		}
		out[i+1] = ansi.Truncate(line, sideWidth, "…")
	}
	return out
}
