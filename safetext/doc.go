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
// Names are stricter than cleaning. A name (ValidateName) is 1 to
// MaxNameRunes letters, combining marks and decimal digits of any one script
// (or of one of the mixes Chinese, Japanese and Korean are written in), and
// '.', '_' and '-'; it passes the PRECIS UsernameCasePreserved profile of RFC
// 8265 and is in the form that profile gives, which Normalize returns. So no
// name holds a control, bidi control, zero-width or other invisible
// character, a space, a symbol or an emoji, and every name that was valid
// when names were ASCII-only still is, and displays as it did.
//
// Fold gives the key under which two names are the same: names that differ
// in case, or that look alike by the Unicode confusables data of UTS #39
// ("аdmin" with a Cyrillic а, "paypa1" with a digit one, "AIice" with a
// capital I), fold to the same key, so the maps of names in use keyed by
// Fold refuse a look-alike of a name that is taken. Skeleton is the UTS #39
// skeleton itself. Both use tables generated (go generate) from the
// confusables data: see confusables_table.go and internal/gen.
package safetext
