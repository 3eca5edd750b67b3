package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"parley/command"
	"parley/room"
	"parley/safetext"
	term "parley/screen"
)

// fakeSession records what the model sends and serves canned state.
type fakeSession struct {
	mu       sync.Mutex
	events   chan room.Message
	backlog  []room.Message
	sent     []string
	members  []room.MemberInfo
	reason   string
	settings map[string]string
	mark     uint64
	older    []room.Message // what the store holds before the backlog
}

func newFake() *fakeSession {
	return &fakeSession{events: make(chan room.Message, 100), members: []room.MemberInfo{
		{ID: "id-alice", Name: "alice", Admin: true}, {ID: "id-bob", Name: "bob", Away: "lunch"}, {ID: "id-ci", Name: "ci", Bot: true},
	}}
}

func (f *fakeSession) Events() <-chan room.Message { return f.events }
func (f *fakeSession) Backlog() []room.Message     { return f.backlog }
func (f *fakeSession) Send(_ context.Context, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, text)
	return nil
}
func (f *fakeSession) ID() string                        { return "id-alice" }
func (f *fakeSession) Name() string                      { return "alice" }
func (f *fakeSession) Room() string                      { return "lobby" }
func (f *fakeSession) Topic() string                     { return "" }
func (f *fakeSession) Reason() string                    { return f.reason }
func (f *fakeSession) Members() []room.MemberInfo        { return f.members }
func (f *fakeSession) Rooms() []room.RoomInfo            { return []room.RoomInfo{{Name: "lobby"}} }
func (f *fakeSession) RoomBacklog(string) []room.Message { return nil }
func (f *fakeSession) Switch(string) error               { return nil }
func (f *fakeSession) Settings() map[string]string       { return f.settings }
func (f *fakeSession) SetSetting(k, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.settings == nil {
		f.settings = map[string]string{}
	}
	f.settings[k] = v
}
func (f *fakeSession) ReadMark(string) uint64 { return f.mark }
func (f *fakeSession) Older(_ context.Context, _ string, before uint64, n int) ([]room.Message, error) {
	var out []room.Message
	for _, m := range f.older {
		if m.Seq < before {
			out = append(out, m)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}
func (f *fakeSession) Commands() []room.Command {
	return []room.Command{{Spec: command.Spec{Name: "nick", Args: "NAME", Help: "change your name"}}, {Spec: command.Spec{Name: "msg", Args: "NAME TEXT", Help: "send a private message"}}}
}

var t0 = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func chat(seq uint64, from, text string) room.Message {
	return room.Message{Seq: seq, Time: t0, Room: "lobby", Kind: room.KindChat, From: from, FromID: "id-" + from, Text: text}
}

// ptr returns a pointer to a copy of m.
func ptr(m room.Message) *room.Message { return &m }

func newModel(f *fakeSession, w, h int) *Model {
	return New(f, Options{Width: w, Height: h, Now: func() time.Time { return t0 }})
}

// screen returns the plain text of the model's view, one string per row.
func screen(m *Model) []string {
	return strings.Split(ansi.Strip(m.View().Content), "\n")
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(key(string(r)))
	}
}

func TestLayoutNarrowHasNoMemberList(t *testing.T) {
	f := newFake()
	f.backlog = []room.Message{chat(1, "bob", "hi there")}
	m := newModel(f, 40, 15)
	rows := screen(m)
	if len(rows) != 15 {
		t.Fatalf("got %d rows, want 15:\n%s", len(rows), strings.Join(rows, "\n"))
	}
	if !strings.Contains(rows[0], "#lobby") || !strings.Contains(rows[0], "3 here") {
		t.Errorf("header %q lacks room and count", rows[0])
	}
	if !strings.HasPrefix(rows[14], "> ") {
		t.Errorf("last row %q is not the input", rows[14])
	}
	all := strings.Join(rows, "\n")
	if strings.Contains(all, "│") {
		t.Errorf("narrow screen shows a member list:\n%s", all)
	}
	if !strings.Contains(all, "09:30 bob hi there") {
		t.Errorf("backlog message missing:\n%s", all)
	}
	for i, r := range rows {
		if w := ansi.StringWidth(r); w > 40 {
			t.Errorf("row %d is %d cells wide: %q", i, w, r)
		}
	}
}

func TestLayoutWideShowsMembers(t *testing.T) {
	m := newModel(newFake(), 120, 40)
	rows := screen(m)
	if len(rows) != 40 {
		t.Fatalf("got %d rows, want 40", len(rows))
	}
	all := strings.Join(rows, "\n")
	for _, want := range []string{"│@alice", "│ bob (away)", "│ ci ⚙"} {
		if !strings.Contains(all, want) {
			t.Errorf("member list lacks %q:\n%s", want, all)
		}
	}
	for i, r := range rows {
		if w := ansi.StringWidth(r); w > 120 {
			t.Errorf("row %d is %d cells wide", i, w)
		}
	}
}

func TestLongLinesWrapUnderTheTextWithWideCharacters(t *testing.T) {
	f := newFake()
	text := strings.Repeat("日本語のテキスト ", 6) + "end"
	f.backlog = []room.Message{chat(1, "bob", text)}
	m := newModel(f, 40, 15)
	rows := screen(m)
	var body []string
	for _, r := range rows[1 : len(rows)-1] {
		if strings.TrimSpace(r) != "" {
			body = append(body, r)
		}
	}
	if len(body) < 3 {
		t.Fatalf("expected the message to wrap over several lines:\n%s", strings.Join(rows, "\n"))
	}
	if !strings.HasPrefix(body[0], "09:30 bob ") {
		t.Fatalf("first line %q", body[0])
	}
	indent := len("09:30 bob ")
	for _, line := range body[1:] {
		if !strings.HasPrefix(line, strings.Repeat(" ", indent)) || line[indent] == ' ' {
			t.Errorf("continuation %q is not indented to column %d", line, indent)
		}
	}
	for _, line := range body {
		if w := ansi.StringWidth(line); w > 40 {
			t.Errorf("line %q is %d cells wide", line, w)
		}
	}
	if got := strings.Join(body, ""); !strings.Contains(got, "end") {
		t.Errorf("text lost in wrapping: %q", got)
	}
}

func TestEnterSendsInOrderOneAtATime(t *testing.T) {
	f := newFake()
	m := newModel(f, 80, 24)
	typeText(m, "first")
	_, cmd1 := m.Update(key("enter"))
	typeText(m, "second")
	_, cmd2 := m.Update(key("enter"))
	if cmd1 == nil {
		t.Fatal("enter produced no send")
	}
	if cmd2 != nil {
		t.Fatal("a second send started before the first finished")
	}
	if v := m.input.Value(); v != "" {
		t.Fatalf("input not cleared: %q", v)
	}
	res := cmd1()
	_, next := m.Update(res)
	if next == nil {
		t.Fatal("the queued line was not sent after the first")
	}
	m.Update(next())
	if got := strings.Join(f.sent, "|"); got != "first|second" {
		t.Fatalf("sent %q, want first|second", got)
	}
}

func TestSendErrorIsShownLocally(t *testing.T) {
	m := newModel(newFake(), 80, 24)
	m.Update(sentMsg{err: room.Errorf("unknown command /frob; /help lists the commands")})
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "! unknown command /frob") {
		t.Fatalf("error not shown:\n%s", all)
	}
}

func TestScrollbackKeepsViewAndCountsNewMessages(t *testing.T) {
	f := newFake()
	for i := 1; i <= 60; i++ {
		f.backlog = append(f.backlog, chat(uint64(i), "bob", fmt.Sprintf("line %02d", i)))
	}
	m := newModel(f, 40, 15)
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "line 60") {
		t.Fatalf("newest not shown:\n%s", all)
	}
	m.Update(key("pgup"))
	before := strings.Join(screen(m), "\n")
	if strings.Contains(before, "line 60") || !strings.Contains(before, "scrolled up") {
		t.Fatalf("pgup did not scroll:\n%s", before)
	}
	m.Update(eventsMsg{msgs: []room.Message{chat(61, "carol", "fresh news")}})
	after := strings.Join(screen(m), "\n")
	if strings.Contains(after, "fresh news") {
		t.Fatalf("a new message yanked the view down:\n%s", after)
	}
	if !strings.Contains(after, "1 new") {
		t.Fatalf("no new-messages marker:\n%s", after)
	}
	m.Update(key("pgdown"))
	m.Update(key("pgdown"))
	back := strings.Join(screen(m), "\n")
	if !strings.Contains(back, "fresh news") || strings.Contains(back, "new ·") {
		t.Fatalf("pgdown did not return to the newest:\n%s", back)
	}
}

func TestPasteOverTheCapIsCutWithNotice(t *testing.T) {
	m := newModel(newFake(), 80, 24)
	m.Update(tea.PasteMsg{Content: strings.Repeat("line\n", safetext.MaxMessageLines+30)})
	if n := strings.Count(m.input.Value(), "\n") + 1; n != safetext.MaxMessageLines {
		t.Fatalf("pasted %d lines into the input, want %d", n, safetext.MaxMessageLines)
	}
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "was cut") {
		t.Fatalf("no notice about the cut:\n%s", all)
	}
}

func TestSessionEndQuits(t *testing.T) {
	f := newFake()
	m := newModel(f, 80, 24)
	_, cmd := m.Update(eventsMsg{ended: true})
	if cmd == nil {
		t.Fatal("no command after the session ended")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("the program does not quit when the session ends")
	}
}

func TestResizeNeverExceedsTheWindow(t *testing.T) {
	f := newFake()
	for i := 1; i <= 30; i++ {
		f.backlog = append(f.backlog, chat(uint64(i), "bob", strings.Repeat("word ", i)))
	}
	m := newModel(f, 120, 40)
	for _, sz := range [][2]int{{40, 15}, {250, 60}, {80, 24}, {12, 5}, {100, 30}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		rows := screen(m)
		if len(rows) != sz[1] {
			t.Errorf("%dx%d: %d rows", sz[0], sz[1], len(rows))
		}
		for i, r := range rows {
			if w := ansi.StringWidth(r); w > sz[0] {
				t.Errorf("%dx%d: row %d is %d cells", sz[0], sz[1], i, w)
			}
		}
	}
}

func TestNameColorIsStablePerIdentity(t *testing.T) {
	if NameColor("id-a") != NameColor("id-a") {
		t.Fatal("colour changes between calls")
	}
	seen := map[any]bool{}
	for i := 0; i < 50; i++ {
		seen[NameColor(fmt.Sprintf("SHA256:%d", i))] = true
	}
	if len(seen) < 8 {
		t.Fatalf("only %d distinct colours over 50 identities", len(seen))
	}
}

func TestTabCompletesNamesAndCommandsAndCycles(t *testing.T) {
	f := newFake()
	f.members = append(f.members, room.MemberInfo{ID: "id-bobby", Name: "bobby"})
	m := newModel(f, 80, 24)
	typeText(m, "b")
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if got := m.input.Value(); got != "bob: " {
		t.Fatalf("first tab: %q, want %q", got, "bob: ")
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if got := m.input.Value(); got != "bobby: " {
		t.Fatalf("second tab: %q, want %q", got, "bobby: ")
	}
	m.input.SetValue("hi @al")
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if got := m.input.Value(); got != "hi @alice " {
		t.Fatalf("@name: %q", got)
	}
	m.input.SetValue("/ni")
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if got := m.input.Value(); got != "/nick " {
		t.Fatalf("/command: %q", got)
	}
	m.input.SetValue("/the")
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if got := m.input.Value(); got != "/theme " {
		t.Fatalf("local /command: %q", got)
	}
}

func TestUpRecallsEarlierLinesAndDownRestoresTheDraft(t *testing.T) {
	m := newModel(newFake(), 80, 24)
	for _, line := range []string{"one", "two"} {
		typeText(m, line)
		m.Update(key("enter"))
		m.Update(sentMsg{})
	}
	typeText(m, "dra")
	up := tea.KeyPressMsg{Code: tea.KeyUp}
	down := tea.KeyPressMsg{Code: tea.KeyDown}
	m.Update(up)
	if got := m.input.Value(); got != "two" {
		t.Fatalf("up: %q", got)
	}
	m.Update(up)
	m.Update(up)
	if got := m.input.Value(); got != "one" {
		t.Fatalf("up up up: %q", got)
	}
	m.Update(down)
	m.Update(down)
	if got := m.input.Value(); got != "dra" {
		t.Fatalf("down to the draft: %q", got)
	}
}

func TestMentionsAreHighlightedAndRingForThatUserOnly(t *testing.T) {
	f := newFake()
	m := newModel(f, 80, 24)
	m.Update(eventsMsg{msgs: []room.Message{chat(1, "bob", "no bell here")}})
	_, cmd := m.Update(eventsMsg{msgs: []room.Message{chat(2, "bob", "hey @Alice, look")}})
	if !hasBell(cmd) {
		t.Fatal("a mention did not ring the bell")
	}
	_, cmd = m.Update(eventsMsg{msgs: []room.Message{chat(3, "bob", "malice is not a mention")}})
	if hasBell(cmd) {
		t.Fatal("a word containing the name rang the bell")
	}
	if !m.mentions(ptr(chat(4, "bob", "alice: hi"))) || m.mentions(ptr(chat(5, "bob", "malice"))) || m.mentions(ptr(chat(6, "alice", "alice"))) {
		t.Fatal("mention detection is wrong")
	}
	// The highlighted text is rendered with the mention style, plain text is not.
	hl := m.renderLines(chat(7, "bob", "hey alice"), 80)[0]
	plain := m.renderLines(chat(8, "bob", "hey there"), 80)[0]
	if !strings.Contains(hl, m.st.mention.Render("hey alice")) || strings.Contains(plain, m.st.mention.Render("hey there")) {
		t.Fatalf("highlight wrong: %q / %q", hl, plain)
	}
	m.enter("/bell off")
	_, cmd = m.Update(eventsMsg{msgs: []room.Message{chat(9, "bob", "alice!")}})
	if hasBell(cmd) {
		t.Fatal("rang with /bell off")
	}
}

// hasBell runs cmd (and any batch) looking for the BEL the model prints.
func hasBell(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	msg := func() (msg tea.Msg) {
		done := make(chan tea.Msg, 1)
		go func() { done <- cmd() }()
		select {
		case msg = <-done:
		case <-time.After(50 * time.Millisecond):
			// waitEvents blocks on the fake's channel: not a bell.
		}
		return msg
	}()
	switch msg := msg.(type) {
	case tea.RawMsg:
		return msg.Msg == "\a"
	case tea.BatchMsg:
		for _, c := range msg {
			if hasBell(c) {
				return true
			}
		}
	}
	return false
}

func TestHelpOverlayListsBothRegistriesAndAnyKeyCloses(t *testing.T) {
	f := newFake()
	m := newModel(f, 100, 40)
	typeText(m, "/help")
	_, cmd := m.Update(key("enter"))
	if cmd != nil {
		t.Fatal("/help was sent to the room")
	}
	all := strings.Join(screen(m), "\n")
	for _, want := range []string{"/nick NAME", "/msg NAME TEXT", "/theme dark|light|mono", "/bell on|off|mentions", "PgUp"} {
		if !strings.Contains(all, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	m.Update(key("x"))
	if strings.Contains(strings.Join(screen(m), "\n"), "/bell on|off") || m.input.Value() != "" {
		t.Fatal("a key did not just close the help")
	}
}

func TestHelpOverlayScrollsOnAPhoneScreen(t *testing.T) {
	m := newModel(newFake(), 40, 15)
	m.enter("/help")
	first := strings.Join(screen(m), "\n")
	if !strings.Contains(first, "/msg NAME TEXT") || !strings.Contains(first, "more") {
		t.Fatalf("commands not first, or no more-marker:\n%s", first)
	}
	seen := first
	for i := 0; i < 10; i++ {
		m.Update(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
		seen += strings.Join(screen(m), "\n")
	}
	for _, want := range []string{"/timestamps off|time|datetime", "Ctrl+C, Ctrl+D"} {
		if !strings.Contains(seen, want) {
			t.Errorf("scrolling never showed %q", want)
		}
	}
	if m.overlay == "" {
		t.Fatal("scrolling closed the help")
	}
	m.Update(key("q"))
	if m.overlay != "" {
		t.Fatal("q did not close the help")
	}
}

func TestLocalCommandsChangeOnlyThisScreen(t *testing.T) {
	f := newFake()
	f.backlog = []room.Message{chat(1, "bob", "hello")}
	m := newModel(f, 80, 24)
	m.enter("/timestamps off")
	if all := strings.Join(screen(m), "\n"); strings.Contains(all, "09:30 bob") || !strings.Contains(all, "bob hello") {
		t.Fatalf("timestamps off:\n%s", all)
	}
	m.enter("/timestamps time")
	m.enter("/tz Asia/Tokyo")
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "18:30 bob hello") {
		t.Fatalf("Tokyo time not shown:\n%s", all)
	}
	m.enter("/tz ../../etc/passwd")
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "unknown time zone") {
		t.Fatalf("bad zone accepted:\n%s", all)
	}
	m.enter("/theme mono")
	if m.st.theme != ThemeMono {
		t.Fatal("/theme mono ignored")
	}
	m.Update(tea.BackgroundColorMsg{})
	if m.st.theme != ThemeMono {
		t.Fatal("the terminal's background overrode a chosen theme")
	}
	if len(f.sent) != 0 {
		t.Fatalf("local commands reached the room: %q", f.sent)
	}
}

func TestNoColorMeansMono(t *testing.T) {
	m := New(newFake(), Options{Width: 80, Height: 24, Env: []string{"NO_COLOR=1"}})
	if m.st.theme != ThemeMono {
		t.Fatalf("theme %q with NO_COLOR", m.st.theme)
	}
}

func TestSavedSettingsApplyAndChangesAreSaved(t *testing.T) {
	f := newFake()
	f.settings = map[string]string{"theme": "light", "bell": "off", "timestamps": "off", "tz": "Asia/Tokyo"}
	f.backlog = []room.Message{chat(1, "bob", "hello")}
	m := newModel(f, 80, 24)
	if m.st.theme != ThemeLight || m.bell != BellOff || m.timeFormat != "" || m.loc.String() != "Asia/Tokyo" {
		t.Fatalf("settings not applied: theme=%s bell=%s time=%q tz=%s", m.st.theme, m.bell, m.timeFormat, m.loc)
	}
	m.Update(tea.BackgroundColorMsg{}) // a dark answer must not override the saved theme
	if m.st.theme != ThemeLight {
		t.Fatal("the terminal's answer overrode the saved theme")
	}
	m.enter("/bell mentions")
	m.enter("/tz Europe/Paris")
	if f.settings["bell"] != "mentions" || f.settings["tz"] != "Europe/Paris" {
		t.Fatalf("changes not saved: %v", f.settings)
	}
}

func TestUnreadMarkerSitsWhereThePersonLeft(t *testing.T) {
	f := newFake()
	for i := 1; i <= 6; i++ {
		f.backlog = append(f.backlog, chat(uint64(i), "bob", fmt.Sprintf("message %d", i)))
	}
	// Their own leave right after the mark is not news to them.
	f.backlog[4] = room.Message{Seq: 5, Time: t0, Room: "lobby", Kind: room.KindLeave, From: "alice", FromID: "id-alice"}
	f.backlog[5].Text = "message 5"
	f.mark = 4
	m := newModel(f, 80, 24)
	rows := screen(m)
	at := func(s string) int {
		for i, r := range rows {
			if strings.Contains(r, s) {
				return i
			}
		}
		return -1
	}
	marker, four, five := at("new since you were last here"), at("message 4"), at("message 5")
	if marker < 0 || !(four < marker && marker < five) {
		t.Fatalf("marker at row %d, message 4 at %d, message 5 at %d:\n%s", marker, four, five, strings.Join(rows, "\n"))
	}
	f.mark = 6 // read everything: no marker
	if all := strings.Join(screen(newModel(f, 80, 24)), "\n"); strings.Contains(all, "new since") {
		t.Fatalf("marker with nothing new:\n%s", all)
	}
}

func TestScrollingPastTheTopLoadsOlderPages(t *testing.T) {
	f := newFake()
	for i := 1; i <= 250; i++ {
		msg := chat(uint64(i), "bob", fmt.Sprintf("old %03d", i))
		if i <= 200 {
			f.older = append(f.older, msg)
		} else {
			f.backlog = append(f.backlog, msg)
		}
	}
	m := newModel(f, 40, 15)
	var cmd tea.Cmd
	for i := 0; i < 20 && cmd == nil; i++ {
		_, cmd = m.Update(key("pgup"))
	}
	if cmd == nil {
		t.Fatal("reaching the top did not ask for older messages")
	}
	m.Update(cmd())
	if got := m.cur.oldestSeq(); got != 101 {
		t.Fatalf("after one page the oldest is %d, want 101", got)
	}
	all := strings.Join(screen(m), "\n")
	if strings.Contains(all, "old 250") {
		t.Fatalf("loading older messages moved the view to the bottom:\n%s", all)
	}
	// Scroll to the very top: two more pages, then nothing more to load.
	for i := 0; i < 200; i++ {
		if _, cmd = m.Update(key("pgup")); cmd != nil {
			m.Update(cmd())
		}
	}
	if got := m.cur.oldestSeq(); got != 1 || !m.cur.exhausted {
		t.Fatalf("oldest %d exhausted %v", got, m.cur.exhausted)
	}
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "old 001") {
		t.Fatalf("top of history not shown:\n%s", all)
	}
}

func TestManyJoinsShareOneLine(t *testing.T) {
	m := newModel(newFake(), 80, 24)
	var batch []room.Message
	for i, name := range []string{"ann", "ben", "cat", "dan", "eve", "fay"} {
		batch = append(batch, room.Message{Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Second), Room: "lobby", Kind: room.KindJoin, From: name, FromID: "id-" + name})
	}
	m.Update(eventsMsg{msgs: batch[:2]})
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "ann and ben joined #lobby") {
		t.Fatalf("two joins:\n%s", all)
	}
	m.Update(eventsMsg{msgs: batch[2:]})
	all := strings.Join(screen(m), "\n")
	if !strings.Contains(all, "ann, ben, cat and 3 others joined #lobby") || strings.Count(all, "joined") != 1 {
		t.Fatalf("six joins:\n%s", all)
	}
	m.Update(eventsMsg{msgs: []room.Message{chat(7, "ann", "hi"), {Seq: 8, Time: t0.Add(time.Minute), Room: "lobby", Kind: room.KindJoin, From: "gus", FromID: "id-gus"}}})
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "→ gus joined") {
		t.Fatalf("a join after a message should start a new line:\n%s", all)
	}
}

// Issue 13 item 17: the member list shows idle minutes, draws them again
// when the hub wakes it (KindPresence, once a minute), and refetches the
// list when someone it shows idle speaks.
func TestMemberListIdleTimesFollowTheClock(t *testing.T) {
	f := newFake()
	now := t0
	f.members = []room.MemberInfo{{ID: "id-alice", Name: "alice", LastActive: t0}, {ID: "id-dan", Name: "dan", LastActive: t0.Add(-30 * time.Second)}}
	m := New(f, Options{Width: 100, Height: 20, Now: func() time.Time { return now }})
	side := func() string {
		var out []string
		for _, row := range screen(m) {
			if _, s, ok := strings.Cut(row, "│"); ok {
				out = append(out, strings.TrimSpace(s))
			}
		}
		return strings.Join(out, "|")
	}
	if s := side(); !strings.Contains(s, "|alice|dan|") {
		t.Fatalf("nobody is idle a minute yet: %q", s)
	}
	now = t0.Add(2*time.Minute + time.Second)
	m.Update(eventsMsg{msgs: []room.Message{{Time: now, Room: "lobby", Kind: room.KindPresence}}})
	if s := side(); !strings.Contains(s, "|alice 2m|dan 2m|") {
		t.Fatalf("after two minutes: %q", s)
	}
	// dan speaks: the hub has a new list (dan active now); the screen
	// fetches it because it showed dan idle.
	f.mu.Lock()
	f.members = []room.MemberInfo{{ID: "id-alice", Name: "alice", LastActive: t0}, {ID: "id-dan", Name: "dan", LastActive: now}}
	f.mu.Unlock()
	m.Update(eventsMsg{msgs: []room.Message{{Seq: 5, Time: now, Room: "lobby", Kind: room.KindChat, From: "dan", FromID: "id-dan", Text: "hi"}}})
	if s := side(); !strings.Contains(s, "|alice 2m|dan|") {
		t.Fatalf("after dan spoke: %q", s)
	}
}

// TestTheMemberColumnOnTerminalsWithoutMargins: in a room whose list does
// not fit beside the log, a terminal without left/right margins gets the
// count and the divider (which a full-width scroll moves onto itself); one
// with margins (screen.MarginsMsg) gets the list; a list that fits is
// shown whole either way.
func TestTheMemberColumnOnTerminalsWithoutMargins(t *testing.T) {
	f := newFake()
	for i := range 60 {
		f.members = append(f.members, room.MemberInfo{ID: fmt.Sprintf("id-p%02d", i), Name: fmt.Sprintf("p%02d", i)})
	}
	m := newModel(f, 100, 30)
	rows := screen(m)
	if !strings.Contains(rows[1], "│ 63 here · /who") {
		t.Errorf("row 1 = %q, want the count", rows[1])
	}
	for y := 2; y < 29; y++ {
		if !strings.HasSuffix(strings.TrimRight(rows[y], " "), "│") {
			t.Errorf("row %d = %q, want the divider alone beside the log", y, rows[y])
		}
	}
	m.Update(term.MarginsMsg{})
	rows = screen(m)
	if !strings.Contains(rows[1], "│ 63 here") || !strings.Contains(rows[2], "│@alice") || !strings.Contains(rows[28], "│ p") {
		t.Errorf("with margins, rows 1, 2, 28 = %q, %q, %q: want the list", rows[1], rows[2], rows[28])
	}
	small := newModel(newFake(), 100, 30)
	if all := strings.Join(screen(small), "\n"); !strings.Contains(all, "│@alice") || strings.Contains(all, "/who") {
		t.Errorf("a list that fits is not shown whole:\n%s", all)
	}
}
