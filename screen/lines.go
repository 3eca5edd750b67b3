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
	// With a split (a Band's width): the hash of the row's first split
	// cells, and what to write for the rest.
	left  uint64
	right string
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
	p = prepareRow(row, width, split, profile)
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
		p.left = maphash.String(seed, ansi.Truncate(p.out, split, ""))
		if split < p.width {
			p.right = convert(ansi.TruncateLeft(p.out, split, ""), profile)
		}
	}
	p.out = convert(p.out, profile)
	return p
}

// convert rewrites s's colours for profile.
func convert(s string, profile colorprofile.Profile) string {
	if profile == colorprofile.TrueColor || !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	w := colorprofile.Writer{Forward: &b, Profile: profile}
	_, _ = io.WriteString(&w, s)
	return b.String()
}
