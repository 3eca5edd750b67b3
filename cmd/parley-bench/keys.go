package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"parley/keys"
)

// defaultSeed is the -seed used when none is given.
const defaultSeed = "parley-bench"

// identity is one bench user: a key derived from the seed and its name.
type identity struct {
	index  int
	name   string
	signer ssh.Signer
}

// deriveKey returns bench key i of seed: the ed25519 key whose seed is
// sha256(seed || uint32 big-endian i). Nothing random, nothing stored.
func deriveKey(seed string, i int) ed25519.PrivateKey {
	h := sha256.New()
	h.Write([]byte(seed))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(i))
	h.Write(n[:])
	return ed25519.NewKeyFromSeed(h.Sum(nil))
}

// benchName is the display name of key i: bench0001 for i = 0.
func benchName(i int) string { return fmt.Sprintf("bench%04d", i+1) }

// deriveIdentity returns identity i of seed.
func deriveIdentity(seed string, i int) (identity, error) {
	signer, err := ssh.NewSignerFromKey(deriveKey(seed, i))
	if err != nil {
		return identity{}, fmt.Errorf("key %d: %w", i, err)
	}
	return identity{index: i, name: benchName(i), signer: signer}, nil
}

// authorizedLine is the authorized_keys line of identity i:
// name="bench0001" ssh-ed25519 AAAA... bench0001@parley-bench
func authorizedLine(id identity) string {
	return `name="` + id.name + `" ` + keys.FormatLine(id.signer.PublicKey(), id.name+"@parley-bench")
}

// writeAuthorized writes the authorized_keys lines of identities 0..n-1.
func writeAuthorized(w io.Writer, seed string, n int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# parley-bench: %d bench identities from -seed %q (bench0001..%s)\n", n, seed, benchName(n-1))
	for i := range n {
		id, err := deriveIdentity(seed, i)
		if err != nil {
			return err
		}
		bw.WriteString(authorizedLine(id))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// keygen is the -keys mode: the lines go to stdout, to out, or to
// out/authorized_keys when out is a directory.
func keygen(cfg config, stdout io.Writer) (err error) {
	if cfg.out == "" || cfg.out == "-" {
		return writeAuthorized(stdout, cfg.seed, cfg.keys)
	}
	path := cfg.out
	if fi, statErr := os.Stat(path); statErr == nil && fi.IsDir() {
		path = filepath.Join(path, "authorized_keys")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := writeAuthorized(f, cfg.seed, cfg.keys); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
