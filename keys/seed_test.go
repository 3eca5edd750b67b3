package keys

import (
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

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
	res, err := Seed(path, home)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Imported {
		if !e.Admin {
			t.Errorf("%s not admin", e.Name)
		}
		got = append(got, e.Fingerprint+" "+e.Name+" "+e.Comment)
	}
	want := []string{
		Fingerprint(testKey(t, 2)) + " bob bob@desktop",
		Fingerprint(testKey(t, 3)) + " carol carol@host",
	}
	if !res.Created || !slices.Equal(got, want) {
		t.Fatalf("imported (created %v):\n%s\nwant:\n%s", res.Created, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// K1 has a forced command in authorized_keys: it is skipped, even
	// though work.pub lists it plainly.
	if len(res.Skipped) != 1 || res.Skipped[0].Fingerprint != Fingerprint(testKey(t, 1)) ||
		!strings.Contains(res.Skipped[0].Reason, `command="/bin/date"`) ||
		!strings.HasSuffix(res.Skipped[0].Source, filepath.Join(".ssh", "authorized_keys")+" line 2") {
		t.Fatalf("skipped = %+v", res.Skipped)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	content := string(data)
	if !strings.HasPrefix(content, Header) {
		t.Error("file does not start with the header")
	}
	var keyLines []string
	for line := range strings.Lines(strings.TrimPrefix(content, Header)) {
		if !strings.HasPrefix(line, "#") {
			keyLines = append(keyLines, line)
		}
	}
	body := strings.Join(keyLines, "")
	for _, bad := range []string{"PRIVATE", "command=", "from=", "not a key", "\r", keyText(testKey(t, 4)), keyText(testKey(t, 1))} {
		if strings.Contains(body, bad) {
			t.Errorf("seeded file contains %q:\n%s", bad, content)
		}
	}
	if !strings.Contains(content, "# Not imported") || !strings.Contains(content, Fingerprint(testKey(t, 1))) {
		t.Errorf("the file does not say what was skipped:\n%s", content)
	}
	snap, errs := ParseBytes(data)
	if len(errs) != 0 || snap.Len() != 2 {
		t.Fatalf("seeded file parses with %d keys, errors %v", snap.Len(), errs)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o600)
		assertMode(t, filepath.Dir(path), 0o700)
	}

	// An existing file is left alone.
	writeFile(t, path, "# mine\n")
	res, err = Seed(path, home)
	if err != nil || res.Created || res.Imported != nil || res.Skipped != nil {
		t.Fatalf("second Seed = %+v, %v", res, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "# mine\n" {
		t.Fatalf("existing file changed: %q", data)
	}
}

// seedHome writes files into a fresh home's .ssh.
func seedHome(t *testing.T, files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, filepath.Join(home, ".ssh", name), expand(t, content))
	}
	return home
}

// TestSeedNeverWidensAKey is issue 18 item 4: a key whose line limits what
// it may do is never imported as a full admin; from= and expiry-time are
// kept; what was skipped is said, with why.
func TestSeedNeverWidensAKey(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	sydney := time.FixedZone("UTC+10", 10*3600)
	home := seedHome(t, map[string]string{"authorized_keys": "" +
		`from="10.9.9.9",command="backup-only" {K1} ci@build` + "\n" +
		`restrict,pty {K2} restricted@x` + "\n" +
		`no-pty,from="10.0.0.1" {K3} nopty@x` + "\n" +
		`expiry-time="20200101" {K4} old@x` + "\n" +
		`from="192.0.2.0/24",expiry-time="20991231" {K5} dave@x` + "\n" +
		`no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc {K6} eve@x` + "\n" +
		`permitopen="db:5432" {K7} tunnel@x` + "\n" +
		`from="*.example.com" {K8} byname@x` + "\n" +
		`cert-authority {K9} ca@x` + "\n",
		"id_ed25519.pub": "{K5} dave@laptop\n{K1} ci@laptop\n",
	})
	path := filepath.Join(t.TempDir(), "authorized_keys")
	res, err := seed(path, home, now, sydney)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[byte]string{
		1: `command="backup-only"`, 2: `"restrict"`, 3: `"no-pty"`, 4: "expiry-time passed on 2019-12-31 14:00 UTC",
		7: `"permitopen"`, 8: "host name", 9: "cert-authority",
	}
	if len(res.Skipped) != len(reasons) {
		t.Errorf("skipped %d keys, want %d: %+v", len(res.Skipped), len(reasons), res.Skipped)
	}
	for n, want := range reasons {
		fp := Fingerprint(testKey(t, n))
		i := slices.IndexFunc(res.Skipped, func(s SeedSkip) bool { return s.Fingerprint == fp })
		if i < 0 {
			t.Errorf("K%d was not skipped", n)
			continue
		}
		if s := res.Skipped[i]; !strings.Contains(s.Reason, want) || hasControl(s.String()) {
			t.Errorf("K%d skipped for %q, want it to mention %q", n, s.Reason, want)
		}
	}

	data, _ := os.ReadFile(path)
	snap, errs := ParseBytes(data)
	if len(errs) != 0 || snap.Len() != 2 || len(res.Imported) != 2 {
		t.Fatalf("seeded file: %d keys, problems %v, imported %d\n%s", snap.Len(), errs, len(res.Imported), data)
	}
	dave, ok := snap.Lookup(testKey(t, 5))
	wantExpiry := time.Date(2099, 12, 31, 0, 0, 0, 0, sydney) // sshd reads it in local time
	if !ok || !dave.Admin || !slices.Equal(dave.From, []string{"192.0.2.0/24"}) || !dave.ExpiresAt.Equal(wantExpiry) {
		t.Fatalf("dave = %+v (ok %v), want admin from 192.0.2.0/24 until %s", dave, ok, wantExpiry.UTC())
	}
	if dave.AllowedFrom(net.ParseIP("198.51.100.1")) || !dave.AllowedFrom(net.ParseIP("192.0.2.7")) {
		t.Error("dave's from= is not kept")
	}
	if _, err := snap.Authorized(testKey(t, 5), net.ParseIP("192.0.2.7"), wantExpiry.Add(time.Second)); !errors.Is(err, ErrExpired) {
		t.Errorf("dave after his expiry: %v", err)
	}
	if eve, ok := snap.Lookup(testKey(t, 6)); !ok || !eve.Admin || eve.From != nil || !eve.ExpiresAt.IsZero() {
		t.Errorf("eve = %+v, %v", eve, ok)
	}
}

// TestSeedDuplicateKeepsTheNarrowerLine: a key listed plainly and with
// from= keeps from=; with two different from= it is skipped.
func TestSeedDuplicateKeepsTheNarrowerLine(t *testing.T) {
	home := seedHome(t, map[string]string{
		"authorized_keys": "{K1} alice@a\nfrom=\"10.0.0.1\" {K2} bob@b\n",
		"a.pub":           "from=\"10.0.0.2\" {K1} alice@a\n",
		"b.pub":           "from=\"10.0.0.3\" {K2} bob@b\n",
	})
	path := filepath.Join(t.TempDir(), "authorized_keys")
	res, err := Seed(path, home)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Imported) != 1 || res.Imported[0].Fingerprint != Fingerprint(testKey(t, 1)) || !slices.Equal(res.Imported[0].From, []string{"10.0.0.2"}) {
		t.Fatalf("imported %+v", res.Imported)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Fingerprint != Fingerprint(testKey(t, 2)) || !strings.Contains(res.Skipped[0].Reason, "different") {
		t.Fatalf("skipped %+v", res.Skipped)
	}
}

func TestSeedNoKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	res, err := Seed(path, t.TempDir()) // a home without .ssh
	if err != nil || len(res.Imported) != 0 || !res.Created {
		t.Fatalf("Seed = %+v, %v", res, err)
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
