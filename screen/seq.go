package screen

import (
	"bytes"
	"strconv"

	"github.com/charmbracelet/x/ansi"
)

// The escape sequences every frame holds, written straight into the frame
// buffer: ansi's functions build each as a string (a concatenation, an
// allocation), and a busy room draws thousands of frames a second. Each
// writes the same bytes as the ansi function it names (seq_test.go).

// writeCUP writes ansi.CursorPosition(col, row).
func writeCUP(b *bytes.Buffer, col, row int) {
	if row <= 1 && col <= 1 {
		b.WriteString(ansi.CursorHomePosition)
		return
	}
	var a [24]byte
	s := append(a[:0], "\x1b["...)
	if row > 0 {
		s = strconv.AppendInt(s, int64(row), 10)
	}
	s = append(s, ';')
	if col > 0 {
		s = strconv.AppendInt(s, int64(col), 10)
	}
	b.Write(append(s, 'H'))
}

// writeSTBM writes ansi.SetTopBottomMargins(top, bottom).
func writeSTBM(b *bytes.Buffer, top, bottom int) { writePair(b, top, bottom, 'r') }

// writeSLRM writes ansi.SetLeftRightMargins(left, right).
func writeSLRM(b *bytes.Buffer, left, right int) { writePair(b, left, right, 's') }

// writePair writes CSI x ; y final, leaving out a number that is not
// positive.
func writePair(b *bytes.Buffer, x, y int, final byte) {
	var a [24]byte
	s := append(a[:0], "\x1b["...)
	if x > 0 {
		s = strconv.AppendInt(s, int64(x), 10)
	}
	s = append(s, ';')
	if y > 0 {
		s = strconv.AppendInt(s, int64(y), 10)
	}
	b.Write(append(s, final))
}

// writeSU writes ansi.SU(n).
func writeSU(b *bytes.Buffer, n int) {
	var a [24]byte
	s := append(a[:0], "\x1b["...)
	if n > 1 {
		s = strconv.AppendInt(s, int64(n), 10)
	}
	b.Write(append(s, 'S'))
}
