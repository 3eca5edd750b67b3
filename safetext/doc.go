// Package safetext makes untrusted text inert before it reaches a terminal or a
// log, and validates the short identifiers people choose (names, room names).
//
// It knows nothing of rooms, sessions or SSH; it is a leaf package imported by
// both keys and room.
//
// Cleaning (Message and Line) works in one pass, one rune or one escape
// sequence at a time, with no regular expressions:
//
//   - invalid UTF-8 becomes U+FFFD, one per run of invalid bytes;
//   - an escape sequence that cleaning recognises (see below) is removed
//     whole;
//   - every other C0 control (ESC, BEL, backspace, ...), DEL and C1 control
//     (U+0080–U+009F) is removed alone, so no escape sequence can reach a
//     terminal: what is left of one that is not recognised is plain text;
//   - every format character (Unicode category Cf: bidi overrides and
//     isolates, zero-width spaces and joiners, the soft hyphen, the BOM, ...),
//     every private-use character and every noncharacter is removed;
//   - "\r\n", a lone '\r', '\n', U+2028 and U+2029 are line breaks: '\n' in a
//     Message, one space in a Line, so a carriage return cannot overwrite text;
//   - a tab becomes four spaces in a Message and one space in a Line.
//
// The escape sequences recognised are those of ECMA-48 and ECMA-35, read
// strictly, each at most 4096 bytes long from its introducer to its last
// byte:
//
//   - CSI: ESC '[' or U+009B, parameter bytes (0x30–0x3F), intermediate
//     bytes (0x20–0x2F), and a final byte (0x40–0x7E): "\x1b[2J",
//     "\x1b[31;41m", "\x1b[?1049h", "\x1b[201~";
//   - control strings: OSC (ESC ']' or U+009D), DCS (ESC 'P' or U+0090), SOS
//     (ESC 'X' or U+0098), PM (ESC '^' or U+009E) and APC (ESC '_' or
//     U+009F), up to and including the first BEL or ST (ESC '\' or
//     U+009C), either form of ST after either form of introducer:
//     "\x1b]52;c;ZXZpbA==\x07", "\x1bPq#0;2;0\x1b\\";
//   - any other ESC, intermediate bytes (0x20–0x2F) and a final byte
//     (0x30–0x7E): "\x1bc", "\x1b7", "\x1b(B", a stray ST "\x1b\\"; ESC
//     followed by a letter is such a sequence, and the letter goes with it,
//     as a terminal would take it.
//
// A control string must end on the line it starts on: a line break ('\n',
// '\r', U+2028, U+2029), an ESC that does not start an ST, or a C1 control
// other than ST before its end leaves it unrecognised, and so does the end
// of the text. Inside one, anything else goes with it: text, other C0
// controls, DEL, invalid UTF-8.
//
// A sequence that is not recognised, because it is cut short, malformed (a
// byte out of place in a CSI: a control, a non-ASCII character, a parameter
// byte after an intermediate) or too long, loses its introducer only (ESC,
// or the C1 control), and the rest is cleaned as text: "\x1b]0;title" with
// no end shows as "]0;title", and a sequence that starts inside it is
// recognised on its own. So a sequence hides no more than the line it is
// on, and never more than 4096 bytes.
//
// The C1 introducers count only as the characters U+0080–U+009F, written in
// UTF-8 (two bytes each). The single bytes 0x80–0x9F are not UTF-8: they
// become U+FFFD as any invalid UTF-8 does, and neither start nor end a
// sequence, so "\x9b2J" shows as "\uFFFD2J". Terminals that read UTF-8
// do not take them for controls either, and in other encodings some of
// them are letters (0x9E and 0x9F are "ž" and "Ÿ" in Windows-1252), which
// should not take the text after them away.
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
