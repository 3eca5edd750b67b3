package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// loadHostKey returns the host key: from pemData when given, otherwise from
// path, generating an ed25519 key there on first start. An existing key is
// never replaced: clients pin it.
func loadHostKey(path string, pemData []byte) (gossh.Signer, bool, error) {
	if len(pemData) > 0 {
		s, err := gossh.ParsePrivateKey(pemData)
		if err != nil {
			return nil, false, fmt.Errorf("host key from environment: %w", err)
		}
		return s, false, nil
	}
	data, err := os.ReadFile(path)
	if err == nil {
		s, err := gossh.ParsePrivateKey(data)
		if err != nil {
			return nil, false, fmt.Errorf("host key %s: %w", path, err)
		}
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "parley host key")
	if err != nil {
		return nil, false, fmt.Errorf("encode host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("host key dir: %w", err)
	}
	// O_EXCL: if another process created it meanwhile, do not overwrite.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("write host key: %w", err)
	}
	if err := pem.Encode(f, block); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write host key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write host key: %w", err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	return s, true, nil
}
