package server

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// recordWriter records the size of each write and fails after failAfter
// bytes when failAfter > 0.
type recordWriter struct {
	bytes.Buffer
	sizes     []int
	failAfter int
}

func (r *recordWriter) Write(p []byte) (int, error) {
	if r.failAfter > 0 && r.Len()+len(p) > r.failAfter {
		k := r.failAfter - r.Len()
		r.Buffer.Write(p[:k])
		r.sizes = append(r.sizes, k)
		return k, errors.New("closed")
	}
	r.sizes = append(r.sizes, len(p))
	return r.Buffer.Write(p)
}

func TestChunkedWriterCutsLargeWrites(t *testing.T) {
	for _, size := range []int{0, 1, 1023, 1024, 1025, 5000} {
		rec := &recordWriter{}
		data := strings.Repeat("x", size)
		n, err := chunkedWriter{w: rec, max: 1024}.Write([]byte(data))
		if err != nil || n != size || rec.String() != data {
			t.Fatalf("size %d: n=%d err=%v, wrote %d bytes", size, n, err, rec.Len())
		}
		for _, s := range rec.sizes {
			if s > 1024 || s == 0 {
				t.Fatalf("size %d: a write of %d bytes (writes %v)", size, s, rec.sizes)
			}
		}
		if want := (size + 1023) / 1024; len(rec.sizes) != want {
			t.Fatalf("size %d: %d writes, want %d", size, len(rec.sizes), want)
		}
	}
}

func TestChunkedWriterStopsAtAnError(t *testing.T) {
	rec := &recordWriter{failAfter: 1500}
	n, err := chunkedWriter{w: rec, max: 1024}.Write([]byte(strings.Repeat("y", 4000)))
	if err == nil || n != 1500 {
		t.Fatalf("n=%d err=%v, want 1500 and the error", n, err)
	}
	if len(rec.sizes) != 2 {
		t.Fatalf("kept writing after the error: writes %v", rec.sizes)
	}
}

// TestFrameWriterSendsFramesStraightToTheChannel: a frame (cursor moves
// and rows, never a newline) goes to the SSH channel as it is, without
// the emulated pty's copy of every frame to turn "\n" into "\r\n"; a
// write that does hold a newline still goes through the pty, so what
// the terminal is sent does not change.
func TestFrameWriterSendsFramesStraightToTheChannel(t *testing.T) {
	raw, pty := &recordWriter{}, &recordWriter{}
	w := frameWriter{raw: raw, pty: pty}
	frame := "\x1b[?25l\x1b[3;1Hhello\x1b[K\x1b[30;5H\x1b[?25h"
	if n, err := w.Write([]byte(frame)); n != len(frame) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if raw.String() != frame || pty.Len() != 0 {
		t.Fatalf("a frame went to the channel as %q and through the pty as %q", raw.String(), pty.String())
	}
	line := "bell\a and a newline\n"
	if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if pty.String() != line || raw.String() != frame {
		t.Fatalf("a newline went to the channel as %q and through the pty as %q", raw.String(), pty.String())
	}
}

// TestFrameWriterAllocatesNothing: the point of writing frames straight
// to the channel is that a delivery costs no copy of the frame.
func TestFrameWriterAllocatesNothing(t *testing.T) {
	w := frameWriter{raw: discard{}, pty: discard{}}
	frame := []byte("\x1b[?25l\x1b[3;1Hhello\x1b[K\x1b[30;5H\x1b[?25h")
	if a := testing.AllocsPerRun(100, func() { _, _ = w.Write(frame) }); a != 0 {
		t.Errorf("a frame costs %.1f allocations, want 0", a)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
