package tui

import (
	"hash/fnv"
	"image/color"
	"strings"
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

// styles are one session's styles.
type styles struct {
	header, headerDim   lipgloss.Style
	time, dim, notice   lipgloss.Style
	errorText, announce lipgloss.Style
	private, members    lipgloss.Style
	me, prompt, marker  lipgloss.Style
}

func newStyles() styles {
	return styles{
		header:    lipgloss.NewStyle().Bold(true).Reverse(true),
		headerDim: lipgloss.NewStyle().Reverse(true),
		time:      lipgloss.NewStyle().Foreground(lipgloss.Color("244")),
		dim:       lipgloss.NewStyle().Foreground(lipgloss.Color("244")),
		notice:    lipgloss.NewStyle().Foreground(lipgloss.Color("109")),
		errorText: lipgloss.NewStyle().Foreground(lipgloss.Color("203")).Bold(true),
		announce:  lipgloss.NewStyle().Foreground(lipgloss.Color("220")).Bold(true),
		private:   lipgloss.NewStyle().Foreground(lipgloss.Color("176")),
		members:   lipgloss.NewStyle().Foreground(lipgloss.Color("250")),
		me:        lipgloss.NewStyle().Bold(true),
		prompt:    lipgloss.NewStyle().Foreground(lipgloss.Color("244")),
		marker:    lipgloss.NewStyle().Reverse(true),
	}
}

// entry is one message and its lines as last rendered for a width.
type entry struct {
	msg   room.Message
	width int
	lines []string
}

// renderLines lays msg out in lines of at most width cells: a prefix (time,
// name) on the first line and the text wrapped under itself, not under the
// name (a hanging indent).
func (m *Model) renderLines(msg room.Message, width int) []string {
	st := &m.st
	ts := ""
	if !msg.Time.IsZero() {
		ts = msg.Time.In(m.loc).Format("15:04") + " "
	}
	nameStyle := func(name, id string) string {
		s := lipgloss.NewStyle().Foreground(NameColor(id)).Bold(true)
		return s.Render(name)
	}
	var prefix, text string
	var textStyle *lipgloss.Style
	switch msg.Kind {
	case room.KindChat:
		prefix = nameStyle(msg.From, msg.FromID) + " "
		text = msg.Text
	case room.KindEmote:
		prefix = "* " + nameStyle(msg.From, msg.FromID) + " "
		text = msg.Text
	case room.KindJoin:
		prefix, text, textStyle = "→ ", msg.From+" joined #"+msg.Room, &st.dim
	case room.KindLeave:
		text = msg.From + " left"
		if msg.Text != "" {
			text += " (" + msg.Text + ")"
		}
		prefix, textStyle = "← ", &st.dim
	case room.KindNick:
		prefix, text, textStyle = "~ ", msg.From+" is now known as "+msg.Text, &st.dim
	case room.KindTopic:
		prefix, text, textStyle = "~ ", msg.From+" set the topic: "+msg.Text, &st.dim
	case room.KindAnnounce:
		prefix, text, textStyle = "*** ", msg.Text, &st.announce
	case room.KindPrivate:
		if msg.FromID == m.sess.ID() {
			prefix = st.private.Render("[private] to ") + nameStyle(msg.To, msg.ToID) + " "
		} else {
			prefix = st.private.Render("[private] from ") + nameStyle(msg.From, msg.FromID) + " "
		}
		text, textStyle = msg.Text, &st.private
	case room.KindError:
		prefix, text, textStyle = "! ", msg.Text, &st.errorText
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
	first := true
	for _, para := range strings.Split(text, "\n") {
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
	}
	return out
}

func styled(s *lipgloss.Style, text string) string {
	if s == nil || text == "" {
		return text
	}
	return s.Render(text)
}

// idle formats the time since t for the member list.
func idle(now, t time.Time) string { return room.Idle(now.Sub(t)) }
