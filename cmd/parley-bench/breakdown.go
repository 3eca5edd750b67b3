package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/x/ansi"
)

// Where a frame's bytes go (-breakdown): each escape sequence and each run
// of text is put in one part, by what it is (scrolling, the cursor, the
// window title) or else by the cell it is written at (the header row, the
// log's columns, the columns beside it, the input row). A cursor movement
// counts where it moves to. SGR sequences are counted in the part they are
// written in and, across parts, on their own.

// Parts of a frame.
const (
	partScroll = "scroll (margins, SU)"
	partCursor = "cursor (hide, place, show)"
	partTitle  = "window title"
	partHeader = "header row"
	partLog    = "log (the new message's row)"
	partSide   = "member column"
	partInput  = "input row"
	partOther  = "other"
)

var partOrder = []string{partLog, partScroll, partSide, partHeader, partCursor, partInput, partTitle, partOther}

// breakdown is what -breakdown measured.
type breakdown struct {
	frames, msgFrames int
	tokens            int            // "tok-" occurrences in message frames
	bytes             map[string]int // by part, message frames only
	sgr, sgrReset     int            // SGR bytes in message frames, and of them resets (ESC[m, ESC[0m)
	sgrBy             map[string]int // SGR bytes by part
	padding           int            // spaces in runs of 3 or more (padding to a width)
	total             int
	sizes             []int // of message frames
}

// analyze splits out into frames (each ends with ESC[?25h) and measures
// the frames that carry a token (a message) on a cols x rows screen whose
// log is split columns wide (cols when nothing is beside it).
func analyze(out []byte, cols, rows, split int) *breakdown {
	bd := &breakdown{bytes: map[string]int{}, sgrBy: map[string]int{}}
	for len(out) > 0 {
		i := bytes.Index(out, []byte(frameEnd))
		frame := out
		if i >= 0 {
			frame = out[:i+len(frameEnd)]
		}
		out = out[len(frame):]
		bd.frames++
		if !bytes.Contains(frame, []byte(tokenPrefix)) {
			continue
		}
		bd.msgFrames++
		bd.tokens += bytes.Count(frame, []byte(tokenPrefix))
		bd.total += len(frame)
		bd.sizes = append(bd.sizes, len(frame))
		bd.frame(frame, cols, rows, split)
	}
	return bd
}

// frame adds one frame's bytes to their parts.
func (bd *breakdown) frame(f []byte, cols, rows, split int) {
	p := ansi.NewParser()
	var state byte
	x, y := 0, 0 // the cursor; frames start wherever the last one left it
	spaces := 0  // the run of spaces just written
	where := func() string {
		switch {
		case y == 0:
			return partHeader
		case y >= rows-1:
			return partInput
		case x >= split:
			return partSide
		}
		return partLog
	}
	for len(f) > 0 {
		seq, width, n, newState := ansi.DecodeSequence(f, state, p)
		state = newState
		rest := f[n:]
		part := ""
		switch {
		case n == 0:
			n, part = 1, partOther
		case ansi.HasCsiPrefix(seq):
			cmd := ansi.Cmd(p.Command())
			params := p.Params()
			arg := func(i, def int) int { v, _, _ := params.Param(i, def); return max(v, 1) }
			switch {
			case cmd.Prefix() == '?' && (cmd.Final() == 'h' || cmd.Final() == 'l'):
				switch params[0].Param(0) {
				case 25:
					part = partCursor
				case 69:
					part = partScroll
				default:
					part = partOther
				}
			case cmd.Prefix() == 0 && strings.ContainsRune("rsST", rune(cmd.Final())):
				part = partScroll
				if cmd.Final() == 'r' {
					x, y = 0, 0 // DECSTBM homes the cursor
				}
			case cmd.Prefix() == 0 && cmd.Final() == 'H':
				y, x = min(arg(0, 1), rows)-1, min(arg(1, 1), cols)-1
				part = where()
				if bytes.HasPrefix(rest, []byte(ansi.ShowCursor)) {
					part = partCursor
				}
			case cmd.Prefix() == 0 && cmd.Final() == 'C':
				x = min(x+arg(0, 1), cols-1)
				part = where()
			case cmd.Prefix() == 0 && cmd.Final() == 'm':
				part = where()
				if beforeScroll(rest) {
					part = partScroll // the reset that makes scrolled-in rows plain
				}
				bd.sgr += len(seq)
				bd.sgrBy[part] += len(seq)
				if len(params) == 0 || len(params) == 1 && params[0].Param(0) == 0 {
					bd.sgrReset += len(seq)
				}
			default:
				part = where()
			}
		case len(seq) > 1 && seq[0] == ansi.ESC && seq[1] == ']':
			part = partTitle
		case len(seq) == 1 && seq[0] == '\r':
			x, part = 0, where()
		case len(seq) == 1 && seq[0] == '\n':
			y, part = min(y+1, rows-1), where()
		default: // text
			part = where()
			x = min(x+width, cols)
		}
		if len(seq) == 1 && seq[0] == ' ' {
			spaces++
			switch {
			case spaces == 3:
				bd.padding += 3
			case spaces > 3:
				bd.padding++
			}
		} else {
			spaces = 0
		}
		bd.bytes[part] += n
		f = f[n:]
	}
}

// beforeScroll reports whether b starts with DECSTBM.
func beforeScroll(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("\x1b[")) {
		return false
	}
	i := 2
	for i < len(b) && b[i] >= 0x30 && b[i] <= 0x3f {
		i++
	}
	return i < len(b) && b[i] == 'r'
}

// write prints the breakdown per message frame and per token.
func (bd *breakdown) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if bd.msgFrames == 0 {
		fmt.Fprintf(tw, "no frame carries a token (%d frames)\n", bd.frames)
		return tw.Flush()
	}
	mf, tok := float64(bd.msgFrames), float64(max(bd.tokens, 1))
	sort.Ints(bd.sizes)
	fmt.Fprintf(w, "%d frames, %d with a message (%d tokens); bytes per message frame: mean %.0f, median %d\n",
		bd.frames, bd.msgFrames, bd.tokens, float64(bd.total)/mf, bd.sizes[len(bd.sizes)/2])
	fmt.Fprintf(tw, "part\tbytes/frame\tof which SGR\tshare\t\n")
	for _, part := range partOrder {
		if bd.bytes[part] == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.0f%%\t\n", part, float64(bd.bytes[part])/mf, float64(bd.sgrBy[part])/mf, 100*float64(bd.bytes[part])/float64(bd.total))
	}
	fmt.Fprintf(tw, "all\t%.1f\t%.1f\t100%%\t\n", float64(bd.total)/mf, float64(bd.sgr)/mf)
	fmt.Fprintf(tw, "SGR resets (ESC[m, ESC[0m)\t%.1f\t\t%.0f%%\t\n", float64(bd.sgrReset)/mf, 100*float64(bd.sgrReset)/float64(bd.total))
	fmt.Fprintf(tw, "spaces in runs of 3 or more (padding)\t%.1f\t\t%.0f%%\t\n", float64(bd.padding)/mf, 100*float64(bd.padding)/float64(bd.total))
	fmt.Fprintf(tw, "tokens per message frame\t%.2f\t\t\t\n", tok/mf)
	return tw.Flush()
}

// runBreakdown is -breakdown: where the bytes of a -trace file go.
func runBreakdown(file string, cols, rows, split int, stdout io.Writer) error {
	out, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("-breakdown: %w", err)
	}
	return analyze(out, cols, rows, split).write(stdout)
}
