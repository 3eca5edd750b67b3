package safetext

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// hostile are seeds shared by the fuzz targets: terminal escapes, invisible
// and bidi characters, broken UTF-8 and oversized input, which comes last.
//
// Seeds of more than a few hundred bytes slow the fuzzer down: every child
// of theirs that finds new coverage is minimized, in time that grows with the
// square of its length. Beyond the two here, long inputs are in the unit
// tests, and FuzzCappedMessage reaches the caps with short ones.
var hostile = []string{
	"",
	"hello, world",
	"\x1b]52;c;ZXZpbA==\x07", // OSC 52 clipboard write
	"\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\", // OSC 8 hyperlink
	"\x1b[2J\x1b[H",                // clear screen, cursor home
	"\x1bPq#0;2;0;0;0#0!10~\x1b\\", // DCS (sixel)
	"\u009b31mred\u009b0m",         // C1 CSI
	"ding\x07\x07",
	"abc\b\b\bxyz",
	"safe\rEVIL",
	"\x1b[200~rm -rf ~\x1b[201~", // bracketed paste markers
	// Escape sequences: C1 strings and both STs; a string cut by a CSI;
	// sequences split across lines; nested (a tmux passthrough); ESC
	// sequences and a raw 8-bit CSI.
	"\u009d0;title\u009c\u0090q\x07\u009f_\x1b\\x",
	"\x1b]0;unterminated \x1b[1mbold",
	"a\x1b]52;c;ZX\nZpbA==\x07b\x1b[3\r\nJ",
	"dcs\x1bP+q544e\x1b\\ \x1bPtmux;\x1b\x1b]52;c;ZXZpbA==\x07\x1b\\end",
	"\x1bc\x1b(B\x1b#8\x1b Fx\x1b\x7f\x9b2J\xff\x1b",
	"\u202egnp.exe",
	"a\u200db",
	"\xff\xfe",
	"a\r\n\r\n\r\nb\u2028c\u2029d\u0085e",
	"  \t indented\t \n\n\n\n\nlast  \n \n",
	"\ufeff\u00ad\u2066\u2069\u061c\u180e\U000E0041\ue000\ufffe\uffff\ufdd0",
	"a\u00a0\u3000\u2000 \n\u3000",
	strings.Repeat("a\n", 30),
	strings.Repeat("x", 1<<20),
	strings.Repeat("\n", 10000),
}

func FuzzMessage(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, cut := Message(s)
		checkClean(t, got, true)
		if n := utf8.RuneCountInString(got); n > MaxMessageRunes {
			t.Fatalf("Message gave %d runes", n)
		}
		if n := strings.Count(got, "\n") + 1; n > MaxMessageLines {
			t.Fatalf("Message gave %d lines", n)
		}
		if strings.Contains(got, "\n\n\n\n") {
			t.Fatalf("Message kept more than %d blank lines: %q", maxBlankRun, got)
		}
		if strings.HasPrefix(got, "\n") || got != strings.TrimRightFunc(got, unicode.IsSpace) {
			t.Fatalf("Message gave leading blank lines or trailing space: %q", got)
		}
		for l := range strings.SplitSeq(got, "\n") {
			if l != strings.TrimRightFunc(l, unicode.IsSpace) {
				t.Fatalf("Message left trailing space on line %q", l)
			}
		}
		again, cut2 := Message(got)
		if again != got || cut2 {
			t.Fatalf("Message is not idempotent:\n%q, %v\n%q, %v", got, cut, again, cut2)
		}
		if slow, slowCut := message(s); slow != got || slowCut != cut {
			t.Fatalf("fast path disagrees: %q, %v; full cleaning %q, %v", got, cut, slow, slowCut)
		}
		if len(s) > refMax {
			return
		}
		if want, wantCut := refMessage(s, MaxMessageRunes, MaxMessageLines); want != got || wantCut != cut {
			t.Fatalf("Message(%q) = %q, %v; reference gives %q, %v", s, got, cut, want, wantCut)
		}
	})
}

// FuzzCappedMessage checks the caps against the reference with caps small
// enough for short inputs to reach them.
func FuzzCappedMessage(f *testing.F) {
	for _, s := range hostile[:len(hostile)-2] {
		f.Add(s, uint8(5), uint8(2))
	}
	f.Add("ab\n\n\n\ncd ef", uint8(7), uint8(3))
	f.Add("a\tb", uint8(3), uint8(1))
	f.Fuzz(func(t *testing.T, s string, maxRunes, maxLines uint8) {
		w := writer{multiline: true, max: int(maxRunes%64) + 1, maxLines: int(maxLines%8) + 1}
		w.clean(s)
		got := w.b.String()
		if len(s) > refMax {
			return
		}
		if want, wantCut := refMessage(s, w.max, w.maxLines); want != got || wantCut != w.cut {
			t.Fatalf("capped at %d runes, %d lines: %q gives %q, %v; reference gives %q, %v",
				w.max, w.maxLines, s, got, w.cut, want, wantCut)
		}
	})
}

func FuzzLine(f *testing.F) {
	for _, s := range hostile {
		for _, max := range []int{math.MinInt, 0, 1, MaxNameRunes, 80, math.MaxInt} {
			f.Add(s, max)
		}
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		got := Line(s, max)
		checkClean(t, got, false)
		if n := utf8.RuneCountInString(got); max > 0 && n > max {
			t.Fatalf("Line(_, %d) gave %d runes", max, n)
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("Line gave untrimmed %q", got)
		}
		if again := Line(got, max); again != got {
			t.Fatalf("Line is not idempotent: %q then %q", got, again)
		}
		if slow := line(s, max); slow != got {
			t.Fatalf("fast path disagrees: %q; full cleaning %q", got, slow)
		}
		if len(s) > refMax {
			return
		}
		if want := refLine(s, max); want != got {
			t.Fatalf("Line(%q, %d) = %q; reference gives %q", s, max, got, want)
		}
	})
}

// seqIntros are the introducers FuzzSequence builds sequences with: CSI,
// control strings, and ESC alone for the other escape sequences.
var seqIntros = []string{"\x1b[", "\u009b", "\x1b]", "\x1bP", "\x1bX", "\x1b^", "\x1b_",
	"\u009d", "\u0090", "\u0098", "\u009e", "\u009f", "\x1b"}

// seqTerms end the control strings FuzzSequence builds: BEL and the two
// forms of ST, and four line breaks, which leave a string unrecognised.
var seqTerms = []string{"\x07", "\x1b\\", "\u009c", "\n", "\r", "\u2028", "\u2029"}

// mapBytes replaces in s every byte that is in from with to.
func mapBytes(s, from string, to byte) string {
	b := []byte(s)
	for i, c := range b {
		if strings.IndexByte(from, c) >= 0 {
			b[i] = to
		}
	}
	return string(b)
}

// FuzzSequence builds an escape sequence from its arguments and puts it
// between two texts that start none: the result must clean as the two texts
// with a NUL (a control that goes alone) between them, whatever they hold,
// so the sequence goes whole and leaves nothing else changed. A sequence of
// more than maxSeq bytes, or a control string that a line break cuts, must
// lose its introducer only. pad brings a quarter of the sequences to about
// maxSeq bytes.
func FuzzSequence(f *testing.F) {
	f.Add("a ", uint8(0), "31;41", uint8(45), " RED\x1b[0m", uint16(1))
	f.Add("copy", uint8(2), "52;c;ZXZpbA==", uint8(0), "this", uint16(1))
	f.Add("", uint8(7), "0;title 👋\xff\t", uint8(2), "", uint16(1))
	f.Add("x\xe2\x80", uint8(3), "q#0;2;0;0;0", uint8(1), "\x80y", uint16(4))
	f.Add("a\r", uint8(4), "sos", uint8(4), "\nb", uint16(1))
	f.Add("", uint8(12), "(", uint8(18), "B", uint16(1))
	f.Add("", uint8(12), "", uint8(51), "hello", uint16(1))
	f.Add("\xff", uint8(1), "2", uint8(10), "\xfe", uint16(0))
	f.Add("a", uint8(2), "long", uint8(0), "b", uint16(40))
	f.Fuzz(func(t *testing.T, before string, kind uint8, body string, term uint8, after string, pad uint16) {
		before = mapBytes(mapBytes(before, "\x1b", 'E'), "\xc2", 'C') // no ESC, no C1 control
		intro := seqIntros[int(kind)%len(seqIntros)]
		padding := 0
		if pad&3 == 0 {
			padding = maxSeq - 40 + int(pad>>2)%64
		}
		var mid, end string
		cut := false // a line break ends a control string
		switch {
		case intro == "\x1b[" || intro == "\u009b", intro == "\x1b":
			var params, inter []byte
			for _, c := range []byte(body) {
				if c < 0x80 && intro != "\x1b" {
					params = append(params, 0x30+c%16)
				} else {
					inter = append(inter, 0x20+c%16)
				}
			}
			if intro == "\x1b" {
				mid = strings.Repeat(" ", padding) + string(inter)
				end = string(rune(0x30 + int(term)%79))
				if mid == "" && strings.Contains("[]PX^_", end) {
					end = "c" // ESC [ and the rest start other kinds
				}
			} else {
				mid = strings.Repeat("1", padding) + string(params) + string(inter)
				end = string(rune(0x40 + int(term)%63))
			}
		default:
			mid = mapBytes(body, "\x07", 'b')
			mid = mapBytes(mid, "\x1b", 'e')
			mid = mapBytes(mid, "\n\r", 'n')
			mid = mapBytes(mid, "\xc2", 'c')
			mid = strings.NewReplacer("\u2028", "L", "\u2029", "P").Replace(mid)
			mid = strings.Repeat("x", padding) + mid
			i := int(term) % len(seqTerms)
			end, cut = seqTerms[i], i >= 3
		}
		seq := intro + mid + end
		if m := refSeq.FindStringIndex(seq); !cut && (m == nil || m[1] != len(seq)) {
			t.Fatalf("built %+q, which is not one escape sequence", seq)
		}
		var want string
		if cut || len(seq) > maxSeq {
			want = before + "\x00" + seq[1+int(seq[0]>>7):] + after // ESC or a C1 control removed
		} else {
			want = before + "\x00" + after
		}
		in := before + seq + after
		got, gotCut := Message(in)
		if w, wCut := Message(want); got != w || gotCut != wCut {
			t.Fatalf("Message(%+q) = %+q, %v; want as Message(%+q) = %+q, %v", in, got, gotCut, want, w, wCut)
		}
		if got, w := line(in, 0), line(want, 0); got != w {
			t.Fatalf("Line(%+q, 0) = %+q; want as Line(%+q, 0) = %+q", in, got, want, w)
		}
	})
}

// nameSeeds are names valid and not, in many scripts, for FuzzValidateName
// and FuzzFold.
var nameSeeds = []string{"alice", "Bob_42", "-", "._-", "a b", "é", "e\u0301", "\x1b", "\u202e", "\xff",
	strings.Repeat("n", 24), strings.Repeat("n", 25), "AIice", "paypa1", "\u0430dmin", "аре", "ВОВ", "Straße",
	"Αλέξανδρος", "ΝΙΚΟΣ", "田中さん", "김철수", "علي42", "علي_", "דוד", "देवनागरी", "क्\u200dष", "ａｌｉｃｅ",
	"ｶﾀｶﾅ", "ℍello", "bob😀", "x\u0300\u0301\u0302\u0303", "ǅuro", "rn", "m"}

func FuzzValidateName(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	for _, s := range hostile[:len(hostile)-2] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateName(s)
		if err != nil {
			// The reason is shown to the user: it must be as clean as a Line.
			if msg := err.Error(); Line(msg, 0) != msg {
				t.Fatalf("unsafe error text %q", msg)
			}
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error %q does not match ErrInvalidName", err)
			}
			return
		}
		if Line(s, MaxNameRunes) != s || Line(s, 64) != s {
			t.Fatalf("valid name %+q is changed by Line", s)
		}
		if n, err := Normalize(s); n != s || err != nil {
			t.Fatalf("valid name %+q normalizes to %+q, %v", s, n, err)
		}
		for _, r := range s {
			if !(unicode.In(r, unicode.L, unicode.M, unicode.Nd) || r == '.' || r == '_' || r == '-') ||
				unicode.In(r, unicode.Cf, unicode.Co, unicode.Cc, unicode.Z, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) ||
				isInvisible(r) || unicode.IsSpace(r) {
				t.Fatalf("valid name %+q holds %U", s, r)
			}
		}
		k := Fold(s)
		if Fold(k) != k || Skeleton(k) != k {
			t.Fatalf("Fold(%+q) = %+q; Fold of that is %+q, Skeleton %+q", s, k, Fold(k), Skeleton(k))
		}
		// Other cases of s, by simple case folding: each rune becomes the
		// next, then the one after, in its orbit (a, A; k, K, U+212A KELVIN
		// SIGN; ...). İ is alone in its orbit: its lower case is i only by
		// full case folding, which takes it to "i\u0307".
		next := strings.Map(otherCase, s)
		if c1, c2 := Fold(next), Fold(strings.Map(otherCase, next)); c1 != k || c2 != k {
			t.Fatalf("Fold(%+q) = %+q, but in other cases %+q, %+q", s, k, c1, c2)
		}
		if sk := Skeleton(s); Skeleton(sk) != sk {
			t.Fatalf("Skeleton(%+q) = %+q; Skeleton of that is %+q", s, sk, Skeleton(sk))
		}
	})
}

// FuzzFold checks Fold and Skeleton on any text: Fold is also used on
// whole messages, to find mentions.
func FuzzFold(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	for _, s := range hostile[:len(hostile)-2] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Fold(s)
		if !utf8.ValidString(k) {
			t.Fatalf("Fold(%+q) = %+q is not UTF-8", s, k)
		}
		if Fold(k) != k {
			t.Fatalf("Fold is not idempotent: %+q, %+q, %+q", s, k, Fold(k))
		}
		if Skeleton(k) != k {
			t.Fatalf("Skeleton(Fold(%+q)) = %+q; want %+q", s, Skeleton(k), k)
		}
		if isASCII(s) && foldUnicode(s) != k {
			t.Fatalf("Fold(%+q) = %+q; without the ASCII path %+q", s, k, foldUnicode(s))
		}
		sk := Skeleton(s)
		if !utf8.ValidString(sk) || Skeleton(sk) != sk {
			t.Fatalf("Skeleton(%+q) = %+q, and Skeleton of that %+q", s, sk, Skeleton(sk))
		}
		if n, err := Normalize(s); err == nil && Fold(n) != k {
			t.Fatalf("Fold(%+q) = %+q but Fold(Normalize) = Fold(%+q) = %+q", s, k, n, Fold(n))
		}
	})
}

// otherCase returns the next letter in r's simple case folding orbit,
// skipping U+0345 COMBINING GREEK YPOGEGRAMMENI, the one mark in an orbit
// (that of ι), which no one writes for an iota.
func otherCase(r rune) rune {
	if unicode.IsMark(r) {
		return r
	}
	for o := unicode.SimpleFold(r); ; o = unicode.SimpleFold(o) {
		if !unicode.IsMark(o) {
			return o
		}
	}
}

// checkClean fails t if s holds anything cleaning must remove.
func checkClean(t *testing.T, s string, multiline bool) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("invalid UTF-8 in %q", s)
	}
	for _, r := range s {
		bad := false
		switch {
		case r == '\n':
			bad = !multiline
		case r < 0x20, r >= 0x7F && r <= 0x9F:
			bad = true
		case r == 0x2028, r == 0x2029:
			bad = true
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r):
			bad = true
		case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFF >= 0xFFFE:
			bad = true
		case r == 0x061C, r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			bad = true
		}
		if bad {
			t.Fatalf("%U left in %q", r, s)
		}
	}
}

// refMax is the longest input checked against the slow references, which
// would otherwise stall the fuzzer on the megabyte seeds.
const refMax = 4 << 10

// refSeq matches an escape sequence, of any length, at the start of a
// string, as the package documentation describes them: CSI; a control
// string (OSC, DCS, SOS, PM, APC) and its terminator (BEL or ST), on one
// line, with no ESC or C1 control inside; ESC, intermediates and a final
// byte that does not make it one of the others.
var refSeq = regexp.MustCompile(`^(?:` +
	`(?:\x1b\[|\x{9b})[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]` +
	`|(?:\x1b[\]PX^_]|[\x{90}\x{98}\x{9d}\x{9e}\x{9f}])[^\x07\x1b\n\r\x{80}-\x{9f}\x{2028}\x{2029}]*(?:\x07|\x1b\\|\x{9c})` +
	`|\x1b(?:[\x20-\x2f]+[\x30-\x7e]|[\x30-\x4f\x51-\x57\x59\x5a\x5c\x60-\x7e])` +
	`)`)

// refStrip replaces every escape sequence of at most maxSeq bytes in s,
// read from left to right, with a NUL, which cleaning removes as it would
// the sequence.
func refStrip(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if m := refSeq.FindStringIndex(s[i:]); m != nil && m[1] <= maxSeq {
			b.WriteByte(0)
			i += m[1]
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}

// refRunes is a slow, obvious version of the rune cleaning: it returns the
// cleaned runes with every line break as '\n' and every tab as tabs.
func refRunes(s string, tabs string) []rune {
	s = refStrip(s)
	var out []rune
	bad := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			if !bad {
				out = append(out, utf8.RuneError)
			}
			bad = true
			continue
		}
		bad = false
		switch {
		case r == '\r' && strings.HasPrefix(s[i:], "\n"):
		case r == '\r', r == '\n', r == 0x2028, r == 0x2029:
			out = append(out, '\n')
		case r == '\t':
			out = append(out, []rune(tabs)...)
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r), isNoncharacter(r):
		default:
			out = append(out, r)
		}
	}
	return out
}

// refMessage is a slow, obvious version of Message: clean, split into lines,
// trim, collapse, cap lines, cap runes, trim again.
func refMessage(s string, maxRunes, maxLines int) (string, bool) {
	lines := strings.Split(string(refRunes(s, "    ")), "\n")
	var kept []string
	blank := 0
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			blank++
			continue
		}
		if len(kept) > 0 {
			for range min(blank, 2) {
				kept = append(kept, "")
			}
		}
		blank = 0
		kept = append(kept, l)
	}
	cut := false
	if len(kept) > maxLines {
		kept, cut = kept[:maxLines], true
	}
	out := []rune(strings.Join(kept, "\n"))
	if len(out) > maxRunes {
		out, cut = out[:maxRunes], true
	}
	return strings.TrimRightFunc(string(out), unicode.IsSpace), cut
}

// refLine is a slow, obvious version of Line.
func refLine(s string, max int) string {
	out := []rune(strings.TrimSpace(strings.ReplaceAll(string(refRunes(s, " ")), "\n", " ")))
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return strings.TrimRightFunc(string(out), unicode.IsSpace)
}
