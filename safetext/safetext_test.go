package safetext

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode"
)

func TestMessage(t *testing.T) {
	a := strings.Repeat
	R, L := MaxMessageRunes, MaxMessageLines
	tests := []struct {
		name string
		in   string
		want string
		cut  bool
	}{
		// Plain text is untouched.
		{"empty", "", "", false},
		{"plain", "hello, world", "hello, world", false},
		{"indent kept", "  indented", "  indented", false},
		{"unicode kept", "héllo 👋🏽 日本語 e\u0301", "héllo 👋🏽 日本語 e\u0301", false},
		{"replacement char kept", "a\uFFFDb", "a\uFFFDb", false},
		{"inner spaces kept", "a   b", "a   b", false},

		// White space and blank lines.
		{"trailing spaces", "hello   ", "hello", false},
		{"trailing spaces per line", "a  \nb \t\nc", "a\nb\nc", false},
		{"trailing nbsp", "a\u00a0\u3000", "a", false},
		{"inner nbsp kept", "a\u00a0b", "a\u00a0b", false},
		{"only spaces", "   \t ", "", false},
		{"leading and trailing blank lines", "\n\n  \nhello\n\n \n", "hello", false},
		{"two blank lines kept", "a\n\n\nb", "a\n\n\nb", false},
		{"blank run collapsed", "a\n\n\n\n\n\nb", "a\n\n\nb", false},
		{"blank lines of spaces collapsed", "a\n \n\t\n  \n \nb", "a\n\n\nb", false},
		{"10000 newlines", a("\n", 10000), "", false},
		{"10000 newlines inside", "x" + a("\n", 10000) + "y", "x\n\n\ny", false},

		// Line breaks.
		{"crlf", "a\r\nb", "a\nb", false},
		{"lone cr", "safe\rEVIL", "safe\nEVIL", false},
		{"cr cr lf", "a\r\r\nb", "a\n\nb", false},
		{"lf cr", "a\n\rb", "a\n\nb", false},
		{"line separator", "a\u2028b", "a\nb", false},
		{"paragraph separator", "a\u2029b", "a\nb", false},
		{"NEL is a C1 control", "a\u0085b", "ab", false},

		// Tabs.
		{"tab", "a\tb", "a    b", false},
		{"leading tab", "\tx", "    x", false},
		{"trailing tab", "x\t", "x", false},

		// Escape sequences go whole (see TestSequences); other controls
		// go alone.
		{"OSC 52 clipboard", "\x1b]52;c;ZXZpbA==\x07", "", false},
		{"clear screen", "\x1b[2J\x1b[H", "", false},
		{"C1 CSI", "\u009b31mred", "red", false},
		{"unterminated OSC loses its ESC only", "\x1b]0;title", "]0;title", false},
		{"bell", "ding\x07", "ding", false},
		{"backspaces", "abc\b\b\bxyz", "abcxyz", false},
		{"DEL", "\x7fdel", "del", false},
		{"NUL and C0", "a\x00\x01\x0b\x0c\x1fb", "ab", false},
		{"only controls", "\x00\x1b\x07", "", false},
		{"spaces around a control are kept", "a \x07 b", "a  b", false},

		// Bidi and invisible characters.
		{"RLO", "\u202egnp.exe", "gnp.exe", false},
		{"bidi isolates", "\u2066x\u2067y\u2068z\u2069", "xyz", false},
		{"bidi marks", "\u200ea\u200fb\u061c", "ab", false},
		{"bidi embeddings", "\u202aa\u202bb\u202cc\u202dd", "abcd", false},
		{"ZWJ", "a\u200db", "ab", false},
		{"zero width", "a\u200b\u200cb\u2060\u2061\u2062\u2063\u2064c", "abc", false},
		{"BOM", "\ufeffbom", "bom", false},
		{"soft hyphen", "in\u00advisible", "invisible", false},
		{"mongolian vowel separator", "a\u180eb", "ab", false},
		{"tag characters", "a\U000E0001\U000E0041b", "ab", false},
		{"only invisible", "\u200b\u202e", "", false},
		{"invisible does not count as content", "\u200b\nx", "x", false},

		// Private use and noncharacters.
		{"private use", "\ue000x\uf8ff\U000F0000\U0010FFFD", "x", false},
		{"noncharacters", "\ufffey\uffff\ufdd0\ufdef\U0001FFFE\U0010FFFF", "y", false},

		// Invalid UTF-8.
		{"invalid bytes", "\xff\xfe", "\uFFFD", false},
		{"invalid runs", "a\xffb\xfe\xfd\xfcc", "a\uFFFDb\uFFFDc", false},
		{"truncated rune", "a\xe6\x97", "a\uFFFD", false},
		{"encoded surrogate", "\xed\xa0\x80", "\uFFFD", false},
		{"overlong slash", "\xc0\xaf", "\uFFFD", false},

		// Caps.
		{"L lines", numbered(L), numbered(L), false},
		{"L+1 lines", numbered(L + 1), numbered(L), true},
		{"L+1 lines, last blank", numbered(L) + "\n\n", numbered(L), false},
		{"lines counted after collapsing", "a" + a("\n", 30) + "b", "a\n\n\nb", false},
		{"line cap drops trailing blank", numbered(L-1) + "\n\n21", numbered(L - 1), true},
		{"R runes", a("a", R), a("a", R), false},
		{"R+1 runes", a("a", R+1), a("a", R), true},
		{"R runes and spaces", a("a", R) + "   ", a("a", R), false},
		{"cut before space", a("a", R-1) + " b", a("a", R-1), true},
		{"cut inside breaks", a("a", R-2) + "\n\nb", a("a", R-2), true},
		{"newlines count", a("a", R/2) + "\n" + a("b", R/2), a("a", R/2) + "\n" + a("b", R/2-1), true},
		{"runes not bytes", a("é", R+1), a("é", R), true},
		{"controls do not count", a("a\x07", R), a("a", R), false},
		{"sequences do not count", a("a\x1b[0m", R), a("a", R), false},
		{"tabs count four", a("\t", R/4) + "x", "", true},
		{"1 MiB line", a("x", 1<<20), a("x", R), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := Message(tt.in)
			if got != tt.want || cut != tt.cut {
				t.Errorf("Message(%.60q) = %.60q, %v; want %.60q, %v", tt.in, got, cut, tt.want, tt.cut)
			}
		})
	}
}

// numbered returns n lines "1" to "n".
func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte('\n')
		}
		b.WriteString(string(rune('a' + i%26)))
	}
	return b.String()
}

func TestLine(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"", 10, ""},
		{"alice", 24, "alice"},
		{"  alice  ", 24, "alice"},
		{"a  b", 0, "a  b"},
		{"a\nb", 0, "a b"},
		{"a\r\nb", 0, "a b"},
		{"a\rb", 0, "a b"},
		{"a\n\nb", 0, "a  b"},
		{"a\tb", 0, "a b"},
		{"\ta\t", 0, "a"},
		{"a\u2028b\u2029c", 0, "a b c"},
		{"\n\n", 0, ""},
		{"\u3000a\u00a0", 0, "a"},
		{"\x1b[31mred\x1b[0m", 0, "red"},
		{"\u009b2J", 0, ""},
		{"\x1b]0;title", 0, "]0;title"},
		{"a\x1b]0;ti\ntle\x07b", 0, "a]0;ti tleb"},
		{"\u202egnp.exe", 0, "gnp.exe"},
		{"a\u200db\ufeff", 0, "ab"},
		{"\ue000", 0, ""},
		{"\xff\xfe", 0, "\uFFFD"},
		{"xterm-256color", 64, "xterm-256color"},
		{"abcdef", 3, "abc"},
		{"abc", 3, "abc"},
		{"ab cd", 3, "ab"},
		{"ab\ncd", 3, "ab"},
		{"ééééé", 2, "éé"},
		{"a\x07b\x07c", 2, "ab"},
		{"a\x1b[1mb\x1b[0mc", 2, "ab"},
		{"  abc", 3, "abc"},
		{"abcdef", 0, "abcdef"},
		{"abcdef", -1, "abcdef"},
		{"a\x07b ", math.MaxInt, "ab"},
		{"a\x07b ", math.MinInt, "ab"},
		{"a\x1bb ", math.MaxInt, "a"},
		{strings.Repeat("x", 1<<20), 80, strings.Repeat("x", 80)},
	}
	for _, tt := range tests {
		if got := Line(tt.in, tt.max); got != tt.want {
			t.Errorf("Line(%.60q, %d) = %.60q; want %.60q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // "" for a valid name
	}{
		{"alice", ""},
		{"Bob_42", ""},
		{"a", ""},
		{"7", ""},
		{"x.y-z_w", ""},
		{"-dash", ""},
		{".dot", ""},
		{strings.Repeat("n", 24), ""},
		{"", "name must be 1 to 24 characters"},
		{strings.Repeat("n", 25), "name must be 1 to 24 characters"},
		{strings.Repeat("é", 25), "name must be 1 to 24 characters"},
		{"_", "name must contain a letter or digit"},
		{"-_.", "name must contain a letter or digit"},
		{"al!ce", "name may contain only letters, digits, '.', '_' and '-' (found '!')"},
		{"al ice", "name may contain only letters, digits, '.', '_' and '-' (found a space)"},
		{"'", "name may contain only letters, digits, '.', '_' and '-' (found '\\'')"},
		{"al\x1bce", "name may contain only letters, digits, '.', '_' and '-' (found U+001B)"},
		{"a\nb", "name may contain only letters, digits, '.', '_' and '-' (found U+000A)"},
		{"\u009b", "name may contain only letters, digits, '.', '_' and '-' (found U+009B)"},
		{"\u202eabc", "name may contain only letters, digits, '.', '_' and '-' (found U+202E)"},
		{"a\u200db", "name may contain only letters, digits, '.', '_' and '-' (found U+200D)"},
		{"ab\xff", "name may contain only letters, digits, '.', '_' and '-' (found a byte that is not UTF-8)"},
		// Unicode names: see TestValidateUnicodeName for more.
		{"b\u00f3b", ""},
		{strings.Repeat("é", 24), ""},
		{"\u0430lice", "name must not mix scripts (it mixes Cyrillic and Latin)"},
	}
	for _, tt := range tests {
		err := ValidateName(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateName(%q) = %q; want nil", tt.in, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("ValidateName(%q) = nil; want %q", tt.in, tt.wantErr)
		case err != nil && err.Error() != tt.wantErr:
			t.Errorf("ValidateName(%q) = %q; want %q", tt.in, err, tt.wantErr)
		case err != nil && !errors.Is(err, ErrInvalidName):
			t.Errorf("ValidateName(%q) = %q, which does not match ErrInvalidName", tt.in, err)
		}
	}
}

// TestClassifyAll checks every code point against a description of the rules
// written from the Unicode tables, not from classify's own ranges.
func TestClassifyAll(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates cannot be decoded from valid UTF-8
		}
		var want class
		switch {
		case r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029:
			want = brk
		case r == '\t':
			want = tab
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r):
			want = drop
		case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFF == 0xFFFE, r&0xFFFF == 0xFFFF:
			want = drop
		default:
			want = keep
		}
		if got := classify(r); got != want {
			t.Errorf("classify(%U) = %d; want %d", r, got, want)
		}
	}
	// The characters the package removes by name must go whatever the
	// Unicode tables say.
	named := []rune{0x00AD, 0x061C, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F,
		0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064,
		0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF, 0x007F, 0x0080, 0x009B, 0x009F, 0x001B}
	for _, r := range named {
		if got := classify(r); got != drop {
			t.Errorf("classify(%U) = %d; want drop", r, got)
		}
		// Not "b": ESC b and U+009B b are escape sequences, which go whole.
		if got, _ := Message("a" + string(r) + "é"); got != "aé" {
			t.Errorf("Message(a %U é) = %q; want \"aé\"", r, got)
		}
	}
}

// TestFastPath checks that the shortcut for plain ASCII agrees with the full
// cleaning on the inputs that come closest to its edges.
func TestFastPath(t *testing.T) {
	ins := []string{"", " ", "a", " a", "a ", "a b", "~", "\x7f", "a\x1f", strings.Repeat("a", MaxMessageRunes),
		strings.Repeat("a", MaxMessageRunes+1), strings.Repeat("a", 24), strings.Repeat("a", 25)}
	for _, in := range ins {
		got, gotCut := Message(in)
		want, wantCut := message(in)
		if got != want || gotCut != wantCut {
			t.Errorf("Message(%.40q) = %.40q, %v; full cleaning gives %.40q, %v", in, got, gotCut, want, wantCut)
		}
		for _, max := range []int{math.MinInt, -1, 0, 1, 24, math.MaxInt} {
			if got, want := Line(in, max), line(in, max); got != want {
				t.Errorf("Line(%.40q, %d) = %.40q; full cleaning gives %.40q", in, max, got, want)
			}
		}
	}
}

func TestMessageAllocs(t *testing.T) {
	plain := "the quick brown fox jumps over the lazy dog, then files a bug report about it."
	if n := testing.AllocsPerRun(100, func() { Message(plain) }); n != 0 {
		t.Errorf("Message(plain ASCII) allocates %v times; want 0", n)
	}
	mixed := "the quick brown fox — jumps over the lazy dog 🦊\tthen\x1b[31m files a bug."
	if n := testing.AllocsPerRun(100, func() { Message(mixed) }); n > 1 {
		t.Errorf("Message(mixed) allocates %v times; want at most 1", n)
	}
}

func BenchmarkMessage(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"ascii80", "the quick brown fox jumps over the lazy dog, then files a bug report about it."},
		{"unicode80", "der schnelle braune Fuchs — springt über den faulen Hund 🦊, dann schreibt er."},
		{"hostile80", "\x1b]52;c;ZXZpbA==\x07\u202egnp.exe\x1b[2J\x1b[H safe\rEVIL\tz\u200bw\xff\xfe end   "},
		{"escapes80", "\x1b[1;31mred\x1b[0m, \x1b[32mgreen\x1b[0m, \x1b]8;;https://x.example/\x1b\\a link\x1b]8;;\x1b\\ ok"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.in)))
			b.ReportAllocs()
			for b.Loop() {
				Message(bm.in)
			}
		})
	}
}

func BenchmarkLine(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Line("  Alice\u202e the\tgreat  ", MaxNameRunes)
	}
}
