package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"parley/keys"
)

func TestDeriveKeyIsDeterministic(t *testing.T) {
	a, b := deriveKey("s", 7), deriveKey("s", 7)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed and index gave two keys")
	}
	if bytes.Equal(a, deriveKey("s", 8)) {
		t.Error("indexes 7 and 8 gave the same key")
	}
	if bytes.Equal(a, deriveKey("t", 7)) {
		t.Error("seeds s and t gave the same key")
	}
}

func TestAuthorizedLinesParse(t *testing.T) {
	const n = 25
	var out bytes.Buffer
	if err := writeAuthorized(&out, "test-seed", n); err != nil {
		t.Fatal(err)
	}
	snap, errs := keys.ParseBytes(out.Bytes())
	if len(errs) > 0 {
		t.Fatalf("parley cannot load the lines: %v\n%s", errs, out.String())
	}
	if snap.Len() != n {
		t.Fatalf("%d keys loaded, want %d", snap.Len(), n)
	}
	for i := range n {
		id, err := deriveIdentity("test-seed", i)
		if err != nil {
			t.Fatal(err)
		}
		e, ok := snap.Lookup(id.signer.PublicKey())
		if !ok {
			t.Fatalf("key %d is not in the file", i)
		}
		if want := fmt.Sprintf("bench%04d", i+1); e.Name != want || id.name != want {
			t.Errorf("key %d: name %q (identity %q), want %q", i, e.Name, id.name, want)
		}
		if e.Fingerprint != ssh.FingerprintSHA256(id.signer.PublicKey()) || e.Admin {
			t.Errorf("key %d: entry %+v", i, e)
		}
	}
}

func TestKeygenWritesIntoADirectory(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	if code := run(t.Context(), []string{"-keys", "3", "-seed", "x", "-out", dir}, &stdout, &stdout); code != exitOK {
		t.Fatalf("exit %d: %s", code, stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "authorized_keys"))
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := writeAuthorized(&want, "x", 3); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want.Bytes()) || strings.Count(string(b), "ssh-ed25519") != 3 {
		t.Errorf("file:\n%s\nwant:\n%s", b, want.String())
	}
}
