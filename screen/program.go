package screen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
)

// Defaults for the zero values of Options.
const (
	// DefaultFrameInterval caps a session at 40 frames a second, on
	// average: see FrameBurst.
	DefaultFrameInterval = 25 * time.Millisecond
	// FrameBurst is how many frames may follow each other closer than
	// MinFrameInterval after a quiet spell: a message that arrives just
	// after another is drawn at once instead of waiting out the interval,
	// and a sustained stream still gets at most one frame per interval
	// (plus FrameBurst-1).
	FrameBurst = 3
	// DefaultLazyFrameInterval spaces frames that only show lazy updates.
	DefaultLazyFrameInterval = 500 * time.Millisecond
	// DefaultEscTimeout is how long a lone ESC waits for the rest of an
	// escape sequence before it counts as the Escape key.
	DefaultEscTimeout = 50 * time.Millisecond
	// DefaultMaxPaste bounds one bracketed paste; the rest is dropped (the
	// model cuts a message far shorter anyway).
	DefaultMaxPaste = 256 << 10
)

// Frames are built in buffers shared by all programs (framePool,
// bufPool): an idle screen holds none, and a screen that redraws its
// member column after quiet spells does not grow a buffer of its own each
// time. keepFrameBuf is the largest buffer that goes back to the pool.
const keepFrameBuf = 64 << 10

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// takeBuf gives the program an empty frame buffer until putBuf.
func (p *Program) takeBuf() {
	p.buf = bufPool.Get().(*bytes.Buffer)
	p.buf.Reset()
}

func (p *Program) putBuf() {
	if p.buf.Cap() <= keepFrameBuf {
		bufPool.Put(p.buf)
	}
	p.buf = nil
}

// written counts the bytes every Program in this process wrote to its
// terminal (BytesWritten).
var written atomic.Int64

// BytesWritten returns how many bytes all Programs of this process have
// written to their terminals: frames, and what restores a terminal at the
// end. Safe for concurrent use.
func BytesWritten() int64 { return written.Load() }

// readSize is the reader goroutine's buffer: keystrokes are a few bytes, and
// a paste arrives in several reads.
const readSize = 512

// Options configures a Program.
type Options struct {
	// Input is what the terminal sends (the SSH channel).
	Input io.Reader
	// Output is where frames are written (the SSH channel).
	Output io.Writer
	// Env is the client's environment (TERM, COLORTERM, NO_COLOR, ...): it
	// picks the colour profile frames are written in.
	Env []string
	// Width and Height are the terminal's size in cells.
	Width, Height int
	// MinFrameInterval is the shortest time between two frames
	// (DefaultFrameInterval when zero).
	MinFrameInterval time.Duration
	// LazyFrameInterval is the shortest time between frames that show only
	// lazy updates (DefaultLazyFrameInterval when zero).
	LazyFrameInterval time.Duration
	// EscTimeout: see DefaultEscTimeout.
	EscTimeout time.Duration
	// MaxPaste: see DefaultMaxPaste.
	MaxPaste int
}

// Lazy is implemented by a model whose updates are not all urgent: when
// every update since the last frame was lazy (people arriving, say), the
// frame waits LazyFrameInterval instead of MinFrameInterval.
type Lazy interface {
	Lazy() bool
}

// Feed is implemented by a model that takes messages from a source of its
// own (a chat session): the program's loop waits on Ready and calls Take,
// instead of a goroutine per session blocked on the source. Take must not
// wait; it returns nil when nothing is there. Ready is asked again after
// every Take and may return nil: no source, or it has ended (a channel that
// stays ready after the end would make the loop spin).
type Feed interface {
	Ready() <-chan struct{}
	Take() tea.Msg
}

// MarginsMsg tells the model, once, that the terminal has left and right
// margins (DECLRMM; asked for at start): a Band narrower than the screen
// then scrolls alone, and what is beside it costs nothing when the log
// moves. Until then, and on terminals that never say so (tmux, xterm.js,
// VTE), a scroll moves the whole width and every row beside the band
// whose content differs from the row below it is written again.
type MarginsMsg struct{}

// Program runs one model on one terminal. Create it with New, start it
// with Run, and feed it outside events with Send and window sizes with
// Resize.
type Program struct {
	opts Options
	msgs chan tea.Msg  // to the event loop: input, command results, Send
	quit chan struct{} // closed when Run returns: nobody may wait on msgs after

	resized chan struct{} // cap 1: a new size waits in size
	sizeMu  sync.Mutex
	size    [2]int // the newest size given to Resize, taken by the loop
	color   colorprofile.Profile

	// Owned by the event loop (Run).
	model         tea.Model
	width, height int
	dec           uv.EventDecoder
	pending       []byte // input not decoded yet
	pasting       bool
	paste         []byte
	escTimer      *time.Timer
	escC          <-chan time.Time // escTimer's channel while armed, else nil
	frameTimer    *time.Timer
	frameC        <-chan time.Time // frameTimer's channel while armed, else nil
	frameLazy     bool             // the armed frame waits the lazy interval
	dirty         bool             // the model changed since the last frame
	urgent        bool             // ... and not only lazily (Lazy)
	lastFrame     time.Time
	frameDue      time.Time // when the frame credit is whole again (schedule)
	rows          []uint64  // hash of each row as drawn; nil: redraw everything
	band          band      // the model's log region in the last frame (band.go)
	spare         band      // the band before it, whose slices the next frame reuses
	lrmm          bool      // the terminal has left/right margins, and they are on
	styled        bool      // a style (SGR) may be on at the end of what was written
	title         string
	cursor        cursorState
	raw           []byte        // tea.Raw output waiting for the next frame
	buf           *bytes.Buffer // the frame being built, during draw (takeBuf)
	quitting      bool
	err           error
}

type cursorState struct {
	x, y    int
	visible bool
}

// inputMsg is a chunk read from the terminal; inputErr ends the input.
type (
	inputMsg []byte
	inputErr struct{ err error }
	panicMsg struct{ err error }
)

// New returns a program for model. Nothing runs until Run.
func New(model tea.Model, opts Options) *Program {
	if opts.MinFrameInterval <= 0 {
		opts.MinFrameInterval = DefaultFrameInterval
	}
	if opts.LazyFrameInterval <= 0 {
		opts.LazyFrameInterval = DefaultLazyFrameInterval
	}
	if opts.EscTimeout <= 0 {
		opts.EscTimeout = DefaultEscTimeout
	}
	if opts.MaxPaste <= 0 {
		opts.MaxPaste = DefaultMaxPaste
	}
	if opts.Width <= 0 || opts.Height <= 0 {
		opts.Width, opts.Height = 80, 24
	}
	profile := colorprofile.Env(opts.Env)
	if profile < colorprofile.Ascii {
		profile = colorprofile.Ascii // keep cursor movement; drop colours
	}
	return &Program{
		opts:    opts,
		msgs:    make(chan tea.Msg, 16),
		quit:    make(chan struct{}),
		resized: make(chan struct{}, 1),
		color:   profile,
		model:   model,
		width:   opts.Width,
		height:  opts.Height,
		styled:  true, // the terminal's state is not known yet
	}
}

// Send hands msg to the model. It waits while the loop is busy and returns
// without effect once the program has ended.
func (p *Program) Send(msg tea.Msg) {
	select {
	case p.msgs <- msg:
	case <-p.quit:
	}
}

// Resize tells the program the terminal's new size. It never waits: of
// sizes given faster than the loop takes them, only the newest counts, so a
// storm of resizes costs one redraw.
func (p *Program) Resize(width, height int) {
	p.sizeMu.Lock()
	p.size = [2]int{width, height}
	p.sizeMu.Unlock()
	select {
	case p.resized <- struct{}{}:
	default:
	}
}

// post is Send that reports whether the program still runs.
func (p *Program) post(msg tea.Msg) bool {
	select {
	case p.msgs <- msg:
		return true
	case <-p.quit:
		return false
	}
}

// Run runs the program until the model quits, ctx is done, or the terminal
// cannot be read (other than its end) or written. A panic in the model or in a command
// ends the program with an error that holds the stack.
func (p *Program) Run(ctx context.Context) (err error) {
	defer close(p.quit)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("screen: panic in the session's model: %v\n%s", r, debug.Stack())
		}
	}()
	p.raw = append(p.raw, ansi.SetModeAltScreenSaveCursor+ansi.SetModeBracketedPaste+
		ansi.SetModifyOtherKeys2+ansi.PushKittyKeyboard(ansi.KittyDisambiguateEscapeCodes)+
		ansi.RequestBackgroundColor+ansi.RequestModeLeftRightMargin...) // written with the first frame
	go p.read()
	p.exec(p.model.Init())
	p.update(tea.WindowSizeMsg{Width: p.width, Height: p.height})
	if err := p.draw(); err != nil {
		return err
	}
	feed, _ := p.model.(Feed)
	var ready <-chan struct{}
	if feed != nil {
		ready = feed.Ready()
	}
	for !p.quitting {
		select {
		case <-ready:
			if msg := feed.Take(); msg != nil {
				p.handle(msg)
			}
			ready = feed.Ready() // nil once the source has nothing more to give
		case <-ctx.Done():
			return nil // the connection is gone: nothing to restore
		case msg := <-p.msgs:
			p.handle(msg)
			// Take what else is waiting, so a burst costs one frame.
			for i := 0; i < 64 && !p.quitting; i++ {
				select {
				case msg = <-p.msgs:
					p.handle(msg)
					continue
				default:
				}
				break
			}
		case <-p.resized:
			p.sizeMu.Lock()
			size := p.size
			p.sizeMu.Unlock()
			p.handle(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		case <-p.escC:
			p.escC = nil
			p.decode(true)
		case <-p.frameC:
			p.frameC = nil
			if err := p.drawScheduled(time.Now()); err != nil {
				return err
			}
			continue
		}
		if p.err != nil {
			return p.err
		}
		if !p.quitting {
			if err := p.schedule(); err != nil {
				return err
			}
		}
	}
	if p.err != nil {
		return p.err
	}
	p.takeBuf()
	defer p.putBuf()
	p.buf.Write(p.raw)
	if p.lrmm {
		p.buf.WriteString(ansi.ResetModeLeftRightMargin)
	}
	p.buf.WriteString(ansi.ResetStyle + ansi.ShowCursor + ansi.ResetModeBracketedPaste +
		ansi.ResetModifyOtherKeys + ansi.PopKittyKeyboard(1) + ansi.ResetModeAltScreenSaveCursor)
	n, err := p.opts.Output.Write(p.buf.Bytes())
	written.Add(int64(n))
	if err != nil {
		return fmt.Errorf("screen: restoring the terminal: %w", err)
	}
	return nil
}

// read is the reader goroutine: it owns buf and hands copies to the loop.
// It ends when the input does (the connection closes after Run returns).
func (p *Program) read() {
	var buf [readSize]byte
	for {
		n, err := p.opts.Input.Read(buf[:])
		if n > 0 && !p.post(inputMsg(append([]byte(nil), buf[:n]...))) {
			return
		}
		if err != nil {
			p.post(inputErr{err})
			return
		}
	}
}

// exec runs cmd on its own goroutine and posts its message to the loop.
func (p *Program) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				p.post(panicMsg{fmt.Errorf("screen: panic in a command: %v\n%s", r, debug.Stack())})
			}
		}()
		if msg := cmd(); msg != nil {
			p.post(msg)
		}
	}()
}

// handle takes one message on the loop.
func (p *Program) handle(msg tea.Msg) {
	switch msg := msg.(type) {
	case inputMsg:
		p.pending = append(p.pending, msg...)
		p.decode(false)
	case inputErr:
		// End of input is not the end of the session: a client may close
		// its side (ssh without stdin) and keep reading.
		if !errors.Is(msg.err, io.EOF) {
			p.quitting, p.err = true, fmt.Errorf("screen: reading the terminal: %w", msg.err)
		}
	case panicMsg:
		p.quitting, p.err = true, msg.err
	case tea.QuitMsg:
		p.quitting = true
	case tea.BatchMsg:
		for _, cmd := range msg {
			p.exec(cmd)
		}
	case tea.RawMsg:
		p.raw = fmt.Append(p.raw, msg.Msg)
		p.dirty = true
	case tea.WindowSizeMsg:
		if msg.Width > 0 && msg.Height > 0 && (msg.Width != p.width || msg.Height != p.height) {
			p.width, p.height = msg.Width, msg.Height
			p.rows = nil // redraw everything at the new size
		}
		p.update(msg)
	default:
		p.update(msg)
	}
}

// update runs the model's Update.
func (p *Program) update(msg tea.Msg) {
	var cmd tea.Cmd
	p.model, cmd = p.model.Update(msg)
	p.dirty = true
	if l, ok := p.model.(Lazy); !ok || !l.Lazy() {
		p.urgent = true
	}
	p.exec(cmd)
}

// schedule draws now when the last frame is old enough, or arms the frame
// timer for when it is.
func (p *Program) schedule() error {
	if !p.dirty || p.frameC != nil && (!p.urgent || !p.frameLazy) {
		return nil // nothing new, or a frame soon enough is on its way
	}
	now := time.Now()
	var wait time.Duration
	if p.urgent {
		// A credit of FrameBurst frames, one back per interval: frameDue
		// is when it is whole, each frame moves it an interval later.
		wait = p.frameDue.Add(-time.Duration(FrameBurst-1) * p.opts.MinFrameInterval).Sub(now)
	} else {
		wait = p.opts.LazyFrameInterval - now.Sub(p.lastFrame)
	}
	if wait <= 0 {
		if p.frameC != nil {
			p.frameTimer.Stop()
			p.frameC = nil
		}
		return p.drawScheduled(now)
	}
	if p.frameTimer == nil {
		p.frameTimer = time.NewTimer(wait)
	} else {
		p.frameTimer.Reset(wait)
	}
	p.frameC, p.frameLazy = p.frameTimer.C, !p.urgent
	return nil
}

// drawScheduled draws a frame that schedule allowed: an urgent one spends
// a frame of credit.
func (p *Program) drawScheduled(now time.Time) error {
	if p.urgent {
		p.frameDue = maxTime(p.frameDue, now).Add(p.opts.MinFrameInterval)
	}
	return p.draw()
}

// maxTime returns the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// pasteEnd closes a bracketed paste.
const pasteEnd = "\x1b[201~"

// decode turns pending input into messages. With expired false, a lone ESC
// or an unfinished sequence at the end waits (EscTimeout) for more bytes.
func (p *Program) decode(expired bool) {
	for len(p.pending) > 0 && !p.quitting {
		if p.pasting {
			i := bytes.Index(p.pending, []byte(pasteEnd))
			if i < 0 {
				// Keep a tail that may be the start of the end marker.
				keep := 0
				for k := min(len(pasteEnd)-1, len(p.pending)); k > 0; k-- {
					if bytes.HasSuffix(p.pending, []byte(pasteEnd[:k])) {
						keep = k
						break
					}
				}
				p.addPaste(p.pending[:len(p.pending)-keep])
				p.pending = append(p.pending[:0], p.pending[len(p.pending)-keep:]...)
				break
			}
			p.addPaste(p.pending[:i])
			p.pending = p.pending[i+len(pasteEnd):]
			content := string(p.paste)
			p.pasting, p.paste = false, nil
			p.update(tea.PasteMsg{Content: content})
			continue
		}
		n, ev := p.dec.Decode(p.pending)
		if n <= 0 {
			break
		}
		if !expired && p.pending[0] == ansi.ESC && n == len(p.pending) {
			if _, unknown := ev.(uv.UnknownEvent); unknown || n <= 2 {
				p.armEsc() // maybe the rest of a sequence is on its way
				break
			}
		}
		p.pending = p.pending[n:]
		p.event(ev)
	}
	if len(p.pending) == 0 && cap(p.pending) > readSize {
		p.pending = nil
	}
}

func (p *Program) armEsc() {
	if p.escC != nil {
		return
	}
	if p.escTimer == nil {
		p.escTimer = time.NewTimer(p.opts.EscTimeout)
	} else {
		p.escTimer.Reset(p.opts.EscTimeout)
	}
	p.escC = p.escTimer.C
}

// addPaste keeps up to MaxPaste bytes of a paste.
func (p *Program) addPaste(b []byte) {
	if room := p.opts.MaxPaste - len(p.paste); room > 0 {
		p.paste = append(p.paste, b[:min(len(b), room)]...)
	}
}

// event hands one decoded input event to the model as Bubble Tea's message.
func (p *Program) event(ev uv.Event) {
	switch ev := ev.(type) {
	case uv.MultiEvent:
		for _, e := range ev {
			p.event(e)
		}
	case uv.PasteStartEvent:
		p.pasting, p.paste = true, []byte{}
	case uv.KeyPressEvent:
		p.update(tea.KeyPressMsg(ev))
	case uv.BackgroundColorEvent:
		p.update(tea.BackgroundColorMsg(ev))
	case uv.ModeReportEvent:
		// The terminal has left and right margins: a log beside something
		// else can scroll alone (band.go).
		if ev.Mode == ansi.ModeLeftRightMargin && (ev.Value.IsSet() || ev.Value.IsReset()) && !p.lrmm {
			p.lrmm = true
			p.raw = append(p.raw, ansi.SetModeLeftRightMargin...)
			p.update(MarginsMsg{})
		}
	case uv.PasteEvent:
		p.update(tea.PasteMsg(ev))
	}
	// Everything else (key releases, mouse, focus, replies to queries we do
	// not make, unknown sequences) is dropped.
}

// draw writes the rows that changed since the last frame.
func (p *Program) draw() error {
	p.dirty, p.urgent = false, false
	p.lastFrame = time.Now()
	f := framePool.Get().(*frame)
	f.size(p.height)
	defer func() {
		f.clear() // keep no reference to the frame's text
		framePool.Put(f)
	}()
	var v tea.View
	rm, parts := p.model.(Rows)
	if f.parts = parts; parts {
		v = rm.ViewRows(f.lines, f.rights)
	} else {
		v = p.model.View()
		rest := v.Content
		for y := range f.lines {
			f.lines[y], rest, _ = strings.Cut(rest, "\n")
			f.hashes[y] = maphash.String(seed, f.lines[y])
		}
	}
	f.top, f.bottom, f.width = p.modelBand() // after the view: Band describes it
	if parts {
		f.hashParts()
	}
	p.takeBuf()
	defer p.putBuf()
	b := p.buf
	b.Write(p.raw)
	changed := len(p.raw) > 0
	p.styled = p.styled || changed // raw output may set a style
	p.raw = p.raw[:0]
	b.WriteString(ansi.HideCursor) // while rows are drawn
	start := b.Len()
	if t := cleanTitle(v.WindowTitle); t != p.title {
		p.title = t
		b.WriteString(ansi.SetWindowTitle(t))
	}
	if len(p.rows) != p.height {
		b.WriteString(ansi.ResetStyle + ansi.EraseEntireScreen)
		p.styled = false
		p.rows = make([]uint64, p.height)
		p.band = band{} // nothing on screen to scroll
		for y := range p.rows {
			p.rows[y] = blankRow
		}
	}
	p.scrollBand(f)
	for y, h := range f.hashes {
		if p.rows[y] == h {
			continue
		}
		wasBlank := p.rows[y] == blankRow
		p.rows[y] = h
		writeCUP(b, 1, y+1)
		p.resetStyle()
		w := p.writeRow(f, y, wasBlank)
		if w < p.width && !wasBlank {
			p.resetStyle()
			b.WriteString(ansi.EraseLineRight)
		}
	}
	cur := cursorState{}
	if c := v.Cursor; c != nil {
		cur = cursorState{x: min(max(c.X, 0), p.width-1), y: min(max(c.Y, 0), p.height-1), visible: true}
	}
	if b.Len() == start && !changed && cur == p.cursor {
		return nil // nothing to say
	}
	if cur.visible {
		writeCUP(b, cur.x+1, cur.y+1)
		b.WriteString(ansi.ShowCursor)
	}
	p.cursor = cur
	n, err := p.opts.Output.Write(b.Bytes())
	written.Add(int64(n))
	if err != nil {
		return fmt.Errorf("screen: writing a frame: %w", err)
	}
	return nil
}

// frame is a frame's rows, reused between frames (of any Program, from
// framePool: an idle screen holds none): whole lines (from View), or with
// a Rows model (parts) each row's two parts and their hashes. top, bottom
// and width are the model's band (modelBand), asked once per frame.
type frame struct {
	lines, rights      []string
	hashes             []uint64 // each row's: what p.rows compares
	leftH, rightH      []uint64 // with parts: each part's (0 for an empty right part)
	parts              bool
	top, bottom, width int
}

var framePool = sync.Pool{New: func() any { return new(frame) }}

// size makes the frame's slices n rows long, reusing their arrays.
func (f *frame) size(n int) {
	if cap(f.lines) < n {
		f.lines, f.rights = make([]string, n), make([]string, n)
		f.hashes, f.leftH, f.rightH = make([]uint64, n), make([]uint64, n), make([]uint64, n)
	}
	f.lines, f.rights = f.lines[:n], f.rights[:n]
	f.hashes, f.leftH, f.rightH = f.hashes[:n], f.leftH[:n], f.rightH[:n]
}

func (f *frame) clear() {
	clear(f.lines)
	clear(f.rights)
}

// rightAt is the cell row y's right part starts at: the band's width
// within the band, whatever the left part's width (where the member list
// is drawn is part of what a row is); 0 elsewhere, right after the left
// part.
func (f *frame) rightAt(y int) int {
	if f.rightH[y] != 0 && y >= f.top && y < f.bottom {
		return f.width
	}
	return 0
}

// hashParts hashes a Rows frame.
func (f *frame) hashParts() {
	for y, l := range f.lines {
		f.leftH[y] = maphash.String(seed, l)
		f.rightH[y] = 0
		if r := f.rights[y]; r != "" {
			f.rightH[y] = maphash.String(seed, r)
		}
		f.hashes[y] = partsHash(f.leftH[y], f.rightH[y], f.rightAt(y))
	}
}

// partsHash is a row's hash from its parts'. A row without a right part
// hashes as its left part does alone, as a whole line would.
func partsHash(left, right uint64, at int) uint64 {
	if right == 0 {
		return left
	}
	return left ^ bits.RotateLeft64(right*0x9e3779b97f4a7c15+uint64(at), 23)
}

// writeRow writes row y of the frame from the cursor at its first column
// and returns how many cells it took, not counting spaces at its end that
// it left out (the caller erases the rest of the row unless it is blank
// already: wasBlank).
func (p *Program) writeRow(f *frame, y int, wasBlank bool) int {
	if !f.parts {
		row := rowCache.prepare(f.lines[y], f.hashes[y], p.width, 0, p.color)
		p.text(row.out, row.blanks, row.sgr)
		return row.width - row.blanks
	}
	limit, at := p.width, f.rightAt(y)
	if at > 0 {
		limit = at
	}
	left := rowCache.prepare(f.lines[y], f.leftH[y], limit, 0, p.color)
	p.text(left.out, left.blanks, left.sgr)
	w := left.width - left.blanks
	if f.rightH[y] == 0 || left.width >= p.width {
		return w
	}
	if at == 0 {
		at = left.width // right after the left part, its padding included
	}
	if at > w { // blank up to where the right part starts
		p.resetStyle()
		if !wasBlank {
			p.buf.WriteString(ansi.ECH(at - w))
		}
		p.buf.WriteString(ansi.CUF(at - w))
		w = at
	}
	return w + p.writeRight(f, y, w)
}

// writeRight writes the right part of row y, which starts at cell at, and
// returns how many cells it took (less spaces at its end: see writeRow).
func (p *Program) writeRight(f *frame, y, at int) int {
	right := rowCache.prepare(f.rights[y], f.rightH[y], p.width-at, 0, p.color)
	p.text(right.out, right.blanks, right.sgr)
	return right.width - right.blanks
}

// blankRow is the hash of an empty row: what p.rows holds for a row the
// terminal shows blank (erased, or scrolled in).
var blankRow = maphash.String(seed, "")

// text writes s less its last blanks bytes (unstyled spaces) and notes
// whether it leaves a style on: sgr is lastSGR(s), kept with the
// prepared row.
func (p *Program) text(s string, blanks int, sgr int8) {
	p.buf.WriteString(s[:len(s)-blanks])
	switch sgr {
	case sgrSet:
		p.styled = true
	case sgrReset:
		p.styled = false
	}
}

// resetStyle ends the style written last, unless none is on: the rows'
// own text usually ends with a reset already.
func (p *Program) resetStyle() {
	if p.styled {
		p.buf.WriteString(ansi.ResetStyle)
		p.styled = false
	}
}

// What the last SGR sequence of a text does.
const (
	sgrNone  int8 = iota // there is none
	sgrReset             // it resets every style
	sgrSet               // it sets one
)

// lastSGR says what the last SGR sequence in s does.
func lastSGR(s string) int8 {
	for end := len(s); ; {
		i := strings.LastIndex(s[:end], "\x1b[")
		if i < 0 {
			return sgrNone
		}
		j := i + 2
		for j < len(s) && s[j] >= 0x30 && s[j] <= 0x3f {
			j++
		}
		if j < len(s) && s[j] == 'm' {
			if params := s[i+2 : j]; params == "" || params == "0" {
				return sgrReset
			}
			return sgrSet
		}
		end = i
	}
}

// cleanTitle keeps a window title printable and short.
func cleanTitle(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			return -1
		}
		return r
	}, s)
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.ToValidUTF8(s, "")
}
