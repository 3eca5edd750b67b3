package safetext

import (
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/bidirule"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// ErrInvalidName is matched, through errors.Is, by every error ValidateName
// returns. The error itself says what is wrong in words safe to show the
// person who chose the name.
var ErrInvalidName = errors.New("invalid name")

// nameError is a reason a name was refused, in words safe to show.
type nameError struct{ msg string }

func (e *nameError) Error() string { return e.msg }
func (e *nameError) Unwrap() error { return ErrInvalidName }

var (
	errNameLength  = &nameError{fmt.Sprintf("name must be 1 to %d characters", MaxNameRunes)}
	errNamePunct   = &nameError{"name must contain a letter or digit"}
	errNameMark    = &nameError{"name must not start with a combining mark"}
	errNameMarks   = &nameError{fmt.Sprintf("name must not stack more than %d combining marks on a letter, nor repeat one", maxMarkRun)}
	errNameBidi    = &nameError{"a right-to-left name must start with a right-to-left letter and end with one or a digit"}
	errNameContext = &nameError{"name uses a character where it is not allowed (such as two kinds of Arabic digits together)"}
)

// profile is the PRECIS profile (RFC 8265) that names are enforced with:
// UsernameCasePreserved, that is, the IdentifierClass (letters and digits of
// every script, and the printable ASCII; no spaces, symbols, controls,
// compatibility characters or unassigned code points), with fullwidth and
// halfwidth forms mapped to their usual width and NFC. Its last rule, the
// Bidi Rule of RFC 5893, is applied apart (see bidiOK), to names that hold
// right-to-left characters, as RFC 5893 means it to be: golang.org/x/text
// applies it to every name that is not ASCII, which would refuse "josé_"
// and "_josé" while "jose_" and "_jose" are fine.
//
// UsernameCaseMapped is the same profile with lower-casing; a display form
// keeps the case its owner chose, and Fold does the case-insensitive
// matching. Nickname (RFC 8266) is built on the FreeformClass, which allows
// spaces, symbols and emoji, all of which names refuse, and lower-cases too.
var profile = precis.NewIdentifier(precis.FoldWidth, precis.Norm(norm.NFC))

// bidiOK reports whether s, if it holds right-to-left characters, passes the
// Bidi Rule of RFC 5893: it does not mix right-to-left and left-to-right
// letters, starts with a right-to-left letter, and ends with one or a digit,
// so that a terminal that lays it out right to left shows it in one piece.
func bidiOK(s string) bool {
	return bidirule.DirectionString(s) != bidi.RightToLeft || bidirule.ValidString(s)
}

// maxMarkRun is the longest run of nonspacing marks a name may hold, as UTS
// #39 section 5.4 suggests: enough for any language, too few to pile marks
// into a tower over neighbouring lines ("zalgo" text).
const maxMarkRun = 4

// maxNameInput is the most bytes Normalize and ValidateName look at closely.
// A name is at most MaxNameRunes runes once normalized, and normalization
// shrinks text by a small factor at most (width folding of 3-byte forms to
// ASCII, composition of a letter and its marks).
const maxNameInput = 4 * MaxNameRunes * utf8.UTFMax

// ValidateName reports why s cannot be a name, or nil. A name is 1 to
// MaxNameRunes runes (code points, as Line counts them), each a letter, a
// combining mark or a decimal digit of any script, or '.', '_' or '-', with
// at least one letter or digit. Beyond ASCII, a name must also:
//
//   - pass the PRECIS UsernameCasePreserved profile (see Normalize) and be
//     in the form it gives, so that a valid name is its own display form;
//   - if it holds right-to-left letters, pass the Bidi Rule of RFC 5893:
//     no left-to-right letters, a right-to-left letter first, and one or a
//     digit last;
//   - not start with a combining mark, nor stack more than four nonspacing
//     marks or the same one twice in a row;
//   - be written in one script, or in one of the combinations that UTS #39
//     calls "highly restrictive" (Latin with Han, Hiragana and Katakana;
//     Latin with Han and Bopomofo; Latin with Han and Hangul). Digits and
//     '.', '_', '-' belong to every script. This refuses "аdmin" with a
//     Cyrillic а outright; whole-script look-alikes such as a Cyrillic
//     "аре" and a Latin "ape" are caught by Fold, which gives them the
//     same key.
//
// So no valid name holds a control, format (bidi control, zero-width
// character, ...), private-use, unassigned or white-space character, a
// symbol or emoji, or punctuation other than '.', '_' and '-'; cleaning a
// valid name with Line changes nothing.
//
// Every name that was valid when names were ASCII-only is still valid. The
// error, which matches ErrInvalidName, is safe to show to the user: it never
// repeats a control or invisible character as it is.
func ValidateName(s string) error {
	if n := utf8.RuneCountInString(s); n < 1 || n > MaxNameRunes {
		return errNameLength
	}
	alnum := false
	for i, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			alnum = true
		case c == '.', c == '_', c == '-':
		case c >= utf8.RuneSelf:
			return validateUnicode(s)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			return errNameRune(r, size)
		}
	}
	if !alnum {
		return errNamePunct
	}
	return nil
}

// Normalize returns the display form of the name s: s as the PRECIS
// UsernameCasePreserved profile enforces it (fullwidth letters and digits
// become ASCII, halfwidth katakana become fullwidth, NFC composes letters
// and their accents), if that is a valid name, or the reason it is not. The
// display form of a valid name is the name itself; in particular every
// ASCII name displays as it was typed.
//
// A caller that takes names typed by people can Normalize them before
// ValidateName, so that "ａｌｉｃｅ" (fullwidth) is taken as "alice"
// rather than refused.
func Normalize(s string) (string, error) {
	if len(s) > maxNameInput {
		return "", errNameLength
	}
	if isASCII(s) {
		if err := ValidateName(s); err != nil {
			return "", err
		}
		return s, nil
	}
	if err := checkRunes(width.Fold.String(s)); err != nil {
		return "", err
	}
	out, err := profile.String(s)
	if err != nil {
		return "", precisError(s)
	}
	if err := ValidateName(out); err != nil {
		return "", err
	}
	return out, nil
}

// validateUnicode is ValidateName for a name that is not all ASCII.
func validateUnicode(s string) error {
	if err := checkRunes(width.Fold.String(s)); err != nil {
		return err
	}
	out, err := profile.String(s)
	if err != nil {
		return precisError(s)
	}
	if out != s {
		if ValidateName(out) == nil {
			return &nameError{"name must be written in its normal form, " + strconv.Quote(out)}
		}
		return &nameError{"name is not in its normal form"}
	}
	alnum := false
	marks := 0    // nonspacing marks in a row
	var last rune // the previous rune
	for i, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
			if i == 0 {
				return errNameMark
			}
			marks++
			if marks > maxMarkRun || r == last {
				return errNameMarks
			}
		case unicode.Is(unicode.Mc, r):
			if i == 0 {
				return errNameMark
			}
			marks = 0
		default:
			marks = 0
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				alnum = true
			}
		}
		last = r
	}
	if !alnum {
		return errNamePunct
	}
	if err := checkScripts(s); err != nil {
		return err
	}
	if !bidiOK(s) {
		return errNameBidi
	}
	return nil
}

// checkRunes refuses, with a message naming it, the first rune of s that is
// not a letter, mark, decimal digit, '.', '_' or '-', or not valid UTF-8.
func checkRunes(s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !nameRune(r, size) {
			return errNameRune(r, size)
		}
		i += size
	}
	return nil
}

// nameRune reports whether r, decoded from size bytes, may be in a name
// before PRECIS has its say.
func nameRune(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return false
	case r < utf8.RuneSelf:
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r)
}

func errNameRune(r rune, size int) error {
	return &nameError{"name may contain only letters, digits, '.', '_' and '-' (found " + describeRune(r, size) + ")"}
}

// precisError explains why the profile refused s, which holds only runes
// that checkRunes allows once width is folded.
func precisError(s string) error {
	for _, r := range s {
		if _, err := profile.String(string(r)); err != nil {
			// A compatibility character (ℍ, ﬁ, 𝐚), a titlecase digraph
			// (ǅ), a conjoining Hangul jamo, an enclosing mark, ...
			return &nameError{"name may not contain " + describeRune(r, utf8.RuneLen(r)) + "; use the plain letter or digit"}
		}
	}
	// Every rune is allowed alone: one is not allowed where it stands
	// (RFC 5892 CONTEXTO rules, such as Arabic-Indic and extended
	// Arabic-Indic digits together).
	return errNameContext
}

// describeRune names r, decoded from size bytes, for an error message,
// without writing anything a terminal would act on.
func describeRune(r rune, size int) string {
	switch {
	case r == utf8.RuneError && size == 1:
		return "a byte that is not UTF-8"
	case r == ' ':
		return "a space"
	case r < utf8.RuneSelf && strconv.IsPrint(r):
		return strconv.QuoteRune(r)
	case strconv.IsPrint(r) && !invisibleGlyph(r): // letters, numbers, punctuation, symbols
		return fmt.Sprintf("%s, U+%04X", strconv.QuoteRune(r), r)
	}
	return fmt.Sprintf("U+%04X", r)
}

// invisibleGlyph reports printable runes that show nothing, or nothing of
// their own, which an error message names by number only: marks, which would
// sit on the quote before them, Hangul fillers and other default-ignorable
// letters, variation selectors, and the blank Braille pattern.
func invisibleGlyph(r rune) bool {
	return unicode.IsMark(r) || r == '\u2800' ||
		unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
