// Package durability holds the end-to-end tests that run the real parley
// binary (built once per package run by testkit.Binary) and stop, kill and
// restart it: nothing accepted is lost, and rules and rooms outlive a
// restart. They moved here from the root package (issue 14) and keep
// their names and assertions.
package durability

// Durability tests against the real binary: history survives SIGKILL and
// SIGTERM mid-burst, a restart shows the earlier conversation and where
// each person left off, and a full disk refuses messages without hurting
// anything else.
//
// "Accepted" means what a person would call it: the sender saw the message
// on the screen. The server stores a batch before it shows it to anyone
// (room.run), so anything seen on any screen must be in the database,
// exactly once, after any crash.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/internal/testkit"
	"parley/room"
)

// The stream's shape. Every sender keeps at most durWindow tokens typed
// and not yet seen, so the server always has work queued or committing
// when it is killed.
const (
	durSenders   = 3
	durWindow    = 8
	durPace      = 2 * time.Millisecond // between two tokens of one sender, at most this fast
	durMaxKillAt = 60                   // a round is killed after 1..durMaxKillAt accepted tokens
	durCols      = 100
	durRows      = 40
	// The database is checked in full after every round until the room
	// holds durFullBelow messages, then every durFullEvery rounds and
	// after the last.
	durFullBelow = 1000
	durFullEvery = 10
	// Every durStallEvery rounds the database is locked (a stalled disk)
	// before the signal.
	durStallEvery = 4
)

// durTokenRE finds "sN kR-S-N-CCCCCC" on a screen row: a chat message of
// sender sN carrying a token. The input box shows "> kR-..." and never
// matches. CCCCCC is a check over (nonce, R, S, N): the server redraws only
// the cells that change, so a row caught half redrawn between two chunks
// of output can mix two messages; such a mix almost never has a valid
// check (and a mix of two senders fails the name test).
var durTokenRE = regexp.MustCompile(`(?:^|[\s│])s(\d+) (k(\d+)-(\d+)-(\d+)-([0-9a-f]{6}))(?:$|[\s│])`)

type durTok struct{ round, sender, n int }

// durStream tracks the tokens of one test across rounds.
type durStream struct {
	nonce uint64

	mu       sync.Mutex
	typed    map[string]durTok // every token typed, all rounds
	accepted map[string]durTok // every token seen on some screen, all rounds
	phantoms []string          // tokens of this round seen before they were typed

	// What the database checks found so far (used by the test goroutine
	// only, between rounds).
	upTo   uint64            // messages 1..upTo checked
	stored map[string]uint64 // token -> seq
	lastN  map[[2]int]int    // (round, sender) -> the last n stored

	// This round.
	round    int
	seen     int   // tokens of this round seen
	ownSeen  []int // by sender
	killAt   int
	kill     chan struct{} // closed when seen reaches killAt
	changed  chan struct{} // closed and replaced on every new token seen
	roundTyp int
}

func newDurStream(nonce uint64) *durStream {
	return &durStream{nonce: nonce, typed: map[string]durTok{}, accepted: map[string]durTok{},
		stored: map[string]uint64{}, lastN: map[[2]int]int{}}
}

func (st *durStream) check(round, sender, n int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d/%d", st.nonce, round, sender, n)
	return fmt.Sprintf("%06x", h.Sum64()&0xffffff)
}

func (st *durStream) token(round, sender, n int) string {
	return fmt.Sprintf("k%d-%d-%d-%s", round, sender, n, st.check(round, sender, n))
}

// parse reads a stored text as a token of this test.
func (st *durStream) parse(text string) (durTok, bool) {
	m := regexp.MustCompile(`^k(\d+)-(\d+)-(\d+)-([0-9a-f]{6})$`).FindStringSubmatch(text)
	if m == nil {
		return durTok{}, false
	}
	r, _ := strconv.Atoi(m[1])
	s, _ := strconv.Atoi(m[2])
	n, _ := strconv.Atoi(m[3])
	if st.check(r, s, n) != m[4] {
		return durTok{}, false
	}
	return durTok{r, s, n}, true
}

func (st *durStream) startRound(round, killAt int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.round, st.seen, st.killAt, st.roundTyp = round, 0, killAt, 0
	st.ownSeen = make([]int, durSenders)
	st.kill = make(chan struct{})
	st.changed = make(chan struct{})
}

// typeNext registers the next token of sender once its window has room,
// or returns "" when stop is closed first.
func (st *durStream) typeNext(sender, n int, stop <-chan struct{}) string {
	for {
		st.mu.Lock()
		room := n-st.ownSeen[sender] < durWindow
		ch := st.changed
		if room {
			tok := st.token(st.round, sender, n)
			st.typed[tok] = durTok{st.round, sender, n}
			st.roundTyp++
			st.mu.Unlock()
			return tok
		}
		st.mu.Unlock()
		select {
		case <-ch:
		case <-stop:
			return ""
		}
	}
}

// scan records the tokens of this round on a screen.
func (st *durStream) scan(rows []string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, row := range rows {
		if !strings.Contains(row, " k") {
			continue // cheap: most rows carry no token
		}
		for _, m := range durTokenRE.FindAllStringSubmatch(row, -1) {
			r, _ := strconv.Atoi(m[3])
			s, _ := strconv.Atoi(m[4])
			n, _ := strconv.Atoi(m[5])
			if m[1] != m[4] || st.check(r, s, n) != m[6] {
				continue // a row caught half redrawn
			}
			tok := m[2]
			if r != st.round {
				continue // an earlier round's, shown as history on joining
			}
			if _, ok := st.typed[tok]; !ok {
				st.phantoms = append(st.phantoms, tok)
				continue
			}
			if _, ok := st.accepted[tok]; ok {
				continue
			}
			st.accepted[tok] = durTok{r, s, n}
			st.seen++
			if s < len(st.ownSeen) {
				st.ownSeen[s]++
			}
			if st.seen == st.killAt {
				close(st.kill)
			}
			close(st.changed)
			st.changed = make(chan struct{})
		}
	}
}

// durRoundStats are the figures of one round, for the log.
type durRoundStats struct {
	killAt, typed, seen, stored, storedUnseen, roomSize int
	seenStalled                                         int // tokens that reached a screen while the database was locked
	took                                                time.Duration
}

func durRounds(t *testing.T, short, long int) int {
	if os.Getenv("PARLEY_LONG_CRASH") == "1" {
		return long
	}
	return short
}

func durSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("PARLEY_CRASH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("PARLEY_CRASH_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("seed %d (rerun with PARLEY_CRASH_SEED=%d)", seed, seed)
	return seed
}

// durStopMidBurst runs rounds: start the server on one data dir, connect
// durSenders senders, stream tokens, stop the server with sig after a
// random number of accepted tokens, then check the database.
func durStopMidBurst(t *testing.T, sig syscall.Signal, rounds int) {
	if testing.Short() {
		t.Skip("starts the server many times")
	}
	start := time.Now()
	seed := durSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	data := t.TempDir()
	names := make([]string, durSenders)
	for i := range names {
		names[i] = fmt.Sprintf("s%d", i)
	}
	signers := durKeys(t, data, names...)
	st := newDurStream(rng.Uint64())

	var total durRoundStats
	for round := 1; round <= rounds; round++ {
		rs := durRound(t, sig, round, round == rounds, data, names, signers, st, rng)
		total.typed += rs.typed
		total.seen += rs.seen
		total.storedUnseen += rs.storedUnseen
		total.roomSize = rs.roomSize
		if t.Failed() {
			t.Fatalf("stopping after round %d", round)
		}
	}
	// One last start on what the rounds left: the newest message stored is
	// in the history someone joining is shown.
	newest, newestSeq := "", uint64(0)
	for tok, seq := range st.stored {
		if seq > newestSeq {
			newest, newestSeq = tok, seq
		}
	}
	if tk, ok := st.parse(newest); ok {
		c := testkit.StartBinary(t, data, "--msg-rate", "inf")
		cl, err := durDial(c.Addr, names[0], signers[names[0]], durCols, durRows, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		from := names[tk.sender]
		if ok, screen := cl.WaitFor(func(r []string) bool { return durChatRow(r, from, newest) >= 0 }, 15*time.Second); !ok {
			t.Errorf("after the last restart, the newest stored message (%s: %s, seq %d) is not in the history shown on joining:\n%s", from, newest, newestSeq, screen)
		}
	}
	t.Logf("%d rounds with %v in %v: %d tokens typed, %d accepted (seen), %d stored though never seen, %d messages in the room; none lost, none duplicated",
		rounds, sig, time.Since(start).Round(time.Millisecond), total.typed, total.seen, total.storedUnseen, total.roomSize)
}

func durRound(t *testing.T, sig syscall.Signal, round int, last bool, data string, names []string, signers map[string]ssh.Signer, st *durStream, rng *rand.Rand) durRoundStats {
	began := time.Now()
	var rs durRoundStats
	stall := round%durStallEvery == 0
	killAt := 1 + rng.IntN(durMaxKillAt)
	st.startRound(round, killAt)
	c := testkit.StartBinary(t, data, "--msg-rate", "inf")

	// Connect every sender; each screen feeds the scanner.
	clients := make([]*durClient, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			cl, err := durDial(c.Addr, name, signers[name], durCols, durRows, st.scan)
			if err == nil {
				if ok, screen := cl.WaitFor(func(rows []string) bool { return durRow(rows, "#lobby") >= 0 }, 15*time.Second); !ok {
					cl.Close()
					cl, err = nil, fmt.Errorf("%s: no chat screen; got:\n%s", name, screen)
				}
			}
			clients[i], errs[i] = cl, err
		})
	}
	wg.Wait()
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("round %d: %v", round, err)
	}

	connected := time.Now()

	// Stream: every sender types its tokens at its pace, within its window.
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopTyping := func() { stopOnce.Do(func() { close(stop) }) }
	defer stopTyping()
	var typers sync.WaitGroup
	for i, cl := range clients {
		typers.Go(func() {
			tick := time.NewTicker(durPace)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				tok := st.typeNext(i, n, stop)
				if tok == "" || cl.Type(tok+"\r") != nil {
					return
				}
			}
		})
	}

	select {
	case <-st.kill:
	case <-time.After(30 * time.Second):
		stopTyping()
		typers.Wait()
		st.mu.Lock()
		seen, typed := st.seen, st.roundTyp
		st.mu.Unlock()
		t.Fatalf("round %d: only %d of the %d tokens needed were seen within 30s (%d typed); a screen:\n%s", round, seen, killAt, typed, clients[0].Screen())
	}
	var release func() // of the database lock, in stalled rounds
	defer func() {
		if release != nil {
			release()
		}
	}()
	if stall {
		// Every durStallEvery rounds, take the database's write lock and
		// let the stream run into it for a while before the signal: the
		// server can store nothing meanwhile, so it must show nothing it
		// had not stored before. A server that showed a batch before
		// storing it would have it on screen within a frame or two, and
		// lose it to the kill.
		var err error
		if release, err = durLockDB(filepath.Join(data, "parley.db")); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		st.mu.Lock()
		before := st.seen
		st.mu.Unlock()
		<-time.After(time.Duration(100+rng.IntN(200)) * time.Millisecond) // the stall (an observation window, not a wait for anything)
		st.mu.Lock()
		rs.seenStalled = st.seen - before
		st.mu.Unlock()
	} else if rng.IntN(2) == 1 {
		// Half the other rounds signal at once (right after a broadcast,
		// while the next batch is committing), the others at a random
		// moment within the next 3ms, anywhere in the commit/broadcast
		// cycle. This randomises timing; it synchronises nothing.
		<-time.After(time.Duration(rng.IntN(3000)) * time.Microsecond)
	}
	signalled := time.Now()
	if err := c.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("round %d: signal: %v", round, err)
	}
	if release != nil && sig != syscall.SIGKILL {
		// A graceful stop stores what is waiting: let it.
		release()
		release = nil
	}
	exitErr := c.WaitExit(t, 20*time.Second)
	if release != nil {
		release()
		release = nil
	}
	stopTyping()
	typers.Wait()
	stderr := c.Stderr.String() // safe: the process has exited
	switch sig {
	case syscall.SIGKILL:
		var ee *exec.ExitError
		if !errors.As(exitErr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: exit after SIGKILL: %v", round, exitErr)
		}
	default:
		if exitErr != nil {
			t.Fatalf("round %d: exit after %v: %v, want status 0; stderr:\n%s", round, sig, exitErr, testkit.Tail(stderr, 3000))
		}
		for _, bad := range []string{"storing messages failed", "shutdown was not clean", "level=ERROR"} {
			if strings.Contains(stderr, bad) {
				t.Errorf("round %d: the server logged %q while stopping:\n%s", round, bad, testkit.Tail(stderr, 3000))
			}
		}
		// A clean close checkpoints the WAL into the database and
		// removes it.
		if fi, err := os.Stat(filepath.Join(data, "parley.db-wal")); err == nil && fi.Size() > 0 {
			t.Errorf("round %d: after a clean stop the WAL still holds %d bytes (not checkpointed)", round, fi.Size())
		}
	}
	// Whatever reached a screen before the connections died counts: let
	// every reader finish.
	for _, cl := range clients {
		if !cl.WaitEnded(10 * time.Second) {
			t.Fatalf("round %d: %s: the session did not end after the server died", round, cl.name)
		}
	}

	stopped := time.Now()

	st.mu.Lock()
	rs.killAt, rs.typed, rs.seen = killAt, st.roundTyp, st.seen
	phantoms := append([]string(nil), st.phantoms...)
	accepted := make(map[string]durTok, len(st.accepted))
	for k, v := range st.accepted {
		accepted[k] = v
	}
	typed := make(map[string]durTok, len(st.typed))
	for k, v := range st.typed {
		typed[k] = v
	}
	st.mu.Unlock()
	if len(phantoms) > 0 {
		t.Fatalf("round %d: tokens on screen that were never typed (a scanning bug): %v", round, phantoms)
	}

	// Check the database: in full (every message, PRAGMA integrity_check
	// and the search index) while it is small and every durFullEvery
	// rounds after that, otherwise only the messages stored since the last
	// check. (The test process runs with -race, which makes the pure-Go
	// SQLite about a hundred times slower; a full check of every round
	// would make the long mode quadratic.)
	full := st.upTo < durFullBelow || round%durFullEvery == 0 || last
	since, stored, lastN := st.upTo, st.stored, st.lastN
	if full {
		since, stored, lastN = 0, map[string]uint64{}, map[[2]int]int{}
	}
	msgs := durHistory(t, data, "lobby", since, full)
	for _, m := range msgs {
		if m.Kind != room.KindChat {
			continue
		}
		tk, ok := st.parse(m.Text)
		if !ok {
			t.Errorf("round %d: stored chat message %d %q is not a token of this test", round, m.Seq, m.Text)
			continue
		}
		if _, ok := typed[m.Text]; !ok {
			t.Errorf("round %d: stored token %q (seq %d) was never typed", round, m.Text, m.Seq)
		}
		if want := fmt.Sprintf("s%d", tk.sender); m.From != want {
			t.Errorf("round %d: token %q stored as sent by %q, want %q", round, m.Text, m.From, want)
		}
		if first, ok := stored[m.Text]; ok {
			t.Errorf("round %d: DUPLICATE: token %q stored again at seq %d (first at seq %d)", round, m.Text, m.Seq, first)
			continue
		}
		stored[m.Text] = m.Seq
		key := [2]int{tk.round, tk.sender}
		if prev, ok := lastN[key]; ok && tk.n <= prev {
			t.Errorf("round %d: sender s%d's tokens of round %d stored out of order: %d after %d", round, tk.sender, tk.round, tk.n, prev)
		}
		lastN[key] = tk.n
		if tk.round == round {
			rs.stored++
			if _, ok := accepted[m.Text]; !ok {
				rs.storedUnseen++
			}
		}
	}
	if full { // what earlier checks found must still be there, where it was
		for tok, seq := range st.stored {
			if stored[tok] != seq {
				t.Errorf("round %d: token %q, stored at seq %d in an earlier round, is now at seq %d (0: gone)", round, tok, seq, stored[tok])
			}
		}
	}
	if len(msgs) > 0 {
		st.upTo = msgs[len(msgs)-1].Seq
	}
	st.stored, st.lastN = stored, lastN
	rs.roomSize = int(st.upTo)
	var lost []string
	for tok, tk := range accepted {
		if _, ok := stored[tok]; !ok {
			lost = append(lost, fmt.Sprintf("%s (round %d, sender s%d, #%d)", tok, tk.round, tk.sender, tk.n))
		}
	}
	if len(lost) > 0 {
		t.Errorf("round %d: LOST: %d token(s) seen on screen are missing from the database: %s\nserver stderr:\n%s", round, len(lost), strings.Join(lost, ", "), testkit.Tail(stderr, 3000))
	}
	verified := time.Now()
	rs.took = verified.Sub(began)
	check := "new messages checked"
	if full {
		check = "database checked in full"
	}
	how := fmt.Sprint(sig)
	if stall {
		how = fmt.Sprintf("%v (database locked first; %d seen meanwhile)", sig, rs.seenStalled)
	}
	ms := func(a, b time.Time) time.Duration { return b.Sub(a).Round(time.Millisecond) }
	t.Logf("round %2d: %v after %2d accepted: %3d typed, %3d seen, %3d stored (%d stored but not seen); room has %4d messages, %s; %v (start %v, stream %v, stop %v, check %v)",
		round, how, killAt, rs.typed, rs.seen, rs.stored, rs.storedUnseen, rs.roomSize, check,
		rs.took.Round(time.Millisecond), ms(began, connected), ms(connected, signalled), ms(signalled, stopped), ms(stopped, verified))
	return rs
}

// TestCrashLosesNothingAccepted kills the server with SIGKILL in the middle
// of a steady stream, round after round on the same database: everything a
// sender saw accepted is stored exactly once, and the database is sound.
func TestCrashLosesNothingAccepted(t *testing.T) {
	durStopMidBurst(t, syscall.SIGKILL, durRounds(t, 20, 200))
}

// TestSIGTERMDuringBurstLosesNothingAccepted stops the server gracefully in
// the middle of a stream: it exits 0, logs no failure, checkpoints its WAL,
// and everything accepted is stored exactly once.
func TestSIGTERMDuringBurstLosesNothingAccepted(t *testing.T) {
	durStopMidBurst(t, syscall.SIGTERM, durRounds(t, 5, 50))
}

// TestRestartShowsEarlierConversationAndUnreadMarker: bob leaves, alice
// goes on, the server restarts; bob comes back to the earlier conversation
// with the unread line between what he had read and what came since.
func TestRestartShowsEarlierConversationAndUnreadMarker(t *testing.T) {
	data := t.TempDir()
	signers := durKeys(t, data, "alice", "bob")
	c := testkit.StartBinary(t, data)
	const cols, rows = 100, 30
	dial := func(c *testkit.Child, name string) *durClient {
		t.Helper()
		cl, err := durDial(c.Addr, name, signers[name], cols, rows, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		cl.WaitText(t, "#lobby", 15*time.Second)
		return cl
	}
	waitChat := func(cl *durClient, from, text string) {
		t.Helper()
		if ok, screen := cl.WaitFor(func(r []string) bool { return durChatRow(r, from, text) >= 0 }, 10*time.Second); !ok {
			t.Fatalf("%s never saw %s say %q; screen:\n%s", cl.name, from, text, screen)
		}
	}
	say := func(cl *durClient, text string, others ...*durClient) {
		t.Helper()
		if err := cl.Type(text + "\r"); err != nil {
			t.Fatal(err)
		}
		for _, o := range append([]*durClient{cl}, others...) {
			waitChat(o, cl.name, text)
		}
	}

	alice, bob := dial(c, "alice"), dial(c, "bob")
	say(alice, "earlier-1 hello bob", bob)
	say(bob, "earlier-2 hi alice", alice)
	say(alice, "earlier-3 see you", bob)
	if err := bob.Type("/quit\r"); err != nil {
		t.Fatal(err)
	}
	if !bob.WaitEnded(10 * time.Second) {
		t.Fatalf("bob's session did not end after /quit; screen:\n%s", bob.Screen())
	}
	say(alice, "later-1 are you there")
	say(alice, "later-2 anyone")
	say(alice, "later-3 bye then")

	if err := c.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitExit(t, 20*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, testkit.Tail(c.Stderr.String(), 3000))
	}

	c = testkit.StartBinary(t, data)
	bob = dial(c, "bob")
	const marker = "new since you were last here"
	ok, screen := bob.WaitFor(func(r []string) bool {
		return durRow(r, marker) >= 0 && durChatRow(r, "alice", "later-3 bye then") >= 0
	}, 10*time.Second)
	if !ok {
		t.Fatalf("after the restart bob does not see the unread line and alice's later messages; screen:\n%s", screen)
	}
	r := strings.Split(screen, "\n")
	pos := []struct {
		what string
		row  int
	}{
		{"earlier-1", durChatRow(r, "alice", "earlier-1 hello bob")},
		{"earlier-2", durChatRow(r, "bob", "earlier-2 hi alice")},
		{"earlier-3 (the last bob saw)", durChatRow(r, "alice", "earlier-3 see you")},
		{"the unread line", durRow(r, marker)},
		{"later-1", durChatRow(r, "alice", "later-1 are you there")},
		{"later-2", durChatRow(r, "alice", "later-2 anyone")},
		{"later-3", durChatRow(r, "alice", "later-3 bye then")},
	}
	for i, p := range pos {
		if p.row < 0 {
			t.Errorf("%s is not on bob's screen", p.what)
		} else if i > 0 && pos[i-1].row >= 0 && p.row <= pos[i-1].row {
			t.Errorf("%s (row %d) is not below %s (row %d)", p.what, p.row, pos[i-1].what, pos[i-1].row)
		}
	}
	if strings.Count(screen, marker) != 1 {
		t.Errorf("the unread line appears %d times", strings.Count(screen, marker))
	}
	if t.Failed() {
		t.Logf("bob's screen after the restart:\n%s", screen)
	}
}

// TestReadOnlyDatabaseRefusesThenRecovers fills the file system under the
// database (a small tmpfs: chmod does not stop root, and a real full disk
// is what happens in production): the sender is told the message was not
// sent, nobody sees it, the server keeps serving, and once there is space
// again the next message is accepted and stored.
func TestReadOnlyDatabaseRefusesThenRecovers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs to fill (chmod cannot make the database read-only for root, and without root a tmpfs cannot be mounted)")
	}
	data := t.TempDir()
	if err := syscall.Mount("tmpfs", data, "tmpfs", 0, "size=8m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { // runs after the server's cleanup has killed it
		if err := syscall.Unmount(data, 0); err != nil {
			t.Errorf("unmount %s: %v", data, err)
			_ = syscall.Unmount(data, syscall.MNT_DETACH)
		}
	})
	signers := durKeys(t, data, "alice", "bob", "carol")
	c := testkit.StartBinary(t, data, "--msg-rate", "inf")

	// Everything ever shown on bob's screen, to prove the refused message
	// never reached anyone.
	var bobMu sync.Mutex
	bobSawRefused := false
	const refused = "refused-while-full"
	dial := func(name string, onScreen func([]string)) *durClient {
		t.Helper()
		cl, err := durDial(c.Addr, name, signers[name], 100, 30, onScreen)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		cl.WaitText(t, "#lobby", 15*time.Second)
		return cl
	}
	alice := dial("alice", nil)
	bob := dial("bob", func(rows []string) {
		if durChatRow(rows, "alice", refused) >= 0 {
			bobMu.Lock()
			bobSawRefused = true
			bobMu.Unlock()
		}
	})
	waitChat := func(cl *durClient, from, text string, timeout time.Duration) {
		t.Helper()
		if ok, screen := cl.WaitFor(func(r []string) bool { return durChatRow(r, from, text) >= 0 }, timeout); !ok {
			t.Fatalf("%s never saw %s say %q within %v; screen:\n%s", cl.name, from, text, timeout, screen)
		}
	}
	if err := alice.Type("before-full\r"); err != nil {
		t.Fatal(err)
	}
	waitChat(alice, "alice", "before-full", 10*time.Second)
	waitChat(bob, "alice", "before-full", 10*time.Second)

	// Take every free block.
	filler := filepath.Join(data, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10, 512} {
		chunk := make([]byte, size)
		for {
			if _, err := f.Write(chunk); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	f.Close()

	if err := alice.Type(refused + "\r"); err != nil {
		t.Fatal(err)
	}
	alice.WaitText(t, "not sent", 15*time.Second)
	if row := durChatRow(strings.Split(alice.Screen(), "\n"), "alice", refused); row >= 0 {
		t.Errorf("the refused message is on alice's screen as sent (row %d):\n%s", row, alice.Screen())
	}

	// The server keeps serving: someone new can come in while the disk is
	// full.
	carol := dial("carol", nil)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The room backs off (up to 5s) while the store fails; allow for it.
	if err := alice.Type("after-free\r"); err != nil {
		t.Fatal(err)
	}
	waitChat(alice, "alice", "after-free", 20*time.Second)
	waitChat(bob, "alice", "after-free", 10*time.Second)
	waitChat(carol, "alice", "after-free", 10*time.Second)
	bobMu.Lock()
	if bobSawRefused {
		t.Errorf("bob saw the message that alice was told was not sent")
	}
	bobMu.Unlock()

	if err := c.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exitErr := c.WaitExit(t, 20*time.Second)
	stderr := c.Stderr.String()
	if exitErr != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", exitErr, testkit.Tail(stderr, 3000))
	}
	if !strings.Contains(stderr, "storing messages failed") {
		t.Errorf("the server did not log the failed store; stderr:\n%s", testkit.Tail(stderr, 3000))
	}
	msgs := durHistory(t, data, "lobby", 0, true)
	count := map[string]int{}
	for _, m := range msgs {
		if m.Kind == room.KindChat {
			count[m.Text]++
		}
	}
	if count["before-full"] != 1 || count["after-free"] != 1 || count[refused] != 0 {
		t.Errorf("stored chat messages: %v; want before-full and after-free once each and not %s", count, refused)
	}
	joins := 0
	for _, m := range msgs {
		if m.Kind == room.KindJoin && m.From == "carol" {
			joins++
		}
	}
	if joins != 1 {
		t.Errorf("carol's join, made while the disk was full, is stored %d times, want once (kept and retried)", joins)
	}
}
