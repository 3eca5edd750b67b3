package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"parley/command"
	"parley/room"
)

// Bell modes.
const (
	BellOff      = "off"
	BellMentions = "mentions" // mentions and private messages
	BellOn       = "on"       // every message from someone else
)

// Timestamp formats, by the names /timestamps takes.
var timeFormats = map[string]string{"off": "", "time": "15:04", "datetime": "Jan 2 15:04"}

// localCommand is a command the screen handles itself: it changes only
// how this session looks or sounds. It is declared with the same
// command.Spec as the chat's and exec's commands (On: command.Screen), and
// /help is generated from it.
type localCommand struct {
	command.Spec
	run func(m *Model, args string) tea.Cmd
}

// local declares a screen-local command.
func local(name, args, help string, run func(m *Model, args string) tea.Cmd) localCommand {
	return localCommand{Spec: command.Spec{Name: name, Args: args, Help: help, On: command.Screen}, run: run}
}

// localCommands are listed in /help beside the room's commands.
var localCommands = []localCommand{
	local("bell", "on|off|mentions", "ring the terminal bell for every message, never, or for mentions and private messages", cmdBell),
	local("timestamps", "off|time|datetime", "how message times are shown", cmdTimestamps),
	local("tz", "ZONE", "show times in a time zone, e.g. Europe/Paris or UTC", cmdTZ),
	local("theme", "dark|light|mono", "colours for a dark or light terminal, or none", cmdTheme),
	local("scroll", "up|down|top|bottom", "scroll the conversation (like PgUp, PgDn, Home, End)", cmdScroll),
	local("expand", "[all]", "show a folded long message whole: the newest one on screen (ctrl+o), or all", cmdExpand),
	local("fold", "", "fold long messages again", cmdFold),
}

func findLocal(name string) *localCommand {
	for i := range localCommands {
		if localCommands[i].Name == name {
			return &localCommands[i]
		}
	}
	return nil
}

func cmdBell(m *Model, args string) tea.Cmd {
	switch args {
	case BellOn, BellOff, BellMentions:
		m.bell = args
		m.sess.SetSetting("bell", args)
		m.addLocal(room.KindNotice, "Bell: "+args+".")
	case "":
		m.addLocal(room.KindNotice, "Bell is "+m.bell+"; /bell on|off|mentions changes it.")
	default:
		m.addLocal(room.KindError, "usage: /bell on|off|mentions")
	}
	return nil
}

func cmdTimestamps(m *Model, args string) tea.Cmd {
	f, ok := timeFormats[args]
	if !ok {
		m.addLocal(room.KindError, "usage: /timestamps off|time|datetime")
		return nil
	}
	m.timeFormat = f
	m.invalidate()
	m.sess.SetSetting("timestamps", args)
	m.addLocal(room.KindNotice, "Timestamps: "+args+".")
	return nil
}

func cmdTZ(m *Model, args string) tea.Cmd {
	if args == "" {
		m.addLocal(room.KindNotice, "Times are shown in "+m.loc.String()+"; /tz ZONE changes it.")
		return nil
	}
	loc, err := loadZone(args)
	if err != nil {
		m.addLocal(room.KindError, fmt.Sprintf("unknown time zone %q; try a name like Europe/Paris, America/New_York or UTC", args))
		return nil
	}
	m.loc = loc
	m.invalidate()
	m.sess.SetSetting("tz", loc.String())
	m.addLocal(room.KindNotice, "Times are now shown in "+loc.String()+".")
	return nil
}

// loadZone loads an IANA zone name. The standard library refuses names
// with ".." or a leading slash, so a client cannot read arbitrary files.
func loadZone(name string) (*time.Location, error) {
	name = strings.TrimPrefix(name, ":")
	if name == "" || len(name) > 64 {
		return nil, fmt.Errorf("bad zone")
	}
	return time.LoadLocation(name)
}

func cmdTheme(m *Model, args string) tea.Cmd {
	switch args {
	case ThemeDark, ThemeLight, ThemeMono:
		m.themeChosen = true
		m.setTheme(args)
		m.sess.SetSetting("theme", args)
		m.addLocal(room.KindNotice, "Theme: "+args+".")
	case "":
		m.addLocal(room.KindNotice, "Theme is "+m.st.theme+"; /theme dark|light|mono changes it.")
	default:
		m.addLocal(room.KindError, "usage: /theme dark|light|mono")
	}
	return nil
}

func cmdScroll(m *Model, args string) tea.Cmd {
	switch args {
	case "up":
		m.scrollBy(m.pageLines())
		return m.loadOlder()
	case "down":
		m.scrollBy(-m.pageLines())
	case "top":
		m.scrollBy(1 << 30)
		return m.loadOlder()
	case "bottom", "":
		m.scrollBy(-m.cur.scroll)
	default:
		m.addLocal(room.KindError, "usage: /scroll up|down|top|bottom")
	}
	return nil
}

// helpText is the /help overlay: keys, the room's commands and the
// screen's own commands, generated from their registries. On a wide
// screen each command takes one line; on a narrow one, two.
func (m *Model) helpText() string {
	type row struct{ usage, help string }
	var rows []row
	for _, c := range m.sess.Commands() {
		h := c.Help
		if c.Admin {
			h += " (admin)"
		}
		rows = append(rows, row{c.ChatUsage(), h})
	}
	for _, c := range localCommands {
		rows = append(rows, row{c.ChatUsage(), c.Help})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].usage < rows[j].usage })
	var b strings.Builder
	// The text's width inside the overlay (overlayLines: a box from 60
	// columns); a description wraps under itself, never at column 0.
	inner := m.chatWidth()
	if inner >= 60 {
		inner -= 6
	}
	describe := func(help string, indent int) {
		pad := strings.Repeat(" ", indent)
		for l := range strings.SplitSeq(ansi.Wrap(help, max(inner-indent, 10), " "), "\n") {
			b.WriteString(pad + l + "\n")
		}
	}
	section := func(title string, rows []row) {
		b.WriteString(title + "\n")
		uw := 0
		for _, r := range rows {
			uw = max(uw, len(r.usage))
		}
		oneLine := m.chatWidth()-4 >= uw+4+30
		for _, r := range rows {
			if oneLine {
				first, rest, _ := strings.Cut(ansi.Wrap(r.help, max(inner-uw-4, 10), " "), "\n")
				fmt.Fprintf(&b, "  %-*s  %s\n", uw, r.usage, first)
				if rest != "" {
					describe(strings.ReplaceAll(rest, "\n", " "), uw+4)
				}
			} else {
				fmt.Fprintf(&b, "  %s\n", r.usage)
				describe(r.help, 6)
			}
		}
	}
	section("Commands", rows)
	b.WriteString("\n")
	section("Keys", []row{
		{"Enter", "send"}, {"Alt+Enter, Ctrl+J", "new line"}, {"Up, Down", "your earlier messages"},
		{"Tab", "complete names, @names, /commands"}, {"PgUp, PgDn", "scroll"},
		{"Home, End", "top, bottom (on an empty line)"}, {"Ctrl+O", "show a folded long message whole (/expand)"},
		{"Ctrl+C, Ctrl+D", "leave"},
	})
	b.WriteString("\nStart a message with // to send a line beginning with /.\nUp/Down/Space scroll this help; any other key closes it.")
	return b.String()
}

func cmdExpand(m *Model, args string) tea.Cmd {
	switch args {
	case "":
		if !m.expandNewest() {
			m.addLocal(room.KindNotice, "No folded message on screen; /expand all unfolds every one.")
		}
	case "all":
		m.setExpanded(true)
	default:
		m.addLocal(room.KindError, "usage: /expand [all]")
	}
	return nil
}

func cmdFold(m *Model, args string) tea.Cmd {
	if args != "" {
		m.addLocal(room.KindError, "usage: /fold")
		return nil
	}
	m.setExpanded(false)
	return nil
}

// folded reports whether e shows folded at width w.
func (m *Model) folded(e *entry, w int) bool {
	if e.expanded || !foldable(e.msg.Kind) || strings.Count(e.msg.Text, "\n") < foldKeep && len(e.msg.Text) < w*foldKeep/2 {
		return false // short: not worth rendering to find out
	}
	if e.width != w || e.lines == nil {
		e.lines, e.width = m.entryLines(e, w), w
	}
	return len(e.lines) == foldKeep+1 && len(m.renderEntry(&entry{msg: e.msg, expanded: true}, w)) > foldAbove
}

// expandNewest unfolds the newest folded message that is on screen, or
// above it when none is, and reports whether there was one.
func (m *Model) expandNewest() bool {
	w, below := m.chatWidth(), m.cur.scroll
	for i := len(m.cur.entries) - 1; i >= 0; i-- {
		e := &m.cur.entries[i]
		if e.width != w || e.lines == nil {
			e.lines, e.width = m.entryLines(e, w), w
		}
		if below >= len(e.lines) { // under the screen while scrolled up
			below -= len(e.lines)
			continue
		}
		below = 0
		if m.folded(e, w) {
			e.expanded, e.lines = true, nil
			return true
		}
	}
	return false
}

// setExpanded unfolds (or folds) every long message of the shown room.
func (m *Model) setExpanded(on bool) {
	for i := range m.cur.entries {
		e := &m.cur.entries[i]
		if e.expanded != on {
			e.expanded, e.lines = on, nil
		}
	}
}
