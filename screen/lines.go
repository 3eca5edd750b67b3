package screen

import (
	"hash/maphash"
	"io"
	"strings"
	"sync"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

// seed hashes rows for every Program, so that rows can be shared.
var seed = maphash.MakeSeed()

// prepared is a row ready to write: cut to a width and in a colour profile.
type prepared struct {
	row   string // the row as the model drew it
	out   string // what to write
	width int    // cells out takes
	// blanks: how many unstyled spaces end out (padding); out[:len(out)-
	// blanks] is what must be written when the rest of the row is
	// blanked another way (ECH, EL) or is blank already.
	blanks int
	// With a split (a Band's width): the hash of the row's first split
	// cells, and what to write for the rest.
	left      uint64
	leftOut   string // what to write for the first split cells
	leftWidth int
	right     string
	rightHash uint64
	// Trailing unstyled spaces of leftOut and right (see blanks).
	leftBlanks, rightBlanks int
	// What the last SGR sequence of out, leftOut and right does (lastSGR).
	sgr, leftSGR, rightSGR int8
}

// rowCache holds prepared rows for all Programs. The same rows (a message
// at a width, in a theme) appear on many screens at once, and measuring a
// row's width and converting its colours cost more than anything else in a
// frame: each distinct row is prepared once for the whole server. It is
// bounded: a full shard is emptied and starts again.
var rowCache = newRowCache(16, 1024)

type rowKey struct {
	hash         uint64
	width, split int
	profile      colorprofile.Profile
}

type rowShard struct {
	mu   sync.Mutex
	rows map[rowKey]prepared
}

type rowCacheT struct {
	shards []rowShard
	max    int
}

func newRowCache(shards, perShard int) *rowCacheT {
	c := &rowCacheT{shards: make([]rowShard, shards), max: perShard}
	for i := range c.shards {
		c.shards[i].rows = make(map[rowKey]prepared)
	}
	return c
}

// prepare returns row cut to width cells and converted to profile, and
// with split > 0 the row's parts before and after split cells.
func (c *rowCacheT) prepare(row string, hash uint64, width, split int, profile colorprofile.Profile) prepared {
	k := rowKey{hash, width, split, profile}
	sh := &c.shards[hash%uint64(len(c.shards))]
	sh.mu.Lock()
	p, ok := sh.rows[k]
	sh.mu.Unlock()
	if ok && p.row == row {
		return p
	}
	// The row is a piece of a whole frame: keep a copy, not the frame.
	p = prepareRow(strings.Clone(row), width, split, profile)
	sh.mu.Lock()
	if len(sh.rows) >= c.max {
		clear(sh.rows)
	}
	sh.rows[k] = p
	sh.mu.Unlock()
	return p
}

func prepareRow(row string, width, split int, profile colorprofile.Profile) prepared {
	p := prepared{row: row, out: row, width: ansi.StringWidth(row)}
	if p.width > width {
		p.out, p.width = ansi.Truncate(row, width, ""), width
	}
	if split > 0 {
		left := dropTrailingStyles(ansi.Truncate(p.out, split, ""))
		p.left = maphash.String(seed, left)
		p.leftOut, p.leftWidth = convert(left, profile), ansi.StringWidth(left)
		if split < p.width {
			right := dropResetStyles(ansi.TruncateLeft(p.out, split, ""))
			p.rightHash = maphash.String(seed, right)
			p.right = convert(right, profile)
		}
	}
	p.out = convert(p.out, profile)
	p.leftOut, p.right = terse(p.leftOut), terse(p.right)
	p.out = terse(p.out)
	p.blanks = trailingBlanks(p.out)
	p.leftBlanks, p.rightBlanks = trailingBlanks(p.leftOut), trailingBlanks(p.right)
	p.sgr, p.leftSGR, p.rightSGR = lastSGR(p.out), lastSGR(p.leftOut), lastSGR(p.right)
	return p
}

// terse drops a reset that directly follows another (styles rendered
// piece by piece end each piece with one, and converting colours to a
// smaller profile turns some into resets).
func terse(s string) string {
	const twice = "\x1b[m\x1b[m"
	for strings.Contains(s, twice) {
		s = strings.ReplaceAll(s, twice, "\x1b[m")
	}
	return s
}

// trailingBlanks counts the spaces at the end of s that are written with
// no style set: after the last SGR sequence of s when that is a reset, or
// in an s without any (rows are written after a reset). Spaces under a
// style (reverse, a background, underline) or a hyperlink count as text.
func trailingBlanks(s string) int {
	n := len(s) - len(strings.TrimRight(s, " "))
	if n == 0 {
		return 0
	}
	body := s[:len(s)-n]
	if strings.Contains(body, "\x1b]") {
		return 0
	}
	if lastSGR(body) == sgrSet {
		return 0
	}
	return n
}

// convert rewrites s's colours for profile.
func convert(s string, profile colorprofile.Profile) string {
	if profile == colorprofile.TrueColor || !strings.Contains(s, "\x1b[") {
		return s
	}
	if profile == colorprofile.ANSI256 && !strings.Contains(s, "8;2;") {
		return s // no true colours (38;2;... or 48;2;...): nothing to convert
	}
	var b strings.Builder
	w := colorprofile.Writer{Forward: &b, Profile: profile}
	_, _ = io.WriteString(&w, s)
	return b.String()
}

// dropResetStyles removes the styles at the start of s that a later reset
// at the start cancels: cutting a row keeps every SGR sequence of the part
// cut away ("\x1b[1m\x1b[m│..."), which would make equal text look
// different. Written after a reset, the result looks the same.
func dropResetStyles(s string) string {
	keep, i := 0, 0
	for strings.HasPrefix(s[i:], "\x1b[") {
		j := i + 2
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';' || s[j] == ':') {
			j++
		}
		if j >= len(s) || s[j] != 'm' {
			break
		}
		if params := s[i+2 : j]; params == "" || params == "0" {
			keep = j + 1
		}
		i = j + 1
	}
	return s[keep:]
}

// dropTrailingStyles removes SGR sequences at the end of s: cutting a row
// keeps those of the part cut away, which would make equal text look
// different. A reset is written after it anyway.
func dropTrailingStyles(s string) string {
	for strings.HasSuffix(s, "m") {
		i := strings.LastIndex(s, "\x1b[")
		if i < 0 {
			break
		}
		params := s[i+2 : len(s)-1]
		if strings.Trim(params, "0123456789;:") != "" {
			break
		}
		s = s[:i]
	}
	return s
}
