package server

import (
	"errors"
	"fmt"
	"os"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"parley/keys"
	"parley/safetext"
)

// importAdminKeys makes sure every key in specs is in authorized_keys as an
// admin: for containers, where no ~/.ssh exists to seed from. Each spec is
// an authorized_keys line ("ssh-ed25519 AAAA... alice") or the path of a
// file of such lines. A key already in the file is left as the operator
// wrote it. It returns the keys it added.
func importAdminKeys(path string, specs []string) ([]string, error) {
	var added []string
	snap, _ := keysSnapshot(path)
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		data := []byte(spec)
		if !looksLikeKey(spec) {
			b, err := os.ReadFile(spec)
			if err != nil {
				return added, fmt.Errorf("PARLEY_ADMIN_KEYS: %q is neither a public key nor a readable file: %w", safetext.Line(spec, 64), err)
			}
			data = b
		}
		for len(data) > 0 {
			k, comment, _, rest, err := gossh.ParseAuthorizedKey(data)
			if err != nil {
				if len(added) == 0 && !strings.Contains(string(data), "ssh-") && !strings.Contains(string(data), "ecdsa-") {
					return added, fmt.Errorf("PARLEY_ADMIN_KEYS: no public key in %q", safetext.Line(spec, 64))
				}
				break
			}
			data = rest
			if _, ok := snap.Lookup(k); ok {
				continue
			}
			name, _, _ := strings.Cut(comment, "@")
			if safetext.ValidateName(name) != nil || nameTaken(snap, name) {
				name = ""
			}
			if err := keys.Append(path, k, name, true); err != nil && !errors.Is(err, keys.ErrDuplicateKey) {
				return added, fmt.Errorf("PARLEY_ADMIN_KEYS: adding %s: %w", keys.Fingerprint(k), err)
			}
			added = append(added, keys.Fingerprint(k))
			snap, _ = keysSnapshot(path)
		}
	}
	return added, nil
}

func looksLikeKey(s string) bool {
	for _, p := range []string{"ssh-", "ecdsa-", "sk-", "admin", "name="} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func nameTaken(snap *keys.Snapshot, name string) bool {
	_, taken := snap.ByName(name)
	return taken
}

func keysSnapshot(path string) (*keys.Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	snap, _ := keys.ParseBytes(b)
	return snap, nil
}

// seedLimits describes the from= and expiry-time a seeded key kept, for
// the startup output: "" or " (only from 10.0.0.1; until 2030-01-01 00:00 UTC)".
func seedLimits(e keys.Entry) string {
	var parts []string
	if e.From != nil {
		parts = append(parts, "only from "+strings.Join(e.From, ","))
	}
	if !e.ExpiresAt.IsZero() {
		parts = append(parts, "until "+e.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}
