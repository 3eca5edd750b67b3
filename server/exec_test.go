package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"parley/room"
)

func TestExecWhoAndRoomsJSON(t *testing.T) {
	alice, bob, ci := newTUser(t, "alice"), newTUser(t, "bob"), newTUser(t, "ci")
	ts := startTestServer(t, "", alice.line("admin"), bob.line(""), ci.line(""))
	ts.watcher(t, alice) // a person, as the chat screen connects
	// ci is a bot: connected through a command, it is a member while it runs.
	tail, _ := ts.start(t, ci, "tail -f -n 0")
	eventually(t, "ci online", func() bool { _, ok := ts.hub().Member(ci.fp); return ok })

	r := ts.run(t, bob, "", "who --json", "")
	if r.code != 0 {
		t.Fatalf("who --json: exit %d, stderr %q", r.code, r.stderr)
	}
	var people []room.MemberJSON
	if err := json.Unmarshal([]byte(r.stdout), &people); err != nil {
		t.Fatalf("who --json does not parse: %v\n%s", err, r.stdout)
	}
	got := map[string]room.MemberJSON{}
	for _, p := range people {
		got[p.Name] = p
	}
	if a := got["alice"]; !a.Admin || a.Bot || a.Fingerprint != alice.fp {
		t.Errorf("alice: %+v", a)
	}
	if c := got["ci"]; !c.Bot || c.Admin || c.Fingerprint != ci.fp {
		t.Errorf("ci should be a bot: %+v", c)
	}
	if _, ok := got["bob"]; ok || len(people) != 2 {
		t.Errorf("who lists %v; bob's one-shot command is no member", people)
	}

	text := ts.run(t, bob, "", "who", "")
	if !strings.Contains(text.stdout, "2 in #lobby") || !strings.Contains(text.stdout, "ci (bot)") || !strings.Contains(text.stdout, "alice (admin)") {
		t.Errorf("who:\n%s", text.stdout)
	}

	r = ts.run(t, bob, "", "rooms --json", "")
	var rooms []room.RoomJSON
	if err := json.Unmarshal([]byte(r.stdout), &rooms); err != nil || r.code != 0 {
		t.Fatalf("rooms --json: %v, exit %d\n%s", err, r.code, r.stdout)
	}
	if len(rooms) != 1 || rooms[0].Name != "lobby" || rooms[0].People != 2 {
		t.Errorf("rooms: %+v", rooms)
	}
	tail.client.Close()
	eventually(t, "ci gone", func() bool { _, ok := ts.hub().Member(ci.fp); return !ok })
}

func TestExecSayFromStdinPostsEveryLine(t *testing.T) {
	alice, ci := newTUser(t, "alice"), newTUser(t, "ci")
	ts := startTestServer(t, "", alice.line(""), ci.line(""))
	w := ts.watcher(t, alice)

	// More lines than the flood limit's burst (3): say waits and sends them
	// all, in order. A line starting with a slash is text, not a command;
	// blank lines are skipped.
	var in []string
	for i := 1; i <= 8; i++ {
		in = append(in, fmt.Sprintf("build step %d ok", i))
	}
	in = append(in, "/usr/bin/ld: cannot find -lfoo", "", "  ", "done\r")
	r := ts.run(t, ci, "", "say -r lobby", strings.Join(in, "\n")+"\n")
	if r.code != 0 {
		t.Fatalf("say from stdin: exit %d, stderr %q", r.code, r.stderr)
	}
	for i := 1; i <= 8; i++ {
		m := untilEvent(t, w, func(m room.Message) bool { return m.Kind == room.KindChat })
		if want := fmt.Sprintf("build step %d ok", i); m.Text != want || m.From != "ci" || m.FromID != ci.fp {
			t.Fatalf("message %d: %+v, want %q from ci", i, m, want)
		}
	}
	untilEvent(t, w, chatText("/usr/bin/ld: cannot find -lfoo"))
	untilEvent(t, w, chatText("done"))

	// TEXT as arguments.
	if r := ts.run(t, ci, "", "say hello   from the  bot", ""); r.code != 0 {
		t.Fatalf("say TEXT: %d %q", r.code, r.stderr)
	}
	untilEvent(t, w, chatText("hello from the bot"))

	// A second exec `tail -f` sees lines as they are said.
	tail, _ := ts.start(t, alice, "tail -f -n 1")
	if line := tail.next(t); !strings.HasSuffix(line, "<ci> hello from the bot") {
		t.Fatalf("tail history: %q", line)
	}
	if r := ts.run(t, ci, "", "say", "piped\n"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for {
		line := tail.next(t)
		if strings.Contains(line, "<ci> piped") {
			break
		}
	}

	// Another room: say creates a missing open room as /join does (issue
	// 13 item 3); a bot follows a room with tail -f -r, entering it.
	if r := ts.run(t, ci, "", "say -r nowhere hi", ""); r.code != 0 {
		t.Errorf("say to a missing room: %d %q", r.code, r.stderr)
	}
	if r := ts.run(t, ci, "", "tail -r nowhere", ""); r.code != 0 || !strings.Contains(r.stdout, "<ci> hi") {
		t.Errorf("tail of the room say created: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if err := w.Send(t.Context(), "/join #ops"); err != nil {
		t.Fatal(err)
	}
	opsTail, _ := ts.start(t, alice, "tail -f -r ops -n 5 --json")
	var first messageJSON
	if err := json.Unmarshal([]byte(opsTail.next(t)), &first); err != nil || first.Kind != "join" || first.Room != "ops" {
		t.Fatalf("ops history: %+v %v", first, err)
	}
	if r := ts.run(t, ci, "", "say --room #ops deploy finished", ""); r.code != 0 {
		t.Fatalf("say -r ops: %q", r.stderr)
	}
	for {
		var m messageJSON
		if err := json.Unmarshal([]byte(opsTail.next(t)), &m); err != nil {
			t.Fatal(err)
		}
		if m.Kind == "chat" {
			if m.Room != "ops" || m.Text != "deploy finished" || m.From != "ci" {
				t.Errorf("in #ops: %+v", m)
			}
			break
		}
	}
}

func TestExecTailFollowJSONStreamsMessages(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line(""), bob.line(""))
	w := ts.watcher(t, alice)
	ctx := t.Context()
	if err := w.Send(ctx, "before the bot"); err != nil {
		t.Fatal(err)
	}
	untilEvent(t, w, chatText("before the bot"))

	tail, _ := ts.start(t, bob, "tail -f --json -n 1")
	var first messageJSON
	if err := json.Unmarshal([]byte(tail.next(t)), &first); err != nil || first.Text != "before the bot" {
		t.Fatalf("history line: %+v, %v", first, err)
	}
	// Now it is streaming: what a person types arrives as one JSON line.
	if err := w.Send(ctx, "hello from a person"); err != nil {
		t.Fatal(err)
	}
	var got messageJSON
	for got.Kind != "chat" {
		line := tail.next(t)
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
	}
	if got.Text != "hello from a person" || got.From != "alice" || got.Fingerprint != alice.fp || got.Room != "lobby" || got.ID != first.ID+1 {
		t.Errorf("streamed %+v (first %+v; bob's tail, a bot, is no visit: no join line in between)", got, first)
	}
	if ts, err := time.Parse(time.RFC3339, got.Time); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("time %q: %v", got.Time, err)
	}
	// Fields are all there, as documented.
	var raw map[string]any
	line := tail.next // the next one: alice posts again
	if err := w.Send(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(line(t)), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "room", "time", "from", "fingerprint", "text", "kind"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("tail --json line lacks %q: %v", k, raw)
		}
	}

	// tail without -f prints and exits, without joining anything.
	r := ts.run(t, bob, "", "tail -n 2", "")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasSuffix(lines[1], "<alice> again") {
		t.Errorf("tail -n 2: exit %d\n%s", r.code, r.stdout)
	}

	// The server going down ends tail -f with exit 1 and the reason.
	ts.stop()
	if code := tail.exit(t); code != 1 || !strings.Contains(tail.stderr.String(), "shutting down") {
		t.Errorf("tail -f at shutdown: exit %d, stderr %q", code, tail.stderr.String())
	}
}

func TestExecExitCodes(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line("admin"), bob.line(""))
	for _, tc := range []struct {
		who  *tuser
		cmd  string
		code int
		out  string // in stdout (code 0) or stderr
	}{
		{bob, "help", 0, "who [-r ROOM] [--json]"},
		{bob, "who", 0, "in #lobby"},
		{bob, "who -r lobby --json", 0, "["},
		{bob, "rooms", 0, "#lobby"},
		{bob, "tail -n 0", 0, ""},
		{bob, "say -h", 0, ""},
		{bob, "who --bogus", 2, "flag provided but not defined"},
		{bob, "who extra", 2, "usage: who"},
		{bob, "tail -n -1", 2, "usage: tail"},
		{bob, "tail -n many", 2, "invalid value"},
		{bob, "frobnicate", 2, `unknown command "frobnicate"`},
		{bob, "who -r nowhere", 1, "there is no #nowhere"},
		{bob, "kick alice", 1, "kick is for admins only"},
		{bob, "keys list", 1, "for admins only"},
		{bob, "invite", 1, "for admins only"},
		{alice, "kick", 2, "usage: kick"},
		{alice, "ban bob 7days", 1, "not a duration"},
		{alice, "mute bob 1h extra", 2, "usage: mute"},
		{alice, "invite --uses 0", 2, "--uses"},
		{alice, "kick nobody", 1, "nobody called nobody"},
		{alice, "keys", 2, "usage"},
		{alice, "help", 0, "Admin commands"},
	} {
		r := ts.run(t, tc.who, "", tc.cmd, "")
		got := r.stderr
		if tc.code == 0 {
			got = r.stdout
		}
		if r.code != tc.code || !strings.Contains(got, tc.out) {
			t.Errorf("%s: %q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.who.name, tc.cmd, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
	}
	if r := ts.run(t, bob, "", "help", ""); strings.Contains(r.stdout, "Admin commands") || strings.Contains(r.stdout, "kick") {
		t.Errorf("help shows admin commands to bob:\n%s", r.stdout)
	}
	// A session with neither a terminal nor a command is told to use one.
	c, err := ts.dial(bob, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, _ := c.NewSession()
	var stderr syncBuffer
	sess.Stderr = &stderr
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Wait(); err == nil || !strings.Contains(stderr.String(), "connect with a terminal") {
		t.Errorf("shell without a pty: %v, %q", err, stderr.String())
	}
	if _, n := ts.hub().Online(); n != 0 {
		t.Errorf("%d sessions online after one-shot commands", n)
	}
}

func TestExecWithTerminal(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line(""), bob.line(""))
	w := ts.watcher(t, alice)
	if err := w.Send(t.Context(), "hello terminal"); err != nil {
		t.Fatal(err)
	}
	untilEvent(t, w, chatText("hello terminal"))

	c, err := ts.dial(bob, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.Start("tail -f -n 1"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasSuffix(line, "<alice> hello terminal\r\n") {
		t.Fatalf("first line %q, %v: want it to end in \\r\\n for a terminal", line, err)
	}
	// ctrl+c, which a terminal sends as a byte, ends it cleanly.
	if _, err := stdin.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tail -f after ctrl+c: %v", err)
		}
	case <-time.After(testWait):
		t.Fatal("ctrl+c did not end tail -f")
	}
	eventually(t, "bob's bot gone", func() bool { _, ok := ts.hub().Member(bob.fp); return !ok })
}

// TestAPanicEndsOnlyThatSession: a bug hit by one session's command ends
// that session, logged with its stack; the server and the room go on.
func TestAPanicEndsOnlyThatSession(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line(""), bob.line(""))
	ts.srv.testExecHook = func(command string) {
		if command == "who" {
			panic("a bug in who")
		}
	}
	r := ts.run(t, bob, "", "who", "")
	if r.code != 1 || !strings.Contains(r.stderr, "something went wrong") {
		t.Errorf("the panicking command: exit %d, stderr %q", r.code, r.stderr)
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "session panicked") || !strings.Contains(logs, "a bug in who") || !strings.Contains(logs, "exec.go") {
		t.Errorf("the panic is not logged with its stack:\n%s", logs)
	}
	// The server goes on: the next command works.
	if r := ts.run(t, alice, "", "rooms", ""); r.code != 0 || !strings.Contains(r.stdout, "lobby") {
		t.Errorf("after the panic: exit %d, stdout %q", r.code, r.stdout)
	}
}

// Issue 13 item 10: tail -f follows from now; only -n asks for history
// first.
func TestExecTailFollowStartsFromNow(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	ts := startTestServer(t, "", alice.line(""), bob.line(""))
	w := ts.watcher(t, alice)
	ctx := t.Context()
	for _, text := range []string{"old one", "old two"} {
		if err := w.Send(ctx, text); err != nil {
			t.Fatal(err)
		}
		untilEvent(t, w, chatText(text))
	}
	tail, _ := ts.start(t, bob, "tail -f --json")
	eventually(t, "bob's tail online", func() bool { _, ok := ts.hub().Member(bob.fp); return ok })
	if err := w.Send(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	for {
		var got messageJSON
		line := tail.next(t)
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		if strings.HasPrefix(got.Text, "old") {
			t.Fatalf("tail -f without -n replayed history: %q", line)
		}
		if got.Text == "new" {
			break
		}
	}
	// -n N still asks for the last N first.
	tail2, _ := ts.start(t, bob, "tail -f -n 2")
	if a, b := tail2.next(t), tail2.next(t); !strings.HasSuffix(a, "<alice> old two") || !strings.HasSuffix(b, "<alice> new") {
		t.Errorf("tail -f -n 2 printed %q, %q", a, b)
	}
	// help says what -f does.
	if r := ts.run(t, bob, "", "help tail", ""); !strings.Contains(r.stdout, "-n") || !strings.Contains(r.stdout, "from now") {
		t.Errorf("help tail:\n%s", r.stdout)
	}
}

// Issue 13 item 7: a bot's one-shot say is not a visit: no join or leave
// line, in the room or its history; the member list still shows a running
// bot (tail -f), and the others' lists learn of it.
func TestExecBotPostsWithoutJoinOrLeaveLines(t *testing.T) {
	alice, ci := newTUser(t, "alice"), newTUser(t, "ci")
	ts := startTestServer(t, "", alice.line(""), ci.line(""))
	w := ts.watcher(t, alice)
	for i := range 3 {
		text := fmt.Sprintf("build %d finished", i)
		if r := ts.run(t, ci, "", "say "+text, ""); r.code != 0 {
			t.Fatalf("say: exit %d, %s", r.code, r.stderr)
		}
		m := untilEvent(t, w, func(m room.Message) bool {
			return m.FromID != alice.fp && (m.Kind == room.KindChat || m.Kind == room.KindJoin || m.Kind == room.KindLeave)
		})
		if m.Kind != room.KindChat || m.Text != text {
			t.Fatalf("alice saw %s %q from %q before the bot's message", m.Kind, m.Text, m.From)
		}
	}
	// Into another room too (say -r enters it): no line there either.
	if r := ts.run(t, alice, "", "say hello", ""); r.code != 0 { // alice is online: her say is no join either
		t.Fatalf("say: %d %s", r.code, r.stderr)
	}
	r := ts.run(t, ci, "", "tail -n 20", "")
	if strings.Contains(r.stdout, "ci joined") || strings.Contains(r.stdout, "ci left") || strings.Count(r.stdout, "build") != 3 {
		t.Errorf("history after three says:\n%s", r.stdout)
	}
	// A bot that keeps running (tail -f) is in the member list while it
	// runs, still without a line.
	tail, _ := ts.start(t, ci, "tail -f")
	eventually(t, "ci listed as a bot", func() bool {
		info, ok := ts.hub().Member(ci.fp)
		return ok && info.Bot
	})
	tail.client.Close()
	eventually(t, "ci gone", func() bool { _, ok := ts.hub().Member(ci.fp); return !ok })
	if err := w.Send(t.Context(), "the end"); err != nil {
		t.Fatal(err)
	}
	presence := 0
	untilEvent(t, w, func(m room.Message) bool {
		if m.FromID == ci.fp && (m.Kind == room.KindJoin || m.Kind == room.KindLeave) {
			t.Fatalf("a line for the bot: %+v", m)
		}
		if m.Kind == room.KindPresence {
			presence++
		}
		return m.Kind == room.KindChat && m.Text == "the end"
	})
	if presence < 2 { // each say's arrival and end, and tail's, tell the lists
		t.Errorf("alice's member list was told of the bot %d times", presence)
	}
}
