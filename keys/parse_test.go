package keys

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type wantEntry struct {
	line  int
	name  string
	admin bool
}

type wantErr struct {
	line    int
	msg     string // substring
	skipped bool
}

func TestParse(t *testing.T) {
	k1 := keyText(testKey(t, 1))
	long := "{K1} " + strings.Repeat("a", MaxLineBytes+10)
	tests := []struct {
		name    string
		in      string
		entries []wantEntry
		errs    []wantErr
		real    bool // needs the real safetext
	}{
		{name: "plain", in: "{K1} alice@laptop", entries: []wantEntry{{1, "alice", false}}},
		{name: "no comment", in: "{K1}\n", entries: []wantEntry{{1, "", false}}},
		{name: "comments and blanks", in: "# header\n\n   \n\t# indented\n  {K1}   alice  \n", entries: []wantEntry{{5, "alice", false}}},
		{name: "admin", in: "admin {K1} root@box", entries: []wantEntry{{1, "root", true}}},
		{name: "name option wins over comment", in: `name="bob" {K1} alice@laptop`, entries: []wantEntry{{1, "bob", false}}},
		{name: "options case-insensitive", in: `ADMIN,Name="bob" {K1} x`, entries: []wantEntry{{1, "bob", true}}},
		{name: "no-op restrictions", in: "restrict,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc {K1} a", entries: []wantEntry{{1, "a", false}}},
		{name: "tab separated", in: "admin\t{K1}\talice", entries: []wantEntry{{1, "alice", true}}},
		{name: "crlf", in: "{K1} alice\r\n{K2} bob\r\n", entries: []wantEntry{{1, "alice", false}, {2, "bob", false}}},
		{name: "no final newline", in: "{K1} alice\n{K2} bob", entries: []wantEntry{{1, "alice", false}, {2, "bob", false}}},

		{name: "refused command", in: "{K1} a\n{K2} b\n" + `command="ls -l" {K3} c`, entries: []wantEntry{{1, "a", false}, {2, "b", false}},
			errs: []wantErr{{3, `option "command" is not supported by parley; remove it to allow this key`, true}}},
		{name: "refused environment", in: `environment="A=B" {K1}`, errs: []wantErr{{1, `option "environment" is not supported`, true}}},
		{name: "refused permitopen", in: `permitopen="host:22" {K1}`, errs: []wantErr{{1, `option "permitopen" is not supported`, true}}},
		{name: "refused permitlisten", in: `permitlisten="8080" {K1}`, errs: []wantErr{{1, `option "permitlisten" is not supported`, true}}},
		{name: "refused tunnel", in: `tunnel="0" {K1}`, errs: []wantErr{{1, `option "tunnel" is not supported`, true}}},
		{name: "refused no-pty", in: `no-pty {K1}`, errs: []wantErr{{1, `option "no-pty" is not supported`, true}}},
		{name: "refused pty", in: `restrict,pty {K1}`, errs: []wantErr{{1, `option "pty" is not supported`, true}}},
		{name: "refused cert-authority", in: `cert-authority {K1}`, errs: []wantErr{{1, `option "cert-authority" is not supported`, true}}},
		{name: "refused principals", in: `principals="alice" {K1}`, errs: []wantErr{{1, `option "principals" is not supported`, true}}},
		{name: "refused upper case", in: `COMMAND="x" {K1}`, errs: []wantErr{{1, `option "command" is not supported`, true}}},
		{name: "unknown option", in: `admin,frobnicate {K1}`, errs: []wantErr{{1, `unknown option "frobnicate"`, true}}},
		{name: "option value unquoted", in: `name=alice {K1}`, errs: []wantErr{{1, "double quotes", true}}},
		{name: "option unterminated quote", in: `name="alice {K1}`, errs: []wantErr{{1, "unterminated", true}}},
		{name: "flag with value", in: `admin="yes" {K1}`, errs: []wantErr{{1, "takes no value", true}}},
		{name: "value option without value", in: `from {K1}`, errs: []wantErr{{1, "needs a value", true}}},
		{name: "option twice", in: `admin,admin {K1}`, errs: []wantErr{{1, "given twice", true}}},
		{name: "empty option", in: `admin,,restrict {K1}`, errs: []wantErr{{1, "empty option", true}}},
		{name: "text after quote", in: `name="a"b {K1}`, errs: []wantErr{{1, "after the closing quote", true}}},

		{name: "bad line in the middle", in: "{K1} a\nthis is not a key\n{K2} b\n",
			entries: []wantEntry{{1, "a", false}, {3, "b", false}}, errs: []wantErr{{2, "no key found", true}}},
		{name: "single word", in: "garbage\n{K1} a", entries: []wantEntry{{2, "a", false}}, errs: []wantErr{{1, "single word", true}}},
		{name: "invalid base64", in: "ssh-ed25519 AAAA!!!notbase64 x\n{K1} a", entries: []wantEntry{{2, "a", false}}, errs: []wantErr{{1, "not valid base64", true}}},
		{name: "truncated key", in: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 x", errs: []wantErr{{1, "not a valid ssh-ed25519 key", true}}},
		{name: "unknown key type", in: strings.Replace(k1+" a", "ssh-ed25519", "ssh-foo", 1), errs: []wantErr{{1, `unknown key type "ssh-foo"`, true}}},
		{name: "unknown key type after options", in: "admin " + strings.Replace(k1+" a", "ssh-ed25519", "ssh-foo", 1), errs: []wantErr{{1, `unknown key type "ssh-foo"`, true}}},
		{name: "type mismatch", in: strings.Replace(k1+" a", "ssh-ed25519", "ssh-rsa", 1), errs: []wantErr{{1, "does not match the key data", true}}},
		{name: "missing key data", in: "admin ssh-ed25519", errs: []wantErr{{1, "missing key data", true}}},
		{name: "certificate type", in: "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaA== x", errs: []wantErr{{1, "certificates", true}}},
		{name: "dsa", in: "ssh-dss AAAAB3NzaC1kc3M= x", errs: []wantErr{{1, "DSA", true}}},
		{name: "very long line", in: long + "\n{K2} b", entries: []wantEntry{{2, "b", false}}, errs: []wantErr{{1, "longer than", true}}},
		{name: "very long last line", in: "{K2} b\n" + long, entries: []wantEntry{{1, "b", false}}, errs: []wantErr{{2, "longer than", true}}},

		{name: "duplicate key", in: "{K1} a\n{K2} b\nadmin {K1} c", entries: []wantEntry{{1, "a", false}, {2, "b", false}},
			errs: []wantErr{{3, "duplicate of the key on line 1", true}}},
		{name: "name collision", in: "{K1} alice@laptop\n{K2} alice@desktop\n", entries: []wantEntry{{1, "alice", false}, {2, "", false}},
			errs: []wantErr{{2, `name "alice" is already used by the key on line 1`, false}}},
		{name: "name option collides with comment name", in: "{K1} bob\n" + `name="bob" {K2}`, entries: []wantEntry{{1, "bob", false}, {2, "", false}},
			errs: []wantErr{{2, "already used by the key on line 1", false}}},
		{name: "name collision folds case", in: "{K1} alice\n{K2} ALICE", entries: []wantEntry{{1, "alice", false}, {2, "", false}},
			errs: []wantErr{{2, "already used by the key on line 1", false}}, real: true},
		{name: "comment is not a name", in: "{K1} Alice Smith\n{K2} bob", entries: []wantEntry{{1, "", false}, {2, "bob", false}},
			errs: []wantErr{{1, "default name", false}}, real: true},
		{name: "invalid name option", in: `name="no spaces allowed" {K1}` + "\n{K2} bob", entries: []wantEntry{{2, "bob", false}},
			errs: []wantErr{{1, "is not a valid name", true}}, real: true},
		{name: "control characters never echoed", in: "\x1b[31mevil\x07 \x1b]0;x AAAA\n" + `name="a` + "\x1b" + `b" {K1}` + "\n\x1b[2J{K2}",
			errs: []wantErr{{1, "unknown key type", true}, {2, "", true}, {3, "", true}}, real: true},

		{name: "expiry in the past", in: `expiry-time="20000101" {K1} a`, entries: []wantEntry{{1, "a", false}}, errs: []wantErr{{1, "key expired on 2000-01-01", false}}},
		{name: "expiry in the future", in: `expiry-time="209912312359" {K1} a`, entries: []wantEntry{{1, "a", false}}},
		{name: "expiry with seconds and Z", in: `expiry-time="20991231235959Z" {K1} a`, entries: []wantEntry{{1, "a", false}}},
		{name: "expiry invalid", in: `expiry-time="2024" {K1} a`, errs: []wantErr{{1, "not a valid date", true}}},
		{name: "expiry invalid month", in: `expiry-time="20241301" {K1} a`, errs: []wantErr{{1, "not a valid date", true}}},
		{name: "from", in: `from="10.0.0.0/8,!10.0.0.9,2001:db8::/32,192.168.1.*" {K1} a`, entries: []wantEntry{{1, "a", false}}},
		{name: "from host name", in: `from="*.example.com" {K1} a`, errs: []wantErr{{1, "parley matches only IP addresses, not host names", true}}},
		{name: "from host bits", in: `from="10.0.0.1/8" {K1} a`, errs: []wantErr{{1, "did you mean 10.0.0.0/8", true}}},
		{name: "from empty", in: `from="" {K1} a`, errs: []wantErr{{1, "allows no address", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.real {
				requireRealSafetext(t)
			}
			snap, errs := ParseBytes([]byte(expand(t, tt.in)))
			var got []wantEntry
			for _, e := range snap.Entries() {
				got = append(got, wantEntry{e.Line, e.Name, e.Admin})
				if e.Fingerprint != Fingerprint(e.Key) || e.Fingerprint == "" {
					t.Errorf("line %d: fingerprint %q", e.Line, e.Fingerprint)
				}
			}
			if !slices.Equal(got, tt.entries) {
				t.Errorf("entries = %v, want %v", got, tt.entries)
			}
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors = %v, want %d", errs, len(tt.errs))
			}
			for i, w := range tt.errs {
				e := errs[i]
				if e.Line != w.line || e.Skipped != w.skipped || !strings.Contains(e.Msg, w.msg) {
					t.Errorf("error %d = %+v, want line %d skipped %v containing %q", i, e, w.line, w.skipped, w.msg)
				}
				if hasControl(e.Error()) {
					t.Errorf("error %d has control characters: %q", i, e.Error())
				}
				if !strings.HasPrefix(e.Error(), fmt.Sprintf("line %d: ", e.Line)) {
					t.Errorf("Error() = %q", e.Error())
				}
			}
		})
	}
}

func TestParseEntryFields(t *testing.T) {
	in := expand(t, `admin,expiry-time="20300102030405",from="10.0.0.0/8,!10.0.0.9" {K1} alice@laptop  work key`)
	snap, errs := ParseBytes([]byte(in))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	e, ok := snap.Lookup(testKey(t, 1))
	if !ok {
		t.Fatal("not found")
	}
	if !e.ExpiresAt.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("ExpiresAt = %v", e.ExpiresAt)
	}
	if !slices.Equal(e.From, []string{"10.0.0.0/8", "!10.0.0.9"}) {
		t.Errorf("From = %q", e.From)
	}
	if e.Comment != "alice@laptop  work key" || e.Name != "alice" || !e.Admin || e.Line != 1 {
		t.Errorf("entry = %+v", e)
	}
	if e.Fingerprint != Fingerprint(testKey(t, 1)) || !strings.HasPrefix(e.Fingerprint, "SHA256:") {
		t.Errorf("Fingerprint = %q", e.Fingerprint)
	}
}

func TestParseEscapedQuote(t *testing.T) {
	// \" inside a value neither ends the value nor the options field.
	in := expand(t, `from="1.2.3.4",command="echo \"a b\"" {K1} x`)
	_, errs := ParseBytes([]byte(in))
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, `option "command" is not supported`) {
		t.Fatalf("errs = %v", errs)
	}
}

func TestParseTooManyLines(t *testing.T) {
	in := strings.Repeat("#\n", MaxLines) + expand(t, "{K1} a\n{K2} b\n")
	snap, errs := ParseBytes([]byte(in))
	if snap.Len() != 0 || len(errs) != 1 || errs[0].Line != MaxLines+1 || !errs[0].Skipped {
		t.Fatalf("len %d, errs %v", snap.Len(), errs)
	}
}

func TestParseReadError(t *testing.T) {
	r := &failingReader{data: []byte(expand(t, "{K1} a\n{K2} b"))}
	snap, errs := Parse(r)
	if snap.Len() != 1 || len(errs) != 1 || errs[0].Line != 2 || !strings.Contains(errs[0].Msg, "read error") {
		t.Fatalf("len %d, errs %v", snap.Len(), errs)
	}
}

// failingReader returns its data up to the last line, then an error.
type failingReader struct{ data []byte }

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, fmt.Errorf("disk on fire")
	}
	cut := strings.LastIndexByte(string(r.data), '\n') + 1
	if cut == 0 {
		r.data = nil
		return 0, fmt.Errorf("disk on fire")
	}
	n := copy(p, r.data[:cut])
	r.data = r.data[n:]
	if n == cut {
		r.data = r.data[len(r.data):] // drop the partial last line
	}
	return n, nil
}
