package keys

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"parley/safetext"
)

// testKey returns a deterministic ed25519 public key; only public halves are
// ever written to disk or testdata.
func testKey(t testing.TB, n byte) ssh.PublicKey {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = n
	priv := ed25519.NewKeyFromSeed(seed)
	pk, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// keyText is "ssh-ed25519 AAAA..." for k.
func keyText(k ssh.PublicKey) string {
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n")
}

// expand replaces {K1}..{K9} with the text of testKey(1..9).
func expand(t testing.TB, s string) string {
	t.Helper()
	for i := byte(1); i <= 9; i++ {
		s = strings.ReplaceAll(s, "{K"+string('0'+rune(i))+"}", keyText(testKey(t, i)))
	}
	return s
}

// requireRealSafetext skips tests that depend on safetext rejecting names,
// while safetext is still a stub that accepts everything.
func requireRealSafetext(t *testing.T) {
	t.Helper()
	if safetext.ValidateName("has space") == nil || safetext.Fold("ABC") != safetext.Fold("abc") {
		t.Skip("safetext is a stub; name validation not available yet")
	}
}

func hasControl(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl)
}
