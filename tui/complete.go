package tui

import (
	"strings"

	"parley/room"
)

// historySize is how many sent lines Up and Down recall.
const historySize = 50

// remember adds a sent line to the recall history.
func (m *Model) remember(text string) {
	if n := len(m.history); n > 0 && m.history[n-1] == text {
		m.histPos = -1
		return
	}
	m.history = append(m.history, text)
	if len(m.history) > historySize {
		m.history = m.history[1:]
	}
	m.histPos = -1
}

// recall moves through the history: dir -1 is older, +1 newer. It returns
// false when the key should go to the input instead.
func (m *Model) recall(dir int) bool {
	if strings.Contains(m.input.Value(), "\n") || len(m.history) == 0 {
		return false
	}
	if m.histPos == -1 {
		if dir > 0 {
			return false
		}
		m.draft = m.input.Value()
		m.histPos = len(m.history)
	}
	m.histPos += dir
	switch {
	case m.histPos < 0:
		m.histPos = 0
	case m.histPos >= len(m.history):
		m.histPos = -1
		m.input.SetValue(m.draft)
		return true
	}
	m.input.SetValue(m.history[m.histPos])
	return true
}

// complete expands the word before the end of the input: /commands at the
// start, #rooms, and names (with or without @). Pressing Tab again cycles
// through the candidates.
func (m *Model) complete() {
	val := m.input.Value()
	if m.completing != nil && val == m.completed {
		m.compIdx = (m.compIdx + 1) % len(m.completing)
		m.applyCompletion()
		return
	}
	m.completing = nil
	start := strings.LastIndexAny(val, " \n") + 1
	word := val[start:]
	if word == "" {
		return
	}
	var cands []string
	switch {
	case start == 0 && strings.HasPrefix(word, "/"):
		for _, c := range m.sess.Commands() {
			cands = append(cands, "/"+c.Name)
		}
		for _, c := range localCommands {
			cands = append(cands, "/"+c.Name)
		}
	case strings.HasPrefix(word, "#"):
		for _, r := range m.sess.Rooms() {
			cands = append(cands, "#"+r.Name)
		}
	default:
		at := strings.HasPrefix(word, "@")
		for _, p := range m.members {
			if at {
				cands = append(cands, "@"+p.Name)
			} else {
				cands = append(cands, p.Name)
			}
		}
	}
	var match []string
	for _, c := range cands {
		if strings.HasPrefix(strings.ToLower(c), strings.ToLower(word)) && c != word {
			match = append(match, c)
		}
	}
	if len(match) == 0 {
		return
	}
	m.completing, m.compIdx, m.compBase = match, 0, val[:start]
	m.applyCompletion()
}

func (m *Model) applyCompletion() {
	word := m.completing[m.compIdx]
	suffix := " "
	if m.compBase == "" && !strings.HasPrefix(word, "/") && !strings.HasPrefix(word, "#") {
		suffix = ": " // addressing someone at the start of a line
	}
	m.completed = m.compBase + word + suffix
	m.input.SetValue(m.completed)
}

// mentions reports whether msg, from someone else, names this person: as
// @name or as the name on its own, ignoring case.
func (m *Model) mentions(msg *room.Message) bool {
	if msg.FromID == m.sess.ID() || m.name == "" {
		return false
	}
	return containsWord(strings.ToLower(msg.Text), strings.ToLower(m.name))
}

// containsWord reports whether word occurs in text with no name character
// (letter, digit, '.', '_', '-') right before or after it.
func containsWord(text, word string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		if (start == 0 || !isNameByte(text[start-1])) && (end == len(text) || !isNameByte(text[end]) || (text[end] == '.' && (end+1 == len(text) || !isNameByte(text[end+1])))) {
			return true
		}
		i = start + 1
	}
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}
