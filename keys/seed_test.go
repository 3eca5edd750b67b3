package keys

import (
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// privateKeyPEM returns a freshly generated OpenSSH private key, for checking
// that it is never imported. It is written only to temporary directories.
func privateKeyPEM(t *testing.T) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

func fakeHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, ".ssh")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"authorized_keys": expand(t, "# my keys\n"+
			`command="/bin/date",from="192.0.2.1" {K1} alice@laptop`+"\n"+
			"not a key at all\n"+
			"{K2} bob@desktop\r\n"),
		"id_ed25519.pub": expand(t, "{K3} carol@host\n"),
		"work.pub":       expand(t, "{K1} alice@work\n"), // duplicate of K1
		"id_ed25519":     string(privateKeyPEM(t)),
		"stray.pub":      string(privateKeyPEM(t)), // a private key with the wrong name
		"known_hosts":    expand(t, "example.com {K4}\n"),
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return home
}

func TestSeed(t *testing.T) {
	home := fakeHome(t)
	path := filepath.Join(t.TempDir(), "data", "authorized_keys")
	imported, err := Seed(path, home)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range imported {
		if !e.Admin {
			t.Errorf("%s not admin", e.Name)
		}
		got = append(got, e.Fingerprint+" "+e.Name+" "+e.Comment)
	}
	want := []string{
		Fingerprint(testKey(t, 1)) + " alice alice@laptop",
		Fingerprint(testKey(t, 2)) + " bob bob@desktop",
		Fingerprint(testKey(t, 3)) + " carol carol@host",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("imported:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	content := string(data)
	if !strings.HasPrefix(content, Header) {
		t.Error("file does not start with the header")
	}
	body := strings.TrimPrefix(content, Header)
	for _, bad := range []string{"PRIVATE", "command=", "from=", "not a key", "\r", keyText(testKey(t, 4))} {
		if strings.Contains(body, bad) {
			t.Errorf("seeded file contains %q:\n%s", bad, content)
		}
	}
	snap, errs := ParseBytes(data)
	if len(errs) != 0 || snap.Len() != 3 {
		t.Fatalf("seeded file parses with %d keys, errors %v", snap.Len(), errs)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o600)
		assertMode(t, filepath.Dir(path), 0o700)
	}

	// An existing file is left alone.
	writeFile(t, path, "# mine\n")
	imported, err = Seed(path, home)
	if err != nil || imported != nil {
		t.Fatalf("second Seed = %v, %v", imported, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "# mine\n" {
		t.Fatalf("existing file changed: %q", data)
	}
}

func TestSeedNoKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	imported, err := Seed(path, t.TempDir()) // a home without .ssh
	if err != nil || len(imported) != 0 {
		t.Fatalf("Seed = %v, %v", imported, err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != Header {
		t.Fatalf("file = %q, %v", data, err)
	}
	if snap, errs := ParseBytes(data); snap.Len() != 0 || len(errs) != 0 {
		t.Fatalf("header parses as %d keys, %v", snap.Len(), errs)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp")); len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %o, want %o", path, got, want)
	}
}

func TestAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	orig := expand(t, "# team keys\n\n# alice's laptop\nadmin {K1} alice@laptop\n  # trailing comment, odd spacing  \n"+
		`command="x" {K3} old`) // no final newline, and a line parley refuses
	writeFile(t, path, orig)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}

	if err := Append(path, testKey(t, 2), "bob", true); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	want := orig + "\n" + `admin,name="bob" ` + keyText(testKey(t, 2)) + "\n"
	if string(data) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", data, want)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o640)
	}
	snap, _ := ParseBytes(data)
	if e, ok := snap.Lookup(testKey(t, 2)); !ok || e.Name != "bob" || !e.Admin || e.Line != 7 {
		t.Fatalf("appended entry = %+v, %v", e, ok)
	}

	if err := Append(path, testKey(t, 4), "", false); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if !strings.HasSuffix(string(data), "\n"+keyText(testKey(t, 4))+"\n") {
		t.Fatalf("plain append:\n%s", data)
	}

	for _, tc := range []struct {
		name string
		key  byte
		nick string
		want string
	}{
		{"duplicate", 1, "", "line 4"},
		{"duplicate of a refused line", 3, "", "line 6"},
		{"duplicate with another name", 2, "robert", "line 7"},
	} {
		err := Append(path, testKey(t, tc.key), tc.nick, false)
		if !errors.Is(err, ErrDuplicateKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if err := Append(path, testKey(t, 5), "alice", false); err == nil || !strings.Contains(err.Error(), "already used by the key on line 4") {
		t.Errorf("name taken: err = %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Error("refused Append changed the file")
	}
}

func TestAppendCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "authorized_keys")
	if err := Append(path, testKey(t, 1), "alice", false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != Header+`name="alice" `+keyText(testKey(t, 1))+"\n" {
		t.Fatalf("file:\n%s", data)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o600)
	}
}

func TestAppendKeepsCRLF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	writeFile(t, path, expand(t, "# a\r\n{K1} alice\r\n"))
	if err := Append(path, testKey(t, 2), "", false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if want := expand(t, "# a\r\n{K1} alice\r\n{K2}\r\n"); string(data) != want {
		t.Fatalf("file = %q, want %q", data, want)
	}
}

func TestAppendInvalidName(t *testing.T) {
	requireRealSafetext(t)
	path := filepath.Join(t.TempDir(), "authorized_keys")
	if err := Append(path, testKey(t, 1), `bad" name`, false); err == nil {
		t.Fatal("invalid name accepted")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("file created for a refused Append")
	}
}

func TestFormatLine(t *testing.T) {
	k := testKey(t, 1)
	if got := FormatLine(k, "alice@laptop"); got != keyText(k)+" alice@laptop" {
		t.Errorf("FormatLine = %q", got)
	}
	if got := FormatLine(k, ""); got != keyText(k) {
		t.Errorf("FormatLine without comment = %q", got)
	}
	snap, errs := ParseBytes([]byte(FormatLine(k, "alice@laptop")))
	if e, ok := snap.Lookup(k); len(errs) != 0 || !ok || e.Name != "alice" {
		t.Errorf("round trip: %+v %v", e, errs)
	}
	if FormatLine(nil, "x") != "" || Fingerprint(nil) != "" {
		t.Error("nil key")
	}
}

func TestFormatLineSanitizes(t *testing.T) {
	requireRealSafetext(t)
	got := FormatLine(testKey(t, 1), "evil\x1b[2J\nnext line")
	if strings.ContainsAny(got, "\x1b\n\r") {
		t.Errorf("FormatLine = %q", got)
	}
}
