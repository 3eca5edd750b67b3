package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// The done-when of issue 17's invites, end to end: the real binary, an
// admin at a real SSH client, and a newcomer with no SSH key in headless
// chromium at phone width, whose passkey comes from the DevTools virtual
// authenticator. (The page's own tests are in web/; this one checks the
// wiring: ssh host invite's link, the SSH side's code rules, the chat.)

func TestInvitedNewcomerJoinsFromAPhoneAndChatsWithSSH(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no %s: install Debian's chromium (.ci/run does) to run the real-browser tests", chromium)
	}
	data := t.TempDir()
	adminKey, adminLine := newKey(t)
	if err := os.WriteFile(filepath.Join(data, "authorized_keys"), []byte(`admin,name="alice" `+adminLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, data, "--web", "127.0.0.1:0")
	base := pageOf(t, c)
	alice := newWebUser(t, c, base, adminKey)
	out, err := alice.ssh("invite")
	m := inviteLinkRE.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("ssh invite: %v %q", err, out)
	}
	link := m[0]

	// alice follows the lobby over SSH.
	sess, err := alice.client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("tail -f -n 0 --json"); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	// The newcomer's phone.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chromium), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()))
	ctx, cancel := chromedp.NewContext(actx)
	defer func() { cancel(); cancelAlloc() }()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, on the test's context
		t.Fatalf("start chromium: %v", err)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitFor := func(what, expr string) {
		t.Helper()
		run("waiting for "+what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
			return err
		}))
	}
	run("a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))
	run("open the invite link at 360 px", chromedp.EmulateViewport(360, 740), chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#invite")))
	run("pick a name and join", chromedp.SendKeys(chromedp.CSS("#invite-name"), "dora"), chromedp.Click(chromedp.CSS("#invite-join")))
	waitFor("the chat", `!document.getElementById("app").hidden && document.getElementById("member-list").textContent.includes("dora")`)

	// dora writes; alice reads it over SSH.
	run("dora writes", chromedp.SendKeys(chromedp.CSS("#input"), "hello from my phone"), chromedp.Click(chromedp.CSS("#send")))
	deadline := time.After(20 * time.Second)
	for seen := false; !seen; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("alice's tail ended")
			}
			var msg struct{ From, Fingerprint, Text string }
			_ = json.Unmarshal([]byte(l), &msg)
			if msg.Text == "hello from my phone" {
				if msg.From != "dora" || !strings.HasPrefix(msg.Fingerprint, "web:") {
					t.Fatalf("alice saw %+v, want dora with a web: id", msg)
				}
				seen = true
			}
		case <-deadline:
			t.Fatal("alice never saw dora's message over SSH")
		}
	}
	// alice answers over SSH; dora reads it in the page.
	if out, err := alice.ssh(`say "welcome, dora"`); err != nil {
		t.Fatalf("say: %v %s", err, out)
	}
	waitFor("alice's answer", `document.getElementById("log").textContent.includes("welcome, dora")`)
}
