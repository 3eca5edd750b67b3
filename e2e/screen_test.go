package e2e

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Keys as a terminal sends them.
const (
	keyPgUp = "\x1b[5~"
	keyPgDn = "\x1b[6~"
	keyTab  = "\t"
)

func TestLayoutsOnAPhoneAndADesktop(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withKeys(alice.line(`admin,name="alice"`), bob.line("")))
	a := ts.connect(t, alice, size(120, 40))
	b := ts.connect(t, bob, size(40, 15))
	a.WaitFor(t, joined("bob"), waitTimeout)

	// Desktop: the member list beside the conversation, admins marked.
	wide := a.WaitFor(t, allOf(contains("│ 2 here"), contains("│@alice"), contains("│ bob")), waitTimeout)
	if rows := screenRows(wide); len(rows) != 40 || !strings.HasPrefix(rows[39], "> ") {
		t.Fatalf("120x40: %d rows, last %q:\n%s", len(rows), rows[len(rows)-1], frame(wide))
	}
	// Phone: one pane, the count in the header, the input on the last row.
	narrow := b.WaitFor(t, header(`^ #lobby  2 here`), waitTimeout)
	rows := screenRows(narrow)
	if strings.Contains(narrow, "│") || len(rows) != 15 || !strings.HasPrefix(rows[14], "> ") {
		t.Fatalf("40x15 layout:\n%s", frame(narrow))
	}
	b.Say(t, "/who")
	b.WaitFor(t, allOf(contains("2 in #lobby"), contains("alice (admin)")), waitTimeout)
}

func TestLongLinesWrapUnderTheTextWithWideCharacters(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob))
	a := ts.connect(t, alice)
	b := ts.connect(t, bob, size(40, 15))
	a.WaitFor(t, joined("bob"), waitTimeout)

	a.Say(t, "start 日本語のテキストはここで折り返されます and the line goes on past the edge END")
	screen := b.WaitFor(t, contains("END"), waitTimeout)
	rows := screenRows(screen)
	first := rowIndex(screen, "alice start")
	last := rowIndex(screen, "END")
	if first < 0 || last <= first {
		t.Fatalf("message not wrapped over rows %d..%d:\n%s", first, last, frame(screen))
	}
	indent := strings.Index(rows[first], "start")
	for _, row := range rows[first+1 : last+1] {
		if len(row) < indent || strings.TrimSpace(row[:indent]) != "" || row[indent] == ' ' {
			t.Errorf("continuation %q is not indented to column %d (under the text)", row, indent)
		}
	}
	for _, row := range rows {
		if n := utf8.RuneCountInString(row); n > 40 {
			t.Errorf("row wider than the window (%d): %q", n, row)
		}
	}
	var text strings.Builder
	for _, row := range rows[first : last+1] {
		text.WriteString(strings.TrimSpace(row))
	}
	if !strings.Contains(text.String(), "日本語のテキストはここで折り返されます") {
		t.Errorf("wide characters lost:\n%s", frame(screen))
	}
}

func TestScrollbackKeepsTheViewAndCountsNewMessages(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob), withoutFloodLimits())
	a := ts.connect(t, alice)
	b := ts.connect(t, bob, size(40, 15))
	a.WaitFor(t, joined("bob"), waitTimeout)
	// 18 lines overfill the 13 rows of conversation a 40x15 screen has.
	for i := 1; i <= 18; i++ {
		a.Say(t, fmt.Sprintf("line %02d", i))
	}
	b.WaitFor(t, rowMatching(clock+`alice line 18`), 2*waitTimeout) // 18 round trips: slow under -race on a loaded machine

	b.Type(t, keyPgUp)
	b.WaitFor(t, allOf(contains("scrolled up"), func(s string) bool { return !strings.Contains(s, "line 18") }), waitTimeout)
	a.Say(t, "fresh news")
	a.WaitFor(t, contains("fresh news"), waitTimeout)
	screen := b.WaitFor(t, contains("1 new"), waitTimeout)
	if strings.Contains(screen, "fresh news") {
		t.Fatalf("a new message pulled the reader down:\n%s", frame(screen))
	}
	b.Type(t, keyPgDn+keyPgDn+keyPgDn)
	b.WaitFor(t, allOf(contains("fresh news"), func(s string) bool { return !strings.Contains(s, "new ·") }), waitTimeout)
}

func TestTabCompletesNames(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withUsers(alice, bob))
	a := ts.connect(t, alice)
	b := ts.connect(t, bob, size(40, 15))
	a.WaitFor(t, joined("bob"), waitTimeout)
	b.Type(t, "thanks @al"+keyTab)
	b.WaitFor(t, rowMatching(`^> thanks @alice\s*$`), waitTimeout)
	b.Type(t, "\r")
	a.WaitFor(t, rowMatching(clock+`bob thanks @alice`), waitTimeout)
}

func TestMentionIsHighlightedOnlyForTheMentioned(t *testing.T) {
	t.Parallel()
	alice, bob, carol := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol")
	ts := startServer(t, withUsers(alice, bob, carol))
	a := ts.connect(t, alice)
	b := ts.connect(t, bob)
	c := ts.connect(t, carol)
	a.WaitFor(t, allOf(joined("bob"), joined("carol")), waitTimeout)
	a.Say(t, "hey @bob look")
	a.Say(t, "plain words here")
	bs := b.WaitFor(t, contains("plain words here"), waitTimeout)
	cs := c.WaitFor(t, contains("plain words here"), waitTimeout)

	bg := func(cl *client, screen, text string) (mention, plain uint32) {
		y := rowIndex(screen, text)
		x := strings.Index(strings.Split(screen, "\n")[y], text)
		py := rowIndex(screen, "plain words here")
		px := strings.Index(strings.Split(screen, "\n")[py], "plain words")
		return uint32(cl.Cell(x, y).BG), uint32(cl.Cell(px, py).BG)
	}
	bm, bp := bg(b, bs, "hey @bob")
	cm, cp := bg(c, cs, "hey @bob")
	if bm == bp {
		t.Errorf("bob's mention has the plain background (%d)", bm)
	}
	if cm != cp {
		t.Errorf("carol sees bob's mention highlighted (%d vs %d)", cm, cp)
	}
}

func TestRoomsNeverCrossAndPrivateRoomsRefuseTheUninvited(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ts := startServer(t, withKeys(alice.line(`admin,name="alice"`), bob.line("")))
	a := ts.connect(t, alice)
	b := ts.connect(t, bob)
	a.WaitFor(t, joined("bob"), waitTimeout)

	a.Say(t, "/join #ops")
	a.WaitFor(t, header(`^ #ops `), waitTimeout)
	a.Say(t, "ops only secret")
	a.WaitFor(t, rowMatching(clock+`alice ops only secret`), waitTimeout)
	b.Say(t, "lobby chatter")
	a.WaitFor(t, header(`#lobby \(1\)`), waitTimeout) // one unread in the other room
	b.Say(t, "barrier after the secret")
	if s := b.WaitFor(t, contains("barrier after the secret"), waitTimeout); strings.Contains(s, "ops only secret") {
		t.Fatalf("a #ops message reached the lobby:\n%s", frame(s))
	}
	if strings.Contains(string(b.Raw()), "ops only secret") {
		t.Fatal("the #ops message's bytes reached bob")
	}

	a.Say(t, "/room private #staff")
	a.WaitFor(t, header(`^ #staff `), waitTimeout)
	b.Say(t, "/join #staff")
	b.WaitFor(t, contains("#staff is private"), waitTimeout)
	if s := b.Screen(); !strings.Contains(s, " #lobby ") {
		t.Fatalf("bob was moved out of the lobby:\n%s", frame(s))
	}
}

// screenRows splits a screen into its rows.
func screenRows(screen string) []string {
	return strings.Split(strings.TrimSuffix(screen, "\n"), "\n")
}
