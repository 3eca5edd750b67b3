package screen

import (
	"bytes"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestSequencesAreAnsis: the sequences a frame writes into its buffer
// are byte for byte what charmbracelet/x/ansi builds.
func TestSequencesAreAnsis(t *testing.T) {
	nums := []int{-1, 0, 1, 2, 9, 10, 99, 100, 101, 400, 65535}
	var b bytes.Buffer
	for _, x := range nums {
		for _, y := range nums {
			b.Reset()
			writeCUP(&b, x, y)
			if got, want := b.String(), ansi.CursorPosition(x, y); got != want {
				t.Errorf("writeCUP(%d, %d) = %q, want %q", x, y, got, want)
			}
			b.Reset()
			writeSTBM(&b, x, y)
			if got, want := b.String(), ansi.SetTopBottomMargins(x, y); got != want {
				t.Errorf("writeSTBM(%d, %d) = %q, want %q", x, y, got, want)
			}
			b.Reset()
			writeSLRM(&b, x, y)
			if got, want := b.String(), ansi.SetLeftRightMargins(x, y); got != want {
				t.Errorf("writeSLRM(%d, %d) = %q, want %q", x, y, got, want)
			}
		}
		b.Reset()
		writeSU(&b, x)
		if got, want := b.String(), ansi.SU(x); got != want {
			t.Errorf("writeSU(%d) = %q, want %q", x, got, want)
		}
	}
}

func TestResetLeftRightIsAnsis(t *testing.T) {
	if want := ansi.SetLeftRightMargins(0, 0); resetLeftRight != want {
		t.Errorf("resetLeftRight = %q, want %q", resetLeftRight, want)
	}
}

// TestSequencesAllocateNothing: that is their point.
func TestSequencesAllocateNothing(t *testing.T) {
	var b bytes.Buffer
	b.Grow(1 << 10)
	a := testing.AllocsPerRun(100, func() {
		b.Reset()
		writeCUP(&b, 123, 45)
		writeSTBM(&b, 2, 129)
		writeSU(&b, 3)
		writeSLRM(&b, 1, 77)
	})
	if a != 0 {
		t.Errorf("%.1f allocations, want 0", a)
	}
}
