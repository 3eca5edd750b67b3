package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestMatchFrom(t *testing.T) {
	tests := []struct {
		patterns string
		ip       string
		want     bool
	}{
		{"10.0.0.0/8", "10.1.2.3", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"10.0.0.0/8,!10.0.0.9", "10.0.0.9", false},
		{"10.0.0.0/8,!10.0.0.9", "10.0.0.8", true},
		{"!10.0.0.9,10.0.0.0/8", "10.0.0.9", false},
		{"192.168.1.*", "192.168.1.77", true},
		{"192.168.1.*", "192.168.2.1", false},
		{"192.168.1.?", "192.168.1.7", true},
		{"192.168.1.?", "192.168.1.70", false},
		{"1.2.3.4", "1.2.3.4", true},
		{"1.2.3.4", "1.2.3.5", false},
		{"1.2.3.4", "::ffff:1.2.3.4", true}, // IPv4-mapped client address
		{"!1.2.3.4", "5.6.7.8", false},      // only a negation: nothing is allowed
		{"*", "5.6.7.8", true},
		{"*", "2001:db8::1", true},
		{"*,!10.*", "10.0.0.1", false},
		{"*,!10.*", "11.0.0.1", true},
		{"2001:db8::/32", "2001:db8:1::5", true},
		{"2001:db8::/32", "2001:db9::1", false},
		{"2001:DB8::1", "2001:db8::1", true},
		{"2001:db8::*", "2001:db8::abcd", true},
		{"2001:db8::*", "2001:db9::abcd", false},
		{"10.0.0.0/8", "2001:db8::1", false},
		{"::1", "::1", true},
		{"0.0.0.0/0", "8.8.8.8", true},
	}
	for _, tt := range tests {
		pats, err := parseFromList(tt.patterns)
		if err != nil {
			t.Fatalf("%q: %v", tt.patterns, err)
		}
		ip := net.ParseIP(tt.ip)
		if got := matchFrom(pats, ip); got != tt.want {
			t.Errorf("from=%q ip %s: got %v, want %v", tt.patterns, tt.ip, got, tt.want)
		}
	}
	if matchFrom([]string{"*"}, nil) {
		t.Error("nil IP matched")
	}
}

func TestParseFromListErrors(t *testing.T) {
	tests := map[string]string{
		"*.example.com":  "not host names",
		"gateway":        "not host names",
		"10.0.0.1/8":     "host bits set",
		"10.0.0.0/33":    "not a valid CIDR",
		"":               "allows no address",
		"1.2.3.4,":       "empty pattern",
		"!":              "empty pattern",
		"fe80::1%eth0":   "zone",
		"1.2.3.4 ":       "not an IP address",
		"10.0.0.0/8,abc": "not host names",
	}
	for in, want := range tests {
		_, err := parseFromList(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("from=%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestAuthorized(t *testing.T) {
	in := expand(t, "{K1} alice\n"+
		`expiry-time="20300101" {K2} bob`+"\n"+
		`from="10.0.0.0/8,!10.0.0.9,2001:db8::/32" {K3} carol`+"\n")
	snap, errs := ParseBytes([]byte(in))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	before := time.Date(2029, 12, 31, 0, 0, 0, 0, time.UTC)
	after := time.Date(2030, 1, 1, 0, 0, 1, 0, time.UTC)
	v4 := net.ParseIP("10.1.1.1")

	tests := []struct {
		name    string
		key     ssh.PublicKey
		ip      net.IP
		now     time.Time
		want    string // entry name, or "" on error
		wantErr error
	}{
		{"plain", testKey(t, 1), v4, after, "alice", nil},
		{"plain without ip", testKey(t, 1), nil, after, "alice", nil},
		{"unknown", testKey(t, 9), v4, after, "", ErrUnknownKey},
		{"before expiry", testKey(t, 2), v4, before, "bob", nil},
		{"at expiry", testKey(t, 2), v4, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), "bob", nil},
		{"after expiry", testKey(t, 2), v4, after, "", ErrExpired},
		{"from ipv4 cidr", testKey(t, 3), v4, after, "carol", nil},
		{"from negated", testKey(t, 3), net.ParseIP("10.0.0.9"), after, "", ErrNotAllowedFrom},
		{"from outside", testKey(t, 3), net.ParseIP("192.0.2.1"), after, "", ErrNotAllowedFrom},
		{"from ipv6", testKey(t, 3), net.ParseIP("2001:db8::42"), after, "carol", nil},
		{"from mapped ipv4", testKey(t, 3), net.ParseIP("::ffff:10.2.3.4"), after, "carol", nil},
		{"from without ip", testKey(t, 3), nil, after, "", ErrNotAllowedFrom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := snap.Authorized(tt.key, tt.ip, tt.now)
			if !errors.Is(err, tt.wantErr) || e.Name != tt.want {
				t.Fatalf("got %q, %v; want %q, %v", e.Name, err, tt.want, tt.wantErr)
			}
		})
	}
	_, err := snap.Authorized(testKey(t, 2), nil, after)
	if err == nil || err.Error() != "key expired on 2030-01-01 00:00:00 UTC" {
		t.Errorf("expired error text = %v", err)
	}
	if err := error(ErrNotAllowedFrom); err.Error() != "key not allowed from this address" {
		t.Errorf("from error text = %v", err)
	}
}

func TestSnapshotLookup(t *testing.T) {
	snap, _ := ParseBytes([]byte(expand(t, "admin {K1} alice\n"+`from="1.2.3.4" {K2} bob`)))
	if snap.Len() != 2 {
		t.Fatalf("Len = %d", snap.Len())
	}
	e, ok := snap.Lookup(testKey(t, 1))
	if !ok || e.Name != "alice" || !e.Admin {
		t.Fatalf("Lookup = %+v, %v", e, ok)
	}
	if _, ok := snap.Lookup(testKey(t, 3)); ok {
		t.Error("unknown key found")
	}
	if _, ok := snap.Lookup(nil); ok {
		t.Error("nil key found")
	}

	e, ok = snap.ByName("bob")
	if !ok || e.Line != 2 {
		t.Fatalf("ByName = %+v, %v", e, ok)
	}
	if _, ok := snap.ByName(""); ok {
		t.Error("empty name found")
	}
	fp, ok := snap.NameOwner("alice")
	if !ok || fp != Fingerprint(testKey(t, 1)) {
		t.Errorf("NameOwner = %q, %v", fp, ok)
	}
	if _, ok := snap.NameOwner("carol"); ok {
		t.Error("NameOwner found carol")
	}

	// Entries is a copy in file order.
	es := snap.Entries()
	if len(es) != 2 || es[0].Name != "alice" || es[1].Name != "bob" {
		t.Fatalf("Entries = %+v", es)
	}
	es[0].Name = "mallory"
	es[1].From[0] = "*"
	if e, _ := snap.Lookup(testKey(t, 1)); e.Name != "alice" {
		t.Error("Entries shares entries")
	}
	if e, _ := snap.Lookup(testKey(t, 2)); e.From[0] != "1.2.3.4" {
		t.Error("Entries shares From")
	}

	var empty *Snapshot
	if empty.Len() != 0 || empty.Entries() != nil {
		t.Error("nil snapshot not empty")
	}
	if _, err := empty.Authorized(testKey(t, 1), nil, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Error("nil snapshot authorized a key")
	}
}

func TestSnapshotByNameFolds(t *testing.T) {
	requireRealSafetext(t)
	snap, _ := ParseBytes([]byte(expand(t, "{K1} Alice")))
	if e, ok := snap.ByName("aLiCe"); !ok || e.Name != "Alice" {
		t.Fatalf("ByName = %+v, %v", e, ok)
	}
	if _, ok := snap.NameOwner(strings.ToUpper("alice")); !ok {
		t.Error("NameOwner does not fold")
	}
}

func TestCertificateNotFound(t *testing.T) {
	_, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	ca, err := ssh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: testKey(t, 1), CertType: ssh.UserCert, ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	snap, _ := ParseBytes([]byte(expand(t, "{K1} alice")))
	if _, ok := snap.Lookup(cert); ok {
		t.Error("certificate found")
	}
	if _, err := snap.Authorized(cert, nil, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Authorized(cert) = %v", err)
	}
	// A certificate line in the file is refused.
	_, errs := ParseBytes([]byte(FormatLine(cert, "alice")))
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "certificates") {
		t.Errorf("cert line errs = %v", errs)
	}
}

func TestByFingerprint(t *testing.T) {
	snap, _ := ParseBytes([]byte(expand(t, "admin,name=\"alice\" {K1} alice@laptop\n{K2} bob@phone\n")))
	for _, k := range []ssh.PublicKey{testKey(t, 1), testKey(t, 2)} {
		want, _ := snap.Lookup(k)
		got, ok := snap.ByFingerprint(ssh.FingerprintSHA256(k))
		if !ok || got.Fingerprint != want.Fingerprint || got.Name != want.Name || got.Admin != want.Admin {
			t.Errorf("ByFingerprint(%s) = %+v, %v; want %+v", ssh.FingerprintSHA256(k), got, ok, want)
		}
	}
	if _, ok := snap.ByFingerprint(ssh.FingerprintSHA256(testKey(t, 3))); ok {
		t.Error("found a key that is not in the file")
	}
	var empty *Snapshot
	if _, ok := empty.ByFingerprint(ssh.FingerprintSHA256(testKey(t, 1))); ok {
		t.Error("found a key in a nil snapshot")
	}
}
