package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"parley/room"
)

// namedKeys are the keys key knows by name.
var namedKeys = map[string]rune{
	"enter": tea.KeyEnter, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
	"left": tea.KeyLeft, "right": tea.KeyRight, "up": tea.KeyUp, "down": tea.KeyDown,
	"home": tea.KeyHome, "end": tea.KeyEnd, "backspace": tea.KeyBackspace, "delete": tea.KeyDelete,
}

// key is the key press a terminal sends for s ("enter", "ctrl+c", "a").
func key(s string) tea.KeyPressMsg {
	if code, ok := namedKeys[s]; ok {
		return tea.KeyPressMsg{Code: code}
	}
	if rest, ok := strings.CutPrefix(s, "ctrl+"); ok {
		return tea.KeyPressMsg{Code: rune(rest[0]), Mod: tea.ModCtrl}
	}
	if rest, ok := strings.CutPrefix(s, "alt+"); ok {
		return tea.KeyPressMsg{Code: rune(rest[0]), Mod: tea.ModAlt}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// typed runs keys through an editor of the given width (prompt included)
// and shows the value with | at the cursor.
func typed(width int, keys ...string) (*input, string) {
	in := newInput("> ", "hint", 3, 30)
	in.SetWidth(width)
	for _, k := range keys {
		if strings.HasPrefix(k, "=") {
			in.InsertString(k[1:])
			continue
		}
		in.Update(key(k))
	}
	v := string(in.value[:in.pos]) + "|" + string(in.value[in.pos:])
	return &in, v
}

func TestInputEditing(t *testing.T) {
	for _, c := range []struct {
		keys []string
		want string
	}{
		{[]string{"h", "i"}, "hi|"},
		{[]string{"=hello world", "left", "left", "x"}, "hello worx|ld"},
		{[]string{"=hello world", "ctrl+a", "ctrl+f", "delete"}, "h|llo world"},
		{[]string{"=hello world", "ctrl+w"}, "hello |"},
		{[]string{"=hello big world", "alt+b", "alt+b", "ctrl+k"}, "hello |"},
		{[]string{"=hello world", "alt+b", "ctrl+u"}, "|world"},
		{[]string{"=ab", "backspace", "backspace", "backspace"}, "|"},
		{[]string{"=one", "ctrl+j", "=two", "up", "end"}, "one|\ntwo"},
		{[]string{"=one", "ctrl+j", "=two", "ctrl+a"}, "one\n|two"},
		{[]string{"=" + strings.Repeat("z", 40)}, strings.Repeat("z", 30) + "|"}, // the limit
		{[]string{"=a\x1b[2Jb\tc"}, "a[2Jbc|"},                                   // controls dropped
		{[]string{"=日本", "left", "語"}, "日語|本"},
	} {
		if _, got := typed(20, c.keys...); got != c.want {
			t.Errorf("%q: got %q, want %q", c.keys, got, c.want)
		}
	}
}

func TestInputWrapsAndScrolls(t *testing.T) {
	// Width 10 with the prompt: 8 cells of text per row.
	in, _ := typed(10, "=abcdefghijkl")
	if got := in.View(); got != "> abcdefgh\n  ijkl" {
		t.Errorf("view = %q", got)
	}
	if c := in.Cursor(); c.X != 6 || c.Y != 1 {
		t.Errorf("cursor at %d,%d, want 6,1", c.X, c.Y)
	}
	// Exactly full: the cursor goes on a new row, as it would when typing on.
	in, _ = typed(10, "=abcdefgh")
	if in.Height() != 2 || in.Cursor().Y != 1 || in.Cursor().X != 2 {
		t.Errorf("full row: height %d cursor %+v", in.Height(), in.Cursor().Position)
	}
	// Taller than maxHeight (3): the rows around the cursor show.
	in, _ = typed(10, "=1\n2\n3\n4\n5")
	if in.Height() != 3 || in.View() != "  3\n  4\n  5" || in.Cursor().Y != 2 {
		t.Errorf("scrolled: height %d view %q cursor %+v", in.Height(), in.View(), in.Cursor().Position)
	}
	in.Update(key("up"))
	in.Update(key("up"))
	in.Update(key("up"))
	if in.View() != "  2\n  3\n  4" || in.Cursor().Y != 0 {
		t.Errorf("after up x3: view %q cursor %+v", in.View(), in.Cursor().Position)
	}
	// Wide characters wrap by cells, and every row fits.
	in, _ = typed(10, "=日本語日本語日本語")
	for _, row := range strings.Split(in.View(), "\n") {
		if w := ansi.StringWidth(row); w > 10 {
			t.Errorf("row %q is %d cells wide", row, w)
		}
	}
	// Empty: the placeholder.
	in, _ = typed(10)
	if got := ansi.Strip(in.View()); got != "> hint" {
		t.Errorf("placeholder view = %q", got)
	}
	in.SetValue("x")
	in.Reset()
	if in.Value() != "" || in.pos != 0 {
		t.Errorf("reset left %q", in.Value())
	}
}

func FuzzInput(f *testing.F) {
	f.Add("hello world", 10, "lrud")
	f.Add("日本\n語 x", 5, "uullbd")
	f.Fuzz(func(t *testing.T, text string, width int, moves string) {
		width = 3 + abs(width)%60
		in := newInput("> ", "hint", 5, 200)
		in.SetWidth(width)
		in.InsertString(text)
		for _, m := range moves {
			k := map[rune]string{'l': "left", 'r': "right", 'u': "up", 'd': "down", 'b': "backspace", 'x': "delete", 'w': "ctrl+w", 'k': "ctrl+k", 'a': "ctrl+a", 'e': "ctrl+e"}[m]
			if k == "" {
				k = string(m)
			}
			in.Update(key(k))
			if in.pos < 0 || in.pos > len(in.value) {
				t.Fatalf("cursor %d outside the value (%d runes)", in.pos, len(in.value))
			}
		}
		view := in.View()
		rows := strings.Split(view, "\n")
		if len(rows) != in.Height() || len(rows) > 5 {
			t.Fatalf("%d rows, Height %d", len(rows), in.Height())
		}
		for _, row := range rows {
			if w := ansi.StringWidth(row); w > width+1 { // a wide rune may not split
				t.Fatalf("row %q is %d cells, width %d", row, w, width)
			}
		}
		if c := in.Cursor(); c.Y < 0 || c.Y >= in.Height() || c.X < 0 || c.X > width {
			t.Fatalf("cursor %+v outside %dx%d", c.Position, width, in.Height())
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestAGroupedArrivalIsOneLine(t *testing.T) {
	f := newFake()
	m := newModel(f, 80, 12)
	m.Update(eventsMsg{msgs: []room.Message{
		{Seq: 1, Time: t0, Room: "lobby", Kind: room.KindJoin, Text: "ann, ben, cy and 45 others"},
		{Seq: 2, Time: t0, Room: "lobby", Kind: room.KindLeave, Text: "dee and eve"},
	}})
	s := strings.Join(screen(m), "\n")
	if !strings.Contains(s, "→ ann, ben, cy and 45 others joined #lobby") || !strings.Contains(s, "← dee and eve left") {
		t.Errorf("grouped presence lines:\n%s", s)
	}
	if !m.Lazy() {
		t.Error("others arriving is not lazy")
	}
}
