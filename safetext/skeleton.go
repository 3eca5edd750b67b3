package safetext

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// The tables in confusables_table.go are generated from the Unicode
// confusables data; see internal/gen/main.go and
// internal/gen/testdata/unhomoglyph-1.0.6/README.md. To regenerate them, run
// "go generate" in this directory, which runs:
//
//go:generate go run ./internal/gen -data internal/gen/testdata/unhomoglyph-1.0.6/data.json -source "npm package unhomoglyph 1.0.6, file data.json" -version 13.0.0 -o confusables_table.go

// Skeleton returns the UTS #39 skeleton of s: s in NFD, with every character
// replaced by the prototype that the Unicode confusables data gives it, in
// NFD again. Two strings whose skeletons are equal can be told apart by eye
// only with care: Skeleton("pаypa1"), with a Cyrillic а and a digit one, is
// Skeleton("paypal"). A skeleton is for comparing, not for display
// (Skeleton("m") is "rn"). Skeleton is case-sensitive, as UTS #39 is; Fold
// is the key names are compared by.
//
// Where the data maps a character to a prototype whose NFD holds a character
// the data maps in turn, that is mapped too, so Skeleton is idempotent.
// Each run of bytes that are not UTF-8 becomes one U+FFFD.
func Skeleton(s string) string {
	if i := asciiPrefix(s, skelASCII); i == len(s) {
		return s
	}
	return mapRunes(norm.NFD.String(validUTF8(s)), confSkel[:], skelASCII)
}

// Fold returns the key under which names are compared: names whose keys are
// equal are the same name, so a name can be refused when its key is another
// person's. Fold is case-insensitive and confusable-insensitive:
//
//	Fold("Alice") == Fold("alice")
//	Fold("аdmin") == Fold("admin")   // Cyrillic а
//	Fold("paypa1") == Fold("paypal") // digit one
//	Fold("AIice") == Fold("alice")   // capital I
//	Fold("ｂｏｂ") == Fold("bob")     // fullwidth, as PRECIS maps width
//
// It maps fullwidth and halfwidth forms to their usual width (as the PRECIS
// profile does), takes the NFD, and replaces every character by the key of
// its class, in NFD again. The classes join every character to the ones the
// Unicode confusables data (UTS #39) says it looks like, and to its other
// cases (simple case folding): whoever holds a name may show it in any case,
// so "AIice" (capital I, which looks like l) must collide with "alice".
// Joining the two relations through every script would merge Latin letters
// that look nothing alike (Greek ν looks like v, and its capital Ν like N),
// so a confusable that would join two ASCII letters or digits is left out,
// unless the data maps one ASCII character to the other: 0 -> O, 1 -> l,
// I -> l. So i, I, l, L and 1 are one class, and Fold("ian") ==
// Fold("lan").
//
// A key is for comparing and for use as a map key, not for display: it is
// in NFD and mostly lower case, and Fold("admin") is "adrnln". Keys of
// ASCII strings are ASCII except for a few symbols ('%'). Fold is
// idempotent, Skeleton leaves keys alone (Skeleton(Fold(s)) == Fold(s)), and
// strings with the same skeleton have the same key
// (Fold(Skeleton(s)) == Fold(s)), except for the handful of mappings the
// table's header lists. Fold is total: it folds any text, not just names,
// and each run of bytes that are not UTF-8 becomes one U+FFFD.
func Fold(s string) string {
	i := asciiPrefix(s, foldASCII)
	if i == len(s) {
		return s // the common case: a lower-case ASCII name with no i, m, 0 or 1
	}
	if !isASCII(s[i:]) {
		return foldUnicode(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if k := foldASCII[s[i]]; k != "" {
			b.WriteString(k)
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// foldUnicode is Fold for text that is not all ASCII.
func foldUnicode(s string) string {
	s = validUTF8(s)
	// Width first, as PRECIS does: a halfwidth voiced sound mark becomes a
	// combining mark, which NFD then orders.
	for i, r := range s {
		if mayFoldWidth(r) && width.LookupRune(r).Folded() != 0 {
			var b strings.Builder
			b.Grow(len(s))
			b.WriteString(s[:i])
			for _, r := range s[i:] {
				if mayFoldWidth(r) {
					if f := width.LookupRune(r).Folded(); f != 0 {
						r = f
					}
				}
				b.WriteRune(r)
			}
			s = b.String()
			break
		}
	}
	return mapRunes(norm.NFD.String(s), confFold[:], foldASCII)
}

// validUTF8 returns s with every run of bytes that are not UTF-8 replaced by
// one U+FFFD, as cleaning does. It must come before NFD, which passes such
// bytes through and may leave the character after them composed.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\ufffd")
}

// mayFoldWidth reports whether width folding might change r: only U+3000
// IDEOGRAPHIC SPACE and the Halfwidth and Fullwidth Forms block have
// another width (TestTables checks this against the width tables).
func mayFoldWidth(r rune) bool { return r == 0x3000 || r >= 0xFF01 && r <= 0xFFEE }

// mapRunes replaces every rune of s, which is in NFD, by its value in vals
// (confSkel or confFold; ascii gives the values of ASCII runes), and returns
// the result in NFD.
func mapRunes(s string, vals []uint16, ascii *[utf8.RuneSelf]string) string {
	value := func(r rune) (string, bool) {
		if r < utf8.RuneSelf {
			v := ascii[r]
			return v, v != ""
		}
		if i := confIndex(r); i >= 0 && vals[i] != 0 {
			return confValue(vals[i]), true
		}
		return "", false
	}
	// Most names in scripts the data says nothing about (Han, Hangul,
	// kana, ...) map to themselves: then s is returned as it is.
	start := len(s)
	for i, r := range s {
		if _, ok := value(r); ok {
			start = i
			break
		}
	}
	if start == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:start])
	for _, r := range s[start:] {
		if v, ok := value(r); ok {
			b.WriteString(v)
		} else {
			b.WriteRune(r)
		}
	}
	out := b.String()
	if !norm.NFD.IsNormalString(out) {
		out = norm.NFD.String(out)
	}
	return out
}

// confIndex returns the index of r in confKeys, or -1.
func confIndex(r rune) int {
	lo, hi := 0, len(confKeys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rune(confKeys[m]) < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(confKeys) && rune(confKeys[lo]) == r {
		return lo
	}
	return -1
}

// confValue returns value v (from 1) of confValues.
func confValue(v uint16) string {
	start := uint16(0)
	if v > 1 {
		start = confEnds[v-2]
	}
	return confValues[start:confEnds[v-1]]
}

// foldASCII and skelASCII give the value of each ASCII character in confFold
// and confSkel, or "" where it maps to itself.
var foldASCII, skelASCII = asciiTable(confFold[:]), asciiTable(confSkel[:])

func asciiTable(vals []uint16) *[utf8.RuneSelf]string {
	var t [utf8.RuneSelf]string
	for c := range t {
		if i := confIndex(rune(c)); i >= 0 && vals[i] != 0 {
			t[c] = confValue(vals[i])
		}
	}
	return &t
}

// asciiPrefix returns the length of the longest prefix of s that is ASCII
// mapped to itself by t.
func asciiPrefix(s string, t *[utf8.RuneSelf]string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || t[c] != "" {
			return i
		}
	}
	return len(s)
}
