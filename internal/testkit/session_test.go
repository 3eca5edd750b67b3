package testkit

import (
	"strings"
	"testing"
)

// TestHarnessSplitRunes checks the emulator adapter: a character whose
// UTF-8 bytes arrive in two chunks is still drawn (vt10x alone drops it).
// (It moved here from e2e with the adapter.)
func TestHarnessSplitRunes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		b    []byte
		want int
	}{
		{[]byte("abc"), 0},
		{[]byte("a\xe2"), 1},
		{[]byte("a\xe2\x94"), 2},
		{[]byte("a\xe2\x94\x82"), 0},
		{[]byte("\xf0\x9d\x90"), 3},
		{[]byte("\xf0\x9d\x90\x80"), 0},
		{[]byte("\xff"), 0},
	} {
		if got := IncompleteUTF8Tail(tc.b); got != tc.want {
			t.Errorf("IncompleteUTF8Tail(%q) = %d, want %d", tc.b, got, tc.want)
		}
	}
	c := NewScreen("split", 10, 2)
	line := []byte("a│b𝐀c")
	for i := range line { // one byte at a time: the worst split there is
		c.Feed(false, line[i:i+1])
	}
	if got := strings.TrimRight(c.Row(0), " "); got != "a│b𝐀c" {
		t.Errorf("screen row %q, want %q", got, "a│b𝐀c")
	}
}
