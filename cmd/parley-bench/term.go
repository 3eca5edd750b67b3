package main

import (
	"bytes"
	"io"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/mattn/go-runewidth"
)

// term is the bench's default terminal emulator: a grid of characters with
// what a screen needs for its text to be right (cursor movement, erasing,
// auto-wrap, wide characters, the alternate screen, scroll regions with
// left/right margins) and answers to the queries a server makes at start
// (background colour, DECRQM, device attributes, cursor position). Colours
// and attributes are parsed and dropped: the bench reads text.
//
// Why not x/vt alone: it keeps a 112-byte cell (text, style, link) and
// moves a scrolled region cell by cell; a thousand emulators scrolling on
// every message made the load generator most of what was measured (85 us
// per receiver per message, against the server's 42). Here a cell is a rune
// and a region scrolls with copy. The escape sequences are decoded by
// x/ansi's parser (the one x/vt uses); x/vt stays selectable (-emulator
// xvt), and a test feeds the same recorded server output to both and
// compares their screens after every chunk.
//
// A term is owned by its session's reader goroutine; answers are written
// from it, synchronously.
type term struct {
	parser     *ansi.Parser
	answers    io.Writer
	cols, rows int

	main, alt []rune // row-major cells: ' ' blank, 0 the right half of a wide character
	cells     []rune // main or alt: the screen shown
	altOn     bool
	changed   []bool // by row: written to since the last scan (see Changed)

	x, y     int
	wrapNext bool // the last column was written: the next character wraps
	// The scroll region is rows [top, bottom); the margins are columns
	// [left, right), the whole width unless DECLRMM is on.
	top, bottom, left, right int

	lrmm, autowrap, origin bool
	declineLRMM            bool         // -margins decline: mode 69 is not recognized
	modes                  map[int]bool // DEC private modes set (true) or reset, as asked back with DECRQM
	saved                  [2]savedCursor
	last                   rune // the last character printed, for REP
}

// savedCursor is what DECSC saves, one per screen.
type savedCursor struct {
	x, y             int
	wrapNext, origin bool
}

// recognizedModes are the DEC private modes a term reports on (as x/vt
// does), with their defaults; others are reported as not recognized.
var recognizedModes = map[int]bool{
	1: false, 6: false, 7: true, 9: false, 20: false, 25: true, 66: false, 69: false,
	1000: false, 1001: false, 1002: false, 1003: false, 1004: false, 1006: false,
	1047: false, 1048: false, 1049: false, 2004: false,
}

// termWidth measures characters as narrow where East Asian width is
// ambiguous (box drawing, arrows), as x/vt and most terminals do,
// whatever the locale.
var termWidth = &runewidth.Condition{EastAsianWidth: false}

// newTerm returns a blank cols x rows term whose answers go to answers.
func newTerm(cols, rows int, answers io.Writer) *term {
	t := &term{cols: cols, rows: rows, answers: answers}
	t.main = make([]rune, cols*rows)
	t.changed = make([]bool, rows)
	t.parser = ansi.NewParser()
	t.parser.SetDataSize(256) // OSC queries are short; the default is 64 KiB per parser
	t.parser.SetHandler(ansi.Handler{
		Print:     t.print,
		Execute:   t.execute,
		HandleCsi: t.csi,
		HandleEsc: t.esc,
		HandleOsc: t.osc,
	})
	t.reset()
	return t
}

// reset is RIS: blank screens, no margins, default modes, cursor home.
func (t *term) reset() {
	fill(t.main, ' ')
	t.alt = nil
	t.cells, t.altOn = t.main, false
	t.x, t.y, t.wrapNext = 0, 0, false
	t.top, t.bottom, t.left, t.right = 0, t.rows, 0, t.cols
	t.lrmm, t.autowrap, t.origin = false, true, false
	t.modes = make(map[int]bool, len(recognizedModes))
	for m, v := range recognizedModes {
		t.modes[m] = v
	}
	if t.declineLRMM {
		delete(t.modes, 69) // not recognized: asked, it says so; set, it ignores it
	}
	t.saved = [2]savedCursor{}
	t.touchAll()
}

// Write feeds output to the terminal.
func (t *term) Write(p []byte) (int, error) {
	t.parser.Parse(p)
	return len(p), nil
}

// Size returns the screen's size in cells.
func (t *term) Size() (cols, rows int) { return t.cols, t.rows }

// Char returns the character in cell (x, y): ' ' when blank, 0 for the
// right half of a wide character.
func (t *term) Char(x, y int) rune { return t.cells[y*t.cols+x] }

// CursorRow returns the row the cursor is on.
func (t *term) CursorRow() int { return t.y }

// Changed reports whether row y was written to since Seen(y). A row that
// scrolled keeps its flag: it holds what it held.
func (t *term) Changed(y int) bool { return t.changed[y] }

// Seen clears row y's changed flag.
func (t *term) Seen(y int) { t.changed[y] = false }

// String returns the screen's text, rows trimmed, for messages.
func (t *term) String() string {
	var b strings.Builder
	for y := range t.rows {
		row := t.row(y)
		end := len(row)
		for end > 0 && (row[end-1] == ' ' || row[end-1] == 0) {
			end--
		}
		for _, r := range row[:end] {
			if r != 0 {
				b.WriteRune(r)
			}
		}
		if y < t.rows-1 {
			b.WriteByte('\n')
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func (t *term) close() {}

func (t *term) row(y int) []rune { return t.cells[y*t.cols : (y+1)*t.cols] }

func (t *term) touchAll() {
	for y := range t.changed {
		t.changed[y] = true
	}
}

func (t *term) answer(s string) { _, _ = io.WriteString(t.answers, s) }

// inMargins reports whether the cursor is between the left and right margins.
func (t *term) inMargins() bool { return t.x >= t.left && t.x < t.right }

// print puts r at the cursor, wrapping first when the last column was
// written (auto-wrap) or when a wide character does not fit.
func (t *term) print(r rune) {
	w := 1
	if r >= 0x7f {
		w = termWidth.RuneWidth(r)
		if w == 0 {
			return // a combining mark: it changes no cell's first character
		}
	}
	t.last = r
	left, right := 0, t.cols
	if t.inMargins() {
		left, right = t.left, t.right
	}
	if t.wrapNext {
		t.wrapNext = false
		if t.autowrap {
			t.x = left
			t.index()
		}
	}
	if t.x+w > right {
		if t.autowrap && w <= right-left {
			t.x = left
			t.index()
		} else if t.x = right - w; t.x < left {
			return
		}
	}
	row := t.row(t.y)
	t.unsplit(row, t.x)
	if w == 2 {
		t.unsplit(row, t.x+1)
		row[t.x+1] = 0
	}
	row[t.x] = r
	t.changed[t.y] = true
	if t.x += w; t.x >= right {
		t.x, t.wrapNext = right-1, true
	}
}

// unsplit blanks the other half of a wide character cell x is part of,
// before x is overwritten.
func (t *term) unsplit(row []rune, x int) {
	if row[x] == 0 && x > 0 {
		row[x-1] = ' '
	}
	if x+1 < len(row) && row[x+1] == 0 {
		row[x+1] = ' '
	}
}

// erase blanks columns [from, to) of row y.
func (t *term) erase(y, from, to int) {
	from, to = max(from, 0), min(to, t.cols)
	if from >= to {
		return
	}
	row := t.row(y)
	if row[from] == 0 && from > 0 {
		row[from-1] = ' '
	}
	if to < t.cols && row[to] == 0 {
		row[to] = ' '
	}
	fill(row[from:to], ' ')
	t.changed[y] = true
}

func fill(s []rune, r rune) {
	for i := range s {
		s[i] = r
	}
}

// execute runs a C0 control.
func (t *term) execute(b byte) {
	switch b {
	case '\r':
		t.carriageReturn()
	case '\n', '\v', '\f':
		t.wrapNext = false
		t.index()
	case '\b':
		t.wrapNext = false
		if t.x > 0 {
			t.x--
		}
	case '\t':
		t.tab(1)
	}
}

func (t *term) carriageReturn() {
	t.wrapNext = false
	if t.x >= t.left {
		t.x = t.left
	} else {
		t.x = 0
	}
}

// index moves the cursor down a row, scrolling the region when it is on
// the region's last row (within the margins).
func (t *term) index() {
	if t.y == t.bottom-1 {
		if t.inMargins() {
			t.scrollUp(t.top, 1)
		}
		return
	}
	if t.y < t.rows-1 {
		t.y++
	}
}

// reverseIndex moves the cursor up a row, scrolling the region down when
// it is on the region's first row.
func (t *term) reverseIndex() {
	t.wrapNext = false
	if t.y == t.top {
		if t.inMargins() {
			t.scrollDown(t.top, 1)
		}
		return
	}
	if t.y > 0 {
		t.y--
	}
}

// scrollUp moves rows [from+n, bottom) of the region up to from, between
// the margins, and blanks the n rows left at the bottom.
func (t *term) scrollUp(from, n int) {
	n = min(n, t.bottom-from)
	if n <= 0 {
		return
	}
	c := t.cols
	if t.left == 0 && t.right == c {
		copy(t.cells[from*c:(t.bottom-n)*c], t.cells[(from+n)*c:t.bottom*c])
		copy(t.changed[from:t.bottom-n], t.changed[from+n:t.bottom])
	} else {
		for y := from; y < t.bottom-n; y++ {
			copy(t.row(y)[t.left:t.right], t.row(y + n)[t.left:t.right])
			t.changed[y] = t.changed[y] || t.changed[y+n]
		}
	}
	for y := t.bottom - n; y < t.bottom; y++ {
		t.erase(y, t.left, t.right)
	}
}

// scrollDown moves rows [from, bottom-n) of the region down by n, between
// the margins, and blanks the n rows from from.
func (t *term) scrollDown(from, n int) {
	n = min(n, t.bottom-from)
	if n <= 0 {
		return
	}
	c := t.cols
	if t.left == 0 && t.right == c {
		copy(t.cells[(from+n)*c:t.bottom*c], t.cells[from*c:(t.bottom-n)*c])
		copy(t.changed[from+n:t.bottom], t.changed[from:t.bottom-n])
	} else {
		for y := t.bottom - 1; y >= from+n; y-- {
			copy(t.row(y)[t.left:t.right], t.row(y - n)[t.left:t.right])
			t.changed[y] = t.changed[y] || t.changed[y-n]
		}
	}
	for y := from; y < from+n; y++ {
		t.erase(y, t.left, t.right)
	}
}

// tab moves the cursor n tab stops (every 8 columns) right, or left when
// n < 0.
func (t *term) tab(n int) {
	t.wrapNext = false
	right := t.cols
	if t.inMargins() {
		right = t.right
	}
	for ; n > 0 && t.x < right-1; n-- {
		t.x = min((t.x/8+1)*8, right-1)
	}
	for ; n < 0 && t.x > 0; n++ {
		t.x = (t.x - 1) / 8 * 8
	}
}

// moveTo puts the cursor at (x, y), relative to the region and margins in
// origin mode, clamped to them (or to the screen).
func (t *term) moveTo(x, y int) {
	t.wrapNext = false
	minX, maxX, minY, maxY := 0, t.cols-1, 0, t.rows-1
	if t.origin {
		x, y = x+t.left, y+t.top
		minX, maxX, minY, maxY = t.left, t.right-1, t.top, t.bottom-1
	}
	t.x, t.y = min(max(x, minX), maxX), min(max(y, minY), maxY)
}

// Cursor movement stops at the region's edge (top and bottom rows, left
// and right margins) when the cursor starts on the near side of it, at the
// screen's edge otherwise. Each clears a pending wrap.
func (t *term) up(n int) {
	t.wrapNext = false
	t.y = max(t.y-n, edge(t.y >= t.top, t.top, 0))
}

func (t *term) down(n int) {
	t.wrapNext = false
	t.y = min(t.y+n, edge(t.y < t.bottom, t.bottom, t.rows)-1)
}

func (t *term) forward(n int) {
	t.wrapNext = false
	t.x = min(t.x+n, edge(t.x < t.right, t.right, t.cols)-1)
}

func (t *term) back(n int) {
	t.wrapNext = false
	t.x = max(t.x-n, edge(t.x >= t.left, t.left, 0))
}

// edge is region when inside is set, else screen.
func edge(inside bool, region, screen int) int {
	if inside {
		return region
	}
	return screen
}

// csi runs a control sequence.
func (t *term) csi(cmd ansi.Cmd, params ansi.Params) {
	// p is parameter i, def when missing; n is a count: at least 1.
	p := func(i, def int) int {
		v, _, _ := params.Param(i, def)
		return v
	}
	n := max(p(0, 1), 1)
	switch cmd.Prefix() {
	case 0:
	case '?':
		t.privateCsi(cmd, params)
		return
	case '>':
		if cmd.Final() == 'c' && p(0, 0) == 0 {
			t.answer(ansi.SecondaryDeviceAttributes(1, 10, 0))
		}
		return
	default:
		return
	}
	if cmd.Intermediate() == '$' && cmd.Final() == 'p' { // DECRQM for an ANSI mode
		t.answer(ansi.ReportMode(ansi.ANSIMode(p(0, 0)), ansi.ModeNotRecognized))
		return
	}
	if cmd.Intermediate() != 0 {
		return
	}
	switch cmd.Final() {
	case 'A':
		t.up(n)
	case 'B', 'e':
		t.down(n)
	case 'C', 'a':
		t.forward(n)
	case 'D':
		t.back(n)
	case 'E':
		t.down(n)
		t.carriageReturn()
	case 'F':
		t.up(n)
		t.carriageReturn()
	case 'G', '`':
		t.moveTo(n-1, t.y-t.originY())
	case 'd':
		t.moveTo(t.x-t.originX(), n-1)
	case 'H', 'f':
		t.moveTo(max(p(1, 1), 1)-1, n-1)
	case 'I':
		t.tab(n)
	case 'Z':
		t.tab(-n)
	case 'J':
		t.eraseDisplay(p(0, 0))
	case 'K':
		switch p(0, 0) {
		case 0:
			t.erase(t.y, t.x, t.cols)
		case 1:
			t.erase(t.y, 0, t.x+1)
		case 2:
			t.erase(t.y, 0, t.cols)
		}
	case 'X':
		t.wrapNext = false
		t.erase(t.y, t.x, t.x+n)
	case '@':
		t.shiftCells(n)
	case 'P':
		t.shiftCells(-n)
	case 'L', 'M':
		if t.y >= t.top && t.y < t.bottom && t.inMargins() {
			if cmd.Final() == 'L' {
				t.scrollDown(t.y, n)
			} else {
				t.scrollUp(t.y, n)
			}
			t.x, t.wrapNext = t.left, false
		}
	case 'S':
		t.scrollUp(t.top, n)
	case 'T':
		if len(params) <= 1 { // with more, it is a mouse tracking request
			t.scrollDown(t.top, n)
		}
	case 'b':
		for range min(n, t.cols*t.rows) {
			if t.last != 0 {
				t.print(t.last)
			}
		}
	case 'r':
		top, bottom := max(p(0, 1), 1), p(1, t.rows)
		if bottom == 0 || bottom > t.rows {
			bottom = t.rows
		}
		if top < bottom {
			t.top, t.bottom = top-1, bottom
			t.moveTo(0, 0)
		}
	case 's':
		if !t.lrmm {
			t.saveCursor()
			return
		}
		left, right := max(p(0, 1), 1), p(1, t.cols)
		if right == 0 || right > t.cols {
			right = t.cols
		}
		if left < right {
			t.left, t.right = left-1, right
			t.moveTo(0, 0)
		}
	case 'u':
		t.restoreCursor()
	case 'n':
		switch p(0, 0) {
		case 5:
			t.answer("\x1b[0n") // "no malfunction"
		case 6:
			t.answer(ansi.CursorPositionReport(t.y-t.originY()+1, t.x-t.originX()+1))
		}
	case 'c':
		if p(0, 0) == 0 {
			t.answer(ansi.PrimaryDeviceAttributes(62, 1, 6, 22))
		}
	}
}

func (t *term) originX() int {
	if t.origin {
		return t.left
	}
	return 0
}

func (t *term) originY() int {
	if t.origin {
		return t.top
	}
	return 0
}

// privateCsi runs a CSI ? sequence: DEC modes and their queries.
func (t *term) privateCsi(cmd ansi.Cmd, params ansi.Params) {
	switch {
	case cmd.Intermediate() == '$' && cmd.Final() == 'p': // DECRQM
		m, _, _ := params.Param(0, 0)
		setting := ansi.ModeNotRecognized
		if v, ok := t.modes[m]; ok {
			setting = ansi.ModeReset
			if v {
				setting = ansi.ModeSet
			}
		}
		t.answer(ansi.ReportMode(ansi.DECMode(m), setting))
	case cmd.Intermediate() == 0 && (cmd.Final() == 'h' || cmd.Final() == 'l'):
		on := cmd.Final() == 'h'
		for i := range params {
			t.setMode(params[i].Param(0), on)
		}
	case cmd.Intermediate() == 0 && cmd.Final() == 'n':
		if v, _, _ := params.Param(0, 0); v == 6 {
			t.answer(ansi.ExtendedCursorPositionReport(t.y-t.originY()+1, t.x-t.originX()+1, 1))
		}
	}
}

// setMode sets (on) or resets DEC private mode m.
func (t *term) setMode(m int, on bool) {
	if _, ok := t.modes[m]; !ok {
		return
	}
	t.modes[m] = on
	switch m {
	case 6:
		t.origin = on
		t.moveTo(0, 0)
	case 7:
		t.autowrap = on
	case 69:
		t.lrmm = on
		if !on {
			t.left, t.right = 0, t.cols
		}
	case 1047:
		if !on && t.altOn {
			fill(t.alt, ' ')
		}
		t.useAlt(on, false)
	case 1048:
		if on {
			t.saveCursor()
		} else {
			t.restoreCursor()
		}
	case 1049:
		if on {
			t.saveCursor()
			t.useAlt(true, true)
		} else {
			t.useAlt(false, false)
			t.restoreCursor()
		}
	}
}

// useAlt shows the alternate screen (on) or the main one, blanking the
// alternate one first when clear is set.
func (t *term) useAlt(on, clear bool) {
	if on {
		if t.alt == nil {
			t.alt = make([]rune, len(t.main))
			clear = true
		}
		if clear {
			fill(t.alt, ' ')
		}
		t.cells = t.alt
	} else {
		t.cells = t.main
	}
	t.altOn = on
	t.touchAll()
}

func (t *term) screenIndex() int {
	if t.altOn {
		return 1
	}
	return 0
}

func (t *term) saveCursor() {
	t.saved[t.screenIndex()] = savedCursor{x: t.x, y: t.y, wrapNext: t.wrapNext, origin: t.origin}
}

func (t *term) restoreCursor() {
	s := t.saved[t.screenIndex()]
	t.x, t.y = min(s.x, t.cols-1), min(s.y, t.rows-1)
	t.wrapNext, t.origin = s.wrapNext, s.origin
	t.modes[6] = s.origin
}

// eraseDisplay is ED: below the cursor (0), above it (1) or all (2, 3).
func (t *term) eraseDisplay(mode int) {
	switch mode {
	case 0:
		t.erase(t.y, t.x, t.cols)
		for y := t.y + 1; y < t.rows; y++ {
			t.erase(y, 0, t.cols)
		}
	case 1:
		for y := 0; y < t.y; y++ {
			t.erase(y, 0, t.cols)
		}
		t.erase(t.y, 0, t.x+1)
	case 2, 3:
		for y := range t.rows {
			t.erase(y, 0, t.cols)
		}
	}
}

// shiftCells inserts n blank cells at the cursor (n > 0, ICH) or deletes
// -n cells there (DCH), within the margins; cells pushed past the right
// margin are lost, cells pulled in from it are blank.
func (t *term) shiftCells(n int) {
	t.wrapNext = false
	if !t.inMargins() {
		return
	}
	row := t.row(t.y)[:t.right]
	x := t.x
	t.unsplit(row, x)
	if n > 0 {
		n = min(n, len(row)-x)
		copy(row[x+n:], row[x:])
		fill(row[x:x+n], ' ')
	} else {
		n = min(-n, len(row)-x)
		copy(row[x:], row[x+n:])
		fill(row[len(row)-n:], ' ')
	}
	t.changed[t.y] = true
}

// esc runs an escape sequence.
func (t *term) esc(cmd ansi.Cmd) {
	if cmd.Intermediate() != 0 {
		return // charset designations and the like: no effect on text here
	}
	switch cmd.Final() {
	case '7':
		t.saveCursor()
	case '8':
		t.restoreCursor()
	case 'D':
		t.wrapNext = false
		t.index()
	case 'E':
		t.carriageReturn()
		t.index()
	case 'M':
		t.reverseIndex()
	case 'c':
		t.reset()
	}
}

// osc answers colour queries (OSC 10 and 11 with "?") as x/vt does: white
// on black.
func (t *term) osc(cmd int, data []byte) {
	_, arg, ok := bytes.Cut(data, []byte{';'})
	if !ok || string(arg) != "?" {
		return
	}
	switch cmd {
	case 10:
		t.answer(ansi.SetForegroundColor("rgb:ffff/ffff/ffff"))
	case 11:
		t.answer(ansi.SetBackgroundColor("rgb:0000/0000/0000"))
	}
}
