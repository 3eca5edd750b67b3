package main

import (
	"io"
	"sync"
	"unicode/utf8"

	"github.com/charmbracelet/x/vt"
)

// terminal is a session's terminal emulator: it takes the server's output
// and answers the server's queries (background colour, DECRQM) on the
// session's input, as a real terminal does.
type terminal interface {
	io.Writer
	screen
	CursorRow() int
	String() string
	close()
}

// newTerminal returns the terminal -emulator asks for, answering to answers.
func (c config) newTerminal(answers io.Writer) terminal {
	if c.xvt {
		return newEmulator(c.cols, c.rows, answers)
	}
	return newTerm(c.cols, c.rows, answers)
}

// emulator is the full-featured terminal (-emulator xvt):
// charmbracelet/x/vt, with scroll regions, left/right margins and styled
// cells. It is owned by the session's reader goroutine; the answers are
// copied by a goroutine of its own until close.
type emulator struct {
	vt *vt.Emulator
}

// newEmulator starts an emulator whose answers are written to answers.
func newEmulator(cols, rows int, answers io.Writer) *emulator {
	e := &emulator{vt: vt.NewEmulator(cols, rows)}
	go func() { _, _ = io.Copy(answers, e.vt) }()
	return e
}

// Write feeds output to the emulator.
func (e *emulator) Write(p []byte) (int, error) { return e.vt.Write(p) }

// Size returns the screen's size in cells.
func (e *emulator) Size() (cols, rows int) { return e.vt.Width(), e.vt.Height() }

// Char returns the character in cell (x, y), 0 for an empty cell.
func (e *emulator) Char(x, y int) rune {
	c := e.vt.CellAt(x, y)
	if c == nil || c.Content == "" {
		return 0
	}
	r, _ := utf8.DecodeRuneInString(c.Content)
	return r
}

// CursorRow returns the row the cursor is on.
func (e *emulator) CursorRow() int { return e.vt.CursorPosition().Y }

// close ends the copy of answers.
func (e *emulator) close() {
	if c, ok := e.vt.InputPipe().(io.Closer); ok {
		_ = c.Close()
	}
}

// lockedWriter serialises writes to a session's input: what the bench
// types and what its terminal answers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p whole before any other writer may.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String returns the screen's text, for messages.
func (e *emulator) String() string { return e.vt.String() }
