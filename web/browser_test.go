package web

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"parley/room"
	"parley/safetext"
)

// The real-browser tests: Debian's chromium, headless, driven with
// chromedp. `.ci/run` installs chromium when it is missing.

const chromiumPath = "/usr/bin/chromium"

// updateScreenshots writes the screenshots under docs/ (go test ./web/
// -run TestBrowser -update-screenshots); without it they are taken and
// checked, not written.
var updateScreenshots = flag.Bool("update-screenshots", false, "write the web page's screenshots under docs/")

// newChromium starts a headless chromium for the test and returns a tab.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no %s: install Debian's chromium (apt-get install -y chromium; .ci/run does) to run the real-browser tests", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// within runs actions with a deadline.
func within(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until the expression is true in the page.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	within(t, ctx, "waiting for "+what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second))(ctx, tg)
		return err
	}))
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// logHas is an expression: the conversation shows text (as text).
func logHas(text string) string {
	return fmt.Sprintf(`document.getElementById("log").textContent.includes(%s)`, jsString(text))
}

// openSignedIn signs the browser in with a fresh link and waits for the
// conversation.
func openSignedIn(t *testing.T, e *env, ctx context.Context, id string) {
	t.Helper()
	link, err := e.web.SignInLink(id)
	if err != nil {
		t.Fatal(err)
	}
	within(t, ctx, "open the sign-in link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#app")))
	waitJS(t, ctx, "the lobby's member list", `document.getElementById("member-list").children.length > 0`)
	if got := evalJS[string](t, ctx, "location.href"); strings.Contains(got, "#") {
		t.Errorf("the token stays in the address bar: %s", got)
	}
}

func TestBrowserAndSSHUserChatBothWays(t *testing.T) {
	ctx := newChromium(t)
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	openSignedIn(t, e, ctx, aliceID)
	waitJS(t, ctx, "bob in the member list", `document.getElementById("member-list").textContent.includes("bob")`)

	if err := bob.Send(t.Context(), "hello from ssh"); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "bob's message", logHas("hello from ssh"))

	within(t, ctx, "type and press Enter", typeLine("hello from the browser"))
	if got := receiveText(t, bob, "hello from the browser"); got.From != "alice" {
		t.Fatalf("bob got %+v", got)
	}
	if v := evalJS[string](t, ctx, `document.getElementById("input").value`); v != "" {
		t.Errorf("the composer still holds %q after sending", v)
	}
	// Shift+Enter makes a new line; Enter then sends both lines as one message.
	within(t, ctx, "type two lines",
		chromedp.SendKeys(chromedp.CSS("#input"), "line one"),
		enter(shift),
		typeLine("line two"))
	if got := receiveText(t, bob, "line one\nline two"); got.Kind != room.KindChat {
		t.Fatalf("two lines arrived as %+v", got)
	}
	// A /command goes through the room's commands, as from SSH.
	within(t, ctx, "type /me", typeLine("/me waves"))
	if got := receiveText(t, bob, "waves"); got.Kind != room.KindEmote {
		t.Fatalf("/me arrived as %v", got.Kind)
	}
	waitJS(t, ctx, "the emote shown", logHas("* alice waves"))

	// The member list follows arrivals, away marks and departures, which
	// come as single entries (the "member" frame).
	carol := e.hubSession("SHA256:carol", "carol")
	waitJS(t, ctx, "carol in the list, in name order", `[...document.querySelectorAll("#member-list .mname")].map((n) => n.textContent).join(",") === "alice,bob,carol"`)
	if err := bob.Send(t.Context(), "/away lunch"); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "bob shown away", `document.querySelectorAll("#member-list li.away").length === 1`)
	carol.Close(room.ReasonQuit)
	waitJS(t, ctx, "carol gone from the list", `document.getElementById("members-title").textContent === "People · 2"`)
}

func TestBrowserShowsHostileTextInertly(t *testing.T) {
	ctx := newChromium(t)
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	openSignedIn(t, e, ctx, aliceID)
	for _, h := range hostile {
		if err := bob.Send(t.Context(), h); err != nil {
			t.Fatalf("send %q: %v", h, err)
		}
		want, _ := safetext.Message(h)
		waitJS(t, ctx, fmt.Sprintf("%q shown as text", want), logHas(want))
	}
	// From the browser too: it reaches SSH as typed, and shows as text.
	typed := `<img src=y onerror="window.__pwned=2">`
	within(t, ctx, "type hostile text", typeLine(typed))
	receiveText(t, bob, typed)
	waitJS(t, ctx, "own hostile text shown", logHas(typed))
	if err := bob.Send(t.Context(), "links: https://example.com/a?b=1, javascript:window.__pwned=3 and http://x.test/"); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the links message", logHas("links: "))

	if pwned := evalJS[bool](t, ctx, `window.__pwned !== undefined`); pwned {
		t.Fatal("hostile text ran script in the page")
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#log img, #log svg, #log script, #log b, #log textarea").length`); n != 0 {
		t.Fatalf("%d elements were made from message text", n)
	}
	links := evalJS[[]map[string]string](t, ctx, `[...document.querySelectorAll("#log a")].map(a => ({href: a.href, rel: a.rel, text: a.textContent}))`)
	if len(links) != 2 {
		t.Fatalf("links %v, want the two http(s) ones", links)
	}
	for _, l := range links {
		if !strings.HasPrefix(l["href"], "http://") && !strings.HasPrefix(l["href"], "https://") || l["rel"] != "noopener noreferrer" {
			t.Errorf("link %v: want http(s) with rel=noopener noreferrer", l)
		}
	}
	if links[0]["href"] != "https://example.com/a?b=1" {
		t.Errorf("first link %v: the trailing comma belongs to the sentence", links[0])
	}
}

func TestBrowserSessionEndsWhenTheKeyIsRemoved(t *testing.T) {
	ctx := newChromium(t)
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	openSignedIn(t, e, ctx, aliceID)
	e.ids.refuse(aliceID, "access revoked by the operator")
	e.hub.Disconnect(aliceID, "access revoked by the operator")
	waitJS(t, ctx, "the reason shown", logHas("Disconnected: access revoked by the operator"))
	within(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#signin")))
}

// shift is the Shift bit of a key event's modifiers.
const shift = 8

// enter presses Enter (with modifiers) as a keyboard does: one keyDown
// carrying the text, which the page may cancel, then keyUp. (chromedp's
// "\r" sends a separate char event that a page cannot cancel, which no
// keyboard does.)
func enter(modifiers int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13,
			NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r", Modifiers: modifiers}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Modifiers: modifiers}
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	})
}

// typeLine types text in the composer and presses Enter.
func typeLine(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.SendKeys(chromedp.CSS("#input"), text), enter(0))
}

// setScheme emulates prefers-color-scheme.
func setScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

func TestBrowserLayoutsAndScreenshots(t *testing.T) {
	ctx := newChromium(t)
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	carol := e.hubSession("SHA256:carol", "carol")
	if _, err := e.hub.Connect(t.Context(), room.Identity{ID: "SHA256:ci", Name: "deploy-bot", Bot: true}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		who  *room.Session
		text string
	}{
		{bob, "/topic Release planning for 2.4 · notes in https://wiki.example.com/2.4"},
		{bob, "morning! the build is green again"},
		{carol, "nice, thanks. I'll cut the release candidate after lunch"},
		{bob, "/me is reading the changelog"},
		{carol, "/join #ops"},
		{carol, "pager was quiet overnight"},
		{carol, "/join #lobby"},
	} {
		if err := s.who.Send(t.Context(), s.text); err != nil {
			t.Fatalf("%q: %v", s.text, err)
		}
	}
	within(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 800))
	openSignedIn(t, e, ctx, aliceID)
	within(t, ctx, "join #ops", typeLine("/join #ops"))
	waitJS(t, ctx, "#ops shown", `document.getElementById("room-name").textContent === "#ops"`)
	within(t, ctx, "back to the lobby", chromedp.Click(chromedp.CSS(`#room-list button[data-room="lobby"]`)))
	waitJS(t, ctx, "the lobby shown", `document.getElementById("room-name").textContent === "#lobby"`)
	for _, text := range []string{"alice: the RC notes are in the wiki", "anything blocking?"} {
		if err := bob.Send(t.Context(), text); err != nil {
			t.Fatal(err)
		}
	}
	within(t, ctx, "reply", typeLine("nothing from me, ship it"))
	if err := carol.Send(t.Context(), "/join #ops"); err != nil {
		t.Fatal(err)
	}
	if err := carol.Send(t.Context(), "disk on db-2 at 81%, watching it"); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "an unread badge on #ops", `document.querySelector('#room-list button[data-room="ops"] .badge')?.textContent === "1"`)
	waitJS(t, ctx, "the reply shown", logHas("ship it"))
	if live := evalJS[string](t, ctx, `document.getElementById("log").getAttribute("aria-live")`); live != "polite" {
		t.Errorf("the conversation's aria-live is %q: new messages are not announced", live)
	}

	for _, size := range []struct {
		name string
		w, h int64
	}{{"phone", 360, 740}, {"desktop", 1280, 800}} {
		for _, scheme := range []string{"light", "dark"} {
			within(t, ctx, "viewport", chromedp.EmulateViewport(size.w, size.h), setScheme(scheme))
			waitJS(t, ctx, "the layout at the new width", fmt.Sprintf("window.innerWidth === %d", size.w))
			if over := evalJS[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`); over {
				t.Errorf("%s: the page scrolls sideways at %d px", size.name, size.w)
			}
			membersShown := evalJS[bool](t, ctx, `getComputedStyle(document.getElementById("members")).display !== "none"`)
			if membersShown != (size.w >= 1000) {
				t.Errorf("%s: member list shown=%v at %d px", size.name, membersShown, size.w)
			}
			if inView := evalJS[bool](t, ctx, `(() => { const r = document.getElementById("send").getBoundingClientRect(); return r.right <= window.innerWidth && r.bottom <= window.innerHeight && r.width > 0; })()`); !inView {
				t.Errorf("%s: the Send button is off the screen", size.name)
			}
			dark := evalJS[bool](t, ctx, `getComputedStyle(document.body).backgroundColor !== "rgb(255, 255, 255)"`)
			if dark != (scheme == "dark") {
				t.Errorf("%s %s: dark background = %v", size.name, scheme, dark)
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil || len(shot) < 1000 {
				t.Fatalf("screenshot %s %s: %v (%d bytes)", size.name, scheme, err, len(shot))
			}
			if *updateScreenshots {
				path := filepath.Join("..", "docs", fmt.Sprintf("web-%s-%s.png", size.name, scheme))
				if err := os.WriteFile(path, shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// On a phone the member list opens from the header, and Escape closes it.
	within(t, ctx, "phone", chromedp.EmulateViewport(360, 740), setScheme("light"))
	waitJS(t, ctx, "the phone width", "window.innerWidth === 360")
	within(t, ctx, "open the people", chromedp.Click(chromedp.CSS("#toggle-members")))
	waitJS(t, ctx, "the people panel", `getComputedStyle(document.getElementById("members")).display !== "none"`)
	// It lies over the conversation, under the header, inside the screen,
	// and leaves the conversation as it was.
	if ok := evalJS[bool](t, ctx, `(() => {
		const bar = document.querySelector(".bar").getBoundingClientRect();
		const p = document.getElementById("members").getBoundingClientRect();
		const log = document.getElementById("log").getBoundingClientRect();
		return p.top >= bar.bottom - 1 && p.right <= window.innerWidth + 1 && p.bottom <= window.innerHeight + 1 &&
			p.width > 150 && log.width >= window.innerWidth - 1 && log.top >= bar.bottom - 1;
	})()`); !ok {
		t.Error("phone: the open people panel is not laid over the conversation under the header")
	}
	if *updateScreenshots {
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "web-phone-people.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	within(t, ctx, "Escape", chromedp.KeyEvent("\x1b"))
	waitJS(t, ctx, "the panel closed", `getComputedStyle(document.getElementById("members")).display === "none"`)
}
