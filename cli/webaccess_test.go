package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"parley/keys"
)

// fakeWeb is a WebAccess with passkeys and accounts in maps; Forget
// records whom it forgot.
type fakeWeb struct {
	passkeys map[string][]Passkey
	accounts []Account
	forgot   []string
}

func (f *fakeWeb) Passkeys() (map[string][]Passkey, error) { return f.passkeys, nil }
func (f *fakeWeb) Accounts() ([]Account, error)            { return f.accounts, nil }
func (f *fakeWeb) FindAccount(who string) (Account, bool, error) {
	for _, a := range f.accounts {
		if a.ID == who || strings.EqualFold(a.Name, who) {
			return a, true, nil
		}
	}
	return Account{}, false, nil
}
func (f *fakeWeb) Forget(id string) (int, error) {
	f.forgot = append(f.forgot, id)
	n := len(f.passkeys[id])
	delete(f.passkeys, id)
	for i, a := range f.accounts {
		if a.ID == id {
			f.accounts = append(f.accounts[:i], f.accounts[i+1:]...)
			break
		}
	}
	return n, nil
}

func runWeb(t *testing.T, dir string, web WebAccess, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	k := &KeysCommand{Prog: "parley keys", DataDir: dir, Files: true, Stdout: &out, Stderr: &errb, Web: web}
	return k.Run(args), out.String(), errb.String()
}

func TestKeysListShowsPasskeysAndBrowserOnlyPeople(t *testing.T) {
	dir := t.TempDir()
	alice := newKey(t)
	if code, _, errs := run(t, dir, "", "add", keyText(alice), "--name", "alice"); code != ExitOK {
		t.Fatal(errs)
	}
	fp := keys.Fingerprint(alice)
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	web := &fakeWeb{
		passkeys: map[string][]Passkey{fp: {{Created: day}, {Created: day, LastUsed: day.Add(time.Hour)}}, "web:carol": {{Created: day}}},
		accounts: []Account{{ID: "web:carol", Name: "carol", Created: day}},
	}
	code, out, errs := runWeb(t, dir, web, "list")
	if code != ExitOK || !strings.Contains(out, "2 passkeys") || !strings.Contains(out, "browser-only") || !strings.Contains(out, "web:carol") {
		t.Fatalf("keys list: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runWeb(t, dir, web, "list", "--json")
	var got struct {
		Keys []struct {
			Fingerprint string
			Passkeys    []PasskeyJSON
		}
		BrowserOnly []AccountJSON `json:"browser_only"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != ExitOK {
		t.Fatalf("keys list --json: %d %v\n%s", code, err, out)
	}
	if len(got.Keys) != 1 || len(got.Keys[0].Passkeys) != 2 || got.Keys[0].Passkeys[1].LastUsed != "2026-12-01T11:00:00Z" {
		t.Errorf("keys in JSON = %+v, want alice with 2 passkeys, the second used at 11:00", got.Keys)
	}
	if len(got.BrowserOnly) != 1 || got.BrowserOnly[0].Name != "carol" || len(got.BrowserOnly[0].Passkeys) != 1 {
		t.Errorf("browser_only in JSON = %+v, want carol with 1 passkey", got.BrowserOnly)
	}
}

func TestKeysRemoveTakesPasskeysAndBrowserOnlyPeople(t *testing.T) {
	dir := t.TempDir()
	alice := newKey(t)
	if code, _, errs := run(t, dir, "", "add", keyText(alice), "--name", "alice"); code != ExitOK {
		t.Fatal(errs)
	}
	fp := keys.Fingerprint(alice)
	web := &fakeWeb{
		passkeys: map[string][]Passkey{fp: {{}}, "web:carol": {{}, {}}},
		accounts: []Account{{ID: "web:carol", Name: "carol"}},
	}
	code, out, errs := runWeb(t, dir, web, "remove", "alice")
	if code != ExitOK || !strings.Contains(out, "Removed its 1 passkey too") {
		t.Fatalf("remove alice: %d %q %q", code, out, errs)
	}
	code, out, errs = runWeb(t, dir, web, "remove", "Carol")
	if code != ExitOK || !strings.Contains(out, "Removed carol (web:carol, browser-only) and 2 passkeys") {
		t.Fatalf("remove carol: %d %q %q", code, out, errs)
	}
	if strings.Join(web.forgot, " ") != fp+" web:carol" {
		t.Errorf("forgot %q, want alice's fingerprint then web:carol", web.forgot)
	}
	if code, _, errs := runWeb(t, dir, web, "remove", "carol"); code != ExitError || !strings.Contains(errs, "no key called carol") {
		t.Errorf("remove carol again: %d %q, want exit 1 no such key", code, errs)
	}
}
