package keys

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
)

// Errors returned by Snapshot.Authorized. Use errors.Is: the expiry error is
// wrapped with the date it expired.
var (
	// ErrUnknownKey means the key is not in the file (certificates never are).
	ErrUnknownKey = errors.New("unknown key")
	// ErrExpired means the key's expiry-time has passed.
	ErrExpired = errors.New("key expired")
	// ErrNotAllowedFrom means the key's from= patterns do not allow the
	// client's address.
	ErrNotAllowedFrom = errors.New("key not allowed from this address")
)

// Entry is one key loaded from the authorized_keys file. It is plain data; a
// Snapshot hands out copies.
type Entry struct {
	// Key is the public key (never a certificate).
	Key ssh.PublicKey
	// Fingerprint is ssh.FingerprintSHA256(Key), e.g. "SHA256:abc...".
	Fingerprint string
	// Name is the display name from name="..." or the comment's local part,
	// already validated; "" means the server chooses a default.
	Name string
	// Admin is true when the line carries the admin option.
	Admin bool
	// Line is the 1-based line number in the file.
	Line int
	// Comment is the line's trailing comment, sanitized for display.
	Comment string
	// ExpiresAt is the expiry-time option in UTC; the zero value means never.
	ExpiresAt time.Time
	// From holds the from= patterns as written; nil means any address.
	From []string
}

// Expired reports whether the entry's expiry-time has passed at now. Like
// OpenSSH, the key is still valid at exactly its expiry time.
func (e Entry) Expired(now time.Time) bool {
	return !e.ExpiresAt.IsZero() && now.After(e.ExpiresAt)
}

// AllowedFrom reports whether the entry's from= patterns allow ip. An entry
// without from= allows every address; an entry with from= allows no nil ip.
func (e Entry) AllowedFrom(ip net.IP) bool {
	if e.From == nil {
		return true
	}
	return matchFrom(e.From, ip)
}

func (e Entry) clone() Entry {
	e.From = slices.Clone(e.From)
	return e
}

// LineError describes a problem with one line of the authorized_keys file.
// Msg never contains raw control characters and is safe to log or show to an
// operator.
type LineError struct {
	// Line is the 1-based line number.
	Line int
	// Msg says what is wrong and, where possible, how to fix it.
	Msg string
	// Skipped is true when the line was not loaded; false means the key
	// loaded and this is a warning (for example an unusable name).
	Skipped bool
}

// Error returns "line N: msg".
func (e LineError) Error() string {
	return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// quote renders untrusted text for a message: truncated and %q-escaped, so
// it never carries control characters or invalid UTF-8.
func quote(s string) string { return quoteN(s, 48) }

// quoteN is quote with a limit of max bytes before escaping.
func quoteN(s string, max int) string {
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
