package room

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingLimiter allows the first n calls per identity, then refuses with
// a fixed wait.
type countingLimiter struct {
	n    int
	wait time.Duration
	seen map[string]int
}

func (l *countingLimiter) Allow(id string) (bool, time.Duration) {
	l.seen[id]++
	if l.seen[id] > l.n {
		return false, l.wait
	}
	return true, 0
}

func TestMuteRefusesPostsPrivateMessagesAndTopics(t *testing.T) {
	clock := newFakeClock()
	h := newHub(t, Config{Now: clock.Now})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	until(t, alice, func(m Message) bool { return m.Kind == KindJoin && m.From == "bob" })

	h.Mute("id-bob", clock.Now().Add(10*time.Minute), "alice")
	told, _ := until(t, bob, isKind(KindNotice))
	if !strings.Contains(told.Text, "alice muted you until 2026-07-01 12:10 UTC") {
		t.Errorf("bob was told %q", told.Text)
	}
	if until, muted := h.Muted("id-bob"); !muted || !until.Equal(clock.Now().Add(10*time.Minute)) {
		t.Errorf("Muted = %v, %v", until, muted)
	}
	for _, text := range []string{"hello", "/me waves", "/msg alice psst", "/topic mine now"} {
		if e := sendErr(t, bob, text); !strings.Contains(e.Error(), "you are muted until") {
			t.Errorf("%q from a muted person: %v", text, e)
		}
	}
	ctx := context.Background()
	if err := bob.Post(ctx, "a bot line"); err == nil || !strings.Contains(err.Error(), "muted") {
		t.Errorf("Post while muted: %v", err)
	}
	notReceived(t, alice, alice) // nothing of bob's reached the room

	// A reconnection does not shake it off.
	bob.Close(ReasonQuit)
	bob = connect(t, h, "id-bob", "bob")
	if e := sendErr(t, bob, "back again"); !strings.Contains(e.Error(), "muted") {
		t.Errorf("after reconnecting: %v", e)
	}

	// It ends by itself.
	clock.Advance(10 * time.Minute)
	send(t, bob, "free")
	until(t, alice, isChat("free"))

	// Until unmuted.
	h.Mute("id-bob", time.Time{}, "alice")
	if e := sendErr(t, bob, "x"); !strings.Contains(e.Error(), "until an admin unmutes you") {
		t.Errorf("open-ended mute: %v", e)
	}
	if !h.Unmute("id-bob", "alice") {
		t.Error("Unmute found no mute")
	}
	told, _ = until(t, bob, func(m Message) bool { return m.Kind == KindNotice && strings.Contains(m.Text, "unmuted") })
	if !strings.Contains(told.Text, "alice unmuted you") {
		t.Errorf("unmute notice %q", told.Text)
	}
	if h.Unmute("id-bob", "alice") {
		t.Error("a second Unmute found a mute")
	}
	send(t, bob, "/msg alice thanks")
	until(t, alice, isKind(KindPrivate))
}

func TestRetryAfterAndPost(t *testing.T) {
	lim := &countingLimiter{n: 2, wait: 1500 * time.Millisecond, seen: map[string]int{}}
	h := newHub(t, Config{MessageLimit: lim})
	bot := connectAs(t, h, Identity{ID: "id-ci", Name: "ci", Bot: true})
	watcher := connect(t, h, "id-w", "w")
	ctx := context.Background()

	// A line that starts with a slash is text, not a command.
	if err := bot.Post(ctx, "/usr/bin/ld: cannot find -lfoo"); err != nil {
		t.Fatal(err)
	}
	until(t, watcher, isChat("/usr/bin/ld: cannot find -lfoo"))
	if err := bot.Post(ctx, "second"); err != nil {
		t.Fatal(err)
	}
	err := bot.Post(ctx, "third")
	wait, ok := RetryAfter(err)
	if !ok || wait != 1500*time.Millisecond {
		t.Fatalf("RetryAfter(%v) = %v, %v", err, wait, ok)
	}
	if msg := UserMessage(nil, err); !strings.Contains(msg, "slow down") {
		t.Errorf("the refusal shows as %q", msg)
	}
	if _, ok := RetryAfter(Errorf("something else")); ok {
		t.Error("RetryAfter of another error")
	}
}

func TestBotsAreMarked(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	connectAs(t, h, Identity{ID: "id-ci", Name: "ci", Bot: true})
	until(t, alice, isKind(KindJoin))
	bots := func() map[string]bool {
		out := map[string]bool{}
		for _, m := range h.Members("lobby") {
			out[m.Name] = m.Bot
		}
		return out
	}
	if got := bots(); !got["ci"] || got["alice"] {
		t.Errorf("bots = %v, want only ci", got)
	}
	// alice pipes something with her own key: she is still a person.
	connectAs(t, h, Identity{ID: "id-alice", Name: "alice", Bot: true})
	if got := bots(); got["alice"] {
		t.Error("a person with a bot session is shown as a bot")
	}
	send(t, alice, "/who")
	who, _ := until(t, alice, func(m Message) bool { return m.Kind == KindNotice && strings.Contains(m.Text, "in #lobby") })
	if !strings.Contains(who.Text, "ci (bot)") || strings.Contains(who.Text, "alice (bot)") {
		t.Errorf("/who:\n%s", who.Text)
	}
}

func TestKickFindNotify(t *testing.T) {
	h := newHub(t, Config{})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	bob2 := connect(t, h, "id-bob", "bob")
	m, ok := h.FindMember("BOB")
	if !ok || m.ID != "id-bob" || m.Sessions != 2 {
		t.Fatalf("FindMember = %+v, %v", m, ok)
	}
	if _, ok := h.FindMember("carol"); ok {
		t.Error("found carol")
	}
	if n := h.Notify("id-bob", "hello bob"); n != 2 {
		t.Errorf("Notify reached %d sessions", n)
	}
	until(t, bob2, func(m Message) bool { return m.Kind == KindNotice && m.Text == "hello bob" })
	if n := h.Kick("id-bob", "kicked by alice: spam"); n != 2 {
		t.Errorf("Kick ended %d sessions", n)
	}
	ended(t, bob)
	if bob.Reason() != "kicked by alice: spam" {
		t.Errorf("reason %q", bob.Reason())
	}
	left, _ := until(t, alice, isKind(KindLeave))
	if left.Text != "kicked by alice: spam" {
		t.Errorf("the room saw %q", left.Text)
	}
	if _, ok := h.Member("id-bob"); ok {
		t.Error("bob is still a member")
	}
}

func TestEnterAndViews(t *testing.T) {
	hist := &fakeHistory{}
	h := newHub(t, Config{History: hist, RingSize: 3, Backlog: 3})
	admin := connectAs(t, h, Identity{ID: "id-root", Name: "root", Admin: true})
	alice := connect(t, h, "id-alice", "alice")
	send(t, alice, "/join #ops")
	for i := 0; i < 5; i++ {
		send(t, alice, "ops line "+string(rune('a'+i)))
	}
	send(t, admin, "/room private #secret")
	send(t, admin, "secret line")

	// A bot of alice's follows her into #ops at connect.
	bot := connectAs(t, h, Identity{ID: "id-alice", Name: "alice", Bot: true})
	if err := bot.Enter("#ops"); err != nil {
		t.Fatal(err)
	}
	enter, _ := until(t, bot, func(m Message) bool { return m.Kind == KindEnter && m.Room == "ops" })
	_ = enter
	if bl := bot.RoomBacklog("ops"); len(bl) != 3 || bl[2].Text != "ops line e" {
		t.Errorf("backlog of #ops: %+v", bl)
	}
	if bot.Room() != "ops" {
		t.Errorf("the bot shows #%s", bot.Room())
	}
	if err := bot.Post(context.Background(), "from the bot"); err != nil {
		t.Fatal(err)
	}
	if m, _ := until(t, alice, isChat("from the bot")); m.Room != "ops" {
		t.Errorf("posted to #%s", m.Room)
	}

	// A newcomer's bot joins an existing open room, or creates a missing
	// one as /join does (issue 13 item 3); never a private one.
	ci := connectAs(t, h, Identity{ID: "id-ci", Name: "ci", Bot: true})
	if err := ci.Enter("#nope"); err != nil {
		t.Errorf("Enter(#nope) of a missing room: %v", err)
	}
	for _, bad := range []string{"secret", "#bad name"} {
		if err := ci.Enter(bad); err == nil {
			t.Errorf("Enter(%q) succeeded", bad)
		} else if bad == "secret" && strings.Contains(err.Error(), "private") {
			t.Errorf("Enter(secret) reveals the private room: %v", err)
		}
	}
	if err := ci.Enter("ops"); err != nil {
		t.Fatal(err)
	}
	until(t, ci, func(m Message) bool { return m.Kind == KindEnter && m.Room == "ops" })
	// A bot's entry is no visit (issue 13 item 7): the lists change, no line.
	until(t, alice, func(m Message) bool {
		if m.Kind == KindJoin && m.From == "ci" {
			t.Errorf("a join line for a bot: %+v", m)
		}
		return m.Kind == KindPresence && m.Room == "ops"
	})
	if err := ci.Enter("ops"); err != nil {
		t.Errorf("entering the room shown: %v", err)
	}

	// Views for identities that need not be online.
	names := func(rs []RoomInfo) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(h.RoomsFor("id-nobody", false)); got != "lobby,nope,ops" {
		t.Errorf("RoomsFor(nobody) = %s", got)
	}
	if got := names(h.RoomsFor("id-nobody", true)); got != "lobby,nope,ops,secret" {
		t.Errorf("RoomsFor(admin) = %s", got)
	}
	if _, err := h.MembersFor("secret", "id-nobody", false); err == nil {
		t.Error("MembersFor shows a private room")
	}
	if ms, err := h.MembersFor("#ops", "id-nobody", false); err != nil || len(ms) != 2 {
		t.Errorf("MembersFor(ops) = %+v, %v", ms, err)
	}
	recent, err := h.Recent(context.Background(), "ops", "id-nobody", false, 5)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range recent {
		texts = append(texts, m.Text)
	}
	// The ring holds three; the rest comes from the store, in order.
	if len(recent) != 5 || recent[len(recent)-1].Text != "from the bot" || recent[0].Seq+4 != recent[4].Seq {
		t.Errorf("Recent(ops, 5) = %q (%+v)", texts, recent)
	}
	if _, err := h.Recent(context.Background(), "secret", "id-nobody", false, 5); err == nil {
		t.Error("Recent shows a private room")
	}
	if got, err := h.Recent(context.Background(), "secret", "id-root", true, 1); err != nil || len(got) != 1 || got[0].Text != "secret line" {
		t.Errorf("Recent(secret) for an admin = %+v, %v", got, err)
	}
}

// TestAdminAskedAtEveryUse: with Config.Admin, a session's admin rights
// follow the answer of the moment, not the one at connect; RightsChanged
// takes a former admin out of the private rooms they were in only as an
// admin, and leaves an invited one where they are.
func TestAdminAskedAtEveryUse(t *testing.T) {
	var mu sync.Mutex
	admins := map[string]bool{"id-alice": true, "id-carol": true}
	h := newHub(t, Config{Admin: func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return admins[id]
	}})
	carol := connect(t, h, "id-carol", "carol")
	send(t, carol, "/room private #ops")
	alice := connect(t, h, "id-alice", "alice")
	if !alice.Admin() {
		t.Fatal("alice is not an admin at connect")
	}
	send(t, alice, "/join #ops")
	until(t, alice, func(m Message) bool { return m.Kind == KindJoin && m.Room == "ops" && m.From == "alice" })

	marked := func() bool {
		for _, m := range h.Members("lobby") {
			if m.ID == "id-alice" {
				return m.Admin
			}
		}
		t.Fatal("alice is not in the lobby")
		return false
	}
	if !marked() { // and the list is now cached
		t.Error("the member list does not mark alice as an admin")
	}
	mu.Lock()
	admins["id-alice"] = false
	mu.Unlock()
	if alice.Admin() {
		t.Error("Session.Admin still says alice is an admin")
	}
	if e := sendErr(t, alice, "/room private #mine"); !strings.Contains(e.Error(), "unknown command /room") {
		t.Errorf("/room by a former admin: %v", e)
	}

	if n := h.RightsChanged(); n != 1 {
		t.Errorf("RightsChanged took %d people out of rooms, want 1", n)
	}
	if marked() {
		t.Error("after RightsChanged the member list still marks a former admin")
	}
	told, _ := until(t, alice, isKind(KindNotice))
	if !strings.Contains(told.Text, "You left #ops: it is private") {
		t.Errorf("alice was told %q", told.Text)
	}
	if alice.Room() != "lobby" {
		t.Errorf("alice shows #%s, want #lobby", alice.Room())
	}
	for _, m := range h.Members("ops") {
		if m.ID == "id-alice" {
			t.Error("the former admin is still in #ops")
		}
	}
	if e := sendErr(t, alice, "/join #ops"); !strings.Contains(e.Error(), "#ops is private") {
		t.Errorf("/join #ops by a former admin: %v", e)
	}
	// carol created #ops (so she is invited to it) and is demoted too: she
	// stays, as an invited member would.
	mu.Lock()
	admins["id-carol"] = false
	mu.Unlock()
	if n := h.RightsChanged(); n != 0 {
		t.Errorf("RightsChanged took %d people out of rooms, want 0", n)
	}
	if carol.Room() != "ops" {
		t.Errorf("carol shows #%s, want #ops", carol.Room())
	}
}

// TestRightsChangedLastRoom: a former admin whose only room was a private
// one is put in the default room first.
func TestRightsChangedLastRoom(t *testing.T) {
	var mu sync.Mutex
	admin := true
	h := newHub(t, Config{Admin: func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return id == "id-carol" || (id == "id-alice" && admin)
	}})
	carol := connect(t, h, "id-carol", "carol")
	send(t, carol, "/room private #ops")
	alice := connect(t, h, "id-alice", "alice")
	send(t, alice, "/join #ops")
	send(t, alice, "/leave #lobby")
	if rooms := alice.Rooms(); len(rooms) != 1 || rooms[0].Name != "ops" {
		t.Fatalf("alice's rooms: %v", rooms)
	}
	mu.Lock()
	admin = false
	mu.Unlock()
	h.RightsChanged()
	if rooms := alice.Rooms(); len(rooms) != 1 || rooms[0].Name != "lobby" {
		t.Errorf("alice's rooms after the demotion: %v", rooms)
	}
	if alice.Room() != "lobby" {
		t.Errorf("alice shows #%s", alice.Room())
	}
	send(t, carol, "/join #lobby")
	send(t, carol, "hello lobby")
	until(t, alice, isChat("hello lobby"))
}

// TestMutedCannotSetAway: an away reason is shown to everyone (member
// lists, /who, private messages), so a muted person may not set one.
func TestMutedCannotSetAway(t *testing.T) {
	clock := newFakeClock()
	h := newHub(t, Config{Now: clock.Now})
	bob := connect(t, h, "id-bob", "bob")
	h.Mute("id-bob", time.Time{}, "alice")
	if e := sendErr(t, bob, "/away buy cheap pills at spam.example"); !strings.Contains(e.Error(), "you are muted until an admin unmutes you: you cannot set an away message") {
		t.Errorf("/away while muted: %v", e)
	}
	for _, m := range h.Members("lobby") {
		if m.Away != "" {
			t.Errorf("%s is away: %q", m.Name, m.Away)
		}
	}
	h.Unmute("id-bob", "alice")
	send(t, bob, "/away lunch")
	for _, m := range h.Members("lobby") {
		if m.ID == "id-bob" && m.Away != "lunch" {
			t.Errorf("after unmute, bob's away is %q", m.Away)
		}
	}
}
