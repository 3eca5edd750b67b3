package guard

import (
	"slices"
	"strings"
	"testing"
)

func TestFilterEnv(t *testing.T) {
	long := "X=" + strings.Repeat("a", 1022) // exactly 1 KiB
	tests := []struct {
		name        string
		env         []string
		maxVars     int
		maxBytes    int
		want        []string
		wantDropped int
	}{
		{"empty", nil, 0, 0, nil, 0},
		{"good", []string{"LANG=en_US.UTF-8", "LC_ALL=C", "COLORTERM=truecolor", "_X1=", "lower_ok=1"}, 0, 0,
			[]string{"LANG=en_US.UTF-8", "LC_ALL=C", "COLORTERM=truecolor", "_X1=", "lower_ok=1"}, 0},
		{"malformed", []string{"NOEQUALS", "=v", "1ABC=x", "A-B=x", "A B=x", "ÄB=x", "OK=1"}, 0, 0, []string{"OK=1"}, 6},
		{"value with equals", []string{"A=b=c"}, 0, 0, []string{"A=b=c"}, 0},
		{"control chars", []string{"A=\x1b[2J", "B=x\x00y", "C=a\tb", "D=\u0085", "E=\xff", "F=héllo"}, 0, 0,
			[]string{"C=a\tb", "F=héllo"}, 4},
		{"per var size", []string{long, long + "a"}, 0, 0, []string{long}, 1},
		{"max vars", []string{"A=1", "B=2", "C=3", "D=4"}, 2, 0, []string{"A=1", "B=2"}, 2},
		{"duplicate replaces in place", []string{"A=1", "B=2", "A=3"}, 2, 0, []string{"A=3", "B=2"}, 1},
		{"duplicate does not use a var slot", []string{"A=1", "A=2", "B=3"}, 2, 0, []string{"A=2", "B=3"}, 1},
		{"custom per var", []string{"A=12345", "B=1"}, 0, 4, []string{"B=1"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dropped := FilterEnv(tt.env, tt.maxVars, tt.maxBytes)
			if !slices.Equal(got, tt.want) || dropped != tt.wantDropped {
				t.Fatalf("FilterEnv = %q, %d; want %q, %d", got, dropped, tt.want, tt.wantDropped)
			}
		})
	}
}

func TestEnvTotalBytes(t *testing.T) {
	var env []string
	for i := range 40 {
		env = append(env, string(rune('A'+i%26))+strings.Repeat("B", i/26)+"="+strings.Repeat("v", 1000))
	}
	got, dropped := EnvPolicy{}.Filter(env)
	total := 0
	for _, kv := range got {
		total += len(kv)
	}
	if len(got) != 8 || dropped != 32 || total > DefaultEnvMaxTotalBytes {
		t.Fatalf("kept %d (%d bytes), dropped %d; want 8 within 8 KiB, 32 dropped", len(got), total, dropped)
	}
	// A duplicate that would overflow the total keeps the earlier value.
	got, dropped = EnvPolicy{MaxTotalBytes: 9}.Filter([]string{"A=1", "B=2", "A=12345"})
	if !slices.Equal(got, []string{"A=1", "B=2"}) || dropped != 1 {
		t.Fatalf("got %q, %d", got, dropped)
	}
}

func TestEnvBudget(t *testing.T) {
	b := EnvPolicy{MaxVars: 3, MaxVarBytes: 16, MaxTotalBytes: 20}.Budget()
	steps := []struct {
		key, value string
		want       bool
	}{
		{"LANG", "C", true},             // 6 bytes
		{"bad-key", "x", false},         // not counted
		{"A", "\x1b", false},            //
		{"LONG", "123456789012", false}, // 17 > 16
		{"B", "12345678", true},         // 10, total 16
		{"C", "1234", false},            // total would be 22
		{"C", "1", true},                // total 19, 3 vars
		{"D", "", false},                // 4th var
	}
	for i, s := range steps {
		if got := b.Allow(s.key, s.value); got != s.want {
			t.Fatalf("step %d Allow(%q, %q) = %v, want %v", i, s.key, s.value, got, s.want)
		}
	}
}

func FuzzFilterEnv(f *testing.F) {
	f.Add("A=1\x00B=2\x00A=3\x00=x\x00bad")
	f.Fuzz(func(t *testing.T, joined string) {
		env := strings.Split(joined, "\x00")
		p := EnvPolicy{MaxVars: 4, MaxVarBytes: 32, MaxTotalBytes: 64}
		kept, dropped := p.Filter(env)
		if len(kept)+dropped != len(env) {
			t.Fatalf("kept %d + dropped %d != %d", len(kept), dropped, len(env))
		}
		total := 0
		seen := map[string]bool{}
		for _, kv := range kept {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || !validKey(k) || seen[k] || len(kv) > 32 {
				t.Fatalf("kept %q", kv)
			}
			seen[k] = true
			total += len(kv)
		}
		if len(kept) > 4 || total > 64 {
			t.Fatalf("over the limits: %d vars, %d bytes", len(kept), total)
		}
	})
}
