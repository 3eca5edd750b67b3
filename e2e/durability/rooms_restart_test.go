package durability

import (
	"encoding/json"
	"fmt"
	"os"
	"parley/internal/testkit"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Rooms across restarts, with real servers (the parley binary) and real SSH
// clients: private rooms stay private (issue 18 item 1), rooms and
// memberships outlive restarts (issue 13 items 3 and 4).

// roomKeys writes authorized_keys with one key per name, admin for the
// names in admins, and returns the signers.
func roomKeys(t *testing.T, dataDir string, signers map[string]ssh.Signer, names []string, admins ...string) map[string]ssh.Signer {
	t.Helper()
	if signers == nil {
		signers = map[string]ssh.Signer{}
	}
	var b strings.Builder
	for _, n := range names {
		s := signers[n]
		if s == nil {
			s, _ = testkit.NewKey(t)
			signers[n] = s
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
		opts := fmt.Sprintf("name=%q", n)
		for _, a := range admins {
			if a == n {
				opts = "admin," + opts
			}
		}
		fmt.Fprintf(&b, "%s %s\n", opts, line)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "authorized_keys"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return signers
}

// roomExec runs `ssh host CMD` (no terminal) as signer and returns its
// output and exit status.
func roomExec(t *testing.T, addr, user string, signer ssh.Signer, cmd string) (stdout, stderr string, code int) {
	t.Helper()
	conn, err := testkit.DialKey(addr, user, signer, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: dial: %v", user, err)
	}
	defer conn.Close()
	r, err := testkit.Run(conn, cmd, "", 20*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	return r.Stdout, r.Stderr, r.Code
}

// roomRestart stops the child with SIGTERM and starts it again on the same
// data.
func roomRestart(t *testing.T, c *testkit.Child, data string) *testkit.Child {
	t.Helper()
	if err := c.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitExit(t, 20*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, testkit.Tail(c.Stderr.String(), 3000))
	}
	return testkit.StartBinary(t, data)
}

// roomDial connects name with a terminal and waits for the lobby.
func roomDial(t *testing.T, c *testkit.Child, name string, signer ssh.Signer) *durClient {
	t.Helper()
	cl, err := durDial(c.Addr, name, signer, 110, 30, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	cl.WaitText(t, "#lobby", 15*time.Second)
	return cl
}

// roomType types a line and waits for text on the screen.
func roomType(t *testing.T, cl *durClient, line, want string) {
	t.Helper()
	if err := cl.Type(line + "\r"); err != nil {
		t.Fatal(err)
	}
	cl.WaitText(t, want, 10*time.Second)
}

// roomShows waits until the header shows room first (the room on screen).
func roomShows(t *testing.T, cl *durClient, room string) {
	t.Helper()
	if ok, screen := cl.WaitFor(func(r []string) bool { return strings.HasPrefix(strings.TrimSpace(r[0]), room+" ") }, 10*time.Second); !ok {
		t.Fatalf("%s's screen does not show %s:\n%s", cl.name, room, screen)
	}
}

// roomQuit ends a terminal session with /quit.
func roomQuit(t *testing.T, cl *durClient) {
	t.Helper()
	if err := cl.Type("/quit\r"); err != nil {
		t.Fatal(err)
	}
	if !cl.WaitEnded(10 * time.Second) {
		t.Fatalf("%s's session did not end after /quit; screen:\n%s", cl.name, cl.Screen())
	}
}

type roomListed struct {
	Name    string `json:"name"`
	Private bool   `json:"private"`
}

// roomList runs `rooms --json` as name and returns the rooms by name.
func roomList(t *testing.T, addr, name string, signer ssh.Signer) map[string]roomListed {
	t.Helper()
	out, errOut, code := roomExec(t, addr, name, signer, "rooms --json")
	if code != 0 {
		t.Fatalf("%s: rooms --json exited %d: %s", name, code, errOut)
	}
	var list []roomListed
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%s: rooms --json: %v in %q", name, err, out)
	}
	byName := map[string]roomListed{}
	for _, r := range list {
		byName[r.Name] = r
	}
	return byName
}

// TestPrivateRoomStaysPrivateAcrossRestart is issue 18 item 1's
// reproduction: an admin makes #board private and posts in it; after a
// restart a non-member's /join is refused and never shows the message,
// nor do tail or rooms; the admin still reads and manages it; once removed
// it stays closed, across another restart too.
func TestPrivateRoomStaysPrivateAcrossRestart(t *testing.T) {
	data := t.TempDir()
	signers := roomKeys(t, data, nil, []string{"root", "mallory"}, "root")
	const secret = "BOARD-ONLY: layoffs friday"
	c := testkit.StartBinary(t, data)

	root := roomDial(t, c, "root", signers["root"])
	if err := root.Type("/room private #board\r"); err != nil {
		t.Fatal(err)
	}
	roomShows(t, root, "#board")
	roomType(t, root, secret, secret)
	roomQuit(t, root)

	c = roomRestart(t, c, data)

	mallory := roomDial(t, c, "mallory", signers["mallory"])
	roomType(t, mallory, "/join #board", "#board is private")
	if strings.Contains(mallory.Screen(), "layoffs") {
		t.Errorf("a non-member's /join of #board after the restart showed its history:\n%s", mallory.Screen())
	}
	if out, _, code := roomExec(t, c.Addr, "mallory", signers["mallory"], "tail -r board"); code == 0 || strings.Contains(out, "layoffs") {
		t.Errorf("tail -r board by a non-member: exit %d, output %q", code, out)
	}
	if out, _, code := roomExec(t, c.Addr, "mallory", signers["mallory"], "who -r board --json"); code == 0 {
		t.Errorf("who -r board by a non-member: exit 0, output %q", out)
	}
	if _, listed := roomList(t, c.Addr, "mallory", signers["mallory"])["board"]; listed {
		t.Error("rooms --json by a non-member lists #board")
	}

	// The admin still sees it as private, reads it and manages it.
	if r, ok := roomList(t, c.Addr, "root", signers["root"])["board"]; !ok || !r.Private {
		t.Errorf("rooms --json by the admin after the restart: #board %+v, listed %v; want private", r, ok)
	}
	if out, errOut, code := roomExec(t, c.Addr, "root", signers["root"], "tail -r board"); code != 0 || !strings.Contains(out, secret) {
		t.Errorf("tail -r board by the admin: exit %d, output %q %s", code, out, errOut)
	}
	root = roomDial(t, c, "root", signers["root"])
	if ok, screen := root.WaitFor(func(r []string) bool { return strings.Contains(r[0], "#board") }, 10*time.Second); !ok {
		t.Fatalf("the admin's membership of #board was not restored at connect:\n%s", screen)
	}
	if err := root.Type("/leave #board\r"); err != nil {
		t.Fatal(err)
	}
	if ok, screen := root.WaitFor(func(r []string) bool { return !strings.Contains(r[0], "#board") }, 10*time.Second); !ok {
		t.Fatalf("/leave #board left it in the header:\n%s", screen)
	}
	roomType(t, root, "/room remove #board", "#board was removed")

	roomType(t, mallory, "/join #board", "#board is private")
	c = roomRestart(t, c, data)
	mallory = roomDial(t, c, "mallory", signers["mallory"])
	roomType(t, mallory, "/join #board", "#board is private")
	if strings.Contains(mallory.Screen(), "layoffs") {
		t.Errorf("after removal and a restart, a non-member's /join showed #board's history:\n%s", mallory.Screen())
	}
	if out, _, code := roomExec(t, c.Addr, "mallory", signers["mallory"], "say -r board hello"); code == 0 {
		t.Errorf("say -r board by a non-member re-opened the removed private room: %q", out)
	}
	if _, listed := roomList(t, c.Addr, "root", signers["root"])["board"]; listed {
		t.Error("a removed room is listed after a restart")
	}
}

// TestRoomsAndMembershipsOutliveRestarts: a bot's say creates an open room
// on a fresh server as /join does; rooms answer who and tail after a
// restart with nobody joining first; the rooms a person joined come back
// when they reconnect and after a restart; a membership the room no longer
// admits (an admin demoted) is not restored. Issue 13 items 3 and 4.
func TestRoomsAndMembershipsOutliveRestarts(t *testing.T) {
	data := t.TempDir()
	names := []string{"alice", "carol", "ci", "root"}
	signers := roomKeys(t, data, nil, names, "carol", "root")
	c := testkit.StartBinary(t, data)

	// The README's bot examples, as written, on a fresh server.
	if out, errOut, code := roomExec(t, c.Addr, "ci", signers["ci"], `say -r ops "deploy finished"`); code != 0 {
		t.Fatalf("say -r ops on a fresh server: exit %d, %q %q", code, out, errOut)
	}
	if out, errOut, code := roomExec(t, c.Addr, "ci", signers["ci"], "who -r ops --json"); code != 0 || !strings.HasPrefix(out, "[") {
		t.Errorf("who -r ops --json: exit %d, %q %q", code, out, errOut)
	}

	alice := roomDial(t, c, "alice", signers["alice"])
	roomType(t, alice, "/join #dev", "#dev")
	roomType(t, alice, "dev is where we build", "dev is where we build")
	roomQuit(t, alice)
	alice = roomDial(t, c, "alice", signers["alice"])
	roomType(t, alice, "/rooms", "Rooms:")
	if ok, screen := alice.WaitFor(func(r []string) bool { return durRowAll(r, "#dev", "joined") >= 0 }, 10*time.Second); !ok {
		t.Errorf("alice is not in #dev after reconnecting; screen:\n%s", screen)
	}
	roomQuit(t, alice)

	// carol, an admin, joins root's private room without an invitation.
	root := roomDial(t, c, "root", signers["root"])
	if err := root.Type("/room private #board\r"); err != nil {
		t.Fatal(err)
	}
	roomShows(t, root, "#board")
	carol := roomDial(t, c, "carol", signers["carol"])
	roomType(t, carol, "/join #board", "#board")
	roomQuit(t, carol)
	roomQuit(t, root)

	// carol is no longer an admin; then a restart.
	roomKeys(t, data, signers, names, "root")
	c = roomRestart(t, c, data)

	for _, cmd := range []string{"tail -r ops", "tail -r dev", "who -r dev --json"} {
		out, errOut, code := roomExec(t, c.Addr, "ci", signers["ci"], cmd)
		if code != 0 {
			t.Errorf("%s after a restart, nobody joined: exit %d, %q %q", cmd, code, out, errOut)
		}
		if cmd == "tail -r ops" && !strings.Contains(out, "deploy finished") {
			t.Errorf("tail -r ops after a restart lacks the bot's message: %q", out)
		}
	}
	alice = roomDial(t, c, "alice", signers["alice"])
	roomType(t, alice, "/rooms", "Rooms:")
	if ok, screen := alice.WaitFor(func(r []string) bool { return durRowAll(r, "#dev", "joined") >= 0 }, 10*time.Second); !ok {
		t.Errorf("alice is not in #dev after a restart; screen:\n%s", screen)
	}
	if err := alice.Type("/leave #dev\r"); err != nil {
		t.Fatal(err)
	}
	if ok, screen := alice.WaitFor(func(r []string) bool { return !strings.Contains(r[0], "#dev") }, 10*time.Second); !ok {
		t.Fatalf("/leave #dev left #dev in the header:\n%s", screen)
	}
	roomQuit(t, alice)
	alice = roomDial(t, c, "alice", signers["alice"])
	roomType(t, alice, "/rooms", "Rooms:")
	if ok, screen := alice.WaitFor(func(r []string) bool { return durRow(r, "#dev") >= 0 }, 10*time.Second); !ok || durRowAll(strings.Split(screen, "\n"), "#dev", "joined") >= 0 {
		t.Errorf("alice left #dev but after reconnecting: screen:\n%s", screen)
	}

	carol = roomDial(t, c, "carol", signers["carol"])
	roomType(t, carol, "/rooms", "Rooms:")
	if screen := carol.Screen(); strings.Contains(screen, "#board") {
		t.Errorf("carol, no longer an admin, was put back in the private #board:\n%s", screen)
	}
	roomType(t, carol, "/join #board", "#board is private")
}

// durRowAll returns the first row containing every one of texts, or -1.
func durRowAll(rows []string, texts ...string) int {
next:
	for i, r := range rows {
		for _, s := range texts {
			if !strings.Contains(r, s) {
				continue next
			}
		}
		return i
	}
	return -1
}
