package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator is a software WebAuthn authenticator: it answers the
// passkey ceremonies as a browser with a platform passkey would
// (attestation "none", ES256, user present and verified), so that tests of
// the web page's passkeys run the server's checks on real signatures
// without a browser. (The real-browser tests use chromium's virtual
// authenticator.)
type Authenticator struct {
	// Origin is the page's origin ("http://localhost:8080"), RPID the
	// relying party id ("localhost").
	Origin, RPID string
}

// Passkey is a credential an Authenticator made.
type Passkey struct {
	// ID is the credential id, UserHandle the user id it was made for.
	ID, UserHandle []byte
	priv           *ecdsa.PrivateKey
}

var b64 = base64.RawURLEncoding

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

func (a *Authenticator) authData(flags byte, count uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(a.RPID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

// Create answers a registration ceremony whose options carry challenge
// and user id (both base64url, as the server sends them) with a new
// passkey, and returns it with the credential JSON the page would post.
func (a *Authenticator) Create(challenge, userID string) (*Passkey, json.RawMessage, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	user, err := b64.DecodeString(userID)
	if err != nil {
		return nil, nil, fmt.Errorf("user id %q: %w", userID, err)
	}
	k := &Passkey{ID: make([]byte, 16), UserHandle: user, priv: priv}
	_, _ = rand.Read(k.ID)
	pub, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, nil, err
	}
	x, y := pub[1:33], pub[33:65]
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y}) // EC2, ES256, P-256
	if err != nil {
		return nil, nil, err
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.ID)))
	attested = append(append(attested, k.ID...), cose...)
	ad := a.authData(0x01|0x04|0x40, 0, attested) // UP, UV, AT
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, nil, err
	}
	cred, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.ID), "rawId": b64.EncodeToString(k.ID), "type": "public-key",
		"response": map[string]string{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", challenge)),
			"attestationObject": b64.EncodeToString(att),
		},
		"clientExtensionResults": map[string]any{},
	})
	return k, cred, err
}

// Get answers a sign-in ceremony's challenge with k, its signature
// counter at count, and returns the credential JSON the page would post.
func (a *Authenticator) Get(challenge string, k *Passkey, count uint32) (json.RawMessage, error) {
	cd := a.clientData("webauthn.get", challenge)
	ad := a.authData(0x01|0x04, count, nil)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.ID), "rawId": b64.EncodeToString(k.ID), "type": "public-key",
		"response": map[string]string{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(k.UserHandle),
		},
		"clientExtensionResults": map[string]any{},
	})
}
