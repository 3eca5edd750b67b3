package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBreakdownParts: each byte of a message frame lands in its part:
// the scroll, the new row's log part, the column beside it, the cursor.
func TestBreakdownParts(t *testing.T) {
	scroll := "\x1b[m\x1b[2;9r\x1b[S\x1b[r"
	logRow := "\x1b[9;1H\x1b[1mann\x1b[m tok-1-2-abcdef     "
	side := "\x1b[3;31H\x1b[2m│\x1b[m bob\x1b[m\x1b[K"
	cursor := "\x1b[10;3H\x1b[?25h"
	frame := "\x1b[?25l" + scroll + logRow + side + cursor
	other := "\x1b[?25l\x1b[1;1Hheader\x1b[?25h" // no token: not a message frame
	bd := analyze([]byte(other+frame), 40, 10, 30)
	if bd.frames != 2 || bd.msgFrames != 1 || bd.tokens != 1 || bd.total != len(frame) {
		t.Fatalf("frames %d, message frames %d, tokens %d, bytes %d (want 2, 1, 1, %d)", bd.frames, bd.msgFrames, bd.tokens, bd.total, len(frame))
	}
	want := map[string]int{
		partScroll: len(scroll),
		partLog:    len(logRow),
		partSide:   len(side),
		partCursor: len("\x1b[?25l") + len(cursor),
	}
	for part, n := range want {
		if bd.bytes[part] != n {
			t.Errorf("%s: %d bytes, want %d", part, bd.bytes[part], n)
		}
	}
	if sgr := len("\x1b[m\x1b[1m\x1b[m\x1b[2m\x1b[m\x1b[m"); bd.sgr != sgr || bd.sgrReset != 4*len("\x1b[m") {
		t.Errorf("SGR %d bytes (want %d), resets %d", bd.sgr, sgr, bd.sgrReset)
	}
	if bd.padding != 5 {
		t.Errorf("padding %d bytes, want 5", bd.padding)
	}
	var out bytes.Buffer
	if err := bd.write(&out); err != nil || !strings.Contains(out.String(), partSide) {
		t.Errorf("report %q, %v", out.String(), err)
	}
}
