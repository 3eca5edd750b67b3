package natslog

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// checkToken requires Token(name) to be one valid subject token and stream
// name suffix, short enough, and to decode back to name.
func checkToken(t *testing.T, name string) {
	t.Helper()
	tok := Token(name)
	if tok == "" && name != "" {
		t.Fatalf("Token(%q) is empty", name)
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			t.Fatalf("Token(%q) = %q: byte %q is not allowed", name, tok, c)
		}
	}
	if utf8.RuneCountInString(name) <= 24 && len(StreamName(name)) > 255 {
		t.Fatalf("StreamName(%q) is %d characters, over JetStream's 255", name, len(StreamName(name)))
	}
	back, err := ParseToken(tok)
	if err != nil || back != name {
		t.Fatalf("ParseToken(Token(%q) = %q) = %q, %v", name, tok, back, err)
	}
}

func TestTokenKeepsNamesApartAndValid(t *testing.T) {
	for _, name := range []string{"lobby", "dev-ops", "a.b", "a_b", "_h", "_5f", "café", "#x", "a b", "*", ">", strings.Repeat("ж", 24), strings.Repeat("😀", 24)} {
		checkToken(t, name)
	}
	if Token("a.b") == Token("a_b") || Token("_5f") == Token("_") {
		t.Fatal("two names share a token")
	}
	if got := Token("lobby"); got != "lobby" {
		t.Fatalf("Token(lobby) = %q, want it readable", got)
	}
}

func FuzzToken(f *testing.F) {
	for _, s := range []string{"lobby", "a.b", "_61", "_h00", "café", strings.Repeat("😀", 24), "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		checkToken(t, name)
		// ParseToken must refuse or decode anything without panicking.
		if s, err := ParseToken(name); err == nil && Token(s) != name && !strings.HasPrefix(name, "_h") {
			t.Fatalf("ParseToken(%q) = %q, whose token is %q", name, s, Token(s))
		}
	})
}
