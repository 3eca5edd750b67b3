package command

import "testing"

func TestUsageLinesAndWordCounts(t *testing.T) {
	for _, tc := range []struct {
		spec       Spec
		chat, exec string
	}{
		{Spec{Name: "whois", Args: "NAME", JSON: true}, "/whois NAME", "whois NAME [--json]"},
		{Spec{Name: "who", Room: true, JSON: true}, "/who", "who [-r ROOM] [--json]"},
		{Spec{Name: "tail", Args: "[-n N] [-f]", Room: true, JSON: true}, "/tail [-n N] [-f]", "tail [-r ROOM] [-n N] [-f] [--json]"},
		{Spec{Name: "bans"}, "/bans", "bans"},
	} {
		if got := tc.spec.ChatUsage(); got != tc.chat {
			t.Errorf("%s: ChatUsage = %q, want %q", tc.spec.Name, got, tc.chat)
		}
		if got := tc.spec.ExecUsage(); got != tc.exec {
			t.Errorf("%s: ExecUsage = %q, want %q", tc.spec.Name, got, tc.exec)
		}
	}
	for _, tc := range []struct {
		min, max, n int
		ok          bool
	}{
		{0, 0, 0, true}, {0, 0, 1, false}, {1, 1, 0, false}, {1, 1, 1, true}, {1, 2, 3, false}, {1, -1, 9, true}, {1, -1, 0, false},
	} {
		if got := (Spec{Min: tc.min, Max: tc.max}).Words(tc.n); got != tc.ok {
			t.Errorf("Words(%d) with Min %d Max %d = %v", tc.n, tc.min, tc.max, got)
		}
	}
	c := &Call{Words: []string{"bob", "being", "rude"}}
	if c.Rest(1) != "being rude" || c.Rest(3) != "" {
		t.Errorf("Rest: %q %q", c.Rest(1), c.Rest(3))
	}
}
