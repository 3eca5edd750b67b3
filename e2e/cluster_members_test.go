package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/internal/testkit"
	"parley/keys"
	"parley/natsaccess"
)

// sharedRoomsOf reads u's rooms as the cluster keeps them (PARLEY_MEMBERS,
// keyed by the hex SHA-256 of the identity).
func sharedRoomsOf(t *testing.T, js *jetStream, u *user) []string {
	t.Helper()
	nc, err := nats.Connect(natsURL(js))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	j, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	kv, err := j.KeyValue(ctx, natsaccess.MembersBucket)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(u.fp))
	e, err := kv.Get(ctx, hex.EncodeToString(sum[:]))
	if err != nil {
		return nil
	}
	var v struct {
		Rooms []string `json:"rooms"`
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		t.Fatal(err)
	}
	return v.Rooms
}

// headerRooms lists the rooms the screen's header shows, sorted.
func headerRooms(screen string) []string {
	first, _, _ := strings.Cut(screen, "\n")
	var out []string
	for _, m := range regexp.MustCompile(`#([a-z0-9_-]+)`).FindAllStringSubmatch(first, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The rooms a person joined follow them to any node (issue 15,
// memberships): bob /joins #dev and #ops on node A, reconnects through
// node B and is in both; he connects to A again and /leaves #dev on B,
// which takes his A screen out of #dev too; after both nodes restart he
// is in #ops and not #dev on A as on B.
func TestMembershipsFollowAPersonAcrossNodes(t *testing.T) {
	js := startJetStream(t)
	bob := newUser(t, "bob")
	dirA, dirB := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dirA, "authorized_keys"), bob.line("")+"\n")
	writeFile(t, filepath.Join(dirB, "authorized_keys"), "")
	a := startServer(t, withSharedAccess(t, js, dirA))
	b := startServer(t, withSharedAccess(t, js, dirB))
	b.waitKeys(t, "bob's key on node B", func(s *keys.Snapshot) bool { _, ok := s.Lookup(bob.pub); return ok })

	ca := a.connect(t, bob)
	ca.Say(t, "/join #dev")
	ca.WaitFor(t, header(`^ #dev `), waitTimeout)
	ca.Say(t, "/join #ops")
	ca.WaitFor(t, header(`^ #ops `), waitTimeout)
	start := time.Now()
	waitShared(t, js, bob, "[dev ops]")
	t.Logf("bob's /join on A in the cluster %v after his screen showed it", time.Since(start).Round(time.Millisecond))
	ca.Close()

	cb := b.connect(t, bob)
	s := cb.WaitFor(t, func(s string) bool { return fmt.Sprint(headerRooms(s)) == "[dev lobby ops]" }, waitTimeout)
	if !hasMember(b, "dev", bob) {
		t.Fatalf("bob is not in #dev on node B; screen:\n%s", frame(s))
	}
	// Back on A too, with the B screen open: a /leave on B takes the A
	// screen out of #dev within 2 s, as one screen's /leave does the other's
	// on one node.
	ca = a.connect(t, bob)
	ca.WaitFor(t, func(s string) bool { return fmt.Sprint(headerRooms(s)) == "[dev lobby ops]" }, waitTimeout)
	start = time.Now()
	cb.Say(t, "/leave #dev")
	cb.WaitFor(t, func(s string) bool { return fmt.Sprint(headerRooms(s)) == "[lobby ops]" }, waitTimeout)
	ca.WaitFor(t, func(s string) bool { return fmt.Sprint(headerRooms(s)) == "[lobby ops]" }, propagation)
	t.Logf("bob's /leave on B reached his screen on A %v after he typed it", time.Since(start).Round(time.Millisecond))
	waitShared(t, js, bob, "[ops]")
	ca.Close()
	cb.Close()

	for _, ts := range []*testServer{a, b} {
		if err := ts.Close(); err != nil {
			t.Fatal(err)
		}
	}
	a = startServer(t, withSharedAccess(t, js, dirA))
	b = startServer(t, withSharedAccess(t, js, dirB))
	for _, ts := range []*testServer{a, b} {
		c := ts.connect(t, bob)
		s := c.WaitFor(t, header(`#ops`), waitTimeout)
		if got := fmt.Sprint(headerRooms(s)); got != "[lobby ops]" || hasMember(ts, "dev", bob) {
			t.Errorf("bob's rooms on %s after both restarted: %s, want lobby and ops (he left #dev on B); screen:\n%s", ts.addr, got, frame(s))
		}
		c.Close()
	}
}

// waitShared waits until the cluster keeps u's rooms as want.
func waitShared(t *testing.T, js *jetStream, u *user, want string) {
	t.Helper()
	if !testkit.Poll(propagation, 20*time.Millisecond, func() bool { return fmt.Sprint(sharedRoomsOf(t, js, u)) == want }) {
		t.Fatalf("%s's rooms in the cluster: %v, want %s within %v", u.name, sharedRoomsOf(t, js, u), want, propagation)
	}
}

// hasMember reports whether u is in room name on ts's hub.
func hasMember(ts *testServer, name string, u *user) bool {
	for _, m := range ts.hub().Members(name) {
		if m.ID == u.fp {
			return true
		}
	}
	return false
}
