package tui

import (
	"fmt"
	"hash/fnv"
	"image/color"
	"strings"
	"sync"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"parley/room"
)

// namePalette holds ANSI-256 colours readable on dark and light backgrounds.
var namePalette = []string{"33", "37", "71", "98", "130", "135", "161", "166", "170", "172", "178", "39", "41", "62", "29", "167"}

// NameColor returns the colour of an identity: the same on every screen and
// across renames.
func NameColor(id string) color.Color {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return lipgloss.Color(namePalette[h.Sum32()%uint32(len(namePalette))])
}

// Theme names.
const (
	ThemeDark  = "dark"
	ThemeLight = "light"
	ThemeMono  = "mono"
)

// styles are one session's styles.
type styles struct {
	theme               string
	header, headerDim   lipgloss.Style
	time, dim, notice   lipgloss.Style
	errorText, announce lipgloss.Style
	private, mention    lipgloss.Style
	prompt, marker      lipgloss.Style
	help                lipgloss.Style
	divider             string // the rendered line between conversation and member list
}

// newStyles builds the styles of a theme. Names keep their identity colour
// in both colour themes (the palette reads on dark and light); mono uses
// only bold, faint and reverse, for NO_COLOR and for people who prefer it.
// themes holds each theme's styles, built once and shared by every screen
// (a styles value is ~8 KiB: a thousand screens need not hold a copy each).
// They are never modified after they are built.
var themes struct {
	mu sync.Mutex
	by map[string]*styles
}

// stylesFor returns the shared styles of a theme.
func stylesFor(theme string) *styles {
	themes.mu.Lock()
	defer themes.mu.Unlock()
	if st, ok := themes.by[theme]; ok {
		return st
	}
	if themes.by == nil {
		themes.by = make(map[string]*styles)
	}
	st := newStyles(theme)
	themes.by[theme] = &st
	return &st
}

func newStyles(theme string) styles {
	c := lipgloss.Color
	st := styles{
		theme:     theme,
		header:    lipgloss.NewStyle().Bold(true).Reverse(true),
		headerDim: lipgloss.NewStyle().Reverse(true),
		marker:    lipgloss.NewStyle().Reverse(true),
		help:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1),
	}
	switch theme {
	case ThemeMono:
		st.time = lipgloss.NewStyle().Faint(true)
		st.dim = lipgloss.NewStyle().Faint(true)
		st.notice = lipgloss.NewStyle().Italic(true)
		st.errorText = lipgloss.NewStyle().Bold(true)
		st.announce = lipgloss.NewStyle().Bold(true).Underline(true)
		st.private = lipgloss.NewStyle().Italic(true)
		st.mention = lipgloss.NewStyle().Bold(true).Reverse(true)
		st.prompt = lipgloss.NewStyle().Faint(true)
	case ThemeLight:
		st.time = lipgloss.NewStyle().Foreground(c("243"))
		st.dim = lipgloss.NewStyle().Foreground(c("243"))
		st.notice = lipgloss.NewStyle().Foreground(c("24"))
		st.errorText = lipgloss.NewStyle().Foreground(c("160")).Bold(true)
		st.announce = lipgloss.NewStyle().Foreground(c("130")).Bold(true)
		st.private = lipgloss.NewStyle().Foreground(c("90"))
		st.mention = lipgloss.NewStyle().Background(c("229")).Foreground(c("16")).Bold(true)
		st.prompt = lipgloss.NewStyle().Foreground(c("243"))
	default:
		st.theme = ThemeDark
		st.time = lipgloss.NewStyle().Foreground(c("244"))
		st.dim = lipgloss.NewStyle().Foreground(c("244"))
		st.notice = lipgloss.NewStyle().Foreground(c("109"))
		st.errorText = lipgloss.NewStyle().Foreground(c("203")).Bold(true)
		st.announce = lipgloss.NewStyle().Foreground(c("220")).Bold(true)
		st.private = lipgloss.NewStyle().Foreground(c("176"))
		st.mention = lipgloss.NewStyle().Background(c("58")).Foreground(c("230")).Bold(true)
		st.prompt = lipgloss.NewStyle().Foreground(c("244"))
	}
	st.divider = st.dim.Render("│")
	return st
}

// nameStyle renders a name in its identity colour (bold in mono).
func (st *styles) nameStyle(name, id string) string {
	s := lipgloss.NewStyle().Bold(true)
	if st.theme != ThemeMono {
		s = s.Foreground(NameColor(id))
	}
	return s.Render(name)
}

// entry is one message and its lines as last rendered for a width.
type entry struct {
	msg    *room.Message // shared with the room's backlog or a received batch: never modified
	others []string      // more people who joined or left with msg.From (coalesced)
	visits []visit       // a folded run of joins and leaves in missed messages (presence.go); msg is its newest
	// expanded shows a long message whole instead of folded (/expand).
	expanded bool
	width    int
	lines    []string
}

// A message longer than foldAbove rows (a pasted stack trace) is shown
// folded: its first foldKeep rows and a line that says how many more lines
// it has, until /expand (or ctrl+o) shows it whole.
const (
	foldAbove = 10
	foldKeep  = 5
)

// foldable reports whether messages of kind k are folded when long: what
// people say; not the notices a person asked for (/who, /history).
func foldable(k room.Kind) bool {
	return k == room.KindChat || k == room.KindEmote || k == room.KindPrivate
}

// fold cuts the rows of a long message to its first foldKeep and a line
// that counts the lines (of the message's text, not rows on this screen)
// not shown whole. paraOf holds each row's line of the text, paras their
// number.
func (m *Model) fold(rows []string, paraOf []int, paras, width, indent int) []string {
	last := paraOf[foldKeep-1]
	shown := last + 1
	if paraOf[foldKeep] == last { // that line goes on below the fold
		shown = last
	}
	more := "1 more line"
	if n := paras - shown; n > 1 {
		more = fmt.Sprintf("%d more lines", n)
	} else if n < 1 {
		more = "more"
	}
	note := "… " + more + " · /expand"
	if indent+ansi.StringWidth(note) > width {
		indent = 0
	}
	return append(rows[:foldKeep:foldKeep], strings.Repeat(" ", indent)+m.st.dim.Render(ansi.Truncate(note, width-indent, "…")))
}

// renderLines lays msg out in lines of at most width cells: a prefix (time,
// name) on the first line and the text wrapped under itself, not under the
// name (a hanging indent).
func (m *Model) renderLines(msg room.Message, width int) []string {
	return m.renderEntry(&entry{msg: &msg}, width)
}

// people names From and the coalesced others: "alice", "alice and bob",
// "alice, bob and carol", "alice, bob, carol and 12 others".
func people(e *entry) string {
	if e.msg.From == "" { // many at once: the room wrote the names (room/presence.go)
		return e.msg.Text
	}
	names := append([]string{e.msg.From}, e.others...)
	switch n := len(names); {
	case n == 1:
		return names[0]
	case n <= 4:
		return strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	default:
		return strings.Join(names[:3], ", ") + fmt.Sprintf(" and %d others", n-3)
	}
}

// renderEntry lays out one entry; see renderLines.
func (m *Model) renderEntry(e *entry, width int) []string {
	msg := *e.msg
	st := m.st
	ts := ""
	if !msg.Time.IsZero() && m.timeFormat != "" {
		ts = msg.Time.In(m.loc).Format(m.timeFormat) + " "
	}
	nameStyle := st.nameStyle
	var prefix, text string
	var textStyle *lipgloss.Style
	switch {
	case e.visits != nil:
		prefix, text = visitsText(e.visits, msg.Room)
		textStyle = &st.dim
	case msg.Kind == room.KindChat:
		prefix = nameStyle(msg.From, msg.FromID) + " "
		text = msg.Text
		if m.mentions(&msg) {
			textStyle = &st.mention
		}
	case msg.Kind == room.KindEmote:
		prefix = "* " + nameStyle(msg.From, msg.FromID) + " "
		text = msg.Text
		if m.mentions(&msg) {
			textStyle = &st.mention
		}
	case msg.Kind == room.KindJoin:
		prefix, text, textStyle = "→ ", people(e)+" joined #"+msg.Room, &st.dim
	case msg.Kind == room.KindLeave:
		text = people(e) + " left"
		if msg.Text != "" && msg.From != "" {
			text += " (" + msg.Text + ")"
		}
		prefix, textStyle = "← ", &st.dim
	case msg.Kind == room.KindNick:
		prefix, text, textStyle = "~ ", msg.From+" is now known as "+msg.Text, &st.dim
	case msg.Kind == room.KindTopic:
		prefix, text, textStyle = "~ ", msg.From+" set the topic: "+msg.Text, &st.dim
	case msg.Kind == room.KindAnnounce:
		prefix, text, textStyle = "*** ", msg.Text, &st.announce
	case msg.Kind == room.KindPrivate:
		if msg.FromID == m.sess.ID() {
			prefix = st.private.Render("[private] to ") + nameStyle(msg.To, msg.ToID) + " "
		} else {
			prefix = st.private.Render("[private] from ") + nameStyle(msg.From, msg.FromID) + " "
		}
		text, textStyle = msg.Text, &st.private
	case msg.Kind == room.KindError:
		prefix, text, textStyle = "! ", msg.Text, &st.errorText
	case msg.Kind == kindUnread:
		label := " " + msg.Text + " "
		pad := max(width-ansi.StringWidth(label), 0)
		return []string{st.marker.Render(strings.Repeat("─", pad/2) + label + strings.Repeat("─", pad-pad/2))}
	default: // notices
		prefix, text, textStyle = "· ", msg.Text, &st.notice
	}
	prefix = st.time.Render(ts) + prefix
	pw := ansi.StringWidth(prefix)
	indent := pw
	if indent > width/2 {
		indent = min(2, width-1)
	}
	var out []string
	var paraOf []int // each row's line of text, for fold
	first := true
	paras := strings.Split(text, "\n")
	for p, para := range paras {
		start := len(out)
		avail := width - indent
		if first {
			avail = width - pw
		}
		if avail < 1 {
			// The prefix alone fills the line: text starts below it.
			out = append(out, ansi.Truncate(prefix, width, ""))
			first, avail = false, width-indent
		}
		wrapped := strings.Split(ansi.Wrap(para, max(avail, 1), " -"), "\n")
		for i, w := range wrapped {
			if first && i > 0 {
				// Lines after the first wrap at the indent width.
				rest := strings.Join(wrapped[i:], " ")
				for _, r := range strings.Split(ansi.Wrap(rest, max(width-indent, 1), " -"), "\n") {
					out = append(out, strings.Repeat(" ", indent)+styled(textStyle, r))
				}
				break
			}
			if first {
				out = append(out, prefix+styled(textStyle, w))
				first = false
				continue
			}
			out = append(out, strings.Repeat(" ", indent)+styled(textStyle, w))
		}
		for range len(out) - start {
			paraOf = append(paraOf, p)
		}
	}
	if len(out) > foldAbove && !e.expanded && foldable(msg.Kind) {
		out = m.fold(out, paraOf, len(paras), width, indent)
	}
	return out
}

func styled(s *lipgloss.Style, text string) string {
	if s == nil || text == "" {
		return text
	}
	return s.Render(text)
}

// idle formats the time since t for the member list, in whole minutes
// (hours, days): "" under a minute. The hub wakes the lists when these
// change (room/presence.go) and when someone shown idle speaks.
func idle(now, t time.Time) string {
	if now.Sub(t) < time.Minute {
		return ""
	}
	return room.Idle(now.Sub(t))
}

// entryLines returns e rendered at width w, each line padded to w. A room
// message (not folded with others, not private) is the same on every
// screen of the same width, theme, time format and zone (but for mentions
// of the viewer, which are part of the key): it is rendered once for all
// of them (sharedLines).
func (m *Model) entryLines(e *entry, w int) []string {
	var k lineKey
	shared := e.msg.Seq > 0 && e.msg.Room != "" && len(e.others) == 0 && e.visits == nil && e.msg.Kind != room.KindPrivate && !e.expanded
	if shared {
		k = lineKey{room: e.msg.Room, seq: e.msg.Seq, width: w, theme: m.st.theme, timeFormat: m.timeFormat, loc: m.loc, mention: m.mentions(e.msg)}
		if v, ok := sharedLines.get(k); ok && (v.msg == e.msg || *v.msg == *e.msg) {
			return v.lines
		}
	}
	lines := m.renderEntry(e, w)
	for j, l := range lines { // padded once here, not measured per frame
		lines[j] = padTo(l, w)
	}
	if shared {
		sharedLines.put(k, sharedEntry{msg: e.msg, lines: lines})
	}
	return lines
}

// sharedEntry is a rendered message; msg tells a message apart from
// another of the same room and number (another hub in the same process).
type sharedEntry struct {
	msg   *room.Message
	lines []string
}

// lineKey is what a room message's rendering depends on.
type lineKey struct {
	room              string
	seq               uint64
	width             int
	theme, timeFormat string
	loc               *time.Location
	mention           bool
}

// sharedLines holds room messages rendered for any screen; bounded: when
// full it is emptied and fills again with what is on screens now. The
// lines are never modified.
var sharedLines = lineShare{lines: make(map[lineKey]sharedEntry)}

type lineShare struct {
	mu    sync.Mutex
	lines map[lineKey]sharedEntry
}

const maxSharedLines = 4096

func (s *lineShare) get(k lineKey) (sharedEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lines[k]
	return l, ok
}

func (s *lineShare) put(k lineKey, l sharedEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lines) >= maxSharedLines {
		clear(s.lines)
	}
	s.lines[k] = l
}

// quietColumn reports whether the member column shows only how many are
// here. On a terminal without left/right margins (tmux, xterm.js, VTE:
// no screen.MarginsMsg) a new message scrolls the whole width, the column
// moves up with the log, and every row of names must be written again:
// about 50 bytes a row, 1.3-3 KB per message per receiver in a room that
// fills the column (BENCHMARKS.md). When the list does not fit beside the
// log anyway (more people than rows), the column shows the count and how
// to see everyone (/who), and its other rows hold only the divider, which
// a scroll moves onto itself: a message then costs its own row and this
// one. A list that fits is shown whole, as on terminals with margins.
func (m *Model) quietColumn(h int) bool { return !m.margins && len(m.members)+1 > h }

// quietSide is the quiet member column as last drawn.
type quietSide struct {
	n, h  int
	theme string
	lines []string
}

// quietLines draws the quiet member column: the count on the first row,
// the divider alone on the others.
func (m *Model) quietLines(h int) []string {
	q := &m.quiet
	if q.lines != nil && q.n == len(m.members) && q.h == h && q.theme == m.st.theme {
		return q.lines
	}
	lines := make([]string, h)
	count := fmt.Sprintf(" %d here · /who", len(m.members))
	if ansi.StringWidth(count) > sideWidth {
		count = fmt.Sprintf(" %d here", len(m.members))
	}
	lines[0] = m.st.dim.Render("│" + ansi.Truncate(count, sideWidth, ""))
	for i := 1; i < h; i++ {
		lines[i] = m.st.divider
	}
	*q = quietSide{n: len(m.members), h: h, theme: m.st.theme, lines: lines}
	return lines
}
