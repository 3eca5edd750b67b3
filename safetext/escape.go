package safetext

// Escape sequences. Cleaning removes every control character, so no escape
// sequence can reach a terminal; but what a sequence holds besides its
// controls is printable ("]52;c;ZXZpbA==" of a clipboard write, "[2J" of a
// screen clear), and showing it is ugly and confusing, so cleaning removes
// the sequences it recognises whole. The grammar is that of ECMA-48 and
// ECMA-35, read strictly: what does not parse exactly, is too long, or runs
// past the end of its line is not recognised, and loses only its
// introducer, as any other control character.

// maxSeq is the longest escape sequence, in bytes from its introducer to its
// last byte, that cleaning recognises and removes whole. It is long enough
// for a hyperlink (OSC 8) to any address a browser takes, and bounds what
// one sequence can hide. The package documentation gives its value.
const maxSeq = 4096

// c1Intro reports whether b, the second byte of the UTF-8 form 0xC2 b of a
// C1 control, makes that control one that introduces a sequence: CSI
// (U+009B), or a control string: DCS (U+0090), SOS (U+0098), OSC (U+009D),
// PM (U+009E) or APC (U+009F).
func c1Intro(b byte) bool {
	switch b {
	case 0x9B, 0x90, 0x98, 0x9D, 0x9E, 0x9F:
		return true
	}
	return false
}

// seqLen returns the length in bytes of the escape sequence that starts s,
// or 0 if none is recognised there. s starts with ESC, or with the UTF-8
// form of a C1 control for which c1Intro is true.
//
//   - CSI, ESC '[' or U+009B: parameter bytes (0x30–0x3F), then
//     intermediate bytes (0x20–0x2F), then one final byte (0x40–0x7E);
//   - a control string, introduced by ESC and ']' (OSC), 'P' (DCS), 'X'
//     (SOS), '^' (PM) or '_' (APC), or by U+009D, U+0090, U+0098, U+009E or
//     U+009F: anything but a line break, ESC or C1 control, up to and
//     including the first BEL or ST (ESC '\' or U+009C);
//   - any other ESC: intermediate bytes (0x20–0x2F), then one final byte
//     (0x30–0x7E): ESC c, ESC 7, ESC ( B, ESC '\', ...
//
// The whole sequence must be at most maxSeq bytes.
func seqLen(s string) int {
	if len(s) < 2 {
		return 0
	}
	end := min(len(s), maxSeq)
	if s[0] != 0x1B { // C1: 0xC2 and a byte for which c1Intro is true
		if s[1] == 0x9B {
			return csiLen(s, end)
		}
		return stringLen(s, end)
	}
	switch s[1] {
	case '[':
		return csiLen(s, end)
	case ']', 'P', 'X', '^', '_':
		return stringLen(s, end)
	}
	i := 1
	for i < end && s[i] >= 0x20 && s[i] <= 0x2F {
		i++
	}
	if i < end && s[i] >= 0x30 && s[i] <= 0x7E {
		return i + 1
	}
	return 0
}

// csiLen returns the length of the CSI sequence whose two-byte introducer
// starts s, or 0, looking no further than s[:end].
func csiLen(s string, end int) int {
	i := 2
	for i < end && s[i] >= 0x30 && s[i] <= 0x3F {
		i++
	}
	for i < end && s[i] >= 0x20 && s[i] <= 0x2F {
		i++
	}
	if i < end && s[i] >= 0x40 && s[i] <= 0x7E {
		return i + 1
	}
	return 0
}

// stringLen returns the length of the control string whose two-byte
// introducer starts s, with its terminator, or 0, looking no further than
// s[:end]. It works on bytes: every byte it looks for (BEL, ESC, CR, LF and
// the lead bytes 0xC2 of a C1 control and 0xE2 of U+2028 and U+2029) is
// where a rune starts, whether the bytes around it are valid UTF-8 or not,
// so it sees the runes cleaning would decode.
func stringLen(s string, end int) int {
	for i := 2; i < end; i++ {
		switch s[i] {
		case 0x07: // BEL
			return i + 1
		case 0x1B:
			if i+1 < end && s[i+1] == '\\' { // ST
				return i + 2
			}
			return 0 // another sequence starts: this one is not terminated
		case '\n', '\r':
			return 0
		case 0xC2:
			if i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9F { // a C1 control
				if s[i+1] == 0x9C && i+2 <= end { // ST
					return i + 2
				}
				return 0
			}
		case 0xE2:
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) { // U+2028, U+2029
				return 0
			}
		}
	}
	return 0
}
