package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// terminals are the emulators -emulator offers; tests of what reads a
// screen run on each.
var terminals = []struct {
	name string
	new  func(cols, rows int) terminal
}{
	{"grid", func(cols, rows int) terminal { return newTerm(cols, rows, io.Discard) }},
	{"xvt", func(cols, rows int) terminal { return newEmulator(cols, rows, io.Discard) }},
}

// eachTerminal runs f as a subtest on each of the terminals.
func eachTerminal(t *testing.T, f func(t *testing.T, newTerm func(cols, rows int) terminal)) {
	for _, k := range terminals {
		t.Run(k.name, func(t *testing.T) { f(t, k.new) })
	}
}

// draw puts each line on its own row of a fresh 100x30 terminal.
func draw(t *testing.T, newTerm func(cols, rows int) terminal, lines ...string) terminal {
	t.Helper()
	term := newTerm(100, 30)
	t.Cleanup(term.close)
	var b strings.Builder
	b.WriteString("\x1b[2J")
	for y, l := range lines {
		fmt.Fprintf(&b, "\x1b[%d;1H%s", y+1, l)
	}
	if _, err := term.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	return term
}

type pair struct{ s, n int }

func found(ts *tokenSet, scr screen) []pair {
	var got []pair
	ts.scan(scr, func(s, n int) { got = append(got, pair{s, n}) })
	return got
}

func TestScanLineLayoutFindsTokensAnywhereButThePrompt(t *testing.T) {
	eachTerminal(t, func(t *testing.T, newTerm func(cols, rows int) terminal) {
		ts := newTokenSet(42, 3, 10)
		lines := []string{
			"bench0001: " + ts.text(0, 0),
			"[12:01] bench0003: hello " + ts.text(2, 9) + " there",
			"bench0002: x" + ts.text(1, 6), // glued to a word
			"bench0002: " + ts.text(1, 5) + "a",
			"* bench0002 " + ts.text(1, 7),
			"[bench0002] " + ts.text(1, 8), // the prompt: the cursor is left here
		}
		ts.anywhere = true
		term := draw(t, newTerm, lines...)
		got := found(ts, term)
		want := []pair{{0, 0}, {2, 9}, {1, 7}}
		if !slices.Equal(got, want) {
			t.Errorf("found %v, want %v; screen:\n%s", got, want, term.String())
		}
		// The prompt is sent: the cursor leaves its row, and what is on it
		// counts from then on.
		_, _ = io.WriteString(term, "\r\n")
		if got := found(ts, term); !slices.Contains(got, pair{1, 8}) {
			t.Errorf("after the cursor left the prompt's row, found %v, want {1 8} among them", got)
		}
		ts.anywhere = false
		if got := found(ts, draw(t, newTerm, lines...)); len(got) != 0 {
			t.Errorf("parley layout found %v on rows that are not parley's", got)
		}
	})
}

// TestScanReadsChangedRows: the grid terminal's scan skips rows nothing
// was written to since they were scanned, and rows that scrolled keep
// what they held.
func TestScanReadsChangedRows(t *testing.T) {
	ts := newTokenSet(42, 3, 10)
	term := draw(t, terminals[0].new, "12:01 bench0001 "+ts.text(0, 0), "12:01 bench0001 "+ts.text(0, 1))
	if got := found(ts, term); len(got) != 2 {
		t.Fatalf("first scan found %v, want 2 tokens", got)
	}
	if got := found(ts, term); len(got) != 0 {
		t.Errorf("a scan of an unchanged screen found %v again", got)
	}
	// Scroll rows 1-10 up by one and write a new row 10.
	_, _ = io.WriteString(term, "\x1b[1;10r\x1b[S\x1b[r\x1b[10;1H12:02 bench0002 "+ts.text(1, 0))
	if got := found(ts, term); !slices.Equal(got, []pair{{1, 0}}) {
		t.Errorf("after a scroll and a new row, found %v, want only the new row's token", got)
	}
	if term.Char(16, 0) != 't' || term.Char(16, 1) == 't' {
		t.Errorf("the scroll did not move the rows:\n%s", term.String())
	}
}

func TestScanFindsTokensOnChatRowsOnly(t *testing.T) {
	ts := newTokenSet(42, 3, 10)
	other := newTokenSet(43, 3, 10) // an earlier run's tokens
	bad := ts.text(1, 4)
	bad = bad[:len(bad)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", bad[len(bad)-1])+1)%16])
	eachTerminal(t, func(t *testing.T, newTerm func(cols, rows int) terminal) {
		term := draw(t, newTerm,
			" #lobby  5 here",
			"12:01 → bench0002 joined #lobby",
			"12:01 bench0001 "+ts.text(0, 0),
			"12:02 bench0003 "+ts.text(2, 9)+"                        │ bench0001",
			"12:02 bench0002 "+other.text(1, 3),  // wrong nonce
			"12:02 bench0002 "+bad,               // one digit of the check changed
			"12:02 bench0002 "+ts.text(1, 5)+"a", // the token goes on
			"12:02 bench0002 x"+ts.text(1, 6),    // not the first word
			"12:02 bench0002 tok-3-0-000000",     // no such sender
			"* bench0002 "+ts.text(1, 7),         // not a chat row
			"> "+ts.text(1, 8),                   // the input box
			"12:03 bench0002 "+ts.text(1, 2)+" and more words",
		)
		got := found(ts, term)
		want := []pair{{0, 0}, {2, 9}, {1, 2}}
		if !slices.Equal(got, want) {
			t.Errorf("found %v, want %v; screen:\n%s", got, want, term.String())
		}
		if !screenContains(term, "#lobby") || screenContains(term, "#general") {
			t.Error("screenContains is wrong")
		}
	})
}

func TestTokenText(t *testing.T) {
	ts := newTokenSet(1, 2, 3)
	if a, b := ts.text(0, 1), ts.text(1, 0); a == b || !strings.HasPrefix(a, "tok-0-1-") || len(a) != len("tok-0-1-")+checkDigits {
		t.Errorf("tokens %q and %q", a, b)
	}
}

func TestFeederHoldsSplitUTF8(t *testing.T) {
	eachTerminal(t, func(t *testing.T, newTerm func(cols, rows int) terminal) {
		term := newTerm(20, 2)
		defer term.close()
		var f utf8Feeder
		text := []byte("a→b│c")
		for i := range text { // one byte at a time
			f.feed(term, text[i:i+1])
		}
		var row []rune
		for x := range 5 {
			row = append(row, term.Char(x, 0))
		}
		if string(row) != "a→b│c" {
			t.Errorf("screen shows %q", string(row))
		}
	})
}

func BenchmarkScanFullScreen(b *testing.B) {
	ts := newTokenSet(42, 20, 100)
	term := newEmulator(100, 30, io.Discard) // no change tracking: every row is read
	defer term.close()
	var sb strings.Builder
	sb.WriteString("\x1b[2J\x1b[1;1H #lobby  200 here")
	for y := 1; y < 29; y++ {
		fmt.Fprintf(&sb, "\x1b[%d;1H12:00 bench%04d %s%*s│ bench%04d", y+1, y, ts.text(y%20, y), 40, "", y)
	}
	sb.WriteString("\x1b[30;1H> ")
	_, _ = term.Write([]byte(sb.String()))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		ts.scan(term, func(int, int) { n++ })
		if n != 28 {
			b.Fatalf("found %d", n)
		}
	}
}

func TestFrameSplitter(t *testing.T) {
	var f frameSplitter
	stream := "ab\x1b[?25hcd\x1b[?2\x1b[?25h\x1b[?25lx"
	var got []string
	var cur string
	// Byte by byte and in one piece must agree.
	for _, chunking := range []int{1, 3, len(stream)} {
		got, cur, f = nil, "", frameSplitter{}
		for i := 0; i < len(stream); i += chunking {
			p := []byte(stream[i:min(i+chunking, len(stream))])
			for len(p) > 0 {
				n, ended := f.next(p)
				cur += string(p[:n])
				p = p[n:]
				if ended {
					got = append(got, cur)
					cur = ""
				}
			}
		}
		want := []string{"ab\x1b[?25h", "cd\x1b[?2\x1b[?25h"}
		if !slices.Equal(got, want) || cur != "\x1b[?25lx" {
			t.Errorf("chunks of %d: frames %q, rest %q", chunking, got, cur)
		}
	}
}

// TestTwoFramesInOneChunk: a token drawn by one frame and overwritten by
// the next, both in one read, is still seen.
func TestTwoFramesInOneChunk(t *testing.T) {
	eachTerminal(t, func(t *testing.T, newTerm func(cols, rows int) terminal) {
		b := &bench{tok: newTokenSet(9, 1, 10), allSeen: make(chan struct{})}
		b.phase.Store(phaseMeasure)
		b.tok.sentAt[0].Store(1)
		b.tok.sentAt[1].Store(1)
		s := newSession(identity{}, false)
		s.receiver, s.gotScreen = true, true
		s.term = newTerm(100, 30)
		defer s.dropTerm()
		s.seen = newBitset(10)
		frame := func(n int) string {
			return "\x1b[?25l\x1b[29;1H12:00 bench0001 " + b.tok.text(0, n) + "\x1b[30;3H\x1b[?25h"
		}
		s.output(b, []byte(frame(0)+frame(1)), 5)
		if len(s.lat) != 2 || s.framesSeen != 2 {
			t.Errorf("latencies %v, frames %d: want both tokens in two frames", s.lat, s.framesSeen)
		}
	})
}
