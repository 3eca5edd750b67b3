package screen

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// logModel is a lines model with a log in rows 1..h-2, logWidth cells
// wide, and a fixed column beside it when side is set.
type logModel struct {
	*lines
	log      []string
	h        int
	logWidth int
	side     bool
	claim    [3]int // when set, what Band answers instead of the truth
	// parts: the same rows in two parts, the log's and the column beside
	// it, for rowsLog.
	left, right []string
	partsViews  int  // frames drawn from the parts
	unpadded    bool // left parts are not padded to logWidth
}

// rowsLog is a logModel that hands the screen its rows in parts (Rows).
type rowsLog struct{ *logModel }

func (m rowsLog) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := m.logModel.Update(msg)
	return m, cmd
}

func (m rowsLog) ViewRows(left, right []string) tea.View {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.partsViews++
	copy(left, m.left)
	copy(right, m.right)
	return tea.View{Cursor: m.cursor, WindowTitle: m.title}
}

// models are a logModel as itself (View) and as rows in parts (Rows):
// tests of the band run on both.
func models(m *logModel) map[string]tea.Model {
	return map[string]tea.Model{"view": m, "rows": rowsLog{m}}
}

func (m *logModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := m.lines.Update(msg)
	return m, cmd
}

func (m *logModel) Band() (int, int, int) {
	if m.claim != [3]int{} {
		return m.claim[0], m.claim[1], m.claim[2]
	}
	return 1, m.h - 1, m.logWidth
}

// compose writes the rows for the model's log.
func (m *logModel) compose() {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := []string{"\x1b[7m header \x1b[m"}
	m.left, m.right = []string{rows[0]}, []string{""}
	n := m.h - 2
	start := max(len(m.log)-n, 0)
	shown := m.log[start:]
	for y := 0; y < n; y++ {
		var l string
		if i := y - (n - len(shown)); i >= 0 {
			l = shown[i]
		}
		l += strings.Repeat(" ", m.logWidth-ansi.StringWidth(l))
		var r string
		if m.side {
			r = fmt.Sprintf("\x1b[2m│\x1b[m\x1b[36mperson%d\x1b[m", y)
		}
		rows = append(rows, l+r)
		if m.unpadded {
			l = strings.TrimRight(l, " ")
		}
		m.left, m.right = append(m.left, l), append(m.right, r)
	}
	rows = append(rows, "> ")
	m.left, m.right = append(m.left, "> "), append(m.right, "")
	m.rows = rows
}

func newLog(width, height int, side bool) *logModel {
	lw := width
	if side {
		lw = width - 10
	}
	m := &logModel{lines: &lines{}, h: height, logWidth: lw, side: side}
	for i := 0; i < 20; i++ {
		m.log = append(m.log, fmt.Sprintf("\x1b[1mold\x1b[m line %02d", i))
	}
	m.compose()
	return m
}

// add appends a log line and hands the program a message to redraw.
func (m *logModel) add(r *rig, text string) {
	m.log = append(m.log, text)
	m.compose()
	r.p.Send("redraw")
}

func TestANewLogLineScrollsInsteadOfRewritingTheScreen(t *testing.T) {
	for _, side := range []bool{false, true} {
		for kind := range models(nil) {
			t.Run(fmt.Sprintf("%s/side=%v", kind, side), func(t *testing.T) {
				m := newLog(40, 12, side)
				r := startModel(t, models(m)[kind], m.lines, Options{Width: 40, Height: 12})
				m.add(r, "first new")
				r.term.waitFor(t, "the first line", func(s string) bool { return strings.Contains(s, "first new") })
				r.term.reset()
				m.add(r, "second new")
				r.term.waitFor(t, "the second line", func(s string) bool { return strings.Contains(s, "second new") })
				out := r.term.output()
				if !strings.Contains(out, ansi.SU(1)) {
					t.Errorf("no scroll in %q", out)
				}
				if strings.Contains(out, "old line") || strings.Contains(out, "first new") {
					t.Errorf("log lines that only moved were written again: %q", out)
				}
				// The screen is right: log in order, side column in place.
				rows := strings.Split(r.term.screen(), "\n")
				if !strings.HasPrefix(rows[9], "first new") || !strings.HasPrefix(rows[10], "second new") || !strings.HasPrefix(rows[1], "old line 12") {
					t.Errorf("screen:\n%s", r.term.screen())
				}
				if side {
					for y := 1; y <= 10; y++ {
						if want := fmt.Sprintf("│person%d", y-1); !strings.Contains(rows[y], want) {
							t.Errorf("row %d = %q, want %q beside the log", y, rows[y], want)
						}
					}
				}
			})
		}
	}
}

func TestAWrongBandStillDrawsTheRightScreen(t *testing.T) {
	for kind := range models(nil) {
		t.Run(kind, testAWrongBand(kind))
	}
}

func testAWrongBand(kind string) func(*testing.T) {
	return func(t *testing.T) {
		m := newLog(40, 12, true)
		m.claim = [3]int{0, 12, 30} // claims the header and the input scroll with the log
		r := startModel(t, models(m)[kind], m.lines, Options{Width: 40, Height: 12})
		r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "old line 19") })
		for i := 0; i < 5; i++ {
			m.add(r, fmt.Sprintf("new %d", i))
		}
		r.term.waitFor(t, "the last line", func(s string) bool { return strings.Contains(s, "new 4") })
		m.mu.Lock()
		want := append([]string(nil), m.rows...)
		m.mu.Unlock()
		r.term.waitFor(t, "the frame", func(s string) bool {
			rows := strings.Split(s, "\n")
			for y, w := range want {
				if strings.TrimRight(rows[y], " ") != strings.TrimRight(stripSGR(w), " ") {
					return false
				}
			}
			return true
		})
	}
}

// TestARowsModelsColumnStartsAtTheBandsWidth: a Rows model's left parts
// need not be padded; what is beside the log starts at the band's width.
func TestARowsModelsColumnStartsAtTheBandsWidth(t *testing.T) {
	m := newLog(40, 12, true)
	m.unpadded = true
	m.compose()
	r := startModel(t, rowsLog{m}, m.lines, Options{Width: 40, Height: 12})
	for i := range 3 {
		m.add(r, fmt.Sprintf("new %d", i))
	}
	r.term.waitFor(t, "the column at the band's width beside every log row", func(s string) bool {
		rows := strings.Split(s, "\n")
		if len(rows) < 12 || !strings.HasPrefix(rows[10], "new 2") {
			return false
		}
		for y := 1; y <= 10; y++ {
			if !strings.HasPrefix(string([]rune(rows[y])[30:]), fmt.Sprintf("│person%d", y-1)) {
				return false
			}
		}
		return true
	})
}

func stripSGR(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestOnATerminalWithMarginsOnlyTheLogScrolls runs the program against
// x/vt, which answers the margin query and has left/right margins: the
// column beside the log is not written again when a line arrives.
func TestOnATerminalWithMarginsOnlyTheLogScrolls(t *testing.T) {
	for kind := range models(nil) {
		t.Run(kind, testMargins(kind))
	}
}

func testMargins(kind string) func(*testing.T) {
	return func(t *testing.T) {
		m := newLog(40, 12, true)
		emu := vt.NewEmulator(40, 12)
		out := newTermOn(emu)
		in, keys := io.Pipe()
		p := New(models(m)[kind], Options{Input: in, Output: out, Width: 40, Height: 12})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		go func() { _, _ = io.Copy(keys, emu) }() // the terminal's answers
		t.Cleanup(func() {
			cancel()
			_ = keys.Close()
			_ = emu.InputPipe().(io.Closer).Close() // ends the copy of its answers
			<-done
		})
		shows := func(what string, ok func([]string) bool) {
			t.Helper()
			out.waitFor(t, what, func(s string) bool {
				rows := strings.Split(s, "\n")
				return len(rows) >= 12 && ok(rows)
			})
		}
		shows("the first frame", func(r []string) bool { return strings.Contains(r[10], "old line 19") })
		// The answer to the query arrives as input and turns margins on.
		deadline := time.Now().Add(waitTimeout)
		for !strings.Contains(out.output(), ansi.SetModeLeftRightMargin) {
			if time.Now().After(deadline) {
				t.Fatal("margins were never turned on")
			}
			m.add(&rig{p: p}, "poke") // a frame carries the mode change
			shows("the poke", func(r []string) bool { return strings.Contains(r[10], "poke") })
		}
		told := false
		for _, msg := range m.received() {
			_, ok := msg.(MarginsMsg)
			told = told || ok
		}
		if !told {
			t.Error("the model was not told the terminal has margins")
		}
		m.add(&rig{p: p}, "settled")
		shows("the settled line", func(r []string) bool { return strings.HasPrefix(r[10], "settled") })
		out.reset()
		m.add(&rig{p: p}, "fresh line")
		shows("the new line", func(r []string) bool { return strings.HasPrefix(r[10], "fresh line") })
		got := out.output()
		if !strings.Contains(got, ansi.SetLeftRightMargins(1, 30)) {
			t.Errorf("no margin scroll: %q", got)
		}
		if strings.Contains(got, "person") {
			t.Errorf("the column beside the log was written again: %q", got)
		}
		rows := strings.Split(out.screen(), "\n")
		for y := 1; y <= 10; y++ {
			if want := fmt.Sprintf("│person%d", y-1); !strings.Contains(rows[y], want) {
				t.Errorf("row %d = %q, want %q beside the log", y, rows[y], want)
			}
		}
		if !strings.HasPrefix(rows[9], "settled") {
			t.Errorf("row 9 = %q, want the line before the new one", rows[9])
		}
	}
}

// BenchmarkDrawBand is the frame each of 100 receivers' screens draws
// after a new message (100x30, the log scrolling beside a member column),
// with and without left/right margins (lrmm). The screens share one
// model, as receivers share rendered rows, so a row is prepared once for
// all of them; the figure is per screen.
func BenchmarkDrawBand(b *testing.B) {
	const screens = 100
	for _, lrmm := range []bool{false, true} {
		for kind := range models(nil) {
			b.Run(fmt.Sprintf("%s/lrmm=%v", kind, lrmm), func(b *testing.B) {
				m := &logModel{lines: &lines{}, h: 30, logWidth: 75, side: true}
				line := func(i int) string { return fmt.Sprintf("\x1b[1;38;2;200;100;0mname%d\x1b[m message %d", i%7, i) }
				for i := range 40 {
					m.log = append(m.log, line(i))
				}
				m.compose()
				var ps []*Program
				for range screens {
					p := New(models(m)[kind], Options{Output: io.Discard, Width: 100, Height: 30, Env: []string{"TERM=xterm-256color"}})
					p.lrmm = lrmm
					if err := p.draw(); err != nil {
						b.Fatal(err)
					}
					ps = append(ps, p)
				}
				b.ReportAllocs()
				i := len(m.log)
				for b.Loop() {
					m.log = append(m.log[1:], line(i))
					i++
					m.compose()
					for _, p := range ps {
						if err := p.draw(); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*screens), "ns/screen")
			})
		}
	}
}

// TestAScrollFrameIsTerse: the frame after a new log line carries no
// reset that follows a reset, no padding written as spaces, and the
// screen is still right (a shorter line replacing a longer one, a column
// beside the log).
func TestAScrollFrameIsTerse(t *testing.T) {
	for _, side := range []bool{false, true} {
		for kind := range models(nil) {
			t.Run(fmt.Sprintf("%s/side=%v", kind, side), func(t *testing.T) {
				m := newLog(60, 12, side)
				r := startModel(t, models(m)[kind], m.lines, Options{Width: 60, Height: 12})
				m.add(r, "\x1b[1mann\x1b[m a first new line, and a long one at that")
				r.term.waitFor(t, "the first line", func(s string) bool { return strings.Contains(s, "long one") })
				r.term.reset()
				m.add(r, "\x1b[1mbob\x1b[m short")
				r.term.waitFor(t, "the second line", func(s string) bool { return strings.Contains(s, "bob short") })
				out := r.term.output()
				// (A model that hands whole lines, View, pads between the log
				// and the column with spaces the screen does not cut out.)
				if strings.Contains(out, "\x1b[m\x1b[m") || strings.Contains(out, "     ") && (kind == "rows" || !side) {
					t.Errorf("redundant resets or padding in %q", out)
				}
				rows := strings.Split(r.term.screen(), "\n")
				if strings.TrimRight(rows[10], " ") != "bob short" && !side || side && !strings.HasPrefix(rows[10], "bob short"+strings.Repeat(" ", 50-9)+"│person9") {
					t.Errorf("row 10 = %q", rows[10])
				}
				if !strings.HasPrefix(rows[9], "ann a first new line, and a long one at that") {
					t.Errorf("row 9 = %q", rows[9])
				}
			})
		}
	}
}

func TestTrailingBlanks(t *testing.T) {
	for s, want := range map[string]int{
		"abc   ":                   3,
		"\x1b[1mabc\x1b[m  ":       2,
		"\x1b[7mabc  \x1b[m":       0, // styled spaces end before the reset
		"\x1b[7mabc  ":             0, // reverse video is on: the spaces show it
		"\x1b[1mabc\x1b[0m\x1b[K ": 1,
		"\x1b]8;;http://x\x1b\\a ": 0,
		"abc":                      0,
	} {
		if got := trailingBlanks(s); got != want {
			t.Errorf("trailingBlanks(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestARightPartAfterPaddingOutsideABand: without a band (a help overlay,
// say), a row's right part follows its left part, padding included, even
// though the padding is not sent.
func TestARightPartAfterPaddingOutsideABand(t *testing.T) {
	m := newLog(40, 12, true)
	m.claim = [3]int{0, 1, 30} // too small to scroll: no band
	r := startModel(t, rowsLog{m}, m.lines, Options{Width: 40, Height: 12})
	m.add(r, "new")
	r.term.waitFor(t, "the column after the padded rows", func(s string) bool {
		rows := strings.Split(s, "\n")
		if len(rows) < 12 || !strings.HasPrefix(rows[10], "new") {
			return false
		}
		for y := 1; y <= 10; y++ {
			if !strings.HasPrefix(string([]rune(rows[y])[30:]), fmt.Sprintf("│person%d", y-1)) {
				return false
			}
		}
		return true
	})
}
