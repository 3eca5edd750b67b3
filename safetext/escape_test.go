package safetext

import (
	"strings"
	"testing"
	"time"
)

func TestSequences(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // Message; Line must give Line(want, 0)
	}{
		// CSI, 7-bit.
		{"clear screen", "\x1b[2J\x1b[H", ""},
		{"words around", "wipe\x1b[2J\x1b[H\x1b[3Jall", "wipeall"},
		{"SGR colours", "\x1b[31;41mRED\x1b[0m text", "RED text"},
		{"private modes", "a\x1b[?1049hb\x1b[?25l", "ab"},
		{"cursor moves", "jump\x1b[9999;9999H\x1b[77A\x1b[s\x1b[u\x1b[1;1Hthere", "jumpthere"},
		{"bracketed paste markers", "\x1b[200~paste\x1b[201~", "paste"},
		{"intermediate byte", "a\x1b[2 qb", "ab"},
		{"every parameter and intermediate byte", "a\x1b[0123456789:;<=>? !\"#$%&'()*+,-./~b", "ab"},
		{"lowest and highest final byte", "\x1b[@x\x1b[~y", "xy"},
		{"parameter after intermediate: not a CSI", "a\x1b[ 1mb", "a[ 1mb"},
		{"control inside: not a CSI", "a\x1b[3\b2Jb", "a[32Jb"},
		{"non-ASCII inside: not a CSI", "a\x1b[3éb", "a[3éb"},
		{"DEL for a final byte: not a CSI", "a\x1b[\x7fb", "a[b"},
		{"no final byte", "a\x1b[31", "a[31"},
		{"nothing after the introducer", "a\x1b[", "a["},

		// Control strings, 7-bit.
		{"OSC 52, BEL", "copy\x1b]52;c;ZXZpbA==\x07this", "copythis"},
		{"OSC 52, ST", "copy\x1b]52;p;ZXZpbA==\x1b\\this", "copythis"},
		{"OSC 8 link", "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ here", "click here"},
		{"OSC titles", "\x1b]0;title\x07\x1b]2;pwned\x07x", "x"},
		{"OSC with UTF-8, bidi, invalid UTF-8", "\x1b]0;títle 👋\u202e\xff\x07x", "x"},
		{"OSC with tab and other C0", "\x1b]0;a\tb\x00c\x7f\x08\x07x", "x"},
		{"OSC ended by C1 ST", "\x1b]0;t\u009cx", "x"},
		{"empty OSC", "\x1b]\x07x", "x"},
		{"DCS (sixel)", "\x1bPq#0;2;0;0;0#0!10~\x1b\\x", "x"},
		{"DCS, BEL", "\x1bP+q544e\x07x", "x"},
		{"SOS", "\x1bXsos\x1b\\x", "x"},
		{"PM", "\x1b^pm\x1b\\x", "x"},
		{"APC (kitty graphics)", "\x1b_Gf=100;AAAA\x1b\\x", "x"},
		{"titles, alternate screen, reset", "\x1b]0;title\x07\x1b]2;pwned\x07\x1b[?1049h\x1b[?25l\x1bc\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\end", "end"},

		// Other escape sequences: ESC, intermediates, a final byte.
		{"RIS", "a\x1bcb", "ab"},
		{"save and restore cursor", "a\x1b7b\x1b8c", "abc"},
		{"character sets", "a\x1b(Bb\x1b)0c", "abc"},
		{"two intermediates", "a\x1b$(Bb", "ab"},
		{"DECALN", "a\x1b#8b", "ab"},
		{"S7C1T", "a\x1b Fb", "ab"},
		{"stray ST", "a\x1b\\b", "ab"},
		{"a letter is a final byte", "\x1bhello", "ello"},
		{"ESC ESC", "a\x1b\x1b[2Jb", "ab"},
		{"ESC DEL", "a\x1b\x7fb", "ab"},
		{"ESC and non-ASCII", "a\x1béb", "aéb"},
		{"ESC and an intermediate at the end", "a\x1b(", "a("},
		{"ESC at the end", "a\x1b", "a"},

		// C1 introducers and ST, in UTF-8.
		{"C1 CSI", "\u009b31mred\u009b0m", "red"},
		{"C1 CSI clear", "c1\u009b2Jx", "c1x"},
		{"C1 CSI, no final byte", "a\u009b31", "a31"},
		{"C1 OSC, C1 ST", "\u009d0;title\u009cx", "x"},
		{"C1 OSC, BEL", "\u009d52;c;ZXZpbA==\x07x", "x"},
		{"C1 OSC, ESC ST", "\u009d0;t\x1b\\x", "x"},
		{"C1 DCS", "\u0090q\u009cx", "x"},
		{"C1 SOS, PM, APC", "\u0098a\u009c\u009eb\u009c\u009fc\u009cx", "x"},
		{"corpus C1", "c1\u009b2J\u009b31mX\u0090q\u009c\u009d0;t\u009c", "c1X"},
		{"lone C1 ST", "a\u009cb", "ab"},
		{"other C1 controls go alone", "a\u0084b\u008fc\u0085d", "abcd"},

		// Raw 8-bit C1 bytes are invalid UTF-8: U+FFFD, no sequence.
		{"raw CSI byte", "raw\x9b2J\x9b31mX", "raw\uFFFD2J\uFFFD31mX"},
		{"raw OSC and ST bytes", "\x9d0;t\x9cx", "\uFFFD0;t\uFFFDx"},
		{"raw ST does not end an OSC", "\x1b]0;t\x9cx", "]0;t\uFFFDx"},
		{"raw ESC-less bytes in a string", "\x1b]0;\x9b\x9d\x07x", "x"},
		{"invalid byte before a C1 CSI", "\xe0\u009b2Jx", "\uFFFDx"},
		{"a sequence between invalid bytes", "\xff\x1b[0m\xfe", "\uFFFD\uFFFD"},
		{"a cut UTF-8 rune before ESC", "\xe6\x97\x1b[0mx", "\uFFFDx"},

		// Unterminated control strings lose their introducer only.
		{"OSC, no terminator", "\x1b]0;title", "]0;title"},
		{"C1 OSC, no terminator", "\u009d0;title", "0;title"},
		{"DCS, no terminator", "say \x1bPhello there", "say Phello there"},
		{"APC, ESC at the end", "\x1b_apc\x1b", "_apc"},
		{"OSC cut by a newline", "\x1b]0;ti\ntle\x07x", "]0;ti\ntlex"},
		{"OSC cut by CR", "\x1b]0;ti\rtle\x07x", "]0;ti\ntlex"},
		{"OSC cut by CRLF", "\x1b]0;ti\r\ntle\x1b\\x", "]0;ti\ntlex"},
		{"OSC cut by U+2028", "\x1b]0;a\u2028b\x07", "]0;a\nb"},
		{"OSC cut by U+2029", "\u009d0;a\u2029b\u009c", "0;a\nb"},
		{"OSC cut by NEL", "\x1b]0;a\u0085b\x07", "]0;ab"},
		{"OSC cut by a C1 control", "\x1b]0;a\u0084b\x07", "]0;ab"},
		{"OSC cut by a CSI", "\x1b]0;title\x1b[31mred", "]0;titlered"},
		{"OSC cut by a C1 CSI", "\x1b]0;a\u009b31mb\x07", "]0;ab"},
		{"OSC cut by ESC b", "\x1b]0;a\x1bb\x07", "]0;a"},
		{"unterminated string in a long message", "\x1b]8;;" + strings.Repeat("word ", 300), "]8;;" + strings.TrimSpace(strings.Repeat("word ", 300))},

		// Nested.
		{"OSC in an OSC", "\x1b]0;\x1b]2;x\x07y\x07z", "]0;yz"},
		{"CSI in a CSI", "\x1b[1\x1b[2Jx", "[1x"},
		{"tmux passthrough", "dcs\x1bP+q544e\x1b\\ \x1bPtmux;\x1b\x1b]52;c;ZXZpbA==\x07\x1b\\end", "dcs Ptmux;end"},
		{"string then CSI", "\x1b]0;t\x1b\\\x1b[2Jx", "x"},
		{"C1 in 7-bit", "\x1b]0;t\u009c\u009b2Jx", "x"},

		// Split across lines.
		{"OSC split across lines", "a\x1b]52;c;ZXZp\nbA==\x07b", "a]52;c;ZXZp\nbA==b"},
		{"CSI split across lines", "a\x1b[2\nJb", "a[2\nJb"},
		{"ESC at the end of a line", "a\x1b\n[2Jb", "a\n[2Jb"},
		{"C1 CSI at the end of a line", "a\u009b\n2Jb", "a\n2Jb"},
		{"sequences on their own lines", "\x1b[1mone\n\x1b]0;t\x07two", "one\ntwo"},
		{"a line of sequences is blank", "a\n\x1b[2J\x1b[H\nb", "a\n\nb"},
		{"a sequence between CR and LF", "a\r\x1b[0m\nb", "a\n\nb"},

		// White space.
		{"spaces around a sequence", "a \x1b[31m b", "a  b"},
		{"trailing spaces after a sequence", "a\x1b[0m   ", "a"},
		{"leading sequence, then spaces", "\x1b[0m  a", "  a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := Message(tt.in)
			if got != tt.want || cut {
				t.Errorf("Message(%.80q) = %.80q, %v; want %.80q, false", tt.in, got, cut, tt.want)
			}
			if got, want := Line(tt.in, 0), Line(tt.want, 0); got != want {
				t.Errorf("Line(%.80q, 0) = %.80q; want %.80q", tt.in, got, want)
			}
		})
	}
}

// TestSequenceBound checks sequences of maxSeq bytes, which go whole, and
// of one byte more, which lose their introducer only.
func TestSequenceBound(t *testing.T) {
	r := strings.Repeat
	tests := []struct {
		name        string
		intro, term string
		fill        string // repeated between intro and term
		long        string // what shows of the sequence of maxSeq+1 bytes, before "end"
	}{
		{"CSI", "\x1b[", "m", "1", "[" + r("1", maxSeq-2) + "m"},
		{"C1 CSI", "\u009b", "m", "1", r("1", maxSeq-2) + "m"},
		{"OSC, BEL", "\x1b]", "\x07", "x", "]" + r("x", maxSeq-2)},
		{"OSC, ST", "\x1b]", "\x1b\\", "x", "]" + r("x", maxSeq-3)},
		{"OSC, C1 ST", "\x1b]", "\u009c", "x", "]" + r("x", maxSeq-3)},
		{"C1 APC, ST", "\u009f", "\x1b\\", "x", r("x", maxSeq-3)},
		{"ESC, intermediates", "\x1b", "F", " ", "F"},
	}
	for _, tt := range tests {
		n := maxSeq - len(tt.intro) - len(tt.term)
		seq := tt.intro + r(tt.fill, n) + tt.term
		if got := line(seq+"end", 0); got != "end" {
			t.Errorf("%s of %d bytes: %.40q...; want \"end\"", tt.name, len(seq), got)
		}
		seq = tt.intro + r(tt.fill, n+1) + tt.term
		if got := line(seq+"end", 0); got != tt.long+"end" {
			t.Errorf("%s of %d bytes: %.40q...; want %.40q...", tt.name, len(seq), got, tt.long+"end")
		}
	}
}

// TestSequenceScanLinear: unrecognised introducers are cheap, however many
// and however long the text after them.
func TestSequenceScanLinear(t *testing.T) {
	ins := []string{
		strings.Repeat("\x1b]x", 1<<18),
		strings.Repeat("\x1b]"+strings.Repeat("x", 5000), 100),
		strings.Repeat("\x1b["+strings.Repeat("1", 5000), 100),
		strings.Repeat("\u009d\x1b[", 1<<17),
		"\x1b]" + strings.Repeat("x", 1<<20),
		strings.Repeat("\x1b[0m", 1<<18),
	}
	for _, in := range ins {
		start := time.Now()
		Message(in)
		line(in, 0)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cleaning %.20q... (%d bytes) took %v", in, len(in), d)
		}
	}
}
