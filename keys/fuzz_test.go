package keys

import (
	"bytes"
	"strings"
	"testing"

	"parley/safetext"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"\n\n#\n",
		"{K1} alice@laptop\n",
		"admin,name=\"bob\" {K1} x\r\n{K2} y",
		`restrict,expiry-time="20300101",from="10.0.0.0/8,!10.0.0.9,2001:db8::*" {K1}`,
		`command="echo \"hi\"" {K1}` + "\n{K1} dup\n{K2} dup",
		"{K1} alice@a\n{K2} alice@b\n{K1} alice@c\n",
		"ssh-ed25519 AAAA!!! x\nssh-foo AAAA\n\"unterminated {K1}",
		"\x1b[2J{K1}\n\x00\xff\xfe",
	} {
		f.Add([]byte(expand(f, s)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, errs := ParseBytes(data)
		lines := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}

		skipped := map[int]bool{}
		prev := 0
		for _, e := range errs {
			if e.Line < 1 || e.Line > lines || e.Line < prev {
				t.Fatalf("error line %d out of order or outside 1..%d: %v", e.Line, lines, e)
			}
			prev = e.Line
			if e.Skipped {
				skipped[e.Line] = true
			}
			if hasControl(e.Error()) {
				t.Fatalf("error has control characters: %q", e.Error())
			}
		}

		entries := snap.Entries()
		if snap.Len() != len(entries) {
			t.Fatalf("Len %d, %d entries", snap.Len(), len(entries))
		}
		fps := map[string]bool{}
		names := map[string]bool{}
		prev = 0
		for _, e := range entries {
			if e.Fingerprint == "" || e.Fingerprint != Fingerprint(e.Key) {
				t.Fatalf("line %d: bad fingerprint %q", e.Line, e.Fingerprint)
			}
			if fps[e.Fingerprint] {
				t.Fatalf("line %d: fingerprint %s loaded twice", e.Line, e.Fingerprint)
			}
			fps[e.Fingerprint] = true
			if e.Line <= prev || e.Line > lines || skipped[e.Line] {
				t.Fatalf("entry line %d (previous %d, %d lines, skipped %v)", e.Line, prev, lines, skipped[e.Line])
			}
			prev = e.Line
			if e.Name != "" {
				if err := safetext.ValidateName(e.Name); err != nil {
					t.Fatalf("line %d: invalid name %q: %v", e.Line, e.Name, err)
				}
				fold := safetext.Fold(e.Name)
				if names[fold] {
					t.Fatalf("line %d: name %q used twice", e.Line, e.Name)
				}
				names[fold] = true
				if fp, ok := snap.NameOwner(e.Name); !ok || fp != e.Fingerprint {
					t.Fatalf("line %d: NameOwner(%q) = %q, %v", e.Line, e.Name, fp, ok)
				}
			}
			if got, ok := snap.Lookup(e.Key); !ok || got.Line != e.Line {
				t.Fatalf("line %d: Lookup = %+v, %v", e.Line, got, ok)
			}
			if strings.ContainsAny(e.Name, "\n\r") {
				t.Fatalf("line %d: name spans lines", e.Line)
			}
		}
	})
}
