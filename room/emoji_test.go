package room

import "testing"

func TestExpandShortcodes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ship it :tada:", "ship it 🎉"},
		{":+1::+1:", "👍👍"},
		{"at 10:30 :rocket: go", "at 10:30 🚀 go"},
		{"a :notacode: b", "a :notacode: b"},
		{"ratio 1:2:3", "ratio 1:2:3"},
		{"::", "::"},
		{"no colons", "no colons"},
		{":fire", ":fire"},
		{"https://example.com:8080/x:y", "https://example.com:8080/x:y"},
	} {
		if got := ExpandShortcodes(c.in); got != c.want {
			t.Errorf("ExpandShortcodes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzExpandShortcodes(f *testing.F) {
	for _, s := range []string{":tada:", "a:b:c", ":::", "::+1::", "\x1b]52;:fire:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := ExpandShortcodes(s)
		// Only known codes change, so text without any is returned as is.
		if ExpandShortcodes(out) != out && !containsCode(out) {
			t.Fatalf("not idempotent on %q", s)
		}
	})
}

func containsCode(s string) bool {
	for code := range shortcodes {
		if len(s) > len(code)+1 && contains(s, ":"+code+":") {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
