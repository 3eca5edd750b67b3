package durability

// Helpers of the cluster fault tests (cluster_test.go): parley binaries
// as nodes of one NATS JetStream, senders whose tokens are counted as
// accepted when they reach a screen, and the checks against the room's
// stream.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/ssh"

	"parley/internal/testkit"
	"parley/natslog"
	"parley/room"
)

// clusterNode is one parley binary started with --nats, restartable on
// its data dir.
type clusterNode struct {
	name string
	data string
	args []string
	c    *testkit.Child
}

// startClusterNodes starts one parley node per name on the NATS servers
// urls, each with its own data dir, the same authorized_keys (one key per
// user) and an ops listener, and returns them with the users' signers.
func startClusterNodes(t *testing.T, urls string, replicas int, nodeNames, users []string) ([]*clusterNode, map[string]ssh.Signer) {
	t.Helper()
	var signers map[string]ssh.Signer
	var keys []byte
	var nodes []*clusterNode
	for i, name := range nodeNames {
		n := &clusterNode{name: name, data: t.TempDir(), args: []string{
			"--nats", urls, "--nats-replicas", strconv.Itoa(replicas), "--node", name,
			"--msg-rate", "inf", "--ops", "127.0.0.1:0"}}
		if i == 0 {
			signers = durKeys(t, n.data, users...)
			var err error
			if keys, err = os.ReadFile(filepath.Join(n.data, "authorized_keys")); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(filepath.Join(n.data, "authorized_keys"), keys, 0o600); err != nil {
			t.Fatal(err)
		}
		n.start(t)
		nodes = append(nodes, n)
	}
	return nodes, signers
}

func (n *clusterNode) start(t *testing.T) {
	t.Helper()
	n.c = testkit.StartBinary(t, n.data, n.args...)
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *clusterNode) kill(t *testing.T) {
	t.Helper()
	if err := n.c.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("%s: kill: %v", n.name, err)
	}
	_ = n.c.WaitExit(t, 20*time.Second)
}

// readyz returns the node's /readyz status and body.
func (n *clusterNode) readyz() (int, string, error) { return n.get("/readyz") }

// get asks the node's ops listener for path.
func (n *clusterNode) get(path string) (int, string, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Get("http://" + n.c.Ops + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), nil
}

// waitReadyz waits until /readyz answers want (200 or 503) and returns the
// body.
func (n *clusterNode) waitReadyz(t *testing.T, want int, timeout time.Duration) string {
	t.Helper()
	var code int
	var body string
	var err error
	if !testkit.Poll(timeout, 20*time.Millisecond, func() bool {
		code, body, err = n.readyz()
		return err == nil && code == want
	}) {
		t.Fatalf("%s: /readyz is %d %q (%v) after %v, want %d", n.name, code, body, err, timeout, want)
	}
	return body
}

// clusterTokenRE finds "sN cR-S-N-CCCCCC" on a screen row: a chat message
// of sender sN carrying a token (the input box shows "> c..." and never
// matches). CCCCCC is a check, as durTokenRE's: a row caught half redrawn
// does not pass.
var clusterTokenRE = regexp.MustCompile(`(?:^|[\s│])s(\d+) (c(\d+)-(\d+)-(\d+)-([0-9a-f]{6}))(?:$|[\s│])`)

var clusterStoredRE = regexp.MustCompile(`^c(\d+)-(\d+)-(\d+)-([0-9a-f]{6})$`)

type clusterTok struct{ round, sender, n int }

// clusterTokens counts the tokens of a test: typed, and accepted (seen on
// some screen). Senders keep at most clusterWindow tokens typed and not
// yet seen on their current connection.
type clusterTokens struct {
	nonce   uint64
	senders int

	mu        sync.Mutex
	round     int
	typed     map[string]clusterTok
	accepted  map[string]clusterTok
	pending   []int         // by sender: typed on the current connection, not seen yet
	next      []int         // by sender: the next n of this round
	seenRound []int         // by sender: accepted this round
	changed   chan struct{} // closed and replaced on every token accepted
	phantoms  []string
}

const (
	clusterWindow = 8
	clusterPace   = 2 * time.Millisecond
	clusterCols   = 100
	clusterRows   = 40
)

func newClusterTokens(nonce uint64, senders int) *clusterTokens {
	return &clusterTokens{nonce: nonce, senders: senders, typed: map[string]clusterTok{},
		accepted: map[string]clusterTok{}, changed: make(chan struct{})}
}

func (ct *clusterTokens) check(round, sender, n int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d/%d", ct.nonce, round, sender, n)
	return fmt.Sprintf("%06x", h.Sum64()&0xffffff)
}

// startRound begins round r: every sender's count starts again.
func (ct *clusterTokens) startRound(r int) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.round = r
	ct.pending = make([]int, ct.senders)
	ct.next = make([]int, ct.senders)
	ct.seenRound = make([]int, ct.senders)
}

// reconnected forgets what senders typed on connections that are gone:
// those tokens are not accepted (they may or may not be stored).
func (ct *clusterTokens) reconnected() {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	clear(ct.pending)
}

// accepted reports how many tokens of this round sender has had accepted.
func (ct *clusterTokens) acceptedBy(sender int) int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.seenRound[sender]
}

func (ct *clusterTokens) acceptedRound() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	n := 0
	for _, s := range ct.seenRound {
		n += s
	}
	return n
}

// waitAccepted waits until cond holds over the counts, or timeout.
func (ct *clusterTokens) waitAccepted(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		ct.mu.Lock()
		ch := ct.changed
		ct.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return cond()
		}
	}
}

// typeNext registers sender's next token once its window has room, or
// returns "" when stop is closed first.
func (ct *clusterTokens) typeNext(sender int, stop <-chan struct{}) string {
	for {
		ct.mu.Lock()
		ch := ct.changed
		if ct.pending[sender] < clusterWindow {
			n := ct.next[sender]
			ct.next[sender]++
			ct.pending[sender]++
			tok := fmt.Sprintf("c%d-%d-%d-%s", ct.round, sender, n, ct.check(ct.round, sender, n))
			ct.typed[tok] = clusterTok{ct.round, sender, n}
			ct.mu.Unlock()
			return tok
		}
		ct.mu.Unlock()
		select {
		case <-ch:
		case <-stop:
			return ""
		}
	}
}

// scan records the tokens on a screen (a reader goroutine's OnScreen).
func (ct *clusterTokens) scan(rows []string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for _, row := range rows {
		if !strings.Contains(row, " c") {
			continue
		}
		for _, m := range clusterTokenRE.FindAllStringSubmatch(row, -1) {
			r, _ := strconv.Atoi(m[3])
			s, _ := strconv.Atoi(m[4])
			n, _ := strconv.Atoi(m[5])
			if m[1] != m[4] || ct.check(r, s, n) != m[6] {
				continue // a row caught half redrawn
			}
			tok := m[2]
			if _, ok := ct.typed[tok]; !ok {
				ct.phantoms = append(ct.phantoms, tok)
				continue
			}
			if _, ok := ct.accepted[tok]; ok {
				continue
			}
			ct.accepted[tok] = clusterTok{r, s, n}
			if r == ct.round && s < ct.senders {
				ct.seenRound[s]++
				ct.pending[s] = max(ct.pending[s]-1, 0)
			}
			close(ct.changed)
			ct.changed = make(chan struct{})
		}
	}
}

// clusterSenders are the sessions of one phase: each types its tokens at
// clusterPace within its window until stop.
type clusterSenders struct {
	pace    time.Duration // between two tokens of one sender, at most this fast
	clients []*durClient
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// connectSenders opens a screen for each sender (s0, s1, ...) on the node
// its index picks in addrs (sender i on addrs[i%len(addrs)]) and waits for
// the chat.
func connectSenders(t *testing.T, ct *clusterTokens, addrs []string, signers map[string]ssh.Signer) *clusterSenders {
	t.Helper()
	cs := &clusterSenders{pace: clusterPace, clients: make([]*durClient, ct.senders), stop: make(chan struct{})}
	errs := make([]error, ct.senders)
	var wg sync.WaitGroup
	for i := range ct.senders {
		wg.Go(func() {
			name := fmt.Sprintf("s%d", i)
			cl, err := durDial(addrs[i%len(addrs)], name, signers[name], clusterCols, clusterRows, ct.scan)
			if err == nil {
				if ok, screen := cl.WaitFor(func(rows []string) bool { return durRow(rows, "#lobby") >= 0 }, testkit.WaitTimeout); !ok {
					cl.Close()
					cl, err = nil, fmt.Errorf("%s: no chat screen; got:\n%s", name, screen)
				}
			}
			cs.clients[i], errs[i] = cl, err
		})
	}
	wg.Wait()
	t.Cleanup(cs.close)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return cs
}

// typeAway starts every sender typing.
func (cs *clusterSenders) typeAway(ct *clusterTokens) {
	for i, cl := range cs.clients {
		cs.wg.Go(func() {
			tick := time.NewTicker(cs.pace)
			defer tick.Stop()
			for {
				select {
				case <-cs.stop:
					return
				case <-tick.C:
				}
				tok := ct.typeNext(i, cs.stop)
				if tok == "" || cl.Type(tok+"\r") != nil {
					return
				}
			}
		})
	}
}

// halt stops the typing and waits for the typists.
func (cs *clusterSenders) halt() {
	cs.once.Do(func() { close(cs.stop) })
	cs.wg.Wait()
}

func (cs *clusterSenders) close() {
	cs.halt()
	for _, cl := range cs.clients {
		if cl != nil {
			cl.Close()
		}
	}
}

// streamRecord is one message of the room's stream as the test reads it.
type streamRecord struct {
	Seq  uint64
	Kind room.Kind `json:"k"`
	From string    `json:"f"`
	Text string    `json:"x"`
}

// readStream reads every message of room's stream from the NATS servers
// urls: JetStream is the source of truth in cluster mode.
func readStream(t *testing.T, urls, roomName string) []streamRecord {
	t.Helper()
	nc, err := nats.Connect(urls, nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("read the stream: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var s jetstream.Stream
	if !testkit.Poll(testkit.WaitTimeout, 50*time.Millisecond, func() bool {
		s, err = js.Stream(ctx, natslog.StreamName(roomName))
		return err == nil
	}) {
		t.Fatalf("stream of #%s: %v", roomName, err)
	}
	st := s.CachedInfo().State
	var out []streamRecord
	for seq := st.FirstSeq; seq <= st.LastSeq && seq > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream of #%s, message %d of %d..%d: %v", roomName, seq, st.FirstSeq, st.LastSeq, err)
		}
		var r streamRecord
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		r.Seq = seq
		out = append(out, r)
	}
	return out
}

// checkStream checks the tokens in the stream: each stored once, every
// stored one typed and from its sender, each sender's tokens of a round in
// the order typed, and every accepted token there. It returns how many
// tokens are stored.
func (ct *clusterTokens) checkStream(t *testing.T, recs []streamRecord) int {
	t.Helper()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if len(ct.phantoms) > 0 {
		t.Fatalf("tokens on screen that were never typed (a scanning bug): %v", ct.phantoms)
	}
	stored := map[string]uint64{}
	lastN := map[[2]int]int{}
	for _, r := range recs {
		if r.Kind != room.KindChat {
			continue
		}
		m := clusterStoredRE.FindStringSubmatch(r.Text)
		if m == nil {
			continue // a line of the test's own (TestClusterAllNATSDown...)
		}
		tk, ok := ct.typed[r.Text]
		if !ok {
			t.Errorf("stored token %q (seq %d) was never typed", r.Text, r.Seq)
			continue
		}
		if want := fmt.Sprintf("s%d", tk.sender); r.From != want {
			t.Errorf("token %q stored as sent by %q, want %q", r.Text, r.From, want)
		}
		if first, ok := stored[r.Text]; ok {
			t.Errorf("DUPLICATE: token %q stored at seq %d and %d", r.Text, first, r.Seq)
			continue
		}
		stored[r.Text] = r.Seq
		key := [2]int{tk.round, tk.sender}
		if prev, ok := lastN[key]; ok && tk.n <= prev {
			t.Errorf("sender s%d's tokens of round %d stored out of order: %d after %d", tk.sender, tk.round, tk.n, prev)
		}
		lastN[key] = tk.n
	}
	var lost []string
	for tok, tk := range ct.accepted {
		if _, ok := stored[tok]; !ok {
			lost = append(lost, fmt.Sprintf("%s (round %d, s%d, #%d)", tok, tk.round, tk.sender, tk.n))
		}
	}
	if len(lost) > 0 {
		t.Errorf("LOST: %d accepted token(s) are not in the stream: %s", len(lost), strings.Join(lost, ", "))
	}
	return len(stored)
}

// tailJSON is one line of `tail --json`.
type tailJSON struct {
	ID   uint64 `json:"id"`
	From string `json:"from"`
	Text string `json:"text"`
	Kind string `json:"kind"`
}

// checkSameOnNodes runs `tail -n 1000 --json` on every node and fails
// unless each prints the stream's last 1000 messages (its chat messages,
// by sequence and text): the same messages, numbers and order on all.
func checkSameOnNodes(t *testing.T, nodes []*clusterNode, signer ssh.Signer, recs []streamRecord) {
	t.Helper()
	last := recs[max(len(recs)-1000, 0):]
	var want []tailJSON
	for _, r := range last {
		if r.Kind == room.KindChat {
			want = append(want, tailJSON{ID: r.Seq, From: r.From, Text: r.Text, Kind: "chat"})
		}
	}
	if len(want) == 0 {
		t.Fatal("the stream holds no chat message")
	}
	for _, n := range nodes {
		var diff string
		began := time.Now()
		// A node shows what the stream holds once its subscription has
		// delivered it: give it time, and say how long it took.
		if !testkit.Poll(testkit.WaitTimeout, 100*time.Millisecond, func() bool {
			diff = tailDiff(t, n, signer, want)
			return diff == ""
		}) {
			t.Errorf("%s after %v", diff, testkit.WaitTimeout)
		} else if lag := time.Since(began); lag > time.Second {
			t.Logf("node %s showed the stream's last messages after %v", n.name, lag.Round(time.Millisecond))
		}
	}
}

// tailDiff compares a node's tail -n 1000 with want; "" when the same.
func tailDiff(t *testing.T, n *clusterNode, signer ssh.Signer, want []tailJSON) string {
	out, errOut, code := roomExec(t, n.c.Addr, "s0", signer, "tail -n 1000 --json")
	if code != 0 {
		return fmt.Sprintf("%s: tail exited %d: %s", n.name, code, errOut)
	}
	var got []tailJSON
	for line := range strings.Lines(out) {
		var tj tailJSON
		if err := json.Unmarshal([]byte(line), &tj); err != nil {
			return fmt.Sprintf("%s: tail printed %q: %v", n.name, line, err)
		}
		if tj.Kind == "chat" {
			got = append(got, tj)
		}
	}
	for j := range max(len(got), len(want)) {
		var g, w tailJSON
		if j < len(got) {
			g = got[j]
		}
		if j < len(want) {
			w = want[j]
		}
		if g != w {
			return fmt.Sprintf("node %s's tail -n 1000 shows %d chat messages (#%d..), the stream's last 1000 hold %d (#%d..); the first difference, at %d: the node shows %+v, the stream has %+v",
				n.name, len(got), firstID(got), len(want), firstID(want), j, g, w)
		}
	}
	return ""
}

func firstID(l []tailJSON) uint64 {
	if len(l) == 0 {
		return 0
	}
	return l[0].ID
}
