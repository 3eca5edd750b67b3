// Package safetext makes untrusted text inert before it reaches a terminal or a
// log, and validates the short identifiers people choose (names, room names).
//
// It knows nothing of rooms, sessions or SSH; it is a leaf package imported by
// both keys and room.
//
// Cleaning (Message and Line) works one rune at a time, with no regular
// expressions:
//
//   - invalid UTF-8 becomes U+FFFD, one per run of invalid bytes;
//   - C0 controls (ESC, BEL, backspace, ...), DEL and C1 controls
//     (U+0080–U+009F, including the one-byte CSI U+009B) are removed, so no
//     escape sequence can reach a terminal: what is left of one is plain text;
//   - every format character (Unicode category Cf: bidi overrides and
//     isolates, zero-width spaces and joiners, the soft hyphen, the BOM, ...),
//     every private-use character and every noncharacter is removed;
//   - "\r\n", a lone '\r', '\n', U+2028 and U+2029 are line breaks: '\n' in a
//     Message, one space in a Line, so a carriage return cannot overwrite text;
//   - a tab becomes four spaces in a Message and one space in a Line.
//
// Message then trims trailing white space from every line, drops leading and
// trailing blank lines, collapses more than two blank lines in a row to two,
// and caps the result at MaxMessageLines lines and MaxMessageRunes runes.
// Line trims white space at both ends and caps the result at a given number of
// runes. Both are idempotent: cleaning clean text changes nothing.
//
// ValidateName is stricter than cleaning: a name is ASCII letters, digits,
// '.', '_' and '-' only, and Fold gives the key under which two names are the
// same.
package safetext
