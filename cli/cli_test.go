package cli

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"parley/keys"
)

func TestParse(t *testing.T) {
	cases := []struct {
		args []string
		pos  string
		name string
		adm  bool
		err  bool
	}{
		{[]string{"KEY"}, "KEY", "", false, false},
		{[]string{"--name", "bob", "KEY"}, "KEY", "bob", false, false},
		{[]string{"KEY", "--name", "bob", "--admin"}, "KEY", "bob", true, false},
		{[]string{"ssh-ed25519", "--admin", "AAAA", "bob@x", "-name=bob"}, "ssh-ed25519|AAAA|bob@x", "bob", true, false},
		{[]string{"a", "--", "--admin", "-x"}, "a|--admin|-x", "", false, false},
		{[]string{"--", "-"}, "-", "", false, false},
		{[]string{"-"}, "-", "", false, false},
		{[]string{"KEY", "--bogus"}, "", "", false, true},
		{[]string{"KEY", "--name"}, "", "", false, true},
		{nil, "", "", false, false},
	}
	for _, tc := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "", "")
		adm := fs.Bool("admin", false, "")
		pos, err := Parse(fs, tc.args)
		if (err != nil) != tc.err {
			t.Errorf("Parse(%q): err %v, want error %v", tc.args, err, tc.err)
			continue
		}
		if tc.err {
			continue
		}
		if got := strings.Join(pos, "|"); got != tc.pos || *name != tc.name || *adm != tc.adm {
			t.Errorf("Parse(%q) = %q name=%q admin=%v; want %q %q %v", tc.args, got, *name, *adm, tc.pos, tc.name, tc.adm)
		}
	}
}

func newKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyText(k ssh.PublicKey) string {
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n")
}

// run runs a local `parley keys` command line and returns its exit code,
// stdout and stderr.
func run(t *testing.T, dir string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	k := &KeysCommand{Prog: "parley keys", DataDir: dir, Files: true, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code := k.Run(args)
	return code, out.String(), errb.String()
}

func TestKeysLocal(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(t.TempDir(), "elsewhere")
	alice, bob, carol, dave := newKey(t), newKey(t), newKey(t), newKey(t)

	// A key given as words, flags after it; the comment names it.
	code, out, errs := run(t, "unused", "", append(append([]string{"add"}, strings.Fields(keyText(alice)+" alice@laptop")...), "--admin", "--data", dir)...)
	if code != ExitOK || !strings.Contains(out, "Added alice ("+keys.Fingerprint(alice)+") as an admin") {
		t.Fatalf("add alice: %d %q %q", code, out, errs)
	}
	// From a .pub file, flags first.
	pub := filepath.Join(t.TempDir(), "bob.pub")
	if err := os.WriteFile(pub, []byte(keyText(bob)+" whatever@host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run(t, dir, "", "add", "--name", "bob", pub); code != ExitOK || !strings.Contains(out, "Added bob") {
		t.Fatalf("add bob from a file: %d %q %q", code, out, errs)
	}
	// From stdin, with a comment name that is taken: no name.
	if code, out, errs := run(t, dir, keyText(carol)+" bob@elsewhere\n", "add", "-", "--data", dir); code != ExitOK || !strings.Contains(out, "taken") {
		t.Fatalf("add carol from stdin: %d %q %q", code, out, errs)
	}
	// The operator's own comment survives every rewrite.
	path := filepath.Join(dir, KeysFile)
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, []byte("# dave is coming on Monday\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run(t, dir, "", "add", keyText(dave), "--name", "dave", "--data", dir); code != ExitOK {
		t.Fatal("add dave")
	}

	// Errors: exit 1 for refusals, 2 for usage.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"add", keyText(bob), "--admin"}, ExitError, "already in " + dir},
		{[]string{"add", keyText(alice), "--name", "alicia"}, ExitError, `its name is "alice", not "alicia"`},
		{[]string{"add", keyText(newKey(t)), "--name", "alice"}, ExitError, "already used"},
		{[]string{"add", keyText(newKey(t)), "--name", "has space"}, ExitUsage, "--name"},
		{[]string{"add", "not-a-key"}, ExitError, "no such file"},
		{[]string{"add", "ssh-ed25519", "AAAAnotbase64"}, ExitError, "no public key"},
		{[]string{"add", keyText(newKey(t)), "--bogus"}, ExitUsage, "bogus"},
		{[]string{"remove"}, ExitUsage, "usage"},
		{[]string{"remove", "nobody"}, ExitError, "no key called nobody"},
		{[]string{"frobnicate"}, ExitUsage, "unknown subcommand"},
		{nil, ExitUsage, "usage"},
	} {
		code, _, errs := run(t, dir, "", append(tc.args, "--data", dir)...)
		if tc.args == nil {
			code, _, errs = run(t, dir, "")
		}
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if code, out, _ := run(t, dir, "", "help"); code != ExitOK || !strings.Contains(out, "parley keys add") {
		t.Errorf("help: %d %q", code, out)
	}

	// list, as a table and as JSON.
	code, out, _ = run(t, dir, "", "list", "--data", dir)
	if code != ExitOK {
		t.Fatalf("list: %d", code)
	}
	for _, want := range []string{"NAME", "alice", keys.Fingerprint(alice), "admin", "bob", keys.Fingerprint(carol), "dave"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, dir, "", "list", "--json", "--data", dir)
	var listed struct {
		Keys     []KeyJSON
		Problems []ProblemJSON
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || code != ExitOK {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(listed.Keys) != 4 || listed.Keys[0].Name != "alice" || !listed.Keys[0].Admin || listed.Keys[2].Name != "" || listed.Keys[3].Name != "dave" {
		t.Errorf("list --json keys: %+v", listed.Keys)
	}

	// remove by name and by fingerprint; comments stay.
	if code, out, errs := run(t, dir, "", "remove", "bob", "--data", dir); code != ExitOK || !strings.Contains(out, "Removed bob") {
		t.Fatalf("remove bob: %d %q %q", code, out, errs)
	}
	if code, _, _ := run(t, dir, "", "remove", "--data", dir, keys.Fingerprint(carol)); code != ExitOK {
		t.Fatal("remove carol")
	}
	b, _ = os.ReadFile(path)
	text := string(b)
	if !strings.HasPrefix(text, keys.Header) || !strings.Contains(text, "# dave is coming on Monday\n") {
		t.Errorf("comments lost:\n%s", text)
	}
	snap, problems := keys.ParseBytes(b)
	if snap.Len() != 2 || len(problems) != 0 {
		t.Errorf("after removals: %d keys, problems %v", snap.Len(), problems)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Error("a data dir that was never named was created")
	}
	// A missing file (the wrong directory?) fails, naming the file read
	// and --data.
	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"remove", "bob"}} {
		code, out, errs := run(t, other, "", args...)
		if code != ExitError || out != "" || !strings.Contains(errs, filepath.Join(other, KeysFile)+" does not exist") || !strings.Contains(errs, "--data") {
			t.Errorf("%q of a missing file: %d %q %q", args, code, out, errs)
		}
	}
}

// TestKeysAddSameKeyAgain is issue 13 item 13: adding a key that is
// already there said its name "is taken by another key". It is the same
// key: say so, exit 0 when its line already gives what was asked (a
// provisioning script can run add twice), 1 when it differs.
func TestKeysAddSameKeyAgain(t *testing.T) {
	dir := t.TempDir()
	alice := newKey(t)
	if code, _, errs := run(t, dir, "", "add", keyText(alice), "alice@laptop", "--admin"); code != ExitOK {
		t.Fatalf("first add: %d %q", code, errs)
	}
	before, _ := os.ReadFile(filepath.Join(dir, KeysFile))
	for _, args := range [][]string{
		{"add", keyText(alice), "alice@laptop"},
		{"add", keyText(alice), "alice@laptop", "--admin"},
		{"add", keyText(alice), "--name", "ALICE"},
	} {
		code, out, errs := run(t, dir, "", append(args, "--data", dir)...)
		if code != ExitOK || strings.Contains(out+errs, "taken") || !strings.Contains(out, "is already in") || !strings.Contains(out, "the same key") {
			t.Errorf("%q: %d %q %q", args, code, out, errs)
		}
	}
	code, out, errs := run(t, dir, "", "add", keyText(alice), "--name", "bob", "--data", dir)
	if code != ExitError || !strings.Contains(errs, "already in") || !strings.Contains(errs, `not "bob"`) {
		t.Errorf("a different name: %d %q %q", code, out, errs)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, KeysFile)); string(after) != string(before) {
		t.Errorf("the file changed:\n%s", after)
	}
}

func TestKeysRemote(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeysFile)
	me, bob := newKey(t), newKey(t)
	if err := keys.Append(path, me, "root", true); err != nil {
		t.Fatal(err)
	}
	var changed []string
	var out, errb bytes.Buffer
	k := &KeysCommand{Prog: "keys", Path: path, Stdin: strings.NewReader(keyText(bob) + " bob@laptop\n"), Stdout: &out, Stderr: &errb,
		Protect: func(e keys.Entry) error {
			if e.Fingerprint == keys.Fingerprint(me) {
				return errors.New("that is the key you are connected with")
			}
			return nil
		},
		Changed: func(action string, e keys.Entry) { changed = append(changed, action+" "+e.Name) },
	}
	// No file access over SSH: a path is not read, and --data does not exist.
	if code := k.Run([]string{"add", path}); code != ExitError {
		t.Errorf("add PATH remotely: exit %d, want 1 (not a key)", code)
	}
	if code := k.Run([]string{"list", "--data", "/"}); code != ExitUsage {
		t.Errorf("--data remotely: exit %d", code)
	}
	if code := k.Run([]string{"add"}); code != ExitOK { // from stdin
		t.Fatalf("add from stdin: %s", errb.String())
	}
	if code := k.Run([]string{"remove", "root"}); code != ExitError || !strings.Contains(errb.String(), "connected with") {
		t.Errorf("removing one's own key: %d %q", code, errb.String())
	}
	if code := k.Run([]string{"remove", "bob"}); code != ExitOK {
		t.Errorf("remove bob: %s", errb.String())
	}
	if strings.Join(changed, ",") != "add bob,remove bob" {
		t.Errorf("Changed calls: %q", changed)
	}
}
