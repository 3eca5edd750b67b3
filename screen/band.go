package screen

import (
	"hash/maphash"

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

// minScroll is the smallest band worth scrolling.
const minScroll = 4

// scrollBand scrolls the terminal when the model's log moved up, so that
// the rows that only moved are not written again. It writes to p.buf and
// updates p.rows to what the terminal shows after the scroll.
func (p *Program) scrollBand(lines []string, hashes []uint64) {
	bm, ok := p.model.(Band)
	if !ok {
		p.band = band{}
		return
	}
	top, bottom, width := bm.Band()
	if top < 0 || bottom > p.height || bottom-top < minScroll || width <= 0 || width > p.width {
		p.band = band{}
		return
	}
	// The log's part of each row of the new frame.
	old := p.band
	same := old.top == top && old.bottom == bottom && old.width == width && len(p.rows) == p.height
	left, right := reuse(p.spare.left, bottom-top), reuse(p.spare.right, bottom-top)
	for y := top; y < bottom; y++ {
		if same && p.rows[y] == hashes[y] { // unchanged since the last frame
			left[y-top], right[y-top] = old.left[y-top], old.right[y-top]
			continue
		}
		if same && y+1 < bottom && p.rows[y+1] == hashes[y] { // moved up a row: a new message's usual frame
			left[y-top], right[y-top] = old.left[y+1-top], old.right[y+1-top]
			continue
		}
		row := rowCache.prepare(lines[y], hashes[y], p.width, width, p.color)
		left[y-top], right[y-top] = row.left, row.rightHash
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
	for k := 1; k < n-1; k++ {
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
	b := &p.buf
	if width < p.width && p.lrmm {
		p.scrollMargins(top, bottom, width, k, lines, hashes, left, right, old)
		return
	}
	b.WriteString(ansi.ResetStyle + ansi.SetTopBottomMargins(top+1, bottom) + ansi.SU(k) + ansi.SetTopBottomMargins(0, 0))
	// The terminal's rows moved: so do their hashes. Rows scrolled in are
	// blank.
	blank := maphash.String(seed, "")
	copy(p.rows[top:bottom-k], p.rows[top+k:bottom])
	for y := bottom - k; y < bottom; y++ {
		p.rows[y] = blank
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
		row := rowCache.prepare(lines[y], hashes[y], p.width, width, p.color)
		b.WriteString(ansi.CursorPosition(width+1, y+1))
		b.WriteString(row.right)
		b.WriteString(ansi.ResetStyle)
		if row.width < p.width {
			b.WriteString(ansi.EraseLineRight)
		}
		p.rows[y] = hashes[y]
	}
}

// scrollMargins scrolls only the log's columns, on a terminal with left and
// right margins (DECLRMM, asked for at start): what is beside the log stays
// where it is, and a row is right after the scroll when its log part came
// from k rows below and the rest did not change.
func (p *Program) scrollMargins(top, bottom, width, k int, lines []string, hashes, left, right []uint64, old band) {
	p.buf.WriteString(ansi.ResetStyle + ansi.SetTopBottomMargins(top+1, bottom) + ansi.SetLeftRightMargins(1, width) +
		ansi.SU(k) + ansi.SetLeftRightMargins(0, 0) + ansi.SetTopBottomMargins(0, 0))
	for y := top; y < bottom; y++ {
		i := y - top
		switch {
		case old.right[i] != right[i]:
			p.rows[y] = ^hashes[y] // not what the terminal shows: drawn below
		case i+k < len(old.left) && old.left[i+k] == left[i]:
			p.rows[y] = hashes[y]
		default: // a new line: only its log part
			row := rowCache.prepare(lines[y], hashes[y], p.width, width, p.color)
			p.buf.WriteString(ansi.CursorPosition(1, y+1))
			p.buf.WriteString(row.leftOut)
			p.buf.WriteString(ansi.ResetStyle)
			if row.leftWidth < width {
				p.buf.WriteString(ansi.ECH(width - row.leftWidth))
			}
			p.rows[y] = hashes[y]
		}
	}
}

// reuse returns s resized to n, allocating only when it is too small.
func reuse(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}
