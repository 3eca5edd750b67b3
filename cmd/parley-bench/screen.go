package main

import (
	"fmt"
	"io"
	"sync/atomic"
	"unicode/utf8"
)

// Tokens are what senders type: "tok-<sender>-<n>-<check>", where check is
// six hex digits of a hash of (run nonce, sender, n). The check makes a
// token from an earlier run (still in the room's backlog) invalid, and so
// is a row caught half-redrawn between two chunks of output: the server
// redraws only the cells that changed, and a mix of the old and the new
// row almost never carries a valid check.
const (
	tokenPrefix = "tok-"
	checkDigits = 6
	maxDigits   = 7 // of the sender and n fields
)

// tokenSet is the run's tokens: who sends how many, and when each was sent.
type tokenSet struct {
	nonce   uint64
	senders int
	per     int            // tokens per sender, at most
	sentAt  []atomic.Int64 // by index: since the run's epoch, 0 = not sent
	sentN   []atomic.Int32 // by sender: how many it sent
	// anywhere: a token counts wherever it is on a row (-layout line).
	anywhere bool
}

func newTokenSet(nonce uint64, senders, per int) *tokenSet {
	return &tokenSet{
		nonce:   nonce,
		senders: senders,
		per:     per,
		sentAt:  make([]atomic.Int64, senders*per),
		sentN:   make([]atomic.Int32, senders),
	}
}

// index numbers the tokens 0..senders*per-1.
func (t *tokenSet) index(s, n int) int { return s*t.per + n }

// check is the 24-bit check of token (s, n): a splitmix64 finalizer over
// the nonce and the pair.
func (t *tokenSet) check(s, n int) uint32 {
	x := t.nonce ^ (uint64(uint32(s))<<32 | uint64(uint32(n)))
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return uint32(x) & (1<<(4*checkDigits) - 1)
}

// text is the token as typed.
func (t *tokenSet) text(s, n int) string {
	return fmt.Sprintf("%s%d-%d-%0*x", tokenPrefix, s, n, checkDigits, t.check(s, n))
}

// screen is what scanning needs of a terminal emulator.
type screen interface {
	Size() (cols, rows int)
	Char(x, y int) rune
}

var (
	_ terminal = (*emulator)(nil)
	_ terminal = (*term)(nil)
	_ terminal = (*vt10xTerm)(nil)
)

// changeScreen is a screen that knows which rows were written to since
// they were last scanned; scan then reads only those.
type changeScreen interface {
	Changed(y int) bool
	Seen(y int)
}

// scan calls found for the token on every chat row of scr. A chat row is
// "HH:MM name tok-..." from the first column, as tui renders a message;
// the input box ("> tok-...", the sender's own typing) never matches.
// With anywhere set (-layout line, for servers that print plain lines),
// a token counts wherever it is on a row, but for the cursor's row: the
// prompt, where the sender's own typing is echoed.
func (t *tokenSet) scan(scr screen, found func(s, n int)) {
	cols, rows := scr.Size()
	skip := -1
	if c, ok := scr.(cursorScreen); ok && t.anywhere {
		skip = c.CursorRow()
	}
	changes, _ := scr.(changeScreen)
	for y := range rows {
		if y == skip { // still changed: scanned once the cursor has left it
			continue
		}
		if changes != nil {
			if !changes.Changed(y) {
				continue
			}
			changes.Seen(y)
		}
		ch := func(x int) rune {
			if x >= cols {
				return ' '
			}
			return scr.Char(x, y)
		}
		if !t.anywhere {
			if s, n, ok := t.tokenAt(ch, cols); ok {
				found(s, n)
			}
			continue
		}
		for x := 0; x+len(tokenPrefix) <= cols; x++ {
			if ch(x) != rune(tokenPrefix[0]) || (x > 0 && !isBlank(ch(x-1))) {
				continue
			}
			if s, n, ok := t.tokenFrom(ch, x); ok {
				found(s, n)
			}
		}
	}
}

// cursorScreen is a screen that knows its cursor's row.
type cursorScreen interface{ CursorRow() int }

// tokenAt parses a row (its cells by ch) as a chat row carrying one of
// this run's tokens.
func (t *tokenSet) tokenAt(ch func(int) rune, cols int) (s, n int, ok bool) {
	// "HH:MM " — most rows fail at the first cell.
	if !isDigit(ch(0)) || !isDigit(ch(1)) || ch(2) != ':' || !isDigit(ch(3)) || !isDigit(ch(4)) || ch(5) != ' ' {
		return 0, 0, false
	}
	x := 6
	for x < cols && !isBlank(ch(x)) { // the sender's name
		x++
	}
	return t.tokenFrom(ch, x+1)
}

// tokenFrom parses one of this run's tokens at cell x, ending at a blank.
func (t *tokenSet) tokenFrom(ch func(int) rune, x int) (s, n int, ok bool) {
	for i := 0; i < len(tokenPrefix); i++ {
		if ch(x) != rune(tokenPrefix[i]) {
			return 0, 0, false
		}
		x++
	}
	if s, x, ok = digitsAt(ch, x); !ok || ch(x) != '-' {
		return 0, 0, false
	}
	if n, x, ok = digitsAt(ch, x+1); !ok || ch(x) != '-' {
		return 0, 0, false
	}
	x++
	var c uint32
	for range checkDigits {
		h, ok := hexValue(ch(x))
		if !ok {
			return 0, 0, false
		}
		c = c<<4 | h
		x++
	}
	if _, more := hexValue(ch(x)); more || isDigit(ch(x)) {
		return 0, 0, false
	}
	if s >= t.senders || n >= t.per || c != t.check(s, n) {
		return 0, 0, false
	}
	return s, n, true
}

func digitsAt(ch func(int) rune, x int) (v, end int, ok bool) {
	start := x
	for isDigit(ch(x)) {
		if x-start == maxDigits {
			return 0, x, false
		}
		v = v*10 + int(ch(x)-'0')
		x++
	}
	return v, x, x > start
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isBlank(r rune) bool { return r == ' ' || r == 0 }

func hexValue(r rune) (uint32, bool) {
	switch {
	case r >= '0' && r <= '9':
		return uint32(r - '0'), true
	case r >= 'a' && r <= 'f':
		return uint32(r-'a') + 10, true
	}
	return 0, false
}

// screenContains reports whether needle (ASCII) is on one row of scr.
func screenContains(scr screen, needle string) bool {
	cols, rows := scr.Size()
	for y := range rows {
		for x := 0; x+len(needle) <= cols; x++ {
			i := 0
			for i < len(needle) && scr.Char(x+i, y) == rune(needle[i]) {
				i++
			}
			if i == len(needle) {
				return true
			}
		}
	}
	return false
}

// utf8Feeder writes output to an emulator. An emulator may drop the bytes
// of a UTF-8 sequence split across two writes (vt10x did), so an incomplete
// sequence at the end of a chunk is held back for the next one.
type utf8Feeder struct {
	held  [utf8.UTFMax]byte
	nheld int
	join  []byte // reused when bytes are held
}

func (f *utf8Feeder) feed(term io.Writer, b []byte) {
	data := b
	if f.nheld > 0 {
		f.join = append(append(f.join[:0], f.held[:f.nheld]...), b...)
		data = f.join
	}
	keep := incompleteUTF8Tail(data)
	_, _ = term.Write(data[:len(data)-keep])
	f.nheld = copy(f.held[:], data[len(data)-keep:])
}

// incompleteUTF8Tail returns how many bytes at the end of b start a UTF-8
// sequence that is not complete yet.
func incompleteUTF8Tail(b []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}

// frameEnd ends every frame the server draws: its renderer hides the
// cursor while it draws and shows it again at the end.
const frameEnd = "\x1b[?25h"

// frameSplitter finds frame ends in the output stream, across chunks. A
// chunk that holds several frames (the reader fell behind) is scanned after
// each of them, so a token drawn and scrolled away within one chunk is
// still seen. Without the marker, a chunk is scanned once, at its end.
type frameSplitter struct{ got int }

// next returns the length of b's prefix up to and including the next frame
// end (len(b) when there is none) and whether a frame ended there.
func (f *frameSplitter) next(b []byte) (n int, ended bool) {
	for i, c := range b {
		switch {
		case c == frameEnd[f.got]:
			f.got++
			if f.got == len(frameEnd) {
				f.got = 0
				return i + 1, true
			}
		case c == frameEnd[0]:
			f.got = 1
		default:
			f.got = 0
		}
	}
	return len(b), false
}
