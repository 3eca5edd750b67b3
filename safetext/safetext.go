package safetext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits for chat messages.
const (
	// MaxMessageRunes is the largest message, in characters, that is
	// delivered: with MaxMessageLines, room for a pasted stack trace (500
	// lines of 80 characters). A message is therefore at most 160,000
	// bytes of UTF-8 (40,000 at one byte a character, as most pastes are);
	// screens show a long one folded.
	MaxMessageRunes = 40000
	// MaxMessageLines is the largest number of lines one message may span.
	MaxMessageLines = 500
	// MaxNameRunes is the longest name a person or a room may have, in
	// runes (code points, as Line counts them; a letter with an accent
	// that has no precomposed form counts as two).
	MaxNameRunes = 24
)

// maxBlankRun is the longest run of empty lines a Message keeps.
const maxBlankRun = 2

// maxChunk is the most visible ASCII that cleaning copies in one piece.
const maxChunk = 256

// tabWidth is the number of spaces a tab becomes in a Message.
const tabWidth = 4

// Message cleans a chat message as the package documentation describes: it
// removes escape sequences, controls and invisible characters, turns every
// kind of line break into '\n', trims trailing white space and blank lines,
// and caps the result at MaxMessageLines lines and MaxMessageRunes runes.
//
// cut reports that text was dropped to meet those caps; removing escape
// sequences, controls or white space is not cutting. A message that holds
// nothing visible cleans to "", which the caller should refuse.
func Message(s string) (clean string, cut bool) {
	if isPlain(s, MaxMessageRunes, false) {
		return s, false
	}
	return message(s)
}

// message is Message without the fast path for plain ASCII lines.
func message(s string) (string, bool) {
	w := writer{multiline: true, max: MaxMessageRunes, maxLines: MaxMessageLines}
	w.b.Grow(min(len(s), MaxMessageRunes*utf8.UTFMax))
	w.clean(s)
	return w.b.String(), w.cut
}

// Line cleans a single-line field (name, topic, TERM, username): it removes
// what Message removes (escape sequences whole), turns line breaks and tabs
// into one space each, trims white space at both ends and caps the result at
// max runes. A max of zero or less means no cap. Runs of spaces inside the
// line are kept.
func Line(s string, max int) string {
	if isPlain(s, max, true) {
		return s
	}
	return line(s, max)
}

// line is Line without the fast path for plain ASCII lines.
func line(s string, max int) string {
	w := writer{max: max}
	n := len(s)
	if max > 0 && max < n/utf8.UTFMax { // written so that a huge max cannot overflow
		n = max * utf8.UTFMax
	}
	w.b.Grow(n)
	w.clean(s)
	return w.b.String()
}

// isPlain reports whether s is already clean: one non-empty line of printable
// ASCII, within max bytes, with no trailing space (nor leading space, if
// trimLeft). Cleaning such a string returns it unchanged.
func isPlain(s string, max int, trimLeft bool) bool {
	if s == "" || (max > 0 && len(s) > max) || s[len(s)-1] == ' ' || (trimLeft && s[0] == ' ') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F {
			return false
		}
	}
	return true
}

// class is what cleaning does with one rune.
type class uint8

const (
	keep class = iota // copy the rune
	drop              // remove the rune
	brk               // line break: '\n' in a Message, ' ' in a Line
	tab               // tabWidth spaces in a Message, ' ' in a Line
)

// classify says what cleaning does with r, a rune decoded from valid UTF-8.
// '\r' is classified as a line break; the caller merges "\r\n".
func classify(r rune) class {
	switch {
	case r >= 0x20 && r < 0x7F:
		return keep
	case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
		return brk
	case r == '\t':
		return tab
	case r < 0xA0: // other C0 controls, DEL, C1 controls
		return drop
	case isInvisible(r) || isPrivateUse(r) || isNoncharacter(r):
		return drop
	case r >= utf8.RuneSelf && unicode.Is(unicode.Cf, r):
		return drop
	}
	return keep
}

// isInvisible reports the bidi controls and invisible characters that the
// package removes by name, whatever the version of the Unicode tables. All of
// them are in category Cf today.
func isInvisible(r rune) bool {
	switch {
	case r == '\u00AD', // soft hyphen
		r == '\u061C',                  // arabic letter mark
		r == '\u180E',                  // mongolian vowel separator
		r >= '\u200B' && r <= '\u200F', // zero-width space, ZWNJ, ZWJ, LRM, RLM
		r >= '\u202A' && r <= '\u202E', // bidi embeddings and overrides
		r >= '\u2060' && r <= '\u2064', // word joiner, invisible operators
		r >= '\u2066' && r <= '\u2069', // bidi isolates
		r == '\uFEFF':                  // zero-width no-break space, BOM
		return true
	}
	return false
}

// isPrivateUse reports the private-use code points (category Co). Their
// ranges are fixed by the Unicode stability policy.
func isPrivateUse(r rune) bool {
	return (r >= 0xE000 && r <= 0xF8FF) || (r >= 0xF0000 && r <= 0xFFFFD) || (r >= 0x100000 && r <= 0x10FFFD)
}

// isNoncharacter reports the 66 noncharacters: U+FDD0–U+FDEF and the last two
// code points of every plane.
func isNoncharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// A writer builds cleaned text from cleaned runes. White space is held back
// until something visible follows it on the same line, and line breaks until
// something visible follows them, so trailing white space and blank lines
// never reach the output, and the caps are checked only against text that
// will be kept.
type writer struct {
	b         strings.Builder
	multiline bool // Message: keep '\n', collapse blank lines, count lines
	max       int  // cap in runes; <= 0 means none
	maxLines  int  // cap in lines; <= 0 means none
	runes     int  // runes written to b
	lines     int  // lines written to b; 0 until the first visible rune
	breaks    int  // line breaks held back
	wsRunes   int  // white-space runes held back
	wsMixed   bool // they are not all ' ', so ws holds them (the first max)
	ws        []byte
	cut       bool // a visible rune did not fit
}

// clean decodes s and writes it, cleaned, to w.b.
func (w *writer) clean(s string) {
	badRun := false // the previous rune was invalid UTF-8
	for i := 0; i < len(s); {
		c := s[i]
		if c > ' ' && c < 0x7F {
			// A run of visible ASCII, the bulk of most text, is copied whole.
			// Chunks of at most maxChunk bytes stop a huge run from being
			// scanned to its end when only its start fits.
			j, end := i+1, min(len(s), i+maxChunk)
			for j < end && s[j] > ' ' && s[j] < 0x7F {
				j++
			}
			badRun = false
			if !w.putASCII(s[i:j]) {
				return
			}
			i = j
			continue
		} else if c == ' ' {
			badRun = false
			w.holdSpace(' ')
			i++
			continue
		}
		if c == 0x1B || (c == 0xC2 && i+1 < len(s) && c1Intro(s[i+1])) {
			// An escape sequence goes whole; an introducer that starts
			// none goes alone, as any other control.
			n := seqLen(s[i:])
			if n == 0 {
				n = 1 + int(c>>7) // ESC, or the two bytes of a C1 control
			}
			badRun = false
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			if !badRun {
				badRun = true
				if !w.put(utf8.RuneError) {
					return
				}
			}
			continue
		}
		badRun = false
		ok := true
		switch classify(r) {
		case keep:
			ok = w.put(r)
		case brk:
			if r == '\r' && i < len(s) && s[i] == '\n' {
				continue // the '\n' that follows is the break
			}
			if w.multiline {
				ok = w.put('\n')
			} else {
				ok = w.put(' ')
			}
		case tab:
			if w.multiline {
				for range tabWidth {
					w.put(' ') // white space is held back: put cannot fail
				}
			} else {
				ok = w.put(' ')
			}
		}
		if !ok {
			return
		}
	}
}

// put adds one cleaned rune. It reports false once a visible rune does not
// fit: nothing more can be written.
func (w *writer) put(r rune) bool {
	if r == '\n' {
		w.dropSpace()
		if w.lines > 0 {
			w.breaks++
		}
		return true
	}
	if r == ' ' || (r >= utf8.RuneSelf && unicode.IsSpace(r)) {
		w.holdSpace(r)
		return true
	}

	if w.flush(1) == 0 {
		return false
	}
	w.b.WriteRune(r)
	return true
}

// putASCII adds a run of visible ASCII. It reports false once some of it
// does not fit: nothing more can be written.
func (w *writer) putASCII(run string) bool {
	n := w.flush(len(run))
	w.b.WriteString(run[:n])
	return n == len(run)
}

// flush writes the held-back line breaks and white space that n visible
// runes about to be written need, and reports how many of those runes fit.
// If fewer than n fit, it sets w.cut, and nothing more can be written; if none
// fit, it writes nothing.
func (w *writer) flush(n int) int {
	breaks := min(w.breaks, maxBlankRun+1)
	lines := max(w.lines+breaks, 1)
	fit := n
	if w.max > 0 {
		fit = min(n, w.max-(w.runes+breaks+w.wsRunes))
	}
	if fit < n {
		w.cut = true
	}
	if fit <= 0 || (w.maxLines > 0 && lines > w.maxLines) {
		w.cut = true
		return 0
	}
	for range breaks {
		w.b.WriteByte('\n')
	}
	if w.wsMixed {
		w.b.Write(w.ws)
	} else {
		for n := w.wsRunes; n > 0; n -= len(spaces) {
			w.b.WriteString(spaces[:min(n, len(spaces))])
		}
	}
	w.runes += breaks + w.wsRunes + fit
	w.lines = lines
	w.breaks = 0
	w.dropSpace()
	return fit
}

// spaces is written in place of held-back white space that is all ' '.
const spaces = "                                                                "

// holdSpace holds back the white-space rune r until something visible
// follows it on the same line.
func (w *writer) holdSpace(r rune) {
	if w.lines == 0 && !w.multiline {
		return // Line: leading white space
	}
	if r == ' ' && !w.wsMixed {
		w.wsRunes++
		return
	}
	// Hold back no more than could ever be written: the first max runes.
	if !w.wsMixed {
		w.wsMixed = true
		n := w.wsRunes
		if w.max > 0 {
			n = min(n, w.max)
		}
		w.ws = w.ws[:0]
		for range n {
			w.ws = append(w.ws, ' ')
		}
	}
	if w.max <= 0 || w.wsRunes < w.max {
		w.ws = utf8.AppendRune(w.ws, r)
	}
	w.wsRunes++
}

// dropSpace forgets the held-back white space.
func (w *writer) dropSpace() {
	w.wsRunes = 0
	if w.wsMixed { // leave ws alone otherwise: writing it costs a write barrier
		w.wsMixed, w.ws = false, w.ws[:0]
	}
}
