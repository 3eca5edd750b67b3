package tui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/mattn/go-runewidth"
)

// input is the line editor at the bottom of the screen: a value of runes
// and a cursor, soft-wrapped to the width, growing up to maxHeight rows.
//
// It replaces bubbles' textarea, which preallocates ~250 KiB per instance
// (a 10,000-line value array and memo cache): with one editor per session
// that was most of an idle session's memory. This one holds only what was
// typed. It is owned by the model, like every other part of it.
type input struct {
	value       []rune
	pos         int // cursor, an index into value
	width       int // of the text, without the prompt
	maxHeight   int
	limit       int // most runes the value may hold
	top         int // first visual row shown, when the value is taller than maxHeight
	prompt      string
	placeholder string
	promptStyle *lipgloss.Style // shared with the theme's styles
	holderStyle *lipgloss.Style

	view   string // View's last result, while viewOK
	viewOK bool   // cleared by every change
}

// plain is the style of an editor given none.
var plain = &lipgloss.Style{}

// changed drops the cached view.
func (in *input) changed() { in.viewOK = false }

// setStyles sets the prompt's and the placeholder's styles.
func (in *input) setStyles(prompt, placeholder *lipgloss.Style) {
	in.promptStyle, in.holderStyle = prompt, placeholder
	in.changed()
}

// promptWidth is the width of the prompt and of the indent of later rows.
const promptWidth = 2

func newInput(prompt, placeholder string, maxHeight, limit int) input {
	return input{prompt: prompt, placeholder: placeholder, maxHeight: maxHeight, limit: limit, width: 40}
}

// Value returns the text.
func (in *input) Value() string { return string(in.value) }

// SetValue replaces the text and puts the cursor at its end.
func (in *input) SetValue(s string) {
	in.changed()
	in.value = in.value[:0]
	in.pos = 0
	in.InsertString(s)
}

// Reset empties the editor and gives back a long value's memory.
func (in *input) Reset() {
	in.changed()
	if cap(in.value) > 256 {
		in.value = nil
	}
	in.value, in.pos, in.top = in.value[:0], 0, 0
}

// InsertString inserts s at the cursor, up to the limit. Control characters
// other than newline are dropped (the text is sanitised again on sending).
func (in *input) InsertString(s string) {
	var add []rune
	for _, r := range s {
		if r == '\n' || !unicode.IsControl(r) {
			add = append(add, r)
		}
	}
	if room := in.limit - len(in.value); len(add) > room {
		add = add[:max(room, 0)]
	}
	if len(add) == 0 {
		return
	}
	in.changed()
	in.value = append(in.value[:in.pos], append(add, in.value[in.pos:]...)...)
	in.pos += len(add)
}

// SetWidth sets the width of the whole editor, prompt included.
func (in *input) SetWidth(w int) {
	if w := max(w-promptWidth, 1); w != in.width {
		in.width = w
		in.changed()
	}
}

// rows lays the value out: each visual row is a [start, end) range of value.
// A cursor at the very end of a full row gets a row of its own.
func (in *input) rows() [][2]int {
	var out [][2]int
	start, w := 0, 0
	for i, r := range in.value {
		if r == '\n' {
			out = append(out, [2]int{start, i})
			start, w = i+1, 0
			continue
		}
		rw := runewidth.RuneWidth(r)
		if w+rw > in.width && i > start {
			out = append(out, [2]int{start, i})
			start, w = i, 0
		}
		w += rw
	}
	out = append(out, [2]int{start, len(in.value)})
	if last := out[len(out)-1]; in.pos == len(in.value) && in.pos > last[0] && in.cellWidth(last[0], last[1]) >= in.width {
		out = append(out, [2]int{len(in.value), len(in.value)})
	}
	return out
}

func (in *input) cellWidth(from, to int) int {
	w := 0
	for _, r := range in.value[from:to] {
		w += runewidth.RuneWidth(r)
	}
	return w
}

// cursorRow finds the visual row and column of the cursor.
func (in *input) cursorRow(rows [][2]int) (row, col int) {
	for i, r := range rows {
		next := len(in.value) + 1
		if i+1 < len(rows) {
			next = rows[i+1][0]
		}
		if in.pos >= r[0] && (in.pos < next || i == len(rows)-1) && in.pos <= r[1] {
			return i, in.cellWidth(r[0], in.pos)
		}
	}
	return len(rows) - 1, 0
}

// Height is how many rows the editor takes now.
func (in *input) Height() int { return min(len(in.rows()), in.maxHeight) }

// scroll keeps the cursor's row in view.
func (in *input) scroll(rows [][2]int) int {
	row, _ := in.cursorRow(rows)
	h := min(len(rows), in.maxHeight)
	if row < in.top {
		in.top = row
	}
	if row >= in.top+h {
		in.top = row - h + 1
	}
	in.top = min(max(in.top, 0), len(rows)-h)
	return h
}

// View renders the editor's rows.
func (in *input) View() string {
	if !in.viewOK {
		in.view, in.viewOK = in.draw(), true
	}
	return in.view
}

func (in *input) draw() string {
	prompt, holder := plain, plain
	if in.promptStyle != nil {
		prompt, holder = in.promptStyle, in.holderStyle
	}
	if len(in.value) == 0 {
		return prompt.Render(in.prompt) + holder.Render(ansi.Truncate(in.placeholder, in.width, ""))
	}
	rows := in.rows()
	h := in.scroll(rows)
	var b strings.Builder
	for i := in.top; i < in.top+h; i++ {
		if i > in.top {
			b.WriteByte('\n')
		}
		if i == 0 {
			b.WriteString(prompt.Render(in.prompt))
		} else {
			b.WriteString(strings.Repeat(" ", promptWidth))
		}
		b.WriteString(string(in.value[rows[i][0]:rows[i][1]]))
	}
	return b.String()
}

// Cursor is where the terminal's cursor goes, relative to the editor's
// top-left cell.
func (in *input) Cursor() *tea.Cursor {
	rows := in.rows()
	in.scroll(rows)
	row, col := in.cursorRow(rows)
	return tea.NewCursor(promptWidth+col, row-in.top)
}

// Update edits the value for a key. It reports whether the key was an
// editing key.
func (in *input) Update(k tea.KeyPressMsg) bool {
	in.changed()
	switch k.String() {
	case "left", "ctrl+b":
		in.pos = max(in.pos-1, 0)
	case "right", "ctrl+f":
		in.pos = min(in.pos+1, len(in.value))
	case "home", "ctrl+a":
		in.pos = in.lineStart()
	case "end", "ctrl+e":
		in.pos = in.lineEnd()
	case "alt+left", "ctrl+left", "alt+b":
		in.pos = in.wordLeft()
	case "alt+right", "ctrl+right", "alt+f":
		in.pos = in.wordRight()
	case "backspace", "ctrl+h":
		if in.pos > 0 {
			in.delete(in.pos-1, in.pos)
		}
	case "delete", "ctrl+d":
		if in.pos < len(in.value) {
			in.delete(in.pos, in.pos+1)
		}
	case "ctrl+w", "alt+backspace", "ctrl+backspace":
		in.delete(in.wordLeft(), in.pos)
	case "alt+d", "alt+delete":
		in.delete(in.pos, in.wordRight())
	case "ctrl+u":
		in.delete(in.lineStart(), in.pos)
	case "ctrl+k":
		in.delete(in.pos, in.lineEnd())
	case "alt+enter", "ctrl+j", "shift+enter":
		in.InsertString("\n")
	case "up", "down":
		in.moveRow(k.String() == "up")
	default:
		if k.Text == "" || k.Mod&^tea.ModShift != 0 {
			return false
		}
		in.InsertString(k.Text)
	}
	return true
}

func (in *input) delete(from, to int) {
	if from >= to {
		return
	}
	in.changed()
	in.value = append(in.value[:from], in.value[to:]...)
	in.pos = from
}

func (in *input) lineStart() int {
	i := in.pos
	for i > 0 && in.value[i-1] != '\n' {
		i--
	}
	return i
}

func (in *input) lineEnd() int {
	i := in.pos
	for i < len(in.value) && in.value[i] != '\n' {
		i++
	}
	return i
}

func (in *input) wordLeft() int {
	i := in.pos
	for i > 0 && unicode.IsSpace(in.value[i-1]) {
		i--
	}
	for i > 0 && !unicode.IsSpace(in.value[i-1]) {
		i--
	}
	return i
}

func (in *input) wordRight() int {
	i := in.pos
	for i < len(in.value) && unicode.IsSpace(in.value[i]) {
		i++
	}
	for i < len(in.value) && !unicode.IsSpace(in.value[i]) {
		i++
	}
	return i
}

// moveRow moves the cursor one visual row up or down, keeping its column.
func (in *input) moveRow(up bool) {
	rows := in.rows()
	row, col := in.cursorRow(rows)
	if up {
		row--
	} else {
		row++
	}
	if row < 0 || row >= len(rows) {
		return
	}
	r := rows[row]
	pos, w := r[0], 0
	for pos < r[1] && w+runewidth.RuneWidth(in.value[pos]) <= col {
		w += runewidth.RuneWidth(in.value[pos])
		pos++
	}
	in.pos = pos
}
