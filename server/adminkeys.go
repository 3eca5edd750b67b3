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

// adminKey is one key named by PARLEY_ADMIN_KEYS.
type adminKey struct {
	key     gossh.PublicKey
	comment string
}

// parseAdminKeys reads PARLEY_ADMIN_KEYS specs: each an authorized_keys
// line ("ssh-ed25519 AAAA... alice") or the path of a file of such lines.
func parseAdminKeys(specs []string) ([]adminKey, error) {
	var out []adminKey
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		data := []byte(spec)
		if !looksLikeKey(spec) {
			b, err := os.ReadFile(spec)
			if err != nil {
				return out, fmt.Errorf("PARLEY_ADMIN_KEYS: %q is neither a public key nor a readable file: %w", safetext.Line(spec, 64), err)
			}
			data = b
		}
		found := 0
		for len(data) > 0 {
			k, comment, _, rest, err := gossh.ParseAuthorizedKey(data)
			if err != nil {
				if found == 0 && !strings.Contains(string(data), "ssh-") && !strings.Contains(string(data), "ecdsa-") {
					return out, fmt.Errorf("PARLEY_ADMIN_KEYS: no public key in %q", safetext.Line(spec, 64))
				}
				break
			}
			data = rest
			found++
			out = append(out, adminKey{key: k, comment: comment})
		}
	}
	return out, nil
}

// AdminKeyFingerprints returns the fingerprints of the keys that
// PARLEY_ADMIN_KEYS specs name (see Config.AdminKeys), for telling an
// operator who removes one of them that it will come back on the next
// start.
func AdminKeyFingerprints(specs []string) (map[string]bool, error) {
	ks, err := parseAdminKeys(specs)
	fps := make(map[string]bool, len(ks))
	for _, k := range ks {
		fps[keys.Fingerprint(k.key)] = true
	}
	return fps, err
}

// AdminKeysNote is what `keys remove` says about a removed key that
// PARLEY_ADMIN_KEYS names.
const AdminKeysNote = "PARLEY_ADMIN_KEYS still names this key, so parley adds it back as an admin on its next start; take it out of PARLEY_ADMIN_KEYS (the environment, or parley.conf) to keep it out."

// pinnedNote is KeysCommand.Pinned over SSH: the server's own
// PARLEY_ADMIN_KEYS.
func (s *Server) pinnedNote(e keys.Entry) string {
	fps, _ := AdminKeyFingerprints(s.cfg.AdminKeys)
	if fps[e.Fingerprint] {
		return AdminKeysNote
	}
	return ""
}

// ImportAdminKeys makes sure every key in specs is in authorized_keys as an
// admin: for containers, where no ~/.ssh exists to seed from. Each spec is
// an authorized_keys line ("ssh-ed25519 AAAA... alice") or the path of a
// file of such lines. A key already in the file is left as the operator
// wrote it, and a key removed from the file is added again: specs are the
// operator's standing order. It returns the keys it added.
func ImportAdminKeys(path string, specs []string) ([]string, error) {
	ks, err := parseAdminKeys(specs)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, nil
	}
	l, err := keys.Lock(path, nil)
	if err != nil {
		return nil, fmt.Errorf("PARLEY_ADMIN_KEYS: %w", err)
	}
	defer l.Unlock()
	var added []string
	for _, ak := range ks {
		data, err := l.Read()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return added, fmt.Errorf("PARLEY_ADMIN_KEYS: %w", err)
		}
		snap, _ := keys.ParseBytes(data)
		if _, ok := snap.Lookup(ak.key); ok {
			continue
		}
		name, _, _ := strings.Cut(ak.comment, "@")
		if safetext.ValidateName(name) != nil || nameTaken(snap, name) {
			name = ""
		}
		if err := l.Append(ak.key, name, true); errors.Is(err, keys.ErrDuplicateKey) {
			continue // on a line that is not loaded: the operator's to fix
		} else if err != nil {
			return added, fmt.Errorf("PARLEY_ADMIN_KEYS: adding %s: %w", keys.Fingerprint(ak.key), err)
		}
		added = append(added, keys.Fingerprint(ak.key))
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

// shellWord quotes path for a POSIX shell when it holds anything but
// letters, digits and / . _ - (a data dir with a space in its name).
func shellWord(path string) string {
	plain := strings.IndexFunc(path, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r))
	}) < 0
	if plain && path != "" {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
