package main

import (
	"bytes"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/charmbracelet/x/vt"
	"github.com/hinshun/vt10x"
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

// newTerminal returns the terminal -emulator asks for, answering to
// answers; with -margins decline it does not say it has left/right
// margins.
func (c config) newTerminal(answers io.Writer) terminal {
	switch {
	case c.vt10x:
		return newVT10x(c.cols, c.rows, answers)
	case c.xvt:
		if c.declineMargins {
			answers = declineLRMM{answers}
		}
		return newEmulator(c.cols, c.rows, answers)
	}
	t := newTerm(c.cols, c.rows, answers)
	if c.declineMargins {
		t.declineLRMM = true
		t.reset()
	}
	return t
}

// lrmmReport starts the answer to a DECRQM query for mode 69 (DECLRMM).
const lrmmReport = "\x1b[?69;"

// declineLRMM drops x/vt's answer to the DECLRMM query, so that the
// server takes it for a terminal without left/right margins (x/vt answers
// each query with one write).
type declineLRMM struct{ w io.Writer }

func (d declineLRMM) Write(p []byte) (int, error) {
	if i := bytes.Index(p, []byte(lrmmReport)); i >= 0 {
		if j := bytes.IndexByte(p[i:], 'y'); j >= 0 {
			rest := append(append([]byte(nil), p[:i]...), p[i+j+1:]...)
			if len(rest) > 0 {
				if _, err := d.w.Write(rest); err != nil {
					return 0, err
				}
			}
			return len(p), nil
		}
	}
	return d.w.Write(p)
}

// vt10xTerm is hinshun/vt10x (-emulator vt10x), the emulator of the e2e
// tests and of independent load generators: it has no left/right margins
// and does not answer DECRQM, so parley takes the path for terminals
// without them. Owned by the session's reader goroutine.
type vt10xTerm struct {
	vt vt10x.Terminal
}

func newVT10x(cols, rows int, answers io.Writer) *vt10xTerm {
	return &vt10xTerm{vt: vt10x.New(vt10x.WithSize(cols, rows), vt10x.WithWriter(answers))}
}

// Write feeds output to the emulator.
func (v *vt10xTerm) Write(p []byte) (int, error) { return v.vt.Write(p) }

// Size returns the screen's size in cells.
func (v *vt10xTerm) Size() (cols, rows int) { return v.vt.Size() }

// Char returns the character in cell (x, y), 0 for an empty cell.
func (v *vt10xTerm) Char(x, y int) rune {
	return v.vt.Cell(x, y).Char
}

// CursorRow returns the row the cursor is on.
func (v *vt10xTerm) CursorRow() int { return v.vt.Cursor().Y }

// String returns the screen's text, for messages.
func (v *vt10xTerm) String() string { return v.vt.String() }

func (v *vt10xTerm) close() {}

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
