package e2e

// The hostile-text corpus: terminal escapes and other dangerous text sent
// through every way a user's text reaches someone else's screen (messages
// typed, pasted or posted straight into the room, /me, private messages,
// names by /nick and by SSH user name, topics, room names), checking that
//
//   - the bytes every other client receives contain none of the injected
//     sequences (the renderer emits CSI/SGR and a few OSC of its own, so
//     the checks look for the injected sequences specifically: OSC 52, OSC
//     8, DCS, C1 controls, bidi and zero-width characters, and CSI with
//     parameters only the corpus uses), and no bell (the receivers turn
//     their mention bell off, so a BEL could only come from text);
//   - the screen shows the text inertly: the visible words arrive, nothing
//     is erased, overwritten, recoloured or moved, and the layout holds;
//   - escape sequences vanish whole: a message shows the words around them
//     as they were written, with nothing of the sequences between;
//   - every message the hub delivers is clean (valid UTF-8, no controls
//     but newline, at most 2000 characters and 20 lines);
//   - the server's log has no raw escape, control or bidi character, one
//     event per line, and no message body at info level.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hinshun/vt10x"
	"golang.org/x/crypto/ssh"

	"parley/app"
	"parley/room"
	"parley/safetext"
)

// hostile is one corpus entry. Its mark is a word that must show on the
// receivers' screens (with a suffix per path, so that each sending waits
// for its own).
type hostile struct {
	name string
	text string // the payload; mark is appended as " "+mark+suffix unless big
	mark string
	big  bool // 1 MiB or 10,000 lines: pasted or posted only, never typed
	// noType: typing it would start a bracketed paste that never ends.
	noType bool
	// core entries also go through the slower paths (typed, /me, private
	// messages, names, SSH user names); the others differ from a core
	// entry only in detail, and every entry is pasted and posted.
	core bool
	// shows, if set, is what a receiver's screen shows of text, pasted or
	// posted as a message (typing goes through the sender's line editor,
	// which takes escape sequences for keys).
	shows string
}

// bodySecret ends every message body: it must never be logged at info level.
const bodySecret = "bodysecret"

var corpus = []hostile{
	{name: "OSC 52 clipboard write (BEL)", text: "copy\x1b]52;c;ZXZpbA==\x07this", mark: "hx01", core: true, shows: "copythis"},
	{name: "OSC 52 clipboard write (ST)", text: "copy\x1b]52;p;ZXZpbA==\x1b\\this", mark: "hx02", shows: "copythis"},
	{name: "OSC 8 link", text: "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ here", mark: "hx03", core: true, shows: "click here"},
	{name: "CSI clear screen, scrollback, home", text: "wipe\x1b[2J\x1b[H\x1b[3Jall", mark: "hx04", core: true, shows: "wipeall"},
	{name: "CSI cursor moves, save and restore", text: "jump\x1b[9999;9999H\x1b[77A\x1b[s\x1b[u\x1b[1;1Hthere", mark: "hx05", shows: "jumpthere"},
	{name: "SGR colours", text: "\x1b[31;41mRED\x1b[0m text", mark: "hx06", shows: "RED text"},
	// The DCS that tmux passes through is cut short by the ESC that
	// doubles the next one: it is not recognised, and loses its ESC only.
	{name: "DCS (and a tmux passthrough)", text: "dcs\x1bP+q544e\x1b\\ \x1bPtmux;\x1b\x1b]52;c;ZXZpbA==\x07\x1b\\end", mark: "hx07", core: true, shows: "dcs Ptmux;end"},
	{name: "C1 CSI U+009B and other C1", text: "c1\u009b2J\u009b31mX\u0090q\u009c\u009d0;t\u009c", mark: "hx08", core: true, shows: "c1X"},
	// Single bytes 0x80-0x9F are not UTF-8: each run becomes U+FFFD and
	// starts no sequence.
	{name: "8-bit C1 CSI (a lone 0x9B byte)", text: "raw\x9b2J\x9b31mX", mark: "hx09", shows: "raw\uFFFD2J\uFFFD31mX"},
	{name: "BEL", text: "ding\x07\x07\x07dong", mark: "hx10", core: true},
	{name: "backspace overwrite", text: "bs-keep\b\b\b\b\b\b\bOVER", mark: "hx11"},
	{name: "carriage-return overwrite", text: "PAYMENT OK\rREFUSED", mark: "hx12"},
	{name: "bracketed-paste markers", text: "paste\x1b[201~ /quit \x1b[200~markers", mark: "hx13", noType: true},
	{name: "bidi overrides and isolates", text: "\u202eevil\u202c \u2066iso\u2069 \u2067r\u2068f\u2069 \u202aa\u202bb\u202dd \u200e\u200f\u061cmarks", mark: "hx14", core: true},
	{name: "zero-width joiners and friends", text: "z\u200bw\u200cj\u200dn\u2060x\ufeffy", mark: "hx15", core: true},
	{name: "invalid UTF-8", text: "bad\xff\xfe\xc0\xaf\xed\xa0\x80\xf8\x88\x80\x80\x80utf", mark: "hx16", core: true},
	{name: "titles, alternate screen, reset", text: "\x1b]0;title\x07\x1b]2;pwned\x07\x1b[?1049h\x1b[?25l\x1bc\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\end", mark: "hx17", shows: "end"},
	{name: "1 MiB line", text: strings.Repeat("hx18 ", 1<<20/5), mark: "hx18 hx18", big: true},
	{name: "10,000 newlines", text: "hx19top" + strings.Repeat("\n", 10_000) + "hx19bot", mark: "hx19bot", big: true},
}

// injectedSeqs are byte sequences that can only come from the corpus.
var injectedSeqs = func() []struct{ name, seq string } {
	s := []struct{ name, seq string }{
		{"OSC 52 clipboard write", "\x1b]52"},
		{"OSC 8 hyperlink", "\x1b]8;"},
		{"OSC 0 title", "\x1b]0;"},
		{"injected OSC 2 title", "\x1b]2;pwned"},
		{"clipboard payload", "ZXZpbA==\x07"},
		{"DCS", "\x1bP"},
		{"APC", "\x1b_"},
		{"PM", "\x1b^"},
		{"SOS", "\x1bX"},
		{"RIS reset", "\x1bc"},
		{"bracketed paste end", "\x1b[201~"},
		{"bracketed paste start", "\x1b[200~"},
		{"injected cursor position", "\x1b[9999;9999H"},
		{"injected cursor up", "\x1b[77A"},
		{"injected clear", "\x1b[2J\x1b[H\x1b[3J"},
		{"injected colours", "\x1b[31;41mRED"},
	}
	for r := rune(0x80); r <= 0x9f; r++ {
		s = append(s, struct{ name, seq string }{fmt.Sprintf("C1 control U+%04X", r), string(r)})
	}
	for _, r := range []rune{0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c, 0x2028, 0x2029} {
		s = append(s, struct{ name, seq string }{fmt.Sprintf("bidi control U+%04X", r), string(r)})
	}
	for _, r := range []rune{0x200b, 0x200c, 0x200d, 0x2060, 0xfeff} {
		s = append(s, struct{ name, seq string }{fmt.Sprintf("zero-width U+%04X", r), string(r)})
	}
	return s
}()

// rendererOSC are the OSC sequences parley's renderer itself sends, which
// end with BEL: the window title, and queries and settings of colours.
var rendererOSC = regexp.MustCompile(`^\x1b\](2;parley #[a-z0-9_-]*|1[0-2];[^\x1b\x07]*)\x07`)

// checkBytes fails the test for every injected sequence, stray BEL or
// invalid UTF-8 in what a client received.
func checkBytes(t *testing.T, who string, raw []byte) {
	t.Helper()
	for _, f := range injectedIn(raw) {
		t.Errorf("%s received %s", who, f)
	}
}

// injectedIn lists the injected sequences, stray BELs and invalid UTF-8 in
// raw, each with its context.
func injectedIn(raw []byte) []string {
	var found []string
	// The mark may fall inside a UTF-8 sequence.
	for len(raw) > 0 && !utf8.RuneStart(raw[0]) {
		raw = raw[1:]
	}
	context := func(i int) string {
		last := ""
		for _, e := range corpus {
			if j := bytes.LastIndex(raw[:i], []byte(e.mark)); j >= 0 {
				last = e.mark
			}
		}
		return fmt.Sprintf("(after %q) ...%q...", last, raw[max(i-50, 0):min(i+30, len(raw))])
	}
	for _, bad := range injectedSeqs {
		if i := bytes.Index(raw, []byte(bad.seq)); i >= 0 {
			found = append(found, fmt.Sprintf("the %s: %s", bad.name, context(i)))
		}
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\a' {
			continue
		}
		j := bytes.LastIndex(raw[:i], []byte("\x1b]"))
		if j < 0 || !rendererOSC.Match(raw[j:i+1]) {
			found = append(found, fmt.Sprintf("a BEL that is not the end of the renderer's own OSC: %s", context(i)))
			break
		}
	}
	if !utf8.Valid(raw) {
		i := 0
		for i < len(raw) {
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		if len(raw)-i > utf8.UTFMax || utf8.FullRune(raw[i:]) { // not just a rune cut at the end
			found = append(found, fmt.Sprintf("invalid UTF-8: %s", context(i)))
		}
	}
	return found
}

// cleanMessage reports what is wrong with a message the hub delivered.
func cleanMessage(m room.Message) string {
	for _, f := range []struct{ what, s string }{{"text", m.Text}, {"from", m.From}, {"to", m.To}, {"room", m.Room}} {
		if !utf8.ValidString(f.s) {
			return f.what + " is not valid UTF-8"
		}
		for _, r := range f.s {
			if (r < 0x20 && r != '\n') || (r >= 0x7f && r < 0xa0) || unicode.Is(unicode.Bidi_Control, r) ||
				r == 0x200b || r == 0x200c || r == 0x200d || r == 0x2060 || r == 0xfeff || r == 0x2028 || r == 0x2029 {
				return fmt.Sprintf("%s holds U+%04X", f.what, r)
			}
			if r == '\n' && f.what != "text" {
				return f.what + " holds a newline"
			}
		}
	}
	if n := utf8.RuneCountInString(m.Text); n > safetext.MaxMessageRunes {
		return fmt.Sprintf("text of %d characters", n)
	}
	if n := strings.Count(m.Text, "\n") + 1; n > safetext.MaxMessageLines {
		return fmt.Sprintf("text of %d lines", n)
	}
	return ""
}

// hostileRig is a server with a sender (mallory), two receivers of
// different sizes (bob, carol: mention bell off) and a room observer that
// checks every message the hub delivers.
type hostileRig struct {
	t          *testing.T
	ts         *testServer
	logs       *lockedBuffer // text
	jsonLogs   *lockedBuffer
	mallory    *user
	m, b, c    *client
	markB      int
	markC      int
	markM      int
	obsMu      sync.Mutex
	dirty      []string
	obs        *room.Session
	obsDone    chan struct{}
	extraUsers []*user
}

func startHostile(t *testing.T, extra ...*user) *hostileRig {
	t.Helper()
	r := &hostileRig{t: t, mallory: newUser(t, "mallory"), jsonLogs: &lockedBuffer{}, obsDone: make(chan struct{}), extraUsers: extra}
	bob, carol := newUser(t, "bob"), newUser(t, "carol")
	lines := []string{r.mallory.line(`name="mallory"`), bob.line(""), carol.line("")}
	for _, u := range extra {
		lines = append(lines, u.keyText()) // nameless: the SSH user name is the name
	}
	r.ts = startServer(t, withKeys(lines...), withoutFloodLimits(), withConfig(func(c *app.Config) {
		c.Store = "memory"
		// The harness logs with slog's text handler, as main.go does by
		// default; main.go's --log-format json uses slog's JSON handler:
		// both, each into its buffer.
		c.Logger = slog.New(slog.NewMultiHandler(c.Logger.Handler(),
			slog.NewJSONHandler(r.jsonLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}))
	r.logs = r.ts.logs
	r.b = r.ts.connect(t, bob, size(80, 24))
	r.c = r.ts.connect(t, carol, size(132, 40))
	r.m = r.ts.connect(t, r.mallory, size(100, 30))
	for _, c := range []*client{r.b, r.c} {
		c.WaitFor(t, header(`^ #lobby  3 here`), waitTimeout)
		c.Say(t, "/bell off")
		c.Expect(t, "Bell: off.")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	obs, err := r.ts.hub().Connect(ctx, room.Identity{ID: "test:observer", Name: "observer"})
	if err != nil {
		t.Fatal(err)
	}
	r.obs = obs
	go func() {
		defer close(r.obsDone)
		for m := range obs.Events() {
			if why := cleanMessage(m); why != "" {
				r.obsMu.Lock()
				r.dirty = append(r.dirty, fmt.Sprintf("%v from %q: %s: %q", m.Kind, m.From, why, m.Text[:min(len(m.Text), 80)]))
				r.obsMu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { obs.Close(room.ReasonQuit); <-r.obsDone })
	r.b.WaitFor(t, joined("observer"), waitTimeout)
	r.c.WaitFor(t, joined("observer"), waitTimeout)
	// A benign round first, then the mark: the checks cover everything
	// after it, and the control round shows they do not fire on the
	// renderer's own output.
	r.m.Say(t, "benign-start "+bodySecret)
	r.seen("benign-start")
	r.markB, r.markC, r.markM = r.b.RawLen(), r.c.RawLen(), r.m.RawLen()
	r.m.Say(t, "benign-control "+bodySecret)
	r.seen("benign-control")
	checkBytes(t, "bob (control)", r.b.Raw()[r.markB:])
	checkBytes(t, "carol (control)", r.c.Raw()[r.markC:])
	return r
}

// seen waits until both receivers show word, and checks that their
// screens are intact: header on top, input at the bottom.
func (r *hostileRig) seen(word string) {
	t := r.t
	t.Helper()
	intact := func(rows int) func(string) bool {
		return func(s string) bool {
			lines := strings.Split(s, "\n")
			return strings.HasPrefix(lines[0], " #") && strings.HasPrefix(lines[rows-1], "> ")
		}
	}
	r.b.WaitFor(t, allOf(contains(word), intact(24)), waitTimeout)
	r.c.WaitFor(t, allOf(contains(word), intact(40)), waitTimeout)
}

// finish checks everything received since the mark, the hub's messages and
// the log.
func (r *hostileRig) finish() {
	t := r.t
	t.Helper()
	checkBytes(t, "bob", r.b.Raw()[r.markB:])
	checkBytes(t, "carol", r.c.Raw()[r.markC:])
	r.obsMu.Lock()
	for _, d := range r.dirty {
		t.Errorf("the hub delivered an unclean message: %s", d)
	}
	r.obsMu.Unlock()
	checkLog(t, "text", r.logs.String())
	checkLog(t, "JSON", r.jsonLogs.String())
	// The sender's own screen, for the record (not a failure: what she
	// typed is hers, and her input line shows it as typed).
	for _, f := range injectedIn(r.m.Raw()[r.markM:]) {
		t.Logf("note: mallory's own screen received %s", f)
	}
}

// checkLog: one event per line, no raw control, C1, bidi or zero-width
// character, valid UTF-8, and no message body at info level or above.
func checkLog(t *testing.T, format, log string) {
	t.Helper()
	if !utf8.ValidString(log) {
		t.Errorf("the %s log is not valid UTF-8", format)
	}
	start := "time="
	if format == "JSON" {
		start = `{"time":`
	}
	for n, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if format == "JSON" && !json.Valid([]byte(line)) {
			t.Errorf("JSON log line %d is not a JSON value: %q", n+1, line[:min(len(line), 120)])
		}
		if !strings.HasPrefix(line, start) {
			t.Errorf("%s log line %d does not start an event (an injected line break?): %q", format, n+1, line[:min(len(line), 120)])
		}
		for _, r := range line {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) || unicode.Is(unicode.Bidi_Control, r) ||
				r == 0x200b || r == 0x200c || r == 0x200d || r == 0x2060 || r == 0xfeff || r == 0x2028 || r == 0x2029 {
				t.Errorf("%s log line %d holds a raw U+%04X: %q", format, n+1, r, line[:min(len(line), 200)])
				break
			}
		}
		if strings.Contains(line, bodySecret) && !strings.Contains(line, "level=DEBUG") && !strings.Contains(line, `"level":"DEBUG"`) {
			t.Errorf("%s log line %d holds a message body above debug level: %q", format, n+1, line[:min(len(line), 200)])
		}
	}
}

// typable reports whether an entry can be typed as one line: no line
// break (Enter would send it early) and small.
func (h hostile) typable() bool { return !h.big && !h.noType && !strings.ContainsAny(h.text, "\r\n") }

// payload is the entry's text with its mark and a suffix for the path.
func (h hostile) payload(suffix string) (text, mark string) {
	if h.big {
		return h.text, h.mark
	}
	return h.text + " " + h.mark + suffix + " " + bodySecret, h.mark + suffix
}

// TestHostileMessages: the corpus as chat messages, typed and pasted in a
// terminal, posted straight into the room, as /me and as private messages.
func TestHostileMessages(t *testing.T) {
	t.Parallel()
	r := startHostile(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	api, err := r.ts.hub().Connect(ctx, room.Identity{ID: "test:injector", Name: "injector"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close(room.ReasonQuit) })
	go func() {
		for range api.Events() {
		}
	}()
	r.seen("injector")

	post := func(text string) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := api.Send(ctx, text); err != nil {
			t.Fatalf("posting into the room: %v", err)
		}
	}
	prev := ""
	for _, h := range corpus {
		began := time.Now()
		// Every path at once, then wait for all of them: pasted, posted
		// into the room, /me, private to carol, typed.
		type sent struct{ mark, to string }
		var marks []sent
		send := func(suffix string, f func(string)) {
			text, mark := h.payload(suffix)
			f(text)
			marks = append(marks, sent{mark, suffix})
		}
		send("p", func(s string) {
			r.m.Paste(t, s)
			if h.mark == "hx18 hx18" {
				// Over the cap: the sender is told before sending (the
				// notice scrolls away once the long message arrives).
				r.m.WaitFor(t, contains("The pasted text was cut"), waitTimeout)
			}
			r.m.Type(t, "\r")
		})
		send("a", post)
		if h.core {
			send("e", func(s string) { r.m.Paste(t, "/me "+s); r.m.Type(t, "\r") })
			send("v", func(s string) { r.m.Paste(t, "/msg carol "+s); r.m.Type(t, "\r") })
			if h.typable() {
				send("t", func(s string) { r.m.Type(t, s+"\r") })
			}
		}
		for _, m := range marks {
			if m.to == "v" { // private: carol only
				r.c.WaitFor(t, contains(m.mark), waitTimeout)
				continue
			}
			r.seen(m.mark)
			r.inert(h, m.mark)
		}
		if prev != "" && !h.big {
			// Nothing was erased: the previous entry is still on carol's
			// (larger) screen.
			if s := r.c.Screen(); !strings.Contains(s, prev) {
				t.Errorf("%s: the previous message %q is gone from carol's screen:\n%s", h.name, prev, frame(s))
			}
		}
		prev = marks[len(marks)-1].mark
		if h.big {
			prev = ""
		}
		t.Logf("%s: %d paths in %v", h.name, len(marks), time.Since(began).Round(time.Millisecond))
	}
	r.finish()
}

// inert checks what the screen shows of an entry that arrived.
func (r *hostileRig) inert(h hostile, mark string) {
	t := r.t
	t.Helper()
	s := r.c.Screen()
	if h.shows != "" && (strings.HasSuffix(mark, "p") || strings.HasSuffix(mark, "a")) {
		if want := " " + h.shows + " " + mark; !strings.Contains(s, want) {
			t.Errorf("%s: carol's screen does not show %q (left of an escape sequence?):\n%s", h.name, want, frame(s))
		}
	}
	switch h.mark {
	case "hx11":
		if !strings.HasSuffix(mark, "t") && !strings.Contains(s, "bs-keep") { // typed backspaces edit the sender's own line
			t.Errorf("backspaces overwrote text on carol's screen:\n%s", frame(s))
		}
	case "hx12":
		if !strings.Contains(s, "PAYMENT OK") || strings.Contains(s, "REFUSEDT OK") {
			t.Errorf("a carriage return overwrote text on carol's screen:\n%s", frame(s))
		}
	case "hx06":
		rows := strings.Split(s, "\n")
		y := rowIndex(s, mark)
		if y < 0 || !strings.HasSuffix(mark, "p") && !strings.HasSuffix(mark, "a") {
			break
		}
		// The message may wrap: RED is on its row or the one before.
		for _, yy := range []int{y, y - 1} {
			if yy < 0 {
				continue
			}
			if i := strings.Index(rows[yy], "RED"); i >= 0 {
				x := utf8.RuneCountInString(rows[yy][:i])
				if g := r.c.Cell(x, yy); g.FG != vt10x.DefaultFG || g.BG != vt10x.DefaultBG {
					t.Errorf("injected colours took effect: RED is drawn as %+v", g)
				}
				break
			}
		}
	case "hx19bot":
		top, bot := rowIndex(s, "hx19top"), rowIndex(s, "hx19bot")
		if top < 0 || bot-top > 3 {
			t.Errorf("10,000 newlines take %d rows on carol's screen, want at most 3 blank:\n%s", bot-top, frame(s))
		}
	}
}

// TestHostileNamesTopicsRooms: the corpus as /nick names, topics and room
// names, and as the names of sessions that join straight through the hub.
func TestHostileNamesTopicsRooms(t *testing.T) {
	t.Parallel()
	r := startHostile(t)
	compact := func(s string) string { return strings.NewReplacer(" ", "", "\t", "", "\n", "", "\r", "").Replace(s) }
	for i, h := range corpus {
		if h.big || !h.core {
			continue
		}
		// Topic: shown to everyone in the room, in the header too.
		text, mark := h.payload("o")
		r.m.Paste(t, "/topic "+text)
		r.m.Type(t, "\r")
		r.seen(mark)
		r.inert(h, mark)

		// Nick: refused for anything that is not a clean name (mallory is
		// told why); whatever is accepted is announced.
		r.m.Paste(t, "/nick "+compact(h.text))
		r.m.Type(t, "\r")
		// Room name: refused the same way (or cleaned and created), and
		// back to the lobby in case it worked.
		r.m.Paste(t, "/join #"+compact(h.text))
		r.m.Type(t, "\r")
		r.m.Say(t, "/join #lobby")
		// A name given straight to the hub.
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		rs, err := r.ts.hub().Connect(ctx, room.Identity{ID: fmt.Sprintf("test:name%02d", i), Name: h.text})
		cancel()
		if err != nil {
			t.Logf("%s as a hub name: %v", h.name, err)
		} else {
			go func() {
				for range rs.Events() {
				}
			}()
			name := rs.Name()
			r.b.WaitFor(t, joined(name), waitTimeout)
			t.Logf("%s as a name: %q", h.name, name)
			rs.Close(room.ReasonQuit)
		}
		// Barrier: a private message to carol after all that, so that
		// whatever the commands broadcast has arrived; then back to her
		// name if /nick worked (the name was cleaned).
		r.m.Paste(t, fmt.Sprintf("/msg carol barrier%02d", i))
		r.m.Type(t, "\r")
		r.c.WaitFor(t, contains(fmt.Sprintf("barrier%02d", i)), waitTimeout)
		if n := r.ts.memberIDs()[r.mallory.fp].Name; n != "mallory" {
			t.Logf("%s: /nick was accepted as %q", h.name, n)
			r.m.Say(t, "/nick mallory")
		}
	}
	// Room names as the rooms list shows them.
	r.b.Say(t, "/rooms")
	r.b.Expect(t, "#lobby")
	var names []string
	for _, ri := range r.ts.hub().RoomsFor("test:observer", true) {
		names = append(names, ri.Name)
		if why := cleanMessage(room.Message{Room: ri.Name, Text: ri.Topic}); why != "" {
			t.Errorf("room %q: %s", ri.Name, why)
		}
	}
	t.Logf("rooms: %q", names)
	r.finish()
}

// TestHostileSSHUsernames: keys without a name in authorized_keys take
// their display name from the SSH user name, which the client chooses: the
// corpus as SSH user names (up to 64 KiB; the terminal type and an env
// value carry escapes too, into the server's log).
func TestHostileSSHUsernames(t *testing.T) {
	t.Parallel()
	var anons []*user
	var entries []hostile
	for _, h := range corpus {
		if h.name == "10,000 newlines" || !h.core && !h.big {
			continue
		}
		if h.big {
			h.text = h.text[:64<<10]
		}
		entries = append(entries, h)
		anons = append(anons, newUser(t, fmt.Sprintf("anon%02d", len(anons))))
	}
	r := startHostile(t, anons...)
	for i, h := range entries {
		u := anons[i]
		conn, err := r.ts.dial(r.ts.clientConfig(h.text, u.auth(), nil))
		if err != nil {
			t.Fatalf("%s as an SSH user name: %v", h.name, err)
		}
		sess, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		c, err := terminalOn(t, u.name, conn, sess, "xterm\x1b]52;c;ZXZpbA==\x07\u202e", 80, 24, func(s *ssh.Session) error {
			_ = s.Setenv("LANG", "C.UTF-8")
			_ = s.Setenv("HOSTILE", "x\x1b]52;c;ZXZpbA==\x07y") // refused (a control character) and logged nowhere raw
			return nil
		}, nil)
		if err != nil {
			t.Fatalf("%s as an SSH user name: %v", h.name, err)
		}
		var name string
		eventually(t, waitTimeout, "the login in the room", func() bool {
			m, ok := r.ts.memberIDs()[u.fp]
			name = m.Name
			return ok
		})
		t.Logf("%s as an SSH user name gives the name %q", h.name, name)
		r.b.WaitFor(t, joined(name), waitTimeout)
		r.c.WaitFor(t, joined(name), waitTimeout)
		release(c)
		eventually(t, waitTimeout, "the login gone", func() bool { _, ok := r.ts.memberIDs()[u.fp]; return !ok })
	}
	r.finish()
}
