package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Passkeys in a real chromium, with the DevTools protocol's virtual
// authenticator standing in for the device's (a platform authenticator with
// user verification, that says yes to every presence test).

// virtualAuthenticator enables WebAuthn interception in the tab and adds
// an authenticator that keeps discoverable credentials.
func virtualAuthenticator(t *testing.T, ctx context.Context) {
	t.Helper()
	within(t, ctx, "add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true,
				HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
			}})
		return err
	}))
}

// waitAcrossReload is waitJS for a page that reloads itself meanwhile (sign
// out): a poll cut short by the navigation is started again, until the
// deadline.
func waitAcrossReload(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		_, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second)))
		if err == nil {
			return
		}
		if c.Err() != nil || !(strings.Contains(err.Error(), "navigated") || strings.Contains(err.Error(), "Cannot find context")) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
}

// textOf is an expression: the text of the element with this id.
func textOf(id string) string { return `document.getElementById(` + jsString(id) + `).textContent` }

func TestBrowserPasskeyRegistersSignsInAndDiesWithItsIdentity(t *testing.T) {
	ctx := newChromium(t)
	e, _, _ := newPasskeyEnv(t, nil)
	virtualAuthenticator(t, ctx)
	e.ids.add(aliceID, "alice")
	within(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 800))
	openSignedIn(t, e, ctx, aliceID)

	// Register a passkey from the signed-in page.
	waitJS(t, ctx, "the Add a passkey button", `!document.getElementById("passkey-add").hidden`)
	within(t, ctx, "add a passkey", chromedp.Click(chromedp.CSS("#passkey-add")))
	waitJS(t, ctx, "the passkey registered", textOf("passkey-msg")+`.includes("Passkey added")`)
	if n, err := e.web.cfg.Credentials.Passkeys(context.Background(), aliceID); err != nil || len(n) != 1 {
		t.Fatalf("alice's passkeys on the server: %d, %v; want 1", len(n), err)
	}

	// Sign out, then in again with the passkey: no link, no SSH.
	within(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#signout")))
	waitAcrossReload(t, ctx, "the sign-in card", `!document.getElementById("signin").hidden && !document.getElementById("passkey-signin").hidden`)
	within(t, ctx, "sign in with the passkey", chromedp.Click(chromedp.CSS("#passkey-signin")))
	waitJS(t, ctx, "the chat after the passkey sign-in", `!document.getElementById("app").hidden && document.getElementById("member-list").children.length > 0`)
	if me := evalJS[string](t, ctx, textOf("me")); !strings.Contains(me, "alice") {
		t.Fatalf("signed in as %q, want alice", me)
	}

	// The identity is removed (keys remove: its passkeys go, its browser
	// sessions end): the page is disconnected and the passkey no longer
	// signs in.
	e.ids.refuse(aliceID, "this key is no longer on the server's list")
	if _, err := e.web.cfg.Credentials.RemovePasskeys(context.Background(), aliceID); err != nil {
		t.Fatal(err)
	}
	e.web.SignOutIdentity(aliceID)
	e.hub.Disconnect(aliceID, "access revoked by the operator")
	waitJS(t, ctx, "the page told it was disconnected", textOf("status")+`.includes("access revoked")`)
	within(t, ctx, "reload", chromedp.Reload())
	waitJS(t, ctx, "the sign-in card after the removal", `!document.getElementById("signin").hidden && !document.getElementById("passkey-signin").hidden`)
	within(t, ctx, "try the removed passkey", chromedp.Click(chromedp.CSS("#passkey-signin")))
	waitJS(t, ctx, "the refusal", textOf("signin-msg")+`.includes("not known here")`)
	if !evalJS[bool](t, ctx, `document.getElementById("app").hidden`) {
		t.Fatal("the chat is shown after a refused passkey")
	}
}

func TestBrowserInvitedNewcomerJoinsAtPhoneWidthAndChats(t *testing.T) {
	ctx := newChromium(t)
	e, inv, _ := newPasskeyEnv(t, nil)
	virtualAuthenticator(t, ctx)
	inv.uses["aap6jnmevayf"] = 1
	bob := e.hubSession(bobID, "bob")

	within(t, ctx, "phone", chromedp.EmulateViewport(360, 740), setScheme("dark"))
	within(t, ctx, "open the invite link", chromedp.Navigate(e.base+"/invite/aap6jnmevayf"), chromedp.WaitVisible(chromedp.CSS("#invite")))
	within(t, ctx, "a name that is not a name", chromedp.SendKeys(chromedp.CSS("#invite-name"), "dora the explorer"), chromedp.Click(chromedp.CSS("#invite-join")))
	waitJS(t, ctx, "the refused name", textOf("invite-msg")+`.includes("Not joined")`)
	if left := inv.usesLeft("aap6jnmevayf"); left != 1 {
		t.Fatalf("a refused name used the code: %d uses left, want 1", left)
	}
	within(t, ctx, "pick a name and join",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.getElementById("invite-name").value = "") === ""`)(ctx, tg)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS("#invite-name"), "dora"),
		chromedp.Click(chromedp.CSS("#invite-join")))
	waitJS(t, ctx, "the chat", `!document.getElementById("app").hidden && document.getElementById("member-list").children.length > 0`)
	if got := evalJS[string](t, ctx, "location.pathname"); got != "/" {
		t.Errorf("after joining the address is %q, want /", got)
	}
	if left := inv.usesLeft("aap6jnmevayf"); left != 0 {
		t.Errorf("the code has %d uses left after joining, want 0", left)
	}
	if w := evalJS[int](t, ctx, "document.documentElement.scrollWidth"); w > 360 {
		t.Errorf("the page is %d px wide at 360 px: it scrolls sideways", w)
	}

	// dora (browser only, a passkey) and bob (SSH side) chat both ways.
	within(t, ctx, "dora says hello", typeLine("hello bob, from my phone"))
	m := receiveText(t, bob, "hello bob, from my phone")
	if m.From != "dora" || !strings.HasPrefix(m.FromID, AccountPrefix) {
		t.Fatalf("bob got %q from %q (%s), want dora with a web: id", m.Text, m.From, m.FromID)
	}
	if err := bob.Send(context.Background(), "welcome, dora"); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "bob's answer", logHas("welcome, dora"))

	// The code is spent: a second newcomer is refused.
	ctx2 := newChromium(t)
	virtualAuthenticator(t, ctx2)
	within(t, ctx2, "open the spent invite", chromedp.Navigate(e.base+"/invite/aap6jnmevayf"), chromedp.WaitVisible(chromedp.CSS("#invite")))
	within(t, ctx2, "try it", chromedp.SendKeys(chromedp.CSS("#invite-name"), "eve"), chromedp.Click(chromedp.CSS("#invite-join")))
	waitJS(t, ctx2, "the refusal", textOf("invite-msg")+`.includes("invalid or expired invite code")`)
}
