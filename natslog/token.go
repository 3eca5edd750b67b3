package natslog

import (
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"
)

// maxEscaped is the longest token the escaped form may take; longer names
// use the base32 form, so that a stream name stays within JetStream's 255
// characters (a room name is at most 24 runes, 96 bytes).
const maxEscaped = 160

var b32 = base32.HexEncoding.WithPadding(base32.NoPadding)

// Token encodes a folded room name into one token that is valid in a
// subject and a stream name (no '.', '*', '>', space, '/', '\' or control
// characters) and tells rooms apart: ASCII lower-case letters, digits and
// '-' are kept, every other byte is written "_xx" (two lower-case hex
// digits). A name whose escaped form would be longer than maxEscaped is
// written "_h" followed by the lower-case base32hex of its bytes ("h" is not
// a hex digit, so the two forms never meet).
func Token(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02x", c)
	}
	if b.Len() > maxEscaped {
		return "_h" + strings.ToLower(b32.EncodeToString([]byte(name)))
	}
	return b.String()
}

// ParseToken returns the room name that Token encoded as tok. It accepts
// only what Token writes for short names, so that each name has one token.
func ParseToken(tok string) (string, error) {
	if rest, ok := strings.CutPrefix(tok, "_h"); ok {
		raw, err := b32.DecodeString(strings.ToUpper(rest))
		if err != nil {
			return "", fmt.Errorf("room token %q: %w", tok, err)
		}
		return string(raw), nil
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-':
			b.WriteByte(c)
		case c == '_' && i+2 < len(tok) && isLowerHex(tok[i+1]) && isLowerHex(tok[i+2]):
			v, _ := strconv.ParseUint(tok[i+1:i+3], 16, 8)
			if c := byte(v); c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
				return "", fmt.Errorf("room token %q: %q is escaped but needs not be", tok, c)
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			return "", fmt.Errorf("room token %q: byte %d is not valid", tok, i)
		}
	}
	return b.String(), nil
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
