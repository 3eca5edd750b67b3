package safetext

import (
	"slices"
	"strings"
	"unicode"
)

// A script is one of the Unicode scripts a name's letters can be written in.
type script struct {
	name  string
	table *unicode.RangeTable
}

// scripts lists every script but Common and Inherited (digits, '.', '_',
// '-', combining marks used by several scripts), which belong to all, by
// name so that messages are stable.
var scripts = func() []script {
	var s []script
	for name, t := range unicode.Scripts {
		if name != "Common" && name != "Inherited" {
			s = append(s, script{name, t})
		}
	}
	slices.SortFunc(s, func(a, b script) int { return strings.Compare(a.name, b.name) })
	return s
}()

// scriptOf returns the index in scripts of r's script, or -1 for Common and
// Inherited. It tries guess first: a name's letters are mostly of one script.
func scriptOf(r rune, guess int) int {
	if guess >= 0 && unicode.Is(scripts[guess].table, r) {
		return guess
	}
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return -1
	}
	for i, s := range scripts {
		if unicode.Is(s.table, r) {
			return i
		}
	}
	return -1 // unassigned: PRECIS has refused it already
}

// allowedMixes are the sets of scripts that UTS #39's "highly restrictive"
// level lets one identifier mix: the ways Chinese, Japanese and Korean are
// written, each with Latin.
var allowedMixes = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// checkScripts refuses a name whose letters are of more than one script,
// unless the scripts are one of allowedMixes.
func checkScripts(s string) error {
	var used []int // indexes in scripts, in order of first use
	guess := -1
	for _, r := range s {
		if r < 0x80 && !isASCIILetter(byte(r)) {
			continue // digits and '.', '_', '-' are Common
		}
		i := scriptOf(r, guess)
		if i < 0 {
			continue
		}
		guess = i
		if !slices.Contains(used, i) {
			used = append(used, i)
		}
	}
	if len(used) <= 1 || allowedMix(used) {
		return nil
	}
	// Name two scripts that may not be mixed. With the mixes allowed, a set
	// of scripts that is not allowed always holds such a pair.
	for i, a := range used {
		for _, b := range used[i+1:] {
			if !allowedMix([]int{a, b}) {
				return mixError(a, b)
			}
		}
	}
	return mixError(used[0], used[1])
}

func mixError(a, b int) error {
	return &nameError{"name must not mix scripts (it mixes " + scriptName(scripts[a].name) + " and " + scriptName(scripts[b].name) + ")"}
}

// allowedMix reports whether the scripts, indexes in scripts, are all in one
// of allowedMixes.
func allowedMix(used []int) bool {
	for _, mix := range allowedMixes {
		if !slices.ContainsFunc(used, func(i int) bool { return !slices.Contains(mix, scripts[i].name) }) {
			return true
		}
	}
	return false
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// scriptName is how a script is called in a message.
func scriptName(name string) string { return strings.ReplaceAll(name, "_", " ") }
