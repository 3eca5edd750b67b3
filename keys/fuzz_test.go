package keys

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

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

// FuzzSeedNeverWidens: whatever ~/.ssh/authorized_keys holds, every key
// Seed imports loads from the new file with exactly the from= and
// expiry-time its source line had, a line with any other restriction is
// not imported, and parley loads every line of the new file.
func FuzzSeedNeverWidens(f *testing.F) {
	for _, s := range []string{
		"{K1} alice@laptop\n",
		`from="10.9.9.9",command="backup-only" {K1} ci` + "\n",
		`restrict,pty {K1}` + "\n" + `no-pty {K2}` + "\n",
		`expiry-time="20991231",from="192.0.2.0/24,!192.0.2.9" {K1} d` + "\n",
		`expiry-time="20200101" {K1}` + "\n" + `from="*.example.com" {K2}` + "\n",
		`no-port-forwarding,NO-AGENT-FORWARDING {K1}` + "\n" + `cert-authority {K2}` + "\n",
		`from="10.0.0.1" {K1}` + "\n" + `from="10.0.0.2" {K1}` + "\n{K2}\n" + `from="10.0.0.3" {K2}` + "\n",
		"\x1b[2J{K1} \x1b]0;x\x07\n",
	} {
		f.Add(expand(f, s))
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 64<<10 {
			return
		}
		data, res := seedFile("/home/u/.ssh", []seedSource{{name: "/home/u/.ssh/authorized_keys", data: []byte(src)}}, now, time.UTC)
		snap, problems := ParseBytes(data)
		for _, p := range problems {
			if p.Skipped { // a comment that is no name is only a warning
				t.Fatalf("the seeded file has a line parley refuses, %v:\n%s", p, data)
			}
		}
		for _, s := range res.Skipped {
			if hasControl(s.String()) {
				t.Fatalf("skip reason with control characters: %q", s.String())
			}
		}
		// Every source line of an imported key: allowed options only, and
		// the same from= and expiry as the imported entry, or none.
		for line := range strings.Lines(src) {
			k, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				continue
			}
			e, ok := snap.Lookup(k)
			if !ok {
				continue
			}
			if !e.Admin {
				t.Fatalf("imported key %s is not an admin", e.Fingerprint)
			}
			var from []string
			var expires time.Time
			for _, o := range opts {
				name, v, _ := strings.Cut(o, "=")
				switch strings.ToLower(name) {
				case "no-port-forwarding", "no-agent-forwarding", "no-x11-forwarding", "no-user-rc":
				case "from":
					uq, _ := dequote(v)
					from = strings.Split(uq, ",")
				case "expiry-time":
					uq, _ := dequote(v)
					expires, _ = parseExpiry(uq)
					if now.After(expires) {
						t.Fatalf("expired key %s imported", e.Fingerprint)
					}
				default:
					t.Fatalf("key %s imported although its line has %q:\n%s", e.Fingerprint, o, data)
				}
			}
			if from != nil && !slices.Equal(from, e.From) {
				t.Fatalf("key %s imported with from=%v, its line has %v", e.Fingerprint, e.From, from)
			}
			if !expires.IsZero() && !expires.Equal(e.ExpiresAt) {
				t.Fatalf("key %s imported until %v, its line says %v", e.Fingerprint, e.ExpiresAt, expires)
			}
		}
	})
}
