package room

import (
	"errors"
	"strings"
	"testing"
	"time"

	"parley/command"
)

func TestParseCommand(t *testing.T) {
	for _, c := range []struct {
		text, name, args string
		ok               bool
	}{
		{"/help", "help", "", true},
		{"/ME hi", "me", "hi", true},
		{"/Help", "help", "", true},
		{"/msg  bob  hi", "msg", "bob  hi", true}, // args trimmed, inner spaces kept
		{"/nick\tbob", "nick", "bob", true},
		{"/topic   spaced out  ", "topic", "spaced out", true},
		{"/away\n", "away", "", true},
		{"/me line one\nline two\n", "me", "line one\nline two", true},
		{"/", "", "", true},      // a command with no name: runCommand explains
		{"/ hi", "", "hi", true}, // likewise
		{"//x", "", "", false},   // "//" escapes a leading slash
		{"//", "", "", false},
		{"///", "", "", false},
		{"", "", "", false},
		{"hello", "", "", false},
		{"x/help", "", "", false},
		{"  /me hi", "", "", false}, // leading white space: not a command, sent as typed
		{"\t/me hi", "", "", false},
	} {
		name, args, ok := ParseCommand(c.text)
		if name != c.name || args != c.args || ok != c.ok {
			t.Errorf("ParseCommand(%q) = %q, %q, %v; want %q, %q, %v", c.text, name, args, ok, c.name, c.args, c.ok)
		}
	}
}

func TestSlashEscapesAndLeadingSpace(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	send(t, alice, "//x is a path")
	expectChat(t, bob, "alice", "/x is a path")
	send(t, alice, "//")
	expectChat(t, bob, "alice", "/")
	// Leading white space does not turn a command into a message: a stray
	// space before /msg must never broadcast a private message.
	send(t, alice, "  /me hi")
	if m := next(t, bob); m.Kind != KindEmote || m.Text != "hi" {
		t.Fatalf(`"  /me hi": bob got %v %q, want the emote "hi"`, m.Kind, m.Text)
	}
	send(t, alice, " /msg bob secret")
	if m := next(t, bob); m.Kind != KindPrivate || m.Text != "secret" {
		t.Fatalf(`" /msg bob secret": bob got %v %q, want the private message`, m.Kind, m.Text)
	}

	if e := sendErr(t, alice, "/"); !strings.Contains(e.Error(), "/help") {
		t.Fatalf(`"/": error %q, want a pointer to /help`, e.Error())
	}
	if e := sendErr(t, alice, "/ hi"); !strings.Contains(e.Error(), "/help") {
		t.Fatalf(`"/ hi": error %q, want a pointer to /help`, e.Error())
	}
	if e := sendErr(t, alice, "   "); !strings.Contains(e.Error(), "empty") {
		t.Fatalf("blank message: error %q", e.Error())
	}
	notReceived(t, alice, bob)
}

func TestUnknownCommand(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	e := sendErr(t, alice, "/frobnicate now")
	if !strings.Contains(e.Error(), "/frobnicate") || !strings.Contains(e.Error(), "/help") {
		t.Fatalf("error %q, want it to name /frobnicate and mention /help", e.Error())
	}
	e = sendErr(t, alice, "/\x1b[31mx")
	if strings.ContainsRune(e.Error(), '\x1b') {
		t.Fatalf("error %q repeats an escape", e.Error())
	}
	if got := UserMessage(nil, e); got != e.Error() {
		t.Fatalf("UserMessage(*Error) = %q, want %q", got, e.Error())
	}
	if got := UserMessage(nil, errors.New("secret internal detail")); strings.Contains(got, "secret") {
		t.Fatalf("UserMessage leaks an internal error: %q", got)
	}
}

func TestHelpListsCommandsAndHidesAdminOnes(t *testing.T) {
	h := newHub(t, Config{})
	var kicked []string
	if err := h.Commands().Register(Command{Spec: command.Spec{Name: "kick", Args: "NAME", Help: "disconnect someone", Admin: true},
		Run: func(c *Call) error { kicked = append(kicked, c.Args); return nil }}); err != nil {
		t.Fatal(err)
	}
	if err := h.Commands().Register(Command{Spec: command.Spec{Name: "ping", Help: "check the connection"},
		Run: func(c *Call) error { c.Session.Notice("pong"); return nil }}); err != nil {
		t.Fatal(err)
	}
	if err := h.Commands().Register(Command{Spec: command.Spec{Name: "ping"}, Run: func(*Call) error { return nil }}); err == nil {
		t.Fatal("registering /ping twice succeeded")
	}
	if err := h.Commands().Register(Command{Spec: command.Spec{Name: "Loud"}, Run: func(*Call) error { return nil }}); err == nil {
		t.Fatal("registering an upper-case name succeeded")
	}
	if err := h.Commands().Register(Command{Spec: command.Spec{Name: "norun"}}); err == nil {
		t.Fatal("registering a command without Run succeeded")
	}

	user := connectAs(t, h, Identity{ID: "id-user", Name: "user"})
	admin := connectAs(t, h, Identity{ID: "id-admin", Name: "admin", Admin: true})
	expect(t, user, KindJoin)
	expect(t, user, KindJoin)
	expect(t, admin, KindJoin)

	everyone := []string{"/help", "/nick NAME", "/me ACTION", "/msg NAME TEXT", "/reply TEXT", "/who",
		"/away [REASON]", "/back", "/topic [TEXT]", "/quit", "/ping",
		"/join #ROOM", "/leave [#ROOM]", "/rooms", "/invite NAME", "/search WORDS", "/jump N", "/history [N]"}

	send(t, user, "/help")
	help := expect(t, user, KindNotice).Text
	for _, u := range everyone {
		if !strings.Contains(help, u) {
			t.Errorf("non-admin /help lacks %q:\n%s", u, help)
		}
	}
	if strings.Contains(help, "/kick") || strings.Contains(help, "(admin)") {
		t.Errorf("non-admin /help shows an admin command:\n%s", help)
	}
	if lines := strings.Count(help, "\n  /"); lines != len(everyone) {
		t.Errorf("non-admin /help lists %d commands, want %d:\n%s", lines, len(everyone), help)
	}

	send(t, admin, "/help")
	help = expect(t, admin, KindNotice).Text
	for _, u := range append(everyone, "/kick NAME", "/room private|public|remove #ROOM") {
		if !strings.Contains(help, u) {
			t.Errorf("admin /help lacks %q:\n%s", u, help)
		}
	}
	if !strings.Contains(help, "disconnect someone (admin)") {
		t.Errorf("admin /help does not mark /kick as admin-only:\n%s", help)
	}

	// Hidden means refused, with the same answer as a command that does not
	// exist.
	if e := sendErr(t, user, "/kick admin"); !strings.Contains(e.Error(), "unknown command /kick") {
		t.Fatalf("non-admin /kick: %q", e.Error())
	}
	send(t, admin, "/kick user")
	if len(kicked) != 1 || kicked[0] != "user" {
		t.Fatalf("admin /kick ran with %q, want [user]", kicked)
	}
	send(t, user, "/PING")
	if n := expect(t, user, KindNotice); n.Text != "pong" {
		t.Fatalf("/PING answered %q", n.Text)
	}
}

func TestMePostsEmote(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	send(t, alice, "/me waves")
	for _, s := range []*Session{alice, bob} {
		m := expect(t, s, KindEmote)
		if m.From != "alice" || m.Text != "waves" || m.Seq == 0 {
			t.Fatalf("session of %s: %+v, want a sequenced emote 'waves' from alice", s.ID(), m)
		}
	}
	if e := sendErr(t, alice, "/me"); !strings.Contains(e.Error(), "usage: /me ACTION") {
		t.Fatalf("/me without text: %q", e.Error())
	}
	notReceived(t, alice, bob)
}

// expectPrivate checks that each session's next event is the private message.
func expectPrivate(t *testing.T, from, to, text string, sessions ...*Session) {
	t.Helper()
	for _, s := range sessions {
		m := expect(t, s, KindPrivate)
		if m.From != from || m.To != to || m.Text != text || m.Seq != 0 || m.Room != "" ||
			m.FromID != "id-"+from || m.ToID != "id-"+to {
			t.Fatalf("session of %s got %+v, want private %q from %s to %s", s.ID(), m, text, from, to)
		}
	}
}

func TestPrivateMessages(t *testing.T) {
	h := newHub(t, Config{})
	carol := connect(t, h, "id-carol", "carol")
	a1 := connect(t, h, "id-alice", "alice")
	a2 := connect(t, h, "id-alice", "alice")
	b1 := connect(t, h, "id-bob", "bob")
	b2 := connect(t, h, "id-bob", "bob")
	syncAll(t, carol, a1, a2, b1, b2)

	// Both parties, every session of each; nobody else.
	send(t, a1, "/msg bob hello bob")
	expectPrivate(t, "alice", "bob", "hello bob", a1, a2, b1, b2)
	notReceived(t, b1, carol, a1, a2, b1, b2)

	send(t, b2, "/reply hi alice")
	expectPrivate(t, "bob", "alice", "hi alice", a1, a2, b1, b2)
	notReceived(t, b1, carol, a1, a2, b1, b2)

	// Names match case-insensitively; text keeps its inner spacing.
	send(t, carol, "/msg  ALICE   psst  there")
	expectPrivate(t, "carol", "alice", "psst  there", carol, a1, a2)
	notReceived(t, carol, carol, a1, a2, b1, b2)

	// /reply goes to the last partner: for alice that is now carol, for bob
	// it is still alice.
	send(t, a2, "/reply thanks carol")
	expectPrivate(t, "alice", "carol", "thanks carol", carol, a1, a2)
	notReceived(t, carol, carol, a1, a2, b1, b2)
	send(t, b1, "/reply still there?")
	expectPrivate(t, "bob", "alice", "still there?", a1, a2, b1, b2)
	notReceived(t, carol, carol, a1, a2, b1, b2)

	// Errors.
	if e := sendErr(t, a1, "/msg nobody hi"); !strings.Contains(e.Error(), "nobody called nobody") {
		t.Fatalf("/msg to an unknown name: %q", e.Error())
	}
	for _, self := range []string{"/msg alice hi me", "/msg Alice hi me"} {
		if e := sendErr(t, a1, self); !strings.Contains(e.Error(), "that is you") {
			t.Fatalf("%s: %q", self, e.Error())
		}
	}
	if e := sendErr(t, a1, "/msg bob"); !strings.Contains(e.Error(), "usage: /msg NAME TEXT") {
		t.Fatalf("/msg without text: %q", e.Error())
	}
	if e := sendErr(t, a1, "/msg bob \x1b\x07\u200b"); !strings.Contains(e.Error(), "empty") {
		t.Fatalf("/msg with nothing visible: %q", e.Error())
	}
	if e := sendErr(t, a1, "/reply"); !strings.Contains(e.Error(), "usage: /reply TEXT") {
		t.Fatalf("/reply without text: %q", e.Error())
	}
	dave := connect(t, h, "id-dave", "dave")
	if e := sendErr(t, dave, "/reply hello?"); !strings.Contains(e.Error(), "nobody has sent you") {
		t.Fatalf("/reply with no partner: %q", e.Error())
	}
	syncAll(t, carol, a1, a2, b1, b2)
	notReceived(t, carol, carol, a1, a2, b1, b2)

	// The partner has gone: /reply says so.
	send(t, dave, "/msg carol hi")
	carol.Close("")
	if e := sendErr(t, dave, "/reply are you there"); !strings.Contains(e.Error(), "carol is not connected") || !strings.Contains(e.Error(), "not sent") {
		t.Fatalf("/reply to someone who left: %q", e.Error())
	}
}

func TestAwayNoticeOnPrivateMessage(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	send(t, bob, "/away out for lunch")
	if n := expect(t, bob, KindNotice); !strings.Contains(n.Text, "out for lunch") || !strings.Contains(n.Text, "/back") {
		t.Fatalf("away confirmation %q", n.Text)
	}
	send(t, alice, "/msg bob are you there")
	expectPrivate(t, "alice", "bob", "are you there", alice, bob)
	if n := expect(t, alice, KindNotice); n.Text != "bob is away: out for lunch" {
		t.Fatalf("sender's notice = %q, want %q", n.Text, "bob is away: out for lunch")
	}
	notReceived(t, alice, alice, bob) // the recipient gets no notice

	send(t, bob, "/back")
	if n := expect(t, bob, KindNotice); !strings.Contains(n.Text, "no longer marked away") {
		t.Fatalf("/back confirmation %q", n.Text)
	}
	send(t, alice, "/msg bob now?")
	expectPrivate(t, "alice", "bob", "now?", alice, bob)
	notReceived(t, alice, alice, bob) // no away notice any more

	send(t, bob, "/back")
	if n := expect(t, bob, KindNotice); !strings.Contains(n.Text, "not marked away") {
		t.Fatalf("second /back %q", n.Text)
	}
	send(t, bob, "/away")
	if n := expect(t, bob, KindNotice); !strings.Contains(n.Text, "(away)") {
		t.Fatalf("/away without reason: %q", n.Text)
	}
}

func TestWhoListsNamesAdminsAwayAndIdle(t *testing.T) {
	clock := newFakeClock()
	h := newHub(t, Config{Now: clock.Now})
	alice := connectAs(t, h, Identity{ID: "id-alice", Name: "alice", Admin: true})
	bob := connect(t, h, "id-bob", "bob")

	clock.Advance(5*time.Minute + 10*time.Second)
	send(t, alice, "hi")        // alice is active now
	send(t, bob, "/away lunch") // not activity
	send(t, bob, "/who")
	n, _ := until(t, bob, func(m Message) bool { return m.Kind == KindNotice && strings.HasPrefix(m.Text, "2 in") })
	want := "2 in #lobby:\n  alice (admin) · idle now\n  bob away: lunch · idle 5m"
	if n.Text != want {
		t.Fatalf("/who =\n%s\nwant\n%s", n.Text, want)
	}

	clock.Advance(3 * time.Hour)
	send(t, alice, "/msg bob ping") // private messages are activity too
	send(t, alice, "/who")
	n, _ = until(t, alice, func(m Message) bool { return m.Kind == KindNotice && strings.HasPrefix(m.Text, "2 in") })
	want = "2 in #lobby:\n  alice (admin) · idle now\n  bob away: lunch · idle 3h"
	if n.Text != want {
		t.Fatalf("/who =\n%s\nwant\n%s", n.Text, want)
	}

	m := h.Members(DefaultRoom)
	if len(m) != 2 || !m[0].Admin || m[1].Admin || m[1].Away != "lunch" || !m[1].Since.Equal(m[0].Since) {
		t.Fatalf("Members = %+v", m)
	}
}

func TestIdle(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "now"},
		{4 * time.Second, "now"},
		{5 * time.Second, "5s"},
		{59 * time.Second, "59s"},
		{time.Minute, "1m"},
		{59*time.Minute + 59*time.Second, "59m"},
		{time.Hour, "1h"},
		{47 * time.Hour, "47h"},
		{48 * time.Hour, "2d"},
		{30 * 24 * time.Hour, "30d"},
	} {
		if got := Idle(c.d); got != c.want {
			t.Errorf("Idle(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestQuit(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	send(t, bob, "/quit")
	ended(t, bob)
	if bob.Reason() != ReasonQuit {
		t.Fatalf("Reason = %q, want %q", bob.Reason(), ReasonQuit)
	}
	l := expect(t, alice, KindLeave)
	if l.From != "bob" || l.FromID != "id-bob" || l.Text != "" || l.Seq == 0 {
		t.Fatalf("alice saw %+v, want bob's sequenced leave with no reason text", l)
	}
	if m := h.Members(DefaultRoom); len(m) != 1 || m[0].Name != "alice" {
		t.Fatalf("Members after /quit = %+v", m)
	}
	if e := sendErr(t, alice, "/msg bob still there?"); !strings.Contains(e.Error(), "bob is not connected") || !strings.Contains(e.Error(), "not sent") {
		t.Fatalf("/msg to someone who quit: %q", e.Error())
	}
}

func TestTopic(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	send(t, alice, "/topic")
	if n := expect(t, alice, KindNotice); n.Text != "#lobby has no topic; /topic TEXT sets one." {
		t.Fatalf("/topic with none set: %q", n.Text)
	}
	send(t, alice, "/topic Go 1.26   release party")
	for _, s := range []*Session{alice, bob} {
		m := expect(t, s, KindTopic)
		if m.From != "alice" || m.Text != "Go 1.26   release party" || m.Seq == 0 {
			t.Fatalf("session of %s saw %+v", s.ID(), m)
		}
	}
	if bob.Topic() != "Go 1.26   release party" {
		t.Fatalf("Topic() = %q", bob.Topic())
	}
	send(t, bob, "/topic")
	if n := expect(t, bob, KindNotice); n.Text != "The topic of #lobby is: Go 1.26   release party" {
		t.Fatalf("/topic: %q", n.Text)
	}

	carol := connect(t, h, "id-carol", "carol")
	if carol.Topic() != "Go 1.26   release party" {
		t.Fatalf("newcomer's Topic() = %q", carol.Topic())
	}
	bl := carol.Backlog()
	if last := bl[len(bl)-1]; last.Kind != KindTopic || last.Text != "Go 1.26   release party" {
		t.Fatalf("newcomer's backlog ends with %+v, want the topic change", last)
	}
	if e := sendErr(t, alice, "/topic \x1b\x07\u200b"); !strings.Contains(e.Error(), "usage") {
		t.Fatalf("/topic with nothing visible: %q", e.Error())
	}
}
