package safetext

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

const (
	errLetters = "name may contain only letters, digits, '.', '_' and '-' (found "
	errLength  = "name must be 1 to 24 characters"
)

func TestValidateUnicodeName(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string // "" for a valid name
	}{
		// Letters of any script, with their marks.
		{"latin accents", "José_Zoë-Ångström", ""},
		{"latin extended", "Łukasz.Straße", ""},
		{"cyrillic", "Иван_42", ""},
		{"greek", "Αλέξανδρος", ""},
		{"han", "田中", ""},
		{"hiragana", "たなか", ""},
		{"japanese mix", "田中さんタナカ", ""},
		{"japanese with latin", "tanaka田中", ""},
		{"hangul", "김철수", ""},
		{"hangul with han and latin", "Kim김金", ""},
		{"bopomofo with han", "ㄅㄆ中文", ""},
		{"arabic", "علي", ""},
		{"arabic with digits", "علي42", ""},
		{"hebrew", "דוד", ""},
		{"devanagari with marks", "देवनागरी", ""},
		{"thai", "สมชาย", ""},
		{"four marks", "x\u0300\u0301\u0302\u0303", ""},
		{"24 han", strings.Repeat("字", 24), ""},

		// Length is counted in runes.
		{"25 han", strings.Repeat("字", 25), errLength},
		{"24 runes of 12 letters", strings.Repeat("x\u0301", 12), ""},
		{"25 runes", strings.Repeat("x\u0301", 12) + "y", errLength},

		// Not letters or digits.
		{"emoji", "bob😀", errLetters + "'😀', U+1F600)"},
		{"emoji only", "👍", errLetters + "'👍', U+1F44D)"},
		{"symbol", "a™", errLetters + "'™', U+2122)"},
		{"superscript digit", "x²", errLetters + "'²', U+00B2)"},
		{"roman numeral", "Ⅻ", errLetters + "'Ⅻ', U+216B)"},
		{"cjk punctuation", "田中。", errLetters + "'。', U+3002)"},
		{"no-break space", "a\u00a0b", errLetters + "U+00A0)"},
		{"ideographic space", "田\u3000中", errLetters + "a space)"}, // width folding makes it one

		// Invisible and control characters.
		{"rlo", "abc\u202e", errLetters + "U+202E)"},
		{"rlm", "علي\u200f", errLetters + "U+200F)"},
		{"lri", "a\u2066b\u2069", errLetters + "U+2066)"},
		{"arabic letter mark", "علي\u061c", errLetters + "U+061C)"},
		{"zero-width space", "ad\u200bmin", errLetters + "U+200B)"},
		{"zwj between letters", "é\u200db", errLetters + "U+200D)"},
		{"zwj after virama", "क्\u200dष", errLetters + "U+200D)"}, // PRECIS allows this one
		{"zwnj", "ی\u200cی", errLetters + "U+200C)"},
		{"bom", "\ufeffé", errLetters + "U+FEFF)"},
		{"soft hyphen", "é\u00adb", errLetters + "U+00AD)"},
		{"c1 control", "é\u0085", errLetters + "U+0085)"},
		{"private use", "é\ue000", errLetters + "U+E000)"},
		{"unassigned", "é\u0378", errLetters + "U+0378)"},
		{"noncharacter", "é\ufdd0", errLetters + "U+FDD0)"},
		{"surrogate bytes", "é\xed\xa0\x80", errLetters + "a byte that is not UTF-8)"},
		{"tag character", "é\U000E0041", errLetters + "U+E0041)"},
		{"hangul filler", "\u3164", "name may not contain U+3164; use the plain letter or digit"},
		{"halfwidth hangul filler", "a\uffa0", "name may not contain U+FFA0; use the plain letter or digit"},
		{"hangul jamo filler", "\u115f김", "name may not contain U+115F; use the plain letter or digit"},
		{"variation selector", "é\ufe0f", "name may not contain U+FE0F; use the plain letter or digit"},
		{"combining grapheme joiner", "é\u034f", "name may not contain U+034F; use the plain letter or digit"},
		{"mongolian variation selector", "ᠠ\u180b", "name may not contain U+180B; use the plain letter or digit"},
		{"braille blank", "é\u2800", errLetters + "U+2800)"},

		// PRECIS.
		{"compatibility letter", "ℍello", "name may not contain 'ℍ', U+210D; use the plain letter or digit"},
		{"ligature", "ﬁsh", "name may not contain 'ﬁ', U+FB01; use the plain letter or digit"},
		{"math bold", "𝐚lice", "name may not contain '𝐚', U+1D41A; use the plain letter or digit"},
		{"titlecase digraph", "ǅuro", "name may not contain 'ǅ', U+01C5; use the plain letter or digit"},
		{"fullwidth", "ａｌｉｃｅ", `name must be written in its normal form, "alice"`},
		{"halfwidth katakana", "ｶﾀｶﾅ", `name must be written in its normal form, "カタカナ"`},
		{"decomposed", "e\u0301", `name must be written in its normal form, "é"`},
		{"rtl then ltr", "علي_ali", "name must not mix scripts (it mixes Arabic and Latin)"},
		{"rtl ending in punctuation", "علي_", errNameBidi.msg},
		{"rtl and ltr digits", "١علي", errNameBidi.msg},

		// Combining marks.
		{"leading mark", "\u0301abc", errNameMark.msg},
		{"leading spacing mark", "\u093eक", errNameMark.msg},
		{"five marks", "x\u0300\u0301\u0302\u0303\u0304", errNameMarks.msg},
		{"repeated mark", "x\u0303\u0303", errNameMarks.msg},
		{"marks and punctuation only", "_\u0301", "name must contain a letter or digit"},

		// Scripts.
		{"latin and cyrillic", "Ivanов", "name must not mix scripts (it mixes Latin and Cyrillic)"},
		{"cyrillic а in latin", "\u0430dmin", "name must not mix scripts (it mixes Cyrillic and Latin)"},
		{"greek ο in latin", "g\u03bfogle", "name must not mix scripts (it mixes Latin and Greek)"},
		{"latin and arabic digit", "abc\u0661", "name must not mix scripts (it mixes Latin and Arabic)"},
		{"ltr name with punctuation", "_josé.", ""},
		{"ltr name with digits first", "1josé", ""},
		{"rtl starting with a digit", "1علي", errNameBidi.msg},
		{"two kinds of arabic digits", "علي١۱", errNameContext.msg},
		{"hiragana and hangul", "たなか김", "name must not mix scripts (it mixes Hiragana and Hangul)"},
		{"latin, han, hiragana, hangul", "a田た김", "name must not mix scripts (it mixes Hiragana and Hangul)"},
	}
	for _, tt := range tests {
		err := ValidateName(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: ValidateName(%+q) = %q; want nil", tt.name, tt.in, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("%s: ValidateName(%+q) = nil; want %q", tt.name, tt.in, tt.wantErr)
		case err != nil && err.Error() != tt.wantErr:
			t.Errorf("%s: ValidateName(%+q) = %q; want %q", tt.name, tt.in, err, tt.wantErr)
		case err != nil && !errors.Is(err, ErrInvalidName):
			t.Errorf("%s: ValidateName(%+q) = %q, which does not match ErrInvalidName", tt.name, tt.in, err)
		case err != nil && Line(err.Error(), 0) != err.Error():
			t.Errorf("%s: error %+q is not clean", tt.name, err)
		case err == nil && Line(tt.in, MaxNameRunes) != tt.in:
			t.Errorf("%s: valid name %+q is changed by Line", tt.name, tt.in)
		}
		if n, nerr := Normalize(tt.in); err == nil && (nerr != nil || n != tt.in) {
			t.Errorf("%s: Normalize(%+q) = %+q, %v; want it unchanged", tt.name, tt.in, n, nerr)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{"alice", "alice", ""},
		{"Bob_42", "Bob_42", ""},
		{"ａｌｉｃｅ", "alice", ""},
		{"Ｂｏｂ＿４２", "Bob_42", ""},
		{"ｶﾀｶﾅ", "カタカナ", ""},
		{"e\u0301", "é", ""},
		{"Zo\u0065\u0308", "Zoë", ""},
		{strings.Repeat("e\u0301", 20), strings.Repeat("é", 20), ""}, // 40 runes in, 20 out
		{"ａ\u3000ｂ", "", errLetters + "a space)"},                    // after width folding
		{"ｂｏｂ！", "", errLetters + "'!')"},
		{"ℍello", "", "name may not contain 'ℍ', U+210D; use the plain letter or digit"},
		{"\u0430dmin", "", "name must not mix scripts (it mixes Cyrillic and Latin)"},
		{"", "", errLength},
		{strings.Repeat("é", 25), "", errLength},
		{strings.Repeat("e\u0301", 400), "", errLength},
		{strings.Repeat("x", 1<<20), "", errLength},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("Normalize(%.40q): error %q does not match ErrInvalidName", tt.in, err)
			}
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("Normalize(%.40q) = %q, %q; want %q, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
		if err == nil && ValidateName(got) != nil {
			t.Errorf("Normalize(%.40q) = %q, which ValidateName refuses: %v", tt.in, got, ValidateName(got))
		}
	}
}

// oldValidName is ValidateName as it was when names were ASCII only.
func oldValidName(s string) bool {
	if n := utf8.RuneCountInString(s); n < 1 || n > MaxNameRunes {
		return false
	}
	alnum := false
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			alnum = true
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return alnum
}

// TestASCIINamesUnchanged checks that every name valid before Unicode names
// is still valid and displays as it did: all names of up to three
// characters, and random longer ones. For ASCII, validity has not changed
// at all.
func TestASCIINamesUnchanged(t *testing.T) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._- !@\x1b\x7f"
	check := func(s string) {
		old, err := oldValidName(s), ValidateName(s)
		if old != (err == nil) {
			t.Fatalf("ValidateName(%q) = %v; before Unicode names it was valid: %v", s, err, old)
		}
		if !old {
			return
		}
		if n, err := Normalize(s); n != s || err != nil {
			t.Fatalf("Normalize(%q) = %q, %v; want it unchanged", s, n, err)
		}
		if Line(s, MaxNameRunes) != s {
			t.Fatalf("Line changes %q", s)
		}
	}
	var b []byte
	var gen func(n int)
	gen = func(n int) {
		if n == 0 {
			check(string(b))
			return
		}
		for i := 0; i < len(alphabet); i++ {
			b = append(b, alphabet[i])
			gen(n - 1)
			b = b[:len(b)-1]
		}
	}
	for n := 1; n <= 3; n++ {
		gen(n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		b = b[:0]
		for range 4 + rng.IntN(MaxNameRunes) {
			b = append(b, alphabet[rng.IntN(len(alphabet)-5)]) // valid characters only
		}
		check(string(b))
	}
}

func TestFold(t *testing.T) {
	same := [][]string{
		{"alice", "Alice", "ALICE", "aLiCe"},
		{"alice", "AIice", "a1ice", "al1ce", "ａｌｉｃｅ"},       // capital I, digit one, fullwidth
		{"admin", "\u0430dmin", "adrnin", "ADMIN", "аdmіn"}, // Cyrillic а; Cyrillic а and і
		{"paypal", "paypa1", "paypaI", "PAYPAL", "pаypаl"},
		{"google", "g00gle", "GOOGLE", "g\u03bf\u03bfgle"}, // digit zero; Greek omicron
		{"ape", "аре", "APE", "АРЕ"},                       // whole-script Cyrillic, which ValidateName allows
		{"bob", "вов", "ВОВ", "BOB", "b0b", "ｂｏｂ"},         // Cyrillic ve looks like B when capital
		{"hello", "ℍello", "һello", "HELLO"},               // double-struck H; Cyrillic shha
		{"m", "rn", "M", "RN"},
		{"ian", "lan", "Ian", "IAN", "LAN", "1an"},
		{"é", "e\u0301", "É", "E\u0301"},
		{"ä", "Ä", "a\u0308"},
		{"σοφία", "ΣΟΦΊΑ", "σοφι\u0301α"},
		{"カタカナ", "ｶﾀｶﾅ"}, // halfwidth, as PRECIS maps it
		{"田中", "田中"},
		{"bob.smith", "bob．smith"}, // fullwidth full stop
	}
	for _, group := range same {
		want := Fold(group[0])
		for _, s := range group[1:] {
			if got := Fold(s); got != want {
				t.Errorf("Fold(%+q) = %+q; want %+q, Fold(%+q)", s, got, want, group[0])
			}
		}
	}
	different := [][2]string{
		{"alice", "bob"},
		{"alice", "alicia"},
		{"e", "é"},
		{"a", "ä"},
		{"田中", "田仲"},
		{"김철수", "김철주"},
		{"bob", "rob"},
		{"admin", "admim"},
		{"n", "rn"},
		{"ali", "ai"},
		{"vase", "nase"}, // Greek ν and Ν, but not v and N
		{"nikos", "vikos"},
		{"ss", "ß"},
	}
	for _, p := range different {
		if Fold(p[0]) == Fold(p[1]) {
			t.Errorf("Fold(%+q) == Fold(%+q) == %+q; want them apart", p[0], p[1], Fold(p[0]))
		}
	}
	keys := []struct{ in, want string }{
		{"lobby", "lobby"},
		{"general", "general"},
		{"root", "root"},
		{"Bob_42", "bob_42"},
		{"alice", "allce"},
		{"admin", "adrnln"},
		{"ALICE.b_C-1", "allce.b_c-l"},
		{"Ä", "a\u0308"},
		{"ВОВ", "bob"},
		{"", ""},
		{"\xff", "\ufffd"},
		{"a\xff\xfeb", "a\ufffdb"},
		{"\xf0\u04f9", "\ufffdbl\u0308"}, // NFD must not see the bad byte: ӹ is ы and a diaeresis
	}
	for _, tt := range keys {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%+q) = %+q; want %+q", tt.in, got, tt.want)
		}
	}
}

func TestSkeleton(t *testing.T) {
	tests := []struct{ in, want string }{
		{"paypal", "paypal"},
		{"paypa1", "paypal"},
		{"paypaI", "paypal"},
		{"Alice", "Alice"}, // case-sensitive, as UTS #39 is
		{"AIice", "Alice"},
		{"\u0430dmin", "adrnin"},
		{"m", "rn"},
		{"g00gle", "gOOgle"},
		{"ℍello", "Hello"},
		{"é", "e\u0301"},
		{"ВОВ", "BOB"},
		{"田中", "田中"},
		{"", ""},
	}
	// U+FBA5 maps to U+06C0, whose NFD holds U+06D5, which is mapped in turn.
	if got := Skeleton("\ufba5"); Skeleton(got) != got || strings.ContainsRune(got, '\u06d5') {
		t.Errorf("Skeleton(U+FBA5) = %+q, which is not a skeleton", got)
	}
	for _, tt := range tests {
		if got := Skeleton(tt.in); got != tt.want {
			t.Errorf("Skeleton(%+q) = %+q; want %+q", tt.in, got, tt.want)
		}
		if got := Skeleton(Skeleton(tt.in)); got != Skeleton(tt.in) {
			t.Errorf("Skeleton is not idempotent on %+q: %+q then %+q", tt.in, Skeleton(tt.in), got)
		}
	}
}

// TestTables checks the generated tables: sorted keys, values that are NFD
// and valid, keys of Fold that are their own keys and that Skeleton leaves
// alone, and the ASCII fast paths.
func TestTables(t *testing.T) {
	if tablesUnicodeVersion != norm.Version {
		t.Errorf("confusables_table.go was generated with Unicode %s normalization; this build has %s: run go generate",
			tablesUnicodeVersion, norm.Version)
	}
	if tablesUnicodeVersion != unicode.Version {
		t.Errorf("confusables_table.go was generated with Unicode %s case folding; this build has %s: run go generate",
			tablesUnicodeVersion, unicode.Version)
	}
	if int(confEnds[len(confEnds)-1]) != len(confValues) {
		t.Fatalf("value ends stop at %d of %d bytes", confEnds[len(confEnds)-1], len(confValues))
	}
	for i, k := range confKeys {
		r := rune(k)
		if i > 0 && confKeys[i-1] >= k {
			t.Fatalf("keys out of order at %d: U+%04X after U+%04X", i, k, confKeys[i-1])
		}
		if norm.NFD.String(string(r)) != string(r) {
			t.Errorf("U+%04X is not NFD-stable: NFD never lets it be looked up", r)
		}
		if confSkel[i] == 0 && confFold[i] == 0 {
			t.Errorf("U+%04X maps to nothing", r)
		}
		for _, v := range []uint16{confSkel[i], confFold[i]} {
			if v == 0 {
				continue
			}
			s := confValue(v)
			if !utf8.ValidString(s) || s == "" || !norm.NFD.IsNormalString(s) || strings.ContainsFunc(s, unicode.IsControl) {
				t.Errorf("value %+q of U+%04X is not valid NFD free of controls", s, r)
			}
		}
		if v := confFold[i]; v != 0 {
			k := confValue(v)
			if Fold(k) != k || Skeleton(k) != k {
				t.Errorf("key %+q of U+%04X: Fold gives %+q, Skeleton %+q; want it unchanged", k, r, Fold(k), Skeleton(k))
			}
		}
	}
	value := func(r rune, vals []uint16) string {
		if i := confIndex(r); i >= 0 && vals[i] != 0 {
			return confValue(vals[i])
		}
		return string(r)
	}
	for c := range utf8.RuneSelf {
		s := string(rune(c))
		if got, want := Fold(s), value(rune(c), confFold[:]); got != want {
			t.Errorf("Fold(%q) = %+q; the table gives %+q", s, got, want)
		}
		if got, want := Skeleton(s), value(rune(c), confSkel[:]); got != want {
			t.Errorf("Skeleton(%q) = %+q; the table gives %+q", s, got, want)
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if width.LookupRune(r).Folded() != 0 && !mayFoldWidth(r) {
			t.Fatalf("width folding maps U+%04X, which mayFoldWidth leaves out", r)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(utf8.RuneSelf))
		}
		s := string(b)
		if got, want := Fold(s), foldUnicode(s); got != want {
			t.Fatalf("Fold(%q) = %+q; the Unicode path gives %+q", s, got, want)
		}
	}
}

// TestFoldJoinsSkeletons checks that a character and its UTS #39 prototype
// have the same key, but for the few mappings the generator leaves out of
// Fold (listed in the header of confusables_table.go), which must stay few.
func TestFoldJoinsSkeletons(t *testing.T) {
	var apart []string
	for i, k := range confKeys {
		if confSkel[i] == 0 {
			continue
		}
		s := string(rune(k))
		if Fold(s) != Fold(Skeleton(s)) {
			apart = append(apart, s)
		}
	}
	t.Logf("%d of %d one-character mappings are not joined by Fold: %+q", len(apart), len(confKeys), apart)
	if len(apart) > 40 {
		t.Errorf("%d mappings are not joined by Fold; the generator should leave out a few dozen at most", len(apart))
	}
}

var benchNames = []struct{ name, s string }{
	{"ascii-key", "lobby"},
	{"ascii-upper", "Alice_Smith"},
	{"cyrillic", "Иван_42"},
	{"cjk", "田中さん"},
	{"message", "hey everyone, has anybody seen the release notes for tomorrow's deploy?"},
}

func BenchmarkFold(b *testing.B) {
	for _, bn := range benchNames {
		b.Run(bn.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Fold(bn.s)
			}
		})
	}
}

func BenchmarkValidateName(b *testing.B) {
	for _, bn := range benchNames[:4] {
		b.Run(bn.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ValidateName(bn.s)
			}
		})
	}
}
