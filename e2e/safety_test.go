package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hinshun/vt10x"

	"parley/app"
	"parley/room"
)

// injection is what a hostile user sends: an OSC 52 clipboard write, a
// screen clear, a colour, a C1 CSI (U+009B) and a right-to-left override
// (U+202E), between visible words.
const injection = "\x1b]52;c;ZXZpbA==\x07 \x1b[2J\x1b[31mRED \u009b31m \u202eevil"

// injected are the byte sequences of injection that must never reach
// another terminal. The renderer emits CSI sequences of its own (it clears
// the screen when it starts, resizes or changes theme, and colours
// everything), so these are the injected ones specifically, recognised by
// what follows them in the injection.
var injected = []struct{ name, seq string }{
	{"OSC 52 clipboard write", "\x1b]52"},
	{"C1 CSI (U+009B)", "\u009b"},
	{"right-to-left override (U+202E)", "\u202e"},
	{"injected screen clear", "\x1b[2J\x1b[31m"},
	{"injected colour", "\x1b[31mRED"},
}

// checkInert fails the test if raw holds any of the injected sequences.
func checkInert(t *testing.T, who string, raw []byte) {
	t.Helper()
	for _, bad := range injected {
		if i := bytes.Index(raw, []byte(bad.seq)); i >= 0 {
			t.Errorf("%s received the %s: ...%q...", who, bad.name, raw[max(i-60, 0):min(i+40, len(raw))])
		}
	}
}

func TestEscapeSequencesAreInert(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob), withoutFloodLimits())

	a := ts.connect(t, alice, size(100, 30))
	b := ts.connect(t, bob, size(100, 30))
	a.WaitFor(t, joined("bob"), waitTimeout)
	a.Say(t, "before-injection")
	b.WaitFor(t, rowMatching(clock+`alice before-injection`), waitTimeout)
	markA, markB := a.RawLen(), b.RawLen()

	// 1. Pasted (bracketed paste: the program gets the bytes as they are).
	a.Paste(t, injection+" via-paste")
	a.Type(t, "\r")
	// 2. Typed: the program's key parser sees the escape sequences.
	a.Say(t, injection+" via-typing")
	// 3. Straight into the room, past the terminal and its key parser.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rs, err := ts.hub().Connect(ctx, room.Identity{ID: "test:injector", Name: "injector"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close(room.ReasonQuit) })
	if err := rs.Send(ctx, injection+" via-room-api"); err != nil {
		t.Fatal(err)
	}
	// 4. In a topic, which is shown in everyone's header.
	a.Paste(t, "/topic "+injection+" via-topic")
	a.Type(t, "\r")
	// 5. In a private message.
	a.Paste(t, "/msg bob "+injection+" via-private")
	a.Type(t, "\r")

	screen := b.WaitFor(t, allOf(
		rowMatching(clock+`alice .*RED.*evil via-paste`),
		rowMatching(clock+`alice .*RED.*evil via-typing`),
		rowMatching(clock+`injector .*RED.*evil via-room-api`),
		rowMatching(clock+`~ alice set the topic: .*RED.*evil via-topic`),
		rowMatching(clock+`\[private\] from alice .*RED.*evil via-private`),
	), waitTimeout)
	// The injected screen clear did not clear anything.
	if !rowMatching(clock + `alice before-injection`)(screen) {
		t.Errorf("bob's earlier messages are gone:\n%s", frame(screen))
	}
	a.WaitFor(t, rowMatching(clock+`\[private\] to bob .*RED.*evil via-private`), waitTimeout)

	if testing.Verbose() {
		t.Logf("bob's screen:\n%s", frame(screen))
	}
	// What bob sees: RED in the colour of ordinary text.
	rows := strings.Split(b.Screen(), "\n")
	for _, via := range []string{"via-paste", "via-typing", "via-room-api"} {
		y := rowIndex(screen, via)
		i := strings.Index(rows[y], "RED")
		if i < 0 {
			t.Errorf("bob's screen lacks RED in the %s message:\n%s", via, frame(b.Screen()))
			continue
		}
		x := utf8.RuneCountInString(rows[y][:i])
		if g := b.Cell(x, y); g.Char != 'R' || g.FG != vt10x.DefaultFG || g.BG != vt10x.DefaultBG {
			t.Errorf("the %s message's RED is drawn as %+v, want the default colours", via, g)
		}
	}
	checkInert(t, "bob", b.Raw()[markB:])
	checkInert(t, "alice", a.Raw()[markA:])
	// The clipboard payload never arrives as the end of an OSC sequence.
	for _, c := range []*client{a, b} {
		if raw := c.Raw(); bytes.Contains(raw, []byte("ZXZpbA==\x07")) {
			t.Errorf("%s received the clipboard payload as a sequence", c.name)
		}
	}
}

func TestWindowSizeIsClamped(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	// A smaller limit than the default 400x200, which costs a lot of
	// drawing under -race; the clamp is the same code.
	const maxW, maxH = 160, 50
	ts := startServer(t, withUsers(alice, bob), withConfig(func(c *app.Config) { c.MaxWidth, c.MaxHeight = maxW, maxH }))

	// alice claims a 20000x20000 terminal; her emulator is as large as the
	// server may draw.
	a := ts.connect(t, alice, size(20000, 20000), emulatorSize(maxW, maxH))
	b := ts.connect(t, bob)
	// The header spans maxW columns: her name ends at the right edge, and
	// the input is on the last row.
	a.WaitFor(t, func(s string) bool {
		rows := strings.Split(s, "\n")
		first := strings.TrimRight(rows[0], " ")
		return strings.HasPrefix(first, " #lobby  2 here") && strings.HasSuffix(first, " alice") && len(first) == maxW-1 &&
			strings.HasPrefix(rows[maxH-1], "> ")
	}, waitTimeout)

	a.WindowChange(t, 20000, 20000)
	b.Say(t, "after-huge-resize")
	a.WaitFor(t, rowMatching(clock+`bob after-huge-resize`), waitTimeout)

	// 10000x5: as wide as allowed, five rows: header, three of chat, input,
	// and nothing below.
	a.WindowChange(t, 10000, 5)
	b.Say(t, "after-short-resize")
	a.WaitFor(t, func(s string) bool {
		rows := strings.Split(s, "\n")
		return strings.Contains(rows[3], "bob after-short-resize") && strings.HasPrefix(rows[4], "> ") &&
			strings.TrimSpace(strings.Join(rows[5:], "")) == ""
	}, waitTimeout)

	// The server is still responsive for everyone.
	a.Say(t, "alice-still-talks")
	b.WaitFor(t, rowMatching(clock+`alice alice-still-talks`), waitTimeout)
	if n := a.RawLen(); n > 2<<20 {
		t.Errorf("alice received %d bytes, want under 2 MiB", n)
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob))
	a := ts.connect(t, alice)
	b := ts.connect(t, bob, size(40, 15))
	a.WaitFor(t, joined("bob"), waitTimeout)
	b.Expect(t, "2 here")

	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- ts.Close() }()

	for _, c := range []*client{a, b} {
		if err := c.WaitEnded(t, waitTimeout); err != nil {
			t.Errorf("%s: session ended with %v", c.name, err)
		}
		if s := c.Screen(); !strings.Contains(s, "shutting down") {
			t.Errorf("%s: no shutdown notice on the terminal:\n%s", c.name, frame(s))
		}
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Close did not return")
	}
	t.Logf("Close took %v", time.Since(start))

	// Nobody gets in any more.
	if _, err := ts.tryConnect(t, alice); err == nil {
		t.Errorf("connected after Close")
	}
}

// TestSlowReaderIsDisconnected: a client that stops reading (its SSH
// channel window fills up) must not slow anyone else down, and is
// disconnected once its queue overflows.
//
// x/crypto/ssh gives a session channel a 2 MiB window, so the server can
// write 2 MiB to a client that reads nothing before its writes block. To
// get there with a few hundred messages, the messages are as large as
// allowed (2000 characters of 4 bytes each, all different, see bulk), the
// slow client's window is large (200x60), and the messages are posted by
// alice's and bob's second sessions straight into the room (typing 8 KB
// messages through a terminal is slow under -race). alice's and bob's
// terminals show every round of messages; the last message is typed.
func TestSlowReaderIsDisconnected(t *testing.T) {
	t.Parallel()
	alice, bob, slow := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "slowpoke")
	ts := startServer(t, withUsers(alice, bob, slow), withoutFloodLimits(),
		// History in memory: this test is about fan-out, and SQLite
		// under -race would make it slow.
		withConfig(func(c *app.Config) { c.Room.QueueSize, c.Store = 16, "memory" }))

	a := ts.connect(t, alice)
	b := ts.connect(t, bob, size(40, 15))
	s := ts.connect(t, slow, size(200, 60), noReader())
	a.WaitFor(t, joined("slowpoke"), waitTimeout)
	b.WaitFor(t, joined("slowpoke"), waitTimeout)

	// alice's and bob's other sessions, which post without a terminal.
	posters := []*poster{
		newPoster(t, ts.hub(), room.Identity{ID: alice.fp, Name: alice.name}),
		newPoster(t, ts.hub(), room.Identity{ID: bob.fp, Name: bob.name}),
	}

	const (
		minMessages = 300
		maxMessages = 800 // 6 MB: far more than the window
		perRound    = 8   // well under the queue of 16 for the screens that keep up
	)
	slowGone := func() bool { _, ok := ts.memberIDs()[slow.fp]; return !ok }
	start := time.Now()
	n := 0
	for n < minMessages || !slowGone() {
		if n >= maxMessages {
			t.Fatalf("after %d messages (%v) the slow reader is still in the room", n, time.Since(start))
		}
		var tag string
		tag, n = postBulk(t, posters, n, perRound)
		// Pace by what the people who read see.
		a.WaitFor(t, contains(tag), waitTimeout)
		b.WaitFor(t, contains(tag), waitTimeout)
	}
	t.Logf("the slow reader was disconnected after %d messages, %v", n, time.Since(start))

	// Everyone else carries on, promptly.
	sent := time.Now()
	a.Say(t, "the-last-message")
	b.WaitFor(t, rowMatching(clock+`alice the-last-message`), waitTimeout)
	t.Logf("the last message reached bob in %v", time.Since(sent))
	// The member lists no longer show the slow reader (the log may still
	// show its leave line: long messages are folded to a few rows).
	for _, c := range []*client{a, b} {
		c.WaitFor(t, allOf(header(`^ #lobby  2 here `), func(s string) bool { return !strings.Contains(s, "│ slowpoke") }), waitTimeout)
	}
	if _, ok := ts.memberIDs()[alice.fp]; !ok {
		t.Errorf("alice was disconnected too")
	}
	// And the server closes the slow client's session.
	s.WaitEnded(t, 15*time.Second)
}

// bulk is a message of the largest size in 4-byte characters (bold
// mathematical letters, one cell wide), ending with tag (so the tag shows
// in its last line). The letters vary from line to line and message to
// message: a renderer that only draws what changed cannot skip any of it.
// postBulk has posters take turns sending count bulk messages numbered
// from n, waits until every poster has been given the last one (so that the
// posters' own queues are empty again, however slowly a loaded machine
// runs their readers), and returns the last one's tag and the next number.
func postBulk(t *testing.T, posters []*poster, n, count int) (tag string, next int) {
	t.Helper()
	for range count {
		tag = fmt.Sprintf("m%04d", n)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := posters[n%len(posters)].Send(ctx, bulk(tag))
		cancel()
		if err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		n++
	}
	eventually(t, waitTimeout, "the posters given "+tag, func() bool {
		for _, p := range posters {
			if !p.seen(tag) {
				return false
			}
		}
		return true
	})
	return tag, n
}

func bulk(tag string) string {
	seed := 0
	for _, c := range tag {
		seed = seed*31 + int(c)
	}
	r := make([]rune, 0, 1991)
	for i := 0; i < 1990; i++ {
		seed = seed*1103515245 + 12345
		r = append(r, 0x1D400+rune((seed>>16)&0x7fff)%52)
	}
	return tag + " " + string(r) // the tag first: screens fold a long message
}
