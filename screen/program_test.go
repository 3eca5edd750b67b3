package screen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/hinshun/vt10x"
)

const waitTimeout = 10 * time.Second

// lines is a test model: it shows its lines, records what it was sent,
// and quits on "q".
type lines struct {
	mu     sync.Mutex
	rows   []string
	got    []tea.Msg
	views  int
	cursor *tea.Cursor
	title  string
	onKey  func(tea.KeyPressMsg) tea.Cmd
}

type setRow struct {
	y    int
	text string
}

func (m *lines) Init() tea.Cmd { return nil }

func (m *lines) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, msg)
	switch msg := msg.(type) {
	case setRow:
		for len(m.rows) <= msg.y {
			m.rows = append(m.rows, "")
		}
		m.rows[msg.y] = msg.text
	case tea.KeyPressMsg:
		if msg.String() == "q" {
			return m, tea.Quit
		}
		if m.onKey != nil {
			return m, m.onKey(msg)
		}
	case string:
		if msg == "panic" {
			panic("model exploded")
		}
	}
	return m, nil
}

func (m *lines) View() tea.View {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.views++
	v := tea.NewView(strings.Join(m.rows, "\n"))
	v.Cursor = m.cursor
	v.WindowTitle = m.title
	return v
}

func (m *lines) received() []tea.Msg {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]tea.Msg(nil), m.got...)
}

// term is the client side: a terminal emulator fed with the frames, and
// the bytes it was fed. mu guards both (an emulator's answers to queries,
// if any, go through its own pipe).
type term struct {
	mu      sync.Mutex
	emu     emulator
	vt      vt10x.Terminal // emu, when it is vt10x (cursor, resize)
	raw     bytes.Buffer
	changed chan struct{}
}

// emulator is what term needs of a terminal emulator (vt10x or x/vt).
type emulator interface {
	io.Writer
	String() string
}

func newTerm(w, h int) *term {
	vt := vt10x.New(vt10x.WithSize(w, h))
	t := newTermOn(vt)
	t.vt = vt
	return t
}

func newTermOn(emu emulator) *term { return &term{emu: emu, changed: make(chan struct{}, 1)} }

func (t *term) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.raw.Write(p)
	_, _ = t.emu.Write(p)
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (t *term) screen() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.emu.String()
}

func (t *term) output() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.raw.String()
}

func (t *term) reset() {
	t.mu.Lock()
	t.raw.Reset()
	t.mu.Unlock()
}

// waitFor waits until the screen satisfies ok.
func (t *term) waitFor(tb testing.TB, what string, ok func(string) bool) {
	tb.Helper()
	deadline := time.After(waitTimeout)
	for {
		s := t.screen()
		if ok(s) {
			return
		}
		select {
		case <-t.changed:
		case <-deadline:
			tb.Fatalf("screen never showed %s:\n%s", what, s)
		}
	}
}

// rig runs a program between a pipe (the keyboard) and a term (the screen).
type rig struct {
	p     *Program
	model *lines
	term  *term
	keys  *io.PipeWriter
	done  chan error
	stop  context.CancelFunc
}

func start(t *testing.T, model *lines, opts Options) *rig {
	t.Helper()
	return startModel(t, model, model, opts)
}

// startModel runs model, whose messages rec records.
func startModel(t *testing.T, model tea.Model, rec *lines, opts Options) *rig {
	t.Helper()
	if opts.Width == 0 {
		opts.Width, opts.Height = 40, 10
	}
	in, keys := io.Pipe()
	tm := newTerm(opts.Width, opts.Height)
	opts.Input, opts.Output = in, tm
	r := &rig{p: New(model, opts), model: rec, term: tm, keys: keys, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- r.p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		_ = keys.Close()
		select {
		case <-r.done:
		case <-time.After(waitTimeout):
			t.Error("the program did not end")
		}
	})
	return r
}

func (r *rig) typ(t *testing.T, s string) {
	t.Helper()
	if _, err := r.keys.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// waitMsg waits until the model has received a message that ok accepts.
func (r *rig) waitMsg(t *testing.T, what string, ok func(tea.Msg) bool) tea.Msg {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, m := range r.model.received() {
			if ok(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the model never received %s; got %v", what, r.model.received())
		}
		// Polling the model's record: there is no event to wait on.
		select {
		case <-r.term.changed:
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestFramesShowTheViewAndRewriteOnlyChangedRows(t *testing.T) {
	m := &lines{rows: []string{"top line", "second", "", "\x1b[31mred\x1b[m text"}, title: "parley #lobby"}
	r := start(t, m, Options{Width: 30, Height: 6})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "red text") })
	out := r.term.output()
	for _, want := range []string{"\x1b[?1049h", "\x1b[?2004h", "\x1b]2;parley #lobby\a"} {
		if !strings.Contains(out, want) {
			t.Errorf("the first frame lacks %q: %q", want, out)
		}
	}
	r.term.reset()
	r.p.Send(setRow{1, "changed"})
	r.term.waitFor(t, "the changed row", func(s string) bool { return strings.Contains(s, "changed") })
	out = r.term.output()
	if strings.Contains(out, "top line") || strings.Contains(out, "red") {
		t.Errorf("unchanged rows were rewritten: %q", out)
	}
	rows := strings.Split(r.term.screen(), "\n")
	if strings.TrimRight(rows[0], " ") != "top line" || strings.TrimRight(rows[1], " ") != "changed" {
		t.Errorf("screen:\n%s", r.term.screen())
	}
	// A shorter row erases what the longer one left.
	r.p.Send(setRow{0, "top"})
	r.term.waitFor(t, "the shorter row", func(s string) bool { return strings.HasPrefix(s, "top ") && !strings.Contains(s, "top line") })
}

func TestWideRowsAreCutToTheWindow(t *testing.T) {
	m := &lines{rows: []string{strings.Repeat("abcdefghij", 10), "next"}}
	r := start(t, m, Options{Width: 25, Height: 4})
	r.term.waitFor(t, "both rows", func(s string) bool { return strings.Contains(s, "next") })
	rows := strings.Split(r.term.screen(), "\n")
	if rows[0] != "abcdefghijabcdefghijabcde" || strings.TrimSpace(rows[1]) != "next" {
		t.Errorf("a row wider than the window wrapped or spilled:\n%s", r.term.screen())
	}
}

func TestKeysAndPastesReachTheModel(t *testing.T) {
	m := &lines{rows: []string{"x"}}
	r := start(t, m, Options{})
	r.typ(t, "a")
	r.waitMsg(t, "the key a", func(msg tea.Msg) bool { k, ok := msg.(tea.KeyPressMsg); return ok && k.String() == "a" })
	r.typ(t, "\x1b[A") // up arrow, in one read
	r.waitMsg(t, "up", func(msg tea.Msg) bool { k, ok := msg.(tea.KeyPressMsg); return ok && k.String() == "up" })
	// A paste split over reads, its end marker split too.
	r.typ(t, "\x1b[200~first line\r")
	r.typ(t, "second \x1b[31m line\x1b[2")
	r.typ(t, "01~z")
	msg := r.waitMsg(t, "the paste", func(msg tea.Msg) bool { _, ok := msg.(tea.PasteMsg); return ok })
	if got := msg.(tea.PasteMsg).Content; got != "first line\rsecond \x1b[31m line" {
		t.Errorf("paste = %q", got)
	}
	r.waitMsg(t, "z after the paste", func(msg tea.Msg) bool { k, ok := msg.(tea.KeyPressMsg); return ok && k.String() == "z" })
	// A lone ESC is the Escape key once nothing follows it.
	r.typ(t, "\x1b")
	r.waitMsg(t, "esc", func(msg tea.Msg) bool { k, ok := msg.(tea.KeyPressMsg); return ok && k.String() == "esc" })
	// The terminal's answer to the background colour query.
	r.typ(t, "\x1b]11;rgb:ffff/ffff/ffff\x07")
	r.waitMsg(t, "the background colour", func(msg tea.Msg) bool { _, ok := msg.(tea.BackgroundColorMsg); return ok })
	r.typ(t, "q")
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Errorf("quit: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("q did not quit")
	}
	if out := r.term.output(); !strings.HasSuffix(out, "\x1b[?1049l") {
		t.Errorf("the terminal was not restored: %q", out[max(0, len(out)-80):])
	}
}

func TestPastesAreBounded(t *testing.T) {
	m := &lines{rows: []string{"x"}}
	r := start(t, m, Options{MaxPaste: 1000})
	go func() {
		_, _ = r.keys.Write([]byte("\x1b[200~" + strings.Repeat("y", 100_000) + "\x1b[201~"))
	}()
	msg := r.waitMsg(t, "the paste", func(msg tea.Msg) bool { _, ok := msg.(tea.PasteMsg); return ok })
	if got := len(msg.(tea.PasteMsg).Content); got != 1000 {
		t.Errorf("a 100,000-byte paste reached the model as %d bytes, want the 1,000 cap", got)
	}
}

func TestBurstsAreCoalescedIntoFewFrames(t *testing.T) {
	m := &lines{rows: []string{"start"}}
	r := start(t, m, Options{MinFrameInterval: 50 * time.Millisecond})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "start") })
	m.mu.Lock()
	before := m.views
	m.mu.Unlock()
	began := time.Now()
	const n = 500
	for i := 0; i < n; i++ {
		r.p.Send(setRow{0, fmt.Sprintf("message %d", i)})
	}
	r.term.waitFor(t, "the last message", func(s string) bool { return strings.Contains(s, fmt.Sprintf("message %d", n-1)) })
	m.mu.Lock()
	frames := m.views - before
	m.mu.Unlock()
	// At most one frame per interval, plus the burst drawn at once.
	if limit := int(time.Since(began)/(50*time.Millisecond)) + FrameBurst + 1; frames > limit {
		t.Errorf("%d messages drew %d frames in %v, want at most %d", n, frames, time.Since(began), limit)
	}
	if frames >= n {
		t.Errorf("every message drew its own frame")
	}
}

func TestAFrameAfterAQuietSpellIsDrawnAtOnce(t *testing.T) {
	// Two messages 1 ms apart, with a frame interval of an hour: both are
	// on the screen at once (the burst credit), not an hour later.
	m := &lines{rows: []string{"start"}}
	r := start(t, m, Options{MinFrameInterval: time.Hour})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "start") })
	for i := range FrameBurst - 1 {
		text := fmt.Sprintf("message %d", i)
		r.p.Send(setRow{0, text})
		r.term.waitFor(t, text, func(s string) bool { return strings.Contains(s, text) })
	}
}

func TestAnIdleProgramDrawsNothing(t *testing.T) {
	m := &lines{rows: []string{"quiet"}}
	r := start(t, m, Options{MinFrameInterval: time.Millisecond})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "quiet") })
	// A message that changes nothing on screen writes nothing.
	r.term.reset()
	r.p.Send("noop")
	r.waitMsg(t, "noop", func(msg tea.Msg) bool { s, ok := msg.(string); return ok && s == "noop" })
	r.p.Send(setRow{1, "marker"}) // ordered after noop: once it shows, noop's frame is done
	r.term.waitFor(t, "the marker", func(s string) bool { return strings.Contains(s, "marker") })
	if out := r.term.output(); strings.Contains(out, "quiet") {
		t.Errorf("an unchanged row was rewritten: %q", out)
	}
}

func TestCursorAndBell(t *testing.T) {
	m := &lines{rows: []string{"abc"}, cursor: tea.NewCursor(2, 0)}
	m.onKey = func(tea.KeyPressMsg) tea.Cmd { return tea.Raw("\a") }
	r := start(t, m, Options{})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "abc") })
	r.term.mu.Lock()
	c := r.term.vt.Cursor()
	visible := r.term.vt.CursorVisible()
	r.term.mu.Unlock()
	if c.X != 2 || c.Y != 0 || !visible {
		t.Errorf("cursor at %d,%d visible=%v, want 2,0 visible", c.X, c.Y, visible)
	}
	r.term.reset()
	r.typ(t, "b")
	deadline := time.After(waitTimeout)
	for !strings.Contains(r.term.output(), "\a") {
		select {
		case <-r.term.changed:
		case <-deadline:
			t.Fatalf("no bell: %q", r.term.output())
		}
	}
}

func TestNoColorDropsColoursButKeepsTheScreen(t *testing.T) {
	m := &lines{rows: []string{"\x1b[38;2;255;0;0mred\x1b[m plain"}}
	r := start(t, m, Options{Env: []string{"TERM=xterm-256color", "NO_COLOR=1"}})
	r.term.waitFor(t, "the row", func(s string) bool { return strings.Contains(s, "red plain") })
	if out := r.term.output(); strings.Contains(out, "38;2") || strings.Contains(out, "38;5") {
		t.Errorf("NO_COLOR output has colours: %q", out)
	}
}

func TestWindowSizeRedrawsAtTheNewSize(t *testing.T) {
	m := &lines{rows: []string{strings.Repeat("w", 40), "second"}}
	r := start(t, m, Options{Width: 40, Height: 5})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "second") })
	r.term.mu.Lock()
	r.term.vt.Resize(20, 5)
	r.term.mu.Unlock()
	r.p.Send(tea.WindowSizeMsg{Width: 20, Height: 5})
	r.term.waitFor(t, "the redraw", func(s string) bool {
		rows := strings.Split(s, "\n")
		return len(rows) > 1 && rows[0] == strings.Repeat("w", 20) && strings.TrimSpace(rows[1]) == "second"
	})
	r.waitMsg(t, "the size", func(msg tea.Msg) bool { w, ok := msg.(tea.WindowSizeMsg); return ok && w.Width == 20 })
}

func TestAPanicEndsOnlyThisProgramWithTheStack(t *testing.T) {
	m := &lines{rows: []string{"x"}}
	r := start(t, m, Options{})
	r.p.Send("panic")
	select {
	case err := <-r.done:
		r.done <- err
		if err == nil || !strings.Contains(err.Error(), "model exploded") || !strings.Contains(err.Error(), "program_test.go") {
			t.Errorf("err = %v, want the panic with its stack", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the program did not end")
	}
	// A command that panics ends it too.
	m2 := &lines{rows: []string{"x"}}
	m2.onKey = func(tea.KeyPressMsg) tea.Cmd { return func() tea.Msg { panic("command exploded") } }
	r2 := start(t, m2, Options{})
	r2.typ(t, "k")
	select {
	case err := <-r2.done:
		r2.done <- err
		if err == nil || !strings.Contains(err.Error(), "command exploded") {
			t.Errorf("err = %v, want the command's panic", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the program did not end")
	}
}

func TestResizeStormsCoalesce(t *testing.T) {
	m := &lines{rows: []string{"x"}}
	r := start(t, m, Options{Width: 40, Height: 10})
	const n = 2000
	for i := 1; i <= n; i++ {
		r.p.Resize(20+i%50, 5+i%7)
	}
	r.p.Resize(33, 9)
	r.waitMsg(t, "the last size", func(msg tea.Msg) bool { w, ok := msg.(tea.WindowSizeMsg); return ok && w.Width == 33 && w.Height == 9 })
	sizes := 0
	for _, msg := range r.model.received() {
		if _, ok := msg.(tea.WindowSizeMsg); ok {
			sizes++
		}
	}
	if sizes > n/2 {
		t.Errorf("%d resizes reached the model %d times, want them coalesced", n, sizes)
	}
}

func TestRowsArePreparedPerWidthAndProfile(t *testing.T) {
	c := newRowCache(1, 4)
	row := "\x1b[38;2;255;0;0mred\x1b[m and a longer tail"
	h := uint64(42)
	full := c.prepare(row, h, 80, 0, colorprofile.TrueColor)
	cut := c.prepare(row, h, 5, 0, colorprofile.TrueColor)
	mono := c.prepare(row, h, 80, 0, colorprofile.Ascii)
	if full.out != row || full.width != 21 {
		t.Errorf("full = %+v", full)
	}
	if cut.width != 5 || !strings.Contains(cut.out, "red") || strings.Contains(cut.out, "longer") {
		t.Errorf("cut = %+v", cut)
	}
	if strings.Contains(mono.out, "38;2") || ansi.Strip(mono.out) != "red and a longer tail" {
		t.Errorf("ascii = %q", mono.out)
	}
	// A different row under the same hash is not mistaken for the first.
	other := c.prepare("other", h, 80, 0, colorprofile.TrueColor)
	if other.out != "other" {
		t.Errorf("a hash collision returned %q", other.out)
	}
	// Bounded: more rows than the cache holds empty it.
	for i := range 10 {
		c.prepare(fmt.Sprint(i), uint64(i), 80, 0, colorprofile.TrueColor)
	}
	if n := len(c.shards[0].rows); n > 4 {
		t.Errorf("the cache holds %d rows, bound 4", n)
	}
}

func BenchmarkDraw(b *testing.B) {
	for _, w := range []int{40, 100, 250} {
		b.Run(fmt.Sprintf("scroll/%dcols", w), func(b *testing.B) {
			m := &lines{}
			for i := range 30 {
				m.rows = append(m.rows, fmt.Sprintf("\x1b[1;38;2;200;100;0mname%d\x1b[m %s", i, strings.Repeat("text ", w/6)))
			}
			p := New(m, Options{Output: io.Discard, Width: w, Height: 30, Env: []string{"TERM=xterm-256color"}})
			b.ReportAllocs()
			for b.Loop() {
				// A new message scrolls every row: each one is rewritten.
				m.rows = append(m.rows[1:], m.rows[0])
				if err := p.draw(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestDropResetStyles(t *testing.T) {
	for in, want := range map[string]string{
		"\x1b[1m\x1b[m\x1b[2m│x":   "\x1b[2m│x",
		"\x1b[1m\x1b[0mx":          "x",
		"\x1b[1mx":                 "\x1b[1mx", // no reset: the style is still on
		"\x1b[m\x1b[38;5;2m\x1b[m": "",
		"plain":                    "plain",
		"\x1b[2J\x1b[mx":           "\x1b[2J\x1b[mx", // not a style: stop
	} {
		if got := dropResetStyles(in); got != want {
			t.Errorf("dropResetStyles(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDropTrailingStyles(t *testing.T) {
	for in, want := range map[string]string{
		"x\x1b[38;5;244m\x1b[m\x1b[38;5;135m\x1b[m": "x",
		"\x1b[1mx\x1b[m": "\x1b[1mx",
		"plain m":        "plain m",
		"x\x1b[2J":       "x\x1b[2J",
		"":               "",
	} {
		if got := dropTrailingStyles(in); got != want {
			t.Errorf("dropTrailingStyles(%q) = %q, want %q", in, got, want)
		}
	}
}

// fedModel is fed by the loop (Feed) from its own channel.
type fedModel struct {
	*lines
	ready chan struct{}
	mu    sync.Mutex
	queue []string
}

func (m *fedModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := m.lines.Update(msg)
	return m, cmd
}

func (m *fedModel) Ready() <-chan struct{} { return m.ready }

func (m *fedModel) Take() tea.Msg {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queue) == 0 {
		return nil
	}
	text := m.queue[0]
	m.queue = m.queue[1:]
	if len(m.queue) > 0 {
		select {
		case m.ready <- struct{}{}:
		default:
		}
	}
	return setRow{0, text}
}

func (m *fedModel) push(text string) {
	m.mu.Lock()
	m.queue = append(m.queue, text)
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

func TestAFedModelIsServedByTheLoop(t *testing.T) {
	m := &fedModel{lines: &lines{rows: []string{"waiting"}}, ready: make(chan struct{}, 1)}
	r := startModel(t, m, m.lines, Options{})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "waiting") })
	for i := range 5 {
		m.push(fmt.Sprintf("fed %d", i))
	}
	r.term.waitFor(t, "the last fed message", func(s string) bool { return strings.Contains(s, "fed 4") })
	var rows []string
	for _, msg := range r.model.received() {
		if s, ok := msg.(setRow); ok {
			rows = append(rows, s.text)
		}
	}
	if len(rows) != 5 || rows[0] != "fed 0" {
		t.Errorf("the model got %q, want fed 0..4 in order", rows)
	}
}

// lazyModel's updates are lazy while its flag says so.
type lazyModel struct {
	*lines
	lazy bool
}

func (m *lazyModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := m.lines.Update(msg)
	if s, ok := msg.(setRow); ok {
		m.lazy = strings.HasPrefix(s.text, "lazy")
	} else {
		m.lazy = false
	}
	return m, cmd
}

func (m *lazyModel) Lazy() bool { return m.lazy }

func TestLazyUpdatesWaitButUrgentOnesDoNot(t *testing.T) {
	m := &lazyModel{lines: &lines{rows: []string{"start"}}}
	r := startModel(t, m, m.lines, Options{MinFrameInterval: time.Millisecond, LazyFrameInterval: time.Hour})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "start") })
	r.p.Send(setRow{0, "lazy join"})
	r.waitMsg(t, "the lazy update", func(msg tea.Msg) bool { s, ok := msg.(setRow); return ok && s.text == "lazy join" })
	// An urgent update right after is drawn at once, with the lazy one.
	r.p.Send(setRow{1, "urgent message"})
	r.term.waitFor(t, "the urgent message", func(s string) bool { return strings.Contains(s, "urgent message") })
	if s := r.term.screen(); !strings.Contains(s, "lazy join") {
		t.Errorf("the lazy update is not on screen with the urgent one:\n%s", s)
	}
	// A lazy update alone waits (an hour here): the screen does not show it.
	r.p.Send(setRow{2, "lazy leave"})
	r.p.Send(setRow{3, "lazy again"}) // handled after lazy leave was scheduled
	r.waitMsg(t, "the next lazy update", func(msg tea.Msg) bool { s, ok := msg.(setRow); return ok && s.text == "lazy again" })
	if s := r.term.screen(); strings.Contains(s, "lazy leave") {
		t.Errorf("a lazy update was drawn at once:\n%s", s)
	}
	r.p.Send("noop-marker")
	r.waitMsg(t, "the marker", func(msg tea.Msg) bool { s, ok := msg.(string); return ok && s == "noop-marker" })
	// noop-marker is urgent (not lazy): it draws, and with it the lazy row.
	r.term.waitFor(t, "the lazy row drawn by the urgent one", func(s string) bool { return strings.Contains(s, "lazy leave") })
}

// TestBytesWrittenCountsEveryByte: the counter behind
// parley_ssh_bytes_written_total grows by exactly what the terminal got,
// frames and the restore at the end.
func TestBytesWrittenCountsEveryByte(t *testing.T) {
	before := BytesWritten()
	m := &lines{rows: []string{"one", "two"}}
	r := start(t, m, Options{Width: 30, Height: 6})
	r.term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "two") })
	r.p.Send(setRow{1, "three"})
	r.term.waitFor(t, "the change", func(s string) bool { return strings.Contains(s, "three") })
	r.typ(t, "q")
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
	case <-time.After(waitTimeout):
		t.Fatal("the program did not quit")
	}
	if got, want := BytesWritten()-before, int64(len(r.term.output())); got != want || want == 0 {
		t.Errorf("counted %d bytes, the terminal got %d", got, want)
	}
}
