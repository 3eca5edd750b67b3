package safetext

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
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
	errNameLength = &nameError{fmt.Sprintf("name must be 1 to %d characters", MaxNameRunes)}
	errNamePunct  = &nameError{"name must contain a letter or digit"}
)

// ValidateName reports why s cannot be a name, or nil. A name is 1 to
// MaxNameRunes ASCII letters, digits, '.', '_' and '-', with at least one
// letter or digit. The error, which matches ErrInvalidName, is safe to show to
// the user: it never repeats a control or invisible character as it is.
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
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			return &nameError{"name may contain only letters, digits, '.', '_' and '-' (found " + describeRune(r, size) + ")"}
		}
	}
	if !alnum {
		return errNamePunct
	}
	return nil
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
	case strconv.IsPrint(r): // letters, marks, numbers, punctuation, symbols
		return fmt.Sprintf("%s, U+%04X", strconv.QuoteRune(r), r)
	}
	return fmt.Sprintf("U+%04X", r)
}

// Fold returns the comparison key for a name: names that fold equal are the
// same name. Valid names are ASCII, so this is ASCII lower case; other input
// is lower-cased too.
func Fold(s string) string { return strings.ToLower(s) }
