package web

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"parley/room"
)

// The real-browser tests of issue 17's items 2, 3, 4 and 7: the person's
// browsers, infinite scrollback, desktop notifications, keyboard-only use.

func TestBrowserListsAndSignsOutTheOtherBrowsers(t *testing.T) {
	ctx := newChromium(t)
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	phone := e.browser()
	phone.signIn(aliceID)
	phoneWS := phone.connect()
	phoneWS.waitFrame("hello", func(f rawFrame) bool { return f.Type == typeHello })

	within(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 800))
	openSignedIn(t, e, ctx, aliceID)
	within(t, ctx, "open the browsers", chromedp.Click(chromedp.CSS("#open-sessions")))
	waitJS(t, ctx, "both browsers listed", `document.querySelectorAll("#session-list li").length === 2`)
	if first := evalJS[string](t, ctx, `document.querySelector("#session-list li").textContent`); !strings.Contains(first, "this browser") ||
		!strings.Contains(first, "Headless Chromium on Linux") || !strings.Contains(first, "127.0.0.1") {
		t.Errorf("the first row %q: want this browser, named, with its address", first)
	}
	if n := evalJS[int](t, ctx, `[...document.querySelectorAll("#session-list li")].filter(li => li.textContent.includes("this browser")).length`); n != 1 {
		t.Errorf("%d rows marked this browser, want 1", n)
	}
	if *updateScreenshots {
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "web-sessions.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The dialog fits a phone, light and dark.
	for _, scheme := range []string{"light", "dark"} {
		within(t, ctx, "phone", chromedp.EmulateViewport(360, 740), setScheme(scheme))
		waitJS(t, ctx, "the phone width", "window.innerWidth === 360")
		if ok := evalJS[bool](t, ctx, `(() => { const r = document.getElementById("sessions").getBoundingClientRect();
			return r.left >= 0 && r.right <= window.innerWidth && document.documentElement.scrollWidth <= window.innerWidth; })()`); !ok {
			t.Errorf("%s: the browsers dialog does not fit 360 px", scheme)
		}
		if path := os.Getenv("PARLEY_SHOT_DIR"); path != "" { // for looking at by hand
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err == nil {
				_ = os.WriteFile(filepath.Join(path, "sessions-phone-"+scheme+".png"), shot, 0o644)
			}
		}
	}
	within(t, ctx, "desktop again", chromedp.EmulateViewport(1280, 800), setScheme("light"))
	within(t, ctx, "sign the phone out", chromedp.Click(chromedp.CSS(`#session-list li:not(:first-child) button`)))
	end := phoneWS.waitFrame("the phone's end", func(f rawFrame) bool { return f.Type == typeEnd })
	if end.Reason != "signed out from another browser" {
		t.Errorf("the phone's page ended with %q", end.Reason)
	}
	waitJS(t, ctx, "the row gone", `document.querySelectorAll("#session-list li").length === 1`)
	if code := phone.get("/api/me", nil); code != 401 {
		t.Errorf("the phone after being signed out: %d, want 401", code)
	}
	// Signing this browser out from the list is signing out.
	within(t, ctx, "sign this browser out", chromedp.Click(chromedp.CSS(`#session-list li button`)), chromedp.WaitVisible(chromedp.CSS("#signin")))
}

func TestBrowserScrollsBackToTheRoomsStart(t *testing.T) {
	const total = 260
	ctx := newChromium(t)
	e := newEnv(t, room.Config{History: &memHistory{msgs: map[string][]room.Message{}}, Backlog: 30})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	for i := 1; i <= total; i++ {
		if err := bob.Send(t.Context(), fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	within(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 800))
	openSignedIn(t, e, ctx, aliceID)
	waitJS(t, ctx, "the newest message", logHas(fmt.Sprintf("message %d", total)))
	for round := 0; ; round++ {
		if evalJS[bool](t, ctx, logHas("This is the start of #lobby")) {
			break
		}
		if round > 10 {
			t.Fatal("no start of the room after 10 scrolls to the top")
		}
		// A page that did not fill the box may still be loading by itself.
		waitJS(t, ctx, "no load in flight", `!view(state.current).loading`)
		n := evalJS[int](t, ctx, `document.querySelectorAll("#log li").length`)
		// The first message on screen stays where it is while older ones
		// are put above it. (Rows are drawn anew, so it is found again by
		// its text.) Measured and scrolled in one go: nothing comes between.
		anchor := evalJS[float64](t, ctx, `(() => { const l = document.getElementById("log"); l.scrollTop = 0;
			const li = [...document.querySelectorAll("#log li")].find(li => /message \d+$/.test(li.textContent));
			window.__anchor = li.textContent; const top = li.getBoundingClientRect().top;
			l.dispatchEvent(new Event("scroll")); return top; })()`)
		waitJS(t, ctx, "older messages", fmt.Sprintf(`document.querySelectorAll("#log li").length > %d || document.getElementById("log").textContent.includes("This is the start")`, n))
		if after := evalJS[float64](t, ctx, `[...document.querySelectorAll("#log li")].find(li => li.textContent === window.__anchor).getBoundingClientRect().top`); math.Abs(after-anchor) > 2 {
			t.Errorf("round %d: the message at the top moved from %.0f to %.0f px when older ones came", round, anchor, after)
		}
	}
	counts := evalJS[map[string]int](t, ctx, `(() => { const c = {}; for (const li of document.querySelectorAll("#log li")) {
		const m = li.textContent.match(/message (\d+)$/); if (m) c[m[1]] = (c[m[1]] || 0) + 1; } return c; })()`)
	for i := 1; i <= total; i++ {
		if n := counts[fmt.Sprint(i)]; n != 1 {
			t.Errorf("message %d shown %d times", i, n)
		}
	}
	if first := evalJS[string](t, ctx, `document.querySelector("#log li").textContent`); first != "This is the start of #lobby" {
		t.Errorf("the first line is %q", first)
	}
}

// fakeNotifications replaces the Notification API and document.hidden in
// every document of the tab: notifications are recorded in
// window.__notes, permission is granted on request (kept in localStorage
// across reloads), and window.__hidden says whether the tab is hidden.
const fakeNotifications = `
window.__notes = []; window.__asked = 0; window.__hidden = false;
window.Notification = class {
  static get permission() { return localStorage.getItem("fake-permission") || "default"; }
  static requestPermission() { window.__asked++; localStorage.setItem("fake-permission", "granted"); return Promise.resolve("granted"); }
  constructor(title, opts) { window.__notes.push({ title, body: opts.body }); }
  close() {}
};
Object.defineProperty(document, "hidden", { get() { return window.__hidden; } });
`

func TestBrowserNotifiesOfMentionsAndPrivateMessagesOnlyWhenAsked(t *testing.T) {
	ctx := newChromium(t)
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	within(t, ctx, "fake the Notification API", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fakeNotifications})
		return err
	}))
	within(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 800))
	openSignedIn(t, e, ctx, aliceID)
	say := func(text string) {
		t.Helper()
		if err := bob.Send(t.Context(), text); err != nil {
			t.Fatal(err)
		}
	}
	notes := func() []map[string]string {
		return evalJS[[]map[string]string](t, ctx, `window.__notes`)
	}
	say("alice: before you asked")
	waitJS(t, ctx, "the mention", logHas("before you asked"))
	if evalJS[int](t, ctx, `window.__asked`) != 0 || len(notes()) != 0 {
		t.Fatal("notifications were asked for or shown before the person clicked")
	}

	within(t, ctx, "turn notifications on", chromedp.Click(chromedp.CSS("#notify")))
	waitJS(t, ctx, "the button on", `document.getElementById("notify").getAttribute("aria-pressed") === "true"`)
	if evalJS[int](t, ctx, `window.__asked`) != 1 || evalJS[string](t, ctx, `localStorage.getItem("parley.notify")`) != "on" {
		t.Fatal("the click did not ask once and keep the choice")
	}
	say("alice: while you look") // the tab is visible: no notification
	waitJS(t, ctx, "the visible mention", logHas("while you look"))
	evalJS[bool](t, ctx, `window.__hidden = true`)
	say("nothing for alice") // "alice" as a word: a mention
	say("unrelated chatter")
	say("/msg alice psst")
	waitJS(t, ctx, "the private message", logHas("psst"))
	got := notes()
	if len(got) != 2 || got[0]["title"] != "bob in #lobby" || got[0]["body"] != "nothing for alice" ||
		got[1]["title"] != "bob (private)" || got[1]["body"] != "psst" {
		t.Fatalf("notifications %v: want the mention and the private message only", got)
	}

	// The choice outlives a reload; turning it off stops them.
	within(t, ctx, "reload", chromedp.Reload())
	waitJS(t, ctx, "the page again", `document.getElementById("member-list").children.length > 0`)
	waitJS(t, ctx, "still on", `document.getElementById("notify").getAttribute("aria-pressed") === "true"`)
	within(t, ctx, "turn notifications off", chromedp.Click(chromedp.CSS("#notify")))
	waitJS(t, ctx, "the button off", `document.getElementById("notify").getAttribute("aria-pressed") === "false"`)
	evalJS[bool](t, ctx, `window.__hidden = true`)
	say("alice: after you turned them off")
	waitJS(t, ctx, "the last mention", logHas("after you turned them off"))
	if n := len(notes()); n != 0 {
		t.Fatalf("%d notifications after turning them off", n)
	}
}

// tab presses Tab (with modifiers) as a keyboard does.
func tab(modifiers int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			ev := input.DispatchKeyEventParams{Type: typ, Key: "Tab", Code: "Tab", WindowsVirtualKeyCode: 9, NativeVirtualKeyCode: 9, Modifiers: modifiers}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// focused describes the focused element: its id or data-room, and whether
// its focus ring shows.
const focusedJS = `(() => { const a = document.activeElement; if (!a || a === document.body) return {name: "body", ring: false};
	const s = getComputedStyle(a);
	return {name: a.id || (a.dataset.room ? "room:" + a.dataset.room : a.tagName), ring: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0}; })()`

type focus struct {
	Name string
	Ring bool
}

// tabThrough presses Tab up to n times from the top of the page and
// returns what took the focus, in order.
func tabThrough(t *testing.T, ctx context.Context, n int) []focus {
	t.Helper()
	evalJS[bool](t, ctx, `(document.activeElement && document.activeElement.blur(), true)`)
	var seen []focus
	for range n {
		within(t, ctx, "Tab", tab(0))
		seen = append(seen, evalJS[focus](t, ctx, focusedJS))
	}
	return seen
}

func indexOf(fs []focus, name string) int {
	for i, f := range fs {
		if f.Name == name {
			return i
		}
	}
	return -1
}

func TestBrowserKeyboardOnly(t *testing.T) {
	ctx := newChromium(t)
	e := newEnv(t, room.Config{})
	e.ids.add(aliceID, "alice")
	bob := e.hubSession(bobID, "bob")
	within(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 800))
	openSignedIn(t, e, ctx, aliceID)
	within(t, ctx, "join #ops", typeLine("/join #ops"))
	waitJS(t, ctx, "#ops in the list", `!!document.querySelector('#room-list button[data-room="ops"]')`)

	seen := tabThrough(t, ctx, 14)
	for _, f := range seen {
		if f.Name != "body" && !f.Ring {
			t.Errorf("%s has the focus with no visible focus ring", f.Name)
		}
	}
	lobby, ops, in := indexOf(seen, "room:lobby"), indexOf(seen, "room:ops"), indexOf(seen, "input")
	if lobby < 0 || ops < 0 || in < 0 || !(lobby < in && ops < in) {
		t.Fatalf("Tab order %v: want the room list, then the composer", seen)
	}
	// Enter on a focused room shows it; Tab on to the composer; Enter sends.
	tabTo(t, ctx, "room:lobby")
	within(t, ctx, "Enter on #lobby", enter(0))
	waitJS(t, ctx, "the lobby shown", `document.getElementById("room-name").textContent === "#lobby"`)
	tabTo(t, ctx, "input")
	within(t, ctx, "type and send with Enter", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: "typed without a mouse"})
		return err
	}), enter(0))
	if got := receiveText(t, bob, "typed without a mouse"); got.Room != "lobby" {
		t.Fatalf("bob got %+v", got)
	}

	// On a phone the panels open from the header's buttons, by keyboard.
	within(t, ctx, "phone size", chromedp.EmulateViewport(360, 740))
	waitJS(t, ctx, "the phone width", "window.innerWidth === 360")
	seen = tabThrough(t, ctx, 8)
	for _, want := range []string{"toggle-rooms", "toggle-members", "input"} {
		if i := indexOf(seen, want); i < 0 || !seen[i].Ring {
			t.Errorf("Tab order %v: %s not reached with a focus ring", seen, want)
		}
	}
	tabTo(t, ctx, "toggle-members")
	within(t, ctx, "Enter on the people button", enter(0))
	waitJS(t, ctx, "the people panel open", `document.getElementById("toggle-members").getAttribute("aria-expanded") === "true" && getComputedStyle(document.getElementById("members")).display !== "none"`)
}

// tabTo presses Tab until name has the focus (at most 30 times).
func tabTo(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	for range 30 {
		if evalJS[focus](t, ctx, focusedJS).Name == name {
			return
		}
		within(t, ctx, "Tab", tab(0))
	}
	t.Fatalf("Tab never reached %s", name)
}
