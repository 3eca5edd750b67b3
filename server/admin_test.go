package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"parley/moderation"
	"parley/room"
)

// logHas fails unless the logs hold an admin action line with every field.
func logHas(t *testing.T, ts *testServer, fields ...string) {
	t.Helper()
	for _, line := range strings.Split(ts.logs.String(), "\n") {
		if !strings.Contains(line, `msg="admin action"`) {
			continue
		}
		all := true
		for _, f := range fields {
			all = all && strings.Contains(line, f)
		}
		if all {
			return
		}
	}
	t.Errorf("no admin action logged with %q in:\n%s", fields, ts.logs.String())
}

func TestAdminKickMuteMOTDOverSSH(t *testing.T) {
	alice, bob, carol := newTUser(t, "alice"), newTUser(t, "bob"), newTUser(t, "carol")
	ts := startTestServer(t, "", alice.line("admin"), bob.line(""), carol.line(""))
	b := ts.watcher(t, bob)

	// kick ends the session, with the reason, and is logged.
	r := ts.run(t, alice, "", "kick bob spamming the lobby", "")
	if r.code != 0 || !strings.Contains(r.stdout, "Kicked bob") {
		t.Fatalf("kick: %d %q %q", r.code, r.stdout, r.stderr)
	}
	select {
	case <-b.Done():
	default:
		t.Fatal("bob's session did not end")
	}
	if b.Reason() != "kicked by alice: spamming the lobby" {
		t.Errorf("bob was told %q", b.Reason())
	}
	logHas(t, ts, "action=kick", "by="+alice.fp, "by_name=alice", "target="+bob.fp, "target_name=bob", `reason="spamming the lobby"`)

	// mute: bob cannot post or DM, and is told; unmute lifts it.
	b = ts.watcher(t, bob)
	c := ts.watcher(t, carol)
	if r := ts.run(t, alice, "", "mute bob 1h", ""); r.code != 0 || !strings.Contains(r.stdout, "Muted bob") {
		t.Fatalf("mute: %d %q %q", r.code, r.stdout, r.stderr)
	}
	told := untilEvent(t, b, func(m room.Message) bool { return m.Kind == room.KindNotice && strings.Contains(m.Text, "muted you") })
	if !strings.Contains(told.Text, "alice muted you until") {
		t.Errorf("bob was told %q", told.Text)
	}
	for _, text := range []string{"hello?", "/msg carol psst"} {
		if err := b.Send(t.Context(), text); err == nil || !strings.Contains(err.Error(), "muted") {
			t.Errorf("muted bob sent %q: %v", text, err)
		}
	}
	if r := ts.run(t, bob, "", "say hello from a pipe", ""); r.code != 1 || !strings.Contains(r.stderr, "muted") {
		t.Errorf("muted bob's say: %d %q", r.code, r.stderr)
	}
	logHas(t, ts, "action=mute", "target_name=bob", "until=")
	if r := ts.run(t, alice, "", "unmute bob", ""); r.code != 0 {
		t.Fatalf("unmute: %q", r.stderr)
	}
	if err := b.Send(t.Context(), "I can talk again"); err != nil {
		t.Fatal(err)
	}
	untilEvent(t, c, chatText("I can talk again"))
	if r := ts.run(t, alice, "", "unmute bob", ""); r.code != 1 || !strings.Contains(r.stderr, "not muted") {
		t.Errorf("second unmute: %d %q", r.code, r.stderr)
	}

	// Admins cannot turn on themselves.
	ts.watcher(t, alice)
	for _, cmd := range []string{"kick alice", "ban alice", "mute alice"} {
		if r := ts.run(t, alice, "", cmd, ""); r.code != 1 || !strings.Contains(r.stderr, "that is you") {
			t.Errorf("%s: %d %q", cmd, r.code, r.stderr)
		}
	}

	// motd: set, show, seen on join, cleared.
	if r := ts.run(t, alice, "", "motd Welcome to the test server", ""); r.code != 0 {
		t.Fatalf("motd: %q", r.stderr)
	}
	if r := ts.run(t, alice, "", "motd", ""); strings.TrimSpace(r.stdout) != "Welcome to the test server" {
		t.Errorf("motd shows %q", r.stdout)
	}
	d := ts.watcher(t, newTUser(t, "dora"))
	untilEvent(t, d, func(m room.Message) bool { return m.Kind == room.KindNotice && m.Text == "Welcome to the test server" })
	if r := ts.run(t, alice, "", "motd -", "line one\nline two\n"); r.code != 0 || ts.srv.motd() != "line one\nline two" {
		t.Errorf("motd from stdin: %d %q, file %q", r.code, r.stderr, ts.srv.motd())
	}
	if r := ts.run(t, alice, "", "motd --clear", ""); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if _, err := os.Stat(filepath.Join(ts.dir, "motd")); !os.IsNotExist(err) {
		t.Errorf("motd file after --clear: %v", err)
	}
	logHas(t, ts, "action=motd", "by_name=alice")
}

func TestAdminBanPersistsAcrossRestart(t *testing.T) {
	alice, bob := newTUser(t, "alice"), newTUser(t, "bob")
	dir := t.TempDir()
	ts := startTestServer(t, dir, alice.line("admin"), bob.line(""))
	b := ts.watcher(t, bob)

	r := ts.run(t, alice, "", "ban bob 2h flooding", "")
	if r.code != 0 || !strings.Contains(r.stdout, "Banned bob ("+bob.fp[:len("SHA256:")+8]+") until") {
		t.Fatalf("ban: %d %q %q", r.code, r.stdout, r.stderr)
	}
	<-b.Done()
	if !strings.HasPrefix(b.Reason(), "banned by alice until ") || !strings.HasSuffix(b.Reason(), ": flooding") {
		t.Errorf("bob's session ended with %q", b.Reason())
	}
	logHas(t, ts, "action=ban", "target="+bob.fp, "reason=flooding", "until=")

	// Refused at authentication, with a message saying until when.
	refused := func(ts *testServer) {
		t.Helper()
		var mu sync.Mutex
		var said []string
		ki := gossh.KeyboardInteractive(func(_, instruction string, q []string, _ []bool) ([]string, error) {
			mu.Lock()
			said = append(said, instruction)
			mu.Unlock()
			return make([]string, len(q)), nil
		})
		if _, err := ts.dialWith(bob, "", gossh.PublicKeys(bob.signer), ki); err == nil {
			t.Fatal("a banned key logged in")
		}
		mu.Lock()
		defer mu.Unlock()
		if got := strings.Join(said, "\n"); !strings.Contains(got, "your key "+bob.fp+" is banned until ") || !strings.Contains(got, "flooding") {
			t.Errorf("a banned key was told %q", got)
		}
	}
	refused(ts)

	// The ban outlives a restart.
	ts.stop()
	ts = startTestServer(t, dir)
	refused(ts)
	r = ts.run(t, alice, "", "bans --json", "")
	var bans []moderation.BanJSON
	if err := json.Unmarshal([]byte(r.stdout), &bans); err != nil || len(bans) != 1 || bans[0].Fingerprint != bob.fp || bans[0].ByName != "alice" || bans[0].Until == "" {
		t.Fatalf("bans after restart: %v %+v\n%s", err, bans, r.stdout)
	}
	if r := ts.run(t, alice, "", "bans", ""); !strings.Contains(r.stdout, "bob ("+bob.fp+") until") {
		t.Errorf("bans: %q", r.stdout)
	}
	if r := ts.run(t, alice, "", "unban bob", ""); r.code != 0 {
		t.Fatalf("unban: %q", r.stderr)
	}
	logHas(t, ts, "action=unban", "target="+bob.fp)
	if r := ts.run(t, bob, "", "who", ""); r.code != 0 {
		t.Errorf("bob after unban: %d %q", r.code, r.stderr)
	}

	// A key that is not even listed can be banned by fingerprint.
	eve := newTUser(t, "eve")
	if r := ts.run(t, alice, "", "ban "+eve.fp, ""); r.code != 0 || !strings.Contains(r.stdout, "until an admin lifts it") {
		t.Errorf("ban by fingerprint: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestAdminRoomCommands(t *testing.T) {
	alice, bob, carol := newTUser(t, "alice"), newTUser(t, "bob"), newTUser(t, "carol")
	ts := startTestServer(t, "", alice.line("admin"), bob.line(""), carol.line(""))
	a, b, c := ts.watcher(t, alice), ts.watcher(t, bob), ts.watcher(t, carol)
	ctx := t.Context()
	notice := func(rs *room.Session, part string) room.Message {
		t.Helper()
		return untilEvent(t, rs, func(m room.Message) bool { return m.Kind == room.KindNotice && strings.Contains(m.Text, part) })
	}

	// /help shows them to admins only.
	if err := a.Send(ctx, "/help"); err != nil {
		t.Fatal(err)
	}
	help := notice(a, "Commands:")
	for _, cmd := range []string{"/kick NAME [REASON]", "/ban NAME [DURATION] [REASON]", "/unban", "/mute NAME [DURATION]", "/unmute NAME"} {
		if !strings.Contains(help.Text, cmd) {
			t.Errorf("admin /help lacks %s:\n%s", cmd, help.Text)
		}
	}
	if err := b.Send(ctx, "/help"); err != nil {
		t.Fatal(err)
	}
	if help := notice(b, "Commands:"); strings.Contains(help.Text, "/kick") || strings.Contains(help.Text, "/ban") {
		t.Errorf("bob's /help shows admin commands:\n%s", help.Text)
	}
	if err := b.Send(ctx, "/kick carol"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("bob's /kick: %v", err)
	}

	if err := a.Send(ctx, "/mute bob 10m"); err != nil {
		t.Fatal(err)
	}
	notice(a, "Muted bob")
	if err := b.Send(ctx, "hi"); err == nil || !strings.Contains(err.Error(), "muted") {
		t.Errorf("bob after /mute: %v", err)
	}
	if err := a.Send(ctx, "/unmute bob"); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, "/ban carol 30m being rude"); err != nil {
		t.Fatal(err)
	}
	notice(a, "Banned carol")
	<-c.Done()
	if err := a.Send(ctx, "/bans"); err != nil {
		t.Fatal(err)
	}
	notice(a, "being rude")
	if err := a.Send(ctx, "/unban carol"); err != nil {
		t.Fatal(err)
	}
	notice(a, "Lifted the ban of carol")
	if err := a.Send(ctx, "/kick bob"); err != nil {
		t.Fatal(err)
	}
	<-b.Done()
	if b.Reason() != "kicked by alice" {
		t.Errorf("bob: %q", b.Reason())
	}
	if err := a.Send(ctx, "/ban"); err == nil || !strings.Contains(err.Error(), "usage: /ban") {
		t.Errorf("/ban without a name: %v", err)
	}

	// An admin demoted while connected loses the commands at once.
	if err := os.WriteFile(filepath.Join(ts.dir, "authorized_keys"), []byte(alice.line("")+"\n"+bob.line("")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, "/mute bob"); err == nil || !strings.Contains(err.Error(), "unknown command /mute") {
		t.Errorf("a demoted admin's /mute: %v", err)
	}
}

func TestAdminKeysOverSSH(t *testing.T) {
	alice, dave := newTUser(t, "alice"), newTUser(t, "dave")
	ts := startTestServer(t, "", "# the operator's note", alice.line("admin"))
	if _, err := ts.dial(dave, ""); err == nil {
		t.Fatal("dave got in before being added")
	}
	r := ts.run(t, alice, "", "keys add "+dave.keyText()+" --name dave", "")
	if r.code != 0 || !strings.Contains(r.stdout, "Added dave") {
		t.Fatalf("keys add: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// In at once, no poll needed.
	tail, _ := ts.start(t, dave, "tail -f")
	eventually(t, "dave online", func() bool { _, ok := ts.hub().Member(dave.fp); return ok })
	r = ts.run(t, alice, "", "keys list", "")
	if !strings.Contains(r.stdout, "dave") || !strings.Contains(r.stdout, dave.fp) {
		t.Errorf("keys list:\n%s", r.stdout)
	}
	if r := ts.run(t, alice, "", "keys remove alice", ""); r.code != 1 || !strings.Contains(r.stderr, "connected with") {
		t.Errorf("removing one's own key: %d %q", r.code, r.stderr)
	}
	if r := ts.run(t, alice, "", "keys remove dave", ""); r.code != 0 {
		t.Fatalf("keys remove: %q", r.stderr)
	}
	if code := tail.exit(t); code != 1 || !strings.Contains(tail.stderr.String(), "access revoked") {
		t.Errorf("dave's tail after removal: %d %q", code, tail.stderr.String())
	}
	b, _ := os.ReadFile(filepath.Join(ts.dir, "authorized_keys"))
	if !strings.Contains(string(b), "# the operator's note") || strings.Contains(string(b), dave.keyText()) {
		t.Errorf("authorized_keys after add and remove:\n%s", b)
	}
	logHas(t, ts, "action=\"keys add\"", "target="+dave.fp)
	logHas(t, ts, "action=\"keys remove\"", "target_name=dave")
}
