package keys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRemove(t *testing.T) {
	const file = "# parley keys\r\n" +
		"\r\n" +
		"# alice's laptop\r\n" +
		`admin,name="alice" {K1} alice@laptop` + "\r\n" +
		"{K2} bob@desktop\r\n" +
		`command="/bin/true" {K2} bob@refused` + "\r\n" + // refused, same key
		"{K3} carol@host\r\n" +
		"   # indented comment kept\r\n" +
		"{K4} dave@host" // no final newline
	cases := []struct {
		name, who string
		gone      []int    // line numbers removed
		keep      []string // substrings that must remain
		drop      string   // substring that must be gone
	}{
		{"by name", "alice", []int{4}, []string{"# alice's laptop", "{K2} bob@desktop", "   # indented comment kept"}, "{K1}"},
		{"by folded name", "ALICE", []int{4}, nil, "{K1}"},
		{"by comment name, with refused duplicate", "bob", []int{5, 6}, []string{"{K3} carol@host\r\n"}, "{K2}"},
		{"by fingerprint", "{FP3}", []int{7}, []string{"{K4} dave@host"}, "{K3}"},
		{"by bare fingerprint", "{BARE4}", []int{9}, []string{"{K3} carol@host\r\n   # indented"}, "{K4}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "authorized_keys")
			writeFile(t, path, expand(t, file))
			if err := os.Chmod(path, 0o640); err != nil {
				t.Fatal(err)
			}
			who := strings.NewReplacer("{FP3}", Fingerprint(testKey(t, 3)), "{BARE4}", strings.TrimPrefix(Fingerprint(testKey(t, 4)), "SHA256:")).Replace(tc.who)
			got, err := Remove(path, who)
			if err != nil {
				t.Fatalf("Remove(%q): %v", who, err)
			}
			if fmt.Sprint(got.Lines) != fmt.Sprint(tc.gone) {
				t.Errorf("removed lines %v, want %v", got.Lines, tc.gone)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			for _, k := range append(tc.keep, "# parley keys\r\n\r\n") {
				if k = expand(t, k); !strings.Contains(text, k) {
					t.Errorf("lost %q:\n%s", k, text)
				}
			}
			if d := expand(t, tc.drop); strings.Contains(text, d) {
				t.Errorf("%q is still in the file:\n%s", d, text)
			}
			if want := lineCount(expand(t, file)) - len(tc.gone); lineCount(text) != want {
				t.Errorf("file has %d lines, want %d:\n%s", lineCount(text), want, text)
			}
			assertMode(t, path, 0o640)
			snap, errs := ParseBytes(b)
			for _, e := range errs {
				if e.Skipped && !strings.Contains(e.Msg, "command") {
					t.Errorf("the rewritten file has a broken line: %v", e)
				}
			}
			if _, ok := snap.Lookup(got.Entry.Key); ok {
				t.Errorf("the key %s still loads", got.Entry.Fingerprint)
			}
		})
	}
}

func lineCount(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

func TestRemoveRefusedLineByFingerprint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	writeFile(t, path, expand(t, "# keep\n"+`command="x" {K5} eve@host`+"\n{K6} fay@host\n"))
	got, err := Remove(path, Fingerprint(testKey(t, 5)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Lines) != 1 || got.Lines[0] != 2 {
		t.Errorf("removed %v, want line 2", got.Lines)
	}
	b, _ := os.ReadFile(path)
	if string(b) != expand(t, "# keep\n{K6} fay@host\n") {
		t.Errorf("file after removal:\n%s", b)
	}
}

func TestRemoveUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	content := expand(t, "{K1} alice@laptop\n")
	writeFile(t, path, content)
	for _, who := range []string{"bob", Fingerprint(testKey(t, 2)), ""} {
		if _, err := Remove(path, who); err == nil {
			t.Errorf("Remove(%q) succeeded", who)
		} else if who != "" && !errors.Is(err, ErrNoSuchKey) {
			t.Errorf("Remove(%q): %v, want ErrNoSuchKey", who, err)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("a failed removal changed the file:\n%s", b)
	}
	if _, err := Remove(filepath.Join(t.TempDir(), "missing"), "alice"); !errors.Is(err, ErrNoSuchKey) {
		t.Errorf("missing file: %v, want ErrNoSuchKey", err)
	}
}

func TestFind(t *testing.T) {
	snap, _ := ParseBytes([]byte(expand(t, `name="alice" {K1}`+"\n{K2} bob@x\n")))
	fp2 := Fingerprint(testKey(t, 2))
	for who, want := range map[string]string{
		"alice": Fingerprint(testKey(t, 1)), "Bob": fp2, fp2: fp2, strings.TrimPrefix(fp2, "SHA256:"): fp2, "carol": "",
	} {
		e, ok := Find(snap, who)
		if ok != (want != "") || e.Fingerprint != want {
			t.Errorf("Find(%q) = %s, %v; want %q", who, e.Fingerprint, ok, want)
		}
	}
	if !LooksLikeFingerprint(fp2) || !LooksLikeFingerprint(strings.TrimPrefix(fp2, "SHA256:")) || LooksLikeFingerprint("alice") {
		t.Error("LooksLikeFingerprint")
	}
}
