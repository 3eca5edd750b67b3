package room

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzParseCommand checks ParseCommand's contract on any input: it never
// panics; it reports a command exactly when text starts with one '/' (not
// "//"); a command's name is lower case and holds no white space (so that
// "/me<any space>waves" is /me); its args are trimmed. More seeds, among
// them the white space ParseCommand does not split on, are in
// testdata/fuzz/FuzzParseCommand.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"", "/", "//", "//x", "/help", "/ME hi", "/msg  bob  hi", "  /me hi",
		"/nick\tbob", "/away\r\nback soon", "/\xff\xfe", "/ÄÖÜ x", "/İ", "hello /me",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		name, args, ok := ParseCommand(text)
		single := strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "//")
		if ok != single {
			t.Fatalf("ParseCommand(%q): ok = %v, want %v (starts with exactly one '/')", text, ok, single)
		}
		if !ok {
			if name != "" || args != "" {
				t.Fatalf("ParseCommand(%q) = %q, %q for a non-command", text, name, args)
			}
			return
		}
		if i := strings.IndexFunc(name, unicode.IsSpace); i >= 0 {
			t.Fatalf("ParseCommand(%q): name %q holds white space %U", text, name, []rune(name[i:])[0])
		}
		if strings.ToLower(name) != name {
			t.Fatalf("ParseCommand(%q): name %q is not lower case", text, name)
		}
		if strings.TrimSpace(args) != args {
			t.Fatalf("ParseCommand(%q): args %q are not trimmed", text, args)
		}
	})
}
