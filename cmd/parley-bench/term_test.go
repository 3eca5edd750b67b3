package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// screenText is scr's rows, the right halves of wide characters as blanks
// (x/vt and the grid mark them differently), and the cursor's row.
func screenText(scr terminal) string {
	cols, rows := scr.Size()
	var b strings.Builder
	for y := range rows {
		for x := range cols {
			r := scr.Char(x, y)
			if r == 0 {
				r = ' '
			}
			b.WriteRune(r)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "cursor row %d", scr.CursorRow())
	return b.String()
}

// agree feeds out to a grid term and an x/vt emulator, chunk bytes at a
// time, and fails where their screens differ after a chunk.
func agree(t *testing.T, cols, rows int, out []byte, chunk int) {
	t.Helper()
	grid, xvt := newTerm(cols, rows, io.Discard), newEmulator(cols, rows, io.Discard)
	defer xvt.close()
	var fg, fx utf8Feeder
	for i := 0; i < len(out); i += chunk {
		p := out[i:min(i+chunk, len(out))]
		fg.feed(grid, p)
		fx.feed(xvt, p)
		if g, x := screenText(grid), screenText(xvt); g != x {
			t.Fatalf("%dx%d, chunks of %d: after byte %d (%q), the screens differ:\ngrid:\n%s\nx/vt:\n%s",
				cols, rows, chunk, i+len(p), p, g, x)
		}
	}
}

// TestGridAgreesWithXVTOnParley records what parley sends a receiver
// while a room chats (joins, a member column, scrolling with margins, the
// input box) and checks that the grid terminal shows what x/vt shows at
// every step.
func TestGridAgreesWithXVTOnParley(t *testing.T) {
	for _, size := range []string{"100x30", "40x15"} {
		t.Run(size, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "out")
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{
				"-inprocess", "-sessions", "6", "-senders", "6", "-rate", "4", "-duration", "2s", "-size", size,
				"-quiet", "200ms", "-drain", "60s", "-timeout", "120s", "-trace", trace,
			}, &stdout, &stderr)
			if code != exitOK {
				t.Fatalf("exit %d:\n%s\n%s", code, stdout.String(), stderr.String())
			}
			out, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(out, []byte("\x1b[S")); n < 10 {
				t.Fatalf("the recorded output scrolls %d times; want a conversation that scrolls", n)
			}
			var cols, rows int
			fmt.Sscanf(size, "%dx%d", &cols, &rows)
			for _, chunk := range []int{len(out), 4096, 7} {
				agree(t, cols, rows, out, chunk)
			}
		})
	}
}

// TestGridAgreesWithXVTOnSSHChat replays ssh-chat v1.10.1's output to a
// receiver (recorded with -layout line -trace): lines, a prompt redrawn
// on every message, the whole screen scrolling.
func TestGridAgreesWithXVTOnSSHChat(t *testing.T) {
	for _, size := range []string{"100x30", "40x15"} {
		out, err := os.ReadFile(filepath.Join("testdata", "sshchat-"+size+".out"))
		if err != nil {
			t.Fatal(err)
		}
		var cols, rows int
		fmt.Sscanf(size, "%dx%d", &cols, &rows)
		for _, chunk := range []int{len(out), 5, 1} {
			agree(t, cols, rows, out, chunk)
		}
	}
}

// TestGridAgreesWithXVTOnSequences covers what the recordings may not:
// wrapping, wide characters at the edge, margins, inserting and deleting,
// erasing, the alternate screen, origin mode, saving the cursor.
func TestGridAgreesWithXVTOnSequences(t *testing.T) {
	fill := "\x1b[2J\x1b[H"
	for y := range 8 {
		fill += fmt.Sprintf("\x1b[%d;1H%c%s", y+1, 'a'+y, strings.Repeat(string(rune('0'+y)), 19))
	}
	cases := map[string]string{
		"wrap":                "\x1b[1;18Habcdefgh",
		"no autowrap":         "\x1b[?7l\x1b[1;18Habcdefgh\x1b[?7h",
		"wrap at the bottom":  "\x1b[8;15Habcdefghijklmnop",
		"wide over wide":      "\x1b[1;1H世界\x1b[1;2Hx\x1b[2;1H世\x1b[2;1Hy",
		"erase half a wide":   "\x1b[1;1H世界\x1b[1;2H\x1b[K\x1b[2;1H世界\x1b[2;3H\x1b[1K",
		"margins scroll":      fill + "\x1b[?69h\x1b[2;6r\x1b[3;12s\x1b[2S\x1b[s\x1b[r\x1b[?69l",
		"margins newline":     fill + "\x1b[?69h\x1b[2;6r\x1b[3;12s\x1b[6;5H\n\n\x1b[;s\x1b[r\x1b[?69l",
		"margins CR":          fill + "\x1b[?69h\x1b[5;10s\x1b[2;8H\rX\x1b[3;2H\rY\x1b[;s\x1b[?69l",
		"region scroll down":  fill + "\x1b[3;7r\x1b[2T\x1b[r",
		"reverse index":       fill + "\x1b[2;5r\x1b[2;1H\x1bM\x1bM\x1b[r",
		"insert delete lines": fill + "\x1b[2;7r\x1b[3;4H\x1b[2L\x1b[6;1H\x1b[M\x1b[r",
		"lines outside":       fill + "\x1b[2;5r\x1b[7;1H\x1b[L\x1b[r",
		"insert delete chars": fill + "\x1b[1;5H\x1b[3@\x1b[2;5H\x1b[4P\x1b[3;19H\x1b[5@",
		"erase chars":         fill + "\x1b[4;3H\x1b[5X\x1b[5;18H\x1b[9X",
		"erase display":       fill + "\x1b[3;5H\x1b[J",
		"save restore":        "\x1b[3;4H\x1b7\x1b[8;8HX\x1b8Y",
		"erase lines":         fill + "\x1b[1;5H\x1b[K\x1b[2;5H\x1b[1K\x1b[3;5H\x1b[2K",
		"cursor moves":        "\x1b[5;5HA\x1b[2AB\x1b[3BC\x1b[4DD\x1b[2CE\x1b[EF\x1b[FG\x1b[9GH\x1b[2dI\x1b[99;99HJ",
		"moves in a region":   "\x1b[3;6r\x1b[4;1H\x1b[9AX\x1b[9BY\x1b[r",
		"origin mode":         fill + "\x1b[3;6r\x1b[?6h\x1b[1;1HX\x1b[9;9HY\x1b[?6l\x1b[r",
		"tabs":                "\tA\tB\x1b[2;1H\t\t\t\tC\x1b[3;12H\x1b[ZD\x1b[2IE",
		"alternate screen":    fill + "\x1b[?1049h\x1b[2;2Halt\x1b[?1049l\x1b[8;1Hmain",
		"backspace":           "abc\b\bX\x1b[2;1H\bY",
		"repeat":              "\x1b[2;3Hx\x1b[5b",
		"reset":               fill + "\x1b[3;5r\x1bc\x1b[8;1H\nafter",
		"controls in a seq":   "\x1b[2\r;5HX",
		"C0 and DEL":          "a\x00b\x7fc\x07d",
	}
	for name, seq := range cases {
		t.Run(name, func(t *testing.T) { agree(t, 20, 8, []byte(seq), len(seq)) })
	}
}

// TestGridFollowsXterm: where x/vt differs from xterm, the grid does what
// xterm does (none of it is in what parley or ssh-chat send).
func TestGridFollowsXterm(t *testing.T) {
	cases := []struct{ name, seq, want string }{
		// A wide character that does not fit wraps whole (x/vt drops it).
		{"wide at the edge", "\x1b[1;4H世x", "    |世 x"},
		// ED 1 erases up to the cursor, not its whole row.
		{"erase above", "aaaa\x1b[2;1Hbbbb\x1b[2;2H\x1b[1J", "    |  bb"},
		// Without DECLRMM, CSI s and CSI u save and restore the cursor.
		{"SCOSC", "\x1b[2;2H\x1b[s\x1b[1;1H\x1b[uZ", "    | Z"},
		// Within the margins, auto-wrap wraps at the right margin.
		{"wrap at the margin", "\x1b[?69h\x1b[2;3s\x1b[1;2Habc", " ab | c"},
	}
	for _, c := range cases {
		g := newTerm(4, 2, io.Discard)
		_, _ = g.Write([]byte(c.seq))
		rows := strings.Split(screenText(g), "\n")
		if got := strings.Join(rows[:2], "|"); strings.TrimRight(got, " ") != c.want {
			t.Errorf("%s: screen %q, want %q", c.name, got, c.want)
		}
	}
}

// TestGridAnswers: the queries a server makes at start get the answers
// x/vt gives.
func TestGridAnswers(t *testing.T) {
	for _, q := range []string{
		"\x1b]11;?\a", "\x1b]10;?\x1b\\", "\x1b[?69$p", "\x1b[?2026$p", "\x1b[4$p",
		"\x1b[c", "\x1b[>c", "\x1b[3;7H\x1b[6n", "\x1b[?69h\x1b[?69$p",
	} {
		var g bytes.Buffer
		newTerm(20, 8, &g).Write([]byte(q))
		r, w := io.Pipe()
		x := newEmulator(20, 8, w)
		got := make(chan string)
		go func() {
			buf := make([]byte, 256)
			n, _ := r.Read(buf)
			got <- string(buf[:n])
		}()
		_, _ = x.Write([]byte(q))
		var want string
		select {
		case want = <-got:
		case <-time.After(10 * time.Second):
			t.Errorf("%q: x/vt gave no answer", q)
		}
		x.close()
		_ = w.Close()
		if g.String() != want {
			t.Errorf("%q: grid answers %q, x/vt %q", q, g.String(), want)
		}
	}
}

// FuzzTerm: whatever a server sends, the grid terminal neither panics nor
// loses its cursor.
func FuzzTerm(f *testing.F) {
	for _, s := range []string{
		"hello\r\nworld", "\x1b[2;5r\x1b[?69h\x1b[3;9s\x1b[5S", "世界\x1b[1;2H\x1b[@", "\x1b[999;999H\x1b[999L",
		"\x1b[?1049h\x1bc\x1b[?6h\x1b[99A", "\x1b]11;?\a\x1b[6n", "\x1b[0;0r\x1b[5;2r\x1b[?69h\x1b[0;0s\x1b[9;3s",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		g := newTerm(20, 8, io.Discard)
		_, _ = g.Write(out)
		if g.x < 0 || g.x >= g.cols || g.y < 0 || g.y >= g.rows {
			t.Fatalf("cursor at (%d, %d) on a %dx%d screen", g.x, g.y, g.cols, g.rows)
		}
		if g.top < 0 || g.bottom > g.rows || g.top >= g.bottom || g.left < 0 || g.right > g.cols || g.left >= g.right {
			t.Fatalf("region rows [%d, %d), margins [%d, %d)", g.top, g.bottom, g.left, g.right)
		}
		_ = g.String()
	})
}
