package testkit

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// User is a person with an ed25519 key pair generated for the test. It is
// immutable after NewUser and safe to share between goroutines.
type User struct {
	Name   string
	Signer ssh.Signer
	Pub    ssh.PublicKey
	FP     string // SHA256 fingerprint, the identity parley uses
}

// NewUser makes a fresh key pair for name.
func NewUser(t testing.TB, name string) *User {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub := signer.PublicKey()
	return &User{Name: name, Signer: signer, Pub: pub, FP: ssh.FingerprintSHA256(pub)}
}

// KeyText is "ssh-ed25519 AAAA...".
func (u *User) KeyText() string {
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(u.Pub)), "\n")
}

// Line is the user's authorized_keys line: options (may be ""), the key and
// the comment name@laptop (which names the key when options have no name=).
func (u *User) Line(options string) string {
	l := u.KeyText() + " " + u.Name + "@laptop"
	if options != "" {
		l = options + " " + l
	}
	return l
}

// Auth is the user's ordinary public-key authentication.
func (u *User) Auth() []ssh.AuthMethod { return []ssh.AuthMethod{ssh.PublicKeys(u.Signer)} }

// NewKey makes a key pair and returns its signer and its authorized_keys
// text ("ssh-ed25519 AAAA..."), for tests that name keys themselves.
func NewKey(t testing.TB) (ssh.Signer, string) {
	t.Helper()
	u := NewUser(t, "")
	return u.Signer, u.KeyText()
}
