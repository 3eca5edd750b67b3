package screen

import (
	tea "charm.land/bubbletea/v2"

	"github.com/charmbracelet/x/ansi"
)

// Band is implemented by a model whose view holds a log: rows in which new
// lines push older ones up, like a chat. After View, Band says which rows
// hold it (top to bottom-1) and how many cells wide the log's part of each
// row is (the whole width, or less when something that does not scroll is
// drawn beside it, like a member list). The screen then scrolls the
// terminal instead of rewriting the rows that only moved: a new message
// costs its own rows (and the column beside the log), not the whole screen.
// A wrong answer costs bytes, never a wrong screen: rows are compared
// before they are kept.
type Band interface {
	Band() (top, bottom, width int)
}

// band is the log region of the last frame and the hash of the log's part
// of each of its rows.
type band struct {
	top, bottom, width int
	left, right        []uint64 // by row - top: hashes of the log's part and of the rest
}

// Rows is implemented by a model that can hand the screen its frame as
// rows in two parts instead of one string: ViewRows is View without
// Content, filling left and right (a row each, Height rows; rows it does
// not fill are empty). Row y shows left[y] then right[y]; within a Band,
// right[y] (the column beside the log) starts at the band's width. The
// screen then builds and splits no frame string and finds the log's part
// of a row without measuring it: a frame after a new message hashes its
// rows and writes the new one.
type Rows interface {
	ViewRows(left, right []string) tea.View
}

// minScroll is the smallest band worth scrolling.
const minScroll = 4

// scrollBand scrolls the terminal when the model's log moved up, so that
// the rows that only moved are not written again. It writes to p.buf and
// updates p.rows to what the terminal shows after the scroll.
func (p *Program) scrollBand(f *frame) {
	top, bottom, width := f.top, f.bottom, f.width
	if bottom == 0 {
		p.band = band{}
		return
	}
	lines, hashes := f.lines, f.hashes
	// The log's part of each row of the new frame.
	old := p.band
	same := old.top == top && old.bottom == bottom && old.width == width && len(p.rows) == p.height
	left, right := reuse(p.spare.left, bottom-top), reuse(p.spare.right, bottom-top)
	for y := top; y < bottom; y++ {
		switch {
		case f.parts: // the model's parts
			left[y-top], right[y-top] = f.leftH[y], f.rightH[y]
		case same && p.rows[y] == hashes[y]: // unchanged since the last frame
			left[y-top], right[y-top] = old.left[y-top], old.right[y-top]
		case same && y+1 < bottom && p.rows[y+1] == hashes[y]: // moved up a row: a new message's usual frame
			left[y-top], right[y-top] = old.left[y+1-top], old.right[y+1-top]
		default:
			row := rowCache.prepare(lines[y], hashes[y], p.width, width, p.color)
			left[y-top], right[y-top] = row.left, row.rightHash
		}
	}
	p.band, p.spare = band{top: top, bottom: bottom, width: width, left: left, right: right}, old
	if !same {
		return
	}
	// How far did it move? The shift under which most rows match, if that
	// beats not moving at all.
	n := bottom - top
	best, bestMatch := 0, 0
	for y := 0; y < n; y++ {
		if left[y] == old.left[y] {
			bestMatch++
		}
	}
	stay := bestMatch
	// A shift of k matches at most n-k rows: once one matches as many as
	// the next could, no larger shift beats it (a new message: k = 1
	// matches all n-1 and the search ends there).
	for k := 1; k < n-1 && bestMatch < n-k; k++ {
		match := 0
		for y := 0; y+k < n; y++ {
			if left[y] == old.left[y+k] {
				match++
			}
		}
		if match > bestMatch {
			best, bestMatch = k, match
		}
	}
	if best == 0 || bestMatch < 2 || bestMatch <= stay {
		return
	}
	k := best
	b := p.buf
	if width < p.width && p.lrmm {
		p.scrollMargins(f, top, bottom, width, k, left, right, old)
		return
	}
	p.resetStyle() // rows scrolled in take the current background
	writeSTBM(b, top+1, bottom)
	writeSU(b, k)
	b.WriteString(resetMargins)
	// The terminal's rows moved: so do their hashes. Rows scrolled in are
	// blank.
	copy(p.rows[top:bottom-k], p.rows[top+k:bottom])
	for y := bottom - k; y < bottom; y++ {
		p.rows[y] = blankRow
	}
	if width == p.width {
		return
	}
	// The column beside the log moved with it: put it back where the new
	// frame has it, on the rows whose log part is now right.
	for y := top; y < bottom-k; y++ {
		if old.left[y-top+k] != left[y-top] || p.rows[y] == hashes[y] {
			continue
		}
		writeCUP(b, width+1, y+1)
		p.resetStyle()
		w := width + p.writeBeside(f, y, width)
		if w < p.width {
			p.resetStyle()
			b.WriteString(ansi.EraseLineRight)
		}
		p.rows[y] = hashes[y]
	}
}

// scrollMargins scrolls only the log's columns, on a terminal with left and
// right margins (DECLRMM, asked for at start): what is beside the log stays
// where it is, and a row is right after the scroll when its log part came
// from k rows below and the rest did not change.
func (p *Program) scrollMargins(f *frame, top, bottom, width, k int, left, right []uint64, old band) {
	hashes := f.hashes
	p.resetStyle() // rows scrolled in take the current background
	writeSTBM(p.buf, top+1, bottom)
	writeSLRM(p.buf, 1, width)
	writeSU(p.buf, k)
	p.buf.WriteString(resetLeftRight + resetMargins)
	for y := top; y < bottom; y++ {
		i := y - top
		switch {
		case old.right[i] != right[i]:
			p.rows[y] = ^hashes[y] // not what the terminal shows: drawn below
		case i+k < len(old.left) && old.left[i+k] == left[i]:
			p.rows[y] = hashes[y]
		default: // a new line: only its log part
			writeCUP(p.buf, 1, y+1)
			p.resetStyle()
			w := p.writeLog(f, y, width)
			if w < width && i < len(left)-k { // rows scrolled in are blank already
				p.resetStyle()
				p.buf.WriteString(ansi.ECH(width - w))
			}
			p.rows[y] = hashes[y]
		}
	}
}

// modelBand returns the model's Band when it is one worth scrolling, else
// zeros.
func (p *Program) modelBand() (top, bottom, width int) {
	bm, ok := p.model.(Band)
	if !ok {
		return 0, 0, 0
	}
	top, bottom, width = bm.Band()
	if top < 0 || bottom > p.height || bottom-top < minScroll || width <= 0 || width > p.width {
		return 0, 0, 0
	}
	return top, bottom, width
}

// writeLog writes the log's part of row y (its first width cells) and
// returns how many cells it took.
func (p *Program) writeLog(f *frame, y, width int) int {
	if f.parts {
		row := rowCache.prepare(f.lines[y], f.leftH[y], width, 0, p.color)
		p.text(row.out, row.blanks, row.sgr)
		return row.width - row.blanks
	}
	row := rowCache.prepare(f.lines[y], f.hashes[y], p.width, width, p.color)
	p.text(row.leftOut, row.leftBlanks, row.leftSGR)
	return row.leftWidth - row.leftBlanks
}

// writeBeside writes what row y has beside the log (from cell width on)
// and returns how many cells it took.
func (p *Program) writeBeside(f *frame, y, width int) int {
	if f.parts {
		if f.rightH[y] == 0 {
			return 0
		}
		return p.writeRight(f, y, width)
	}
	row := rowCache.prepare(f.lines[y], f.hashes[y], p.width, width, p.color)
	p.text(row.right, row.rightBlanks, row.rightSGR)
	return max(row.width-width-row.rightBlanks, 0)
}

// resetMargins ends a scroll region (DECSTBM with no parameters).
const resetMargins = "\x1b[r"

// resetLeftRight ends left and right margins: ansi.SetLeftRightMargins(0, 0).
const resetLeftRight = "\x1b[;s"

// reuse returns s resized to n, allocating only when it is too small.
func reuse(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}
