package e2e

// Helpers for the abuse suite (abuse_test.go) and the hostile-text corpus
// (hostile_test.go): a canary pair that keeps chatting through an attack
// and measures its latency, resource snapshots (goroutines, file
// descriptors, heap) with a wait for their return to baseline, clients that
// connect from a chosen loopback address, and a room observer that counts
// what the hub really broadcast.
//
// As in the harness, nothing sleeps to synchronise: waits are on a client's
// output (its changed channel) or poll a condition with a deadline.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/internal/testkit"
	"parley/room"
)

// ---------------------------------------------------------------------------
// The canary

// canaryTimeout is how long one canary token may take from alice's Enter
// to bob's screen before it counts as lost. Latencies are reported; this
// only bounds a wait.
const canaryTimeout = 10 * time.Second

// canary is an authenticated pair that keeps chatting during an attack:
// every interval alice types a unique token and bob must see it on his
// screen. Each token's latency (Enter to bob's screen) is recorded.
type canary struct {
	a, b     *client
	interval time.Duration

	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	lat    []time.Duration // of the tokens bob saw, in order
	lost   []string        // tokens bob never saw (within canaryTimeout)
	errs   []string        // anything else that went wrong
	window []time.Duration // latencies since the last mark (see markWindow)
	idle   latency         // before the attack (the warm-up)
}

// startCanary starts the canary on clients a (the sender) and b (the
// receiver), who must both be in the lobby already. interval paces the
// tokens: 100 ms without flood limits, slower with them (alice's own
// messages count against her bucket too). Cleanup stops it.
func startCanary(t *testing.T, a, b *client, interval time.Duration) *canary {
	t.Helper()
	c := &canary{a: a, b: b, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	t.Cleanup(c.halt)
	// Warm up: a few tokens through, so that the baseline includes a
	// chatting canary.
	eventually(t, 2*canaryTimeout, "the canary's first tokens", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.lat) >= warmUp || len(c.lost) > 0
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lost) > 0 || len(c.errs) > 0 {
		t.Fatalf("the canary does not work before the attack: lost %q, errors %q", c.lost, c.errs)
	}
	c.idle = summarise(c.lat[1:])
	c.lat, c.window = nil, nil // warm-up tokens do not count
	return c
}

// warmUp is how many tokens the canary sends, 100 ms apart, before it
// settles to its interval; all but the first give the latency before the
// attack.
const warmUp = 5

func (c *canary) run() {
	defer close(c.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		if i == warmUp {
			tick.Reset(c.interval)
		}
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		// The clients keep every byte they receive; the canary needs only
		// what arrives from now on, and the heap figures should not count
		// the test's own buffers.
		trimRaw(c.a)
		trimRaw(c.b)
		token := fmt.Sprintf("cnry%05dq", i)
		mark := c.b.RawLen()
		sent := time.Now()
		if err := c.a.Send(token + "\r"); err != nil {
			c.note(&c.errs, fmt.Sprintf("alice cannot type: %v", err))
			return
		}
		ok := waitOutput(c.b, canaryTimeout, c.stop, func(screen string, raw []byte) bool {
			return strings.Contains(screen, token) || bytes.Contains(raw[min(mark, len(raw)):], []byte(token))
		})
		d := time.Since(sent)
		c.mu.Lock()
		switch {
		case ok:
			c.lat = append(c.lat, d)
			c.window = append(c.window, d)
		case isClosed(c.stop):
			c.mu.Unlock()
			return
		default:
			c.lost = append(c.lost, token)
		}
		c.mu.Unlock()
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (c *canary) note(list *[]string, s string) {
	c.mu.Lock()
	*list = append(*list, s)
	c.mu.Unlock()
}

// halt stops the canary and waits for it; it is idempotent.
func (c *canary) halt() {
	c.mu.Lock()
	if !isClosed(c.stop) {
		close(c.stop)
	}
	c.mu.Unlock()
	<-c.done
}

// count is how many tokens bob has seen since the warm-up.
func (c *canary) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lat)
}

// waitTokens waits until bob has seen n more tokens than now: proof that
// the canary is chatting at this point of the attack.
func (c *canary) waitTokens(t *testing.T, n int, what string) {
	t.Helper()
	want := c.count() + n
	eventually(t, 2*canaryTimeout, fmt.Sprintf("%d canary tokens %s", n, what), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.lat) >= want || len(c.lost) > 0
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lost) > 0 {
		t.Fatalf("canary tokens lost %s: %q", what, c.lost)
	}
}

// latency summarises latencies.
type latency struct {
	n             int
	p50, p99, max time.Duration
}

func summarise(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return latency{n: len(s), p50: at(0.50), p99: at(0.99), max: s[len(s)-1]}
}

func (l latency) String() string {
	if l.n == 0 {
		return "no samples"
	}
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", l.n, l.p50.Round(100*time.Microsecond), l.p99.Round(100*time.Microsecond), l.max.Round(100*time.Microsecond))
}

// markWindow starts a new latency window (for "during the attack").
func (c *canary) markWindow() {
	c.mu.Lock()
	c.window = nil
	c.mu.Unlock()
}

// windowLatency summarises the latencies since markWindow.
func (c *canary) windowLatency() latency {
	c.mu.Lock()
	defer c.mu.Unlock()
	return summarise(c.window)
}

// finish stops the canary, fails the test if a token was lost or took
// longer than maxLatency, and returns the latency over the whole test.
func (c *canary) finish(t *testing.T, maxLatency time.Duration) latency {
	t.Helper()
	c.halt()
	c.mu.Lock()
	defer c.mu.Unlock()
	l := summarise(c.lat)
	if len(c.lost) > 0 {
		t.Errorf("canary: %d token(s) never reached bob's screen within %v: %q", len(c.lost), canaryTimeout, c.lost)
	}
	if len(c.errs) > 0 {
		t.Errorf("canary errors: %q", c.errs)
	}
	if l.n == 0 {
		t.Errorf("canary: no token went through during the test")
	} else if l.max > maxLatency {
		t.Errorf("canary: slowest token took %v, want at most %v (%v)", l.max, maxLatency, l)
	}
	return l
}

// trimRaw forgets what a client received so far (its screen stays). Only
// the canary calls it, between tokens, on its own clients: nobody else
// holds an offset into their raw output.
func trimRaw(c *client) { c.TrimRaw(64 << 10) }

// waitOutput is client.WaitFor for goroutines other than the test's (it
// cannot call t.Fatal): it waits until ok holds for the screen and the raw
// output, re-checking on every chunk, and reports whether it did. It gives
// up at the timeout, when stop is closed or when the output ends.
func waitOutput(c *client, timeout time.Duration, stop chan struct{}, ok func(screen string, raw []byte) bool) bool {
	held, _, _ := c.Await(timeout, stop, ok)
	return held
}

// release closes a client and drops its emulator and buffers, so that an
// attacker's client, still referenced by the harness's cleanup, does not
// count in the heap figures.
func release(c *client) {
	if c == nil {
		return
	}
	c.Release()
}

// ---------------------------------------------------------------------------
// Resources

// usage is a snapshot of the process: the server and every client run in
// it, so a leak on either side shows.
type usage struct {
	goroutines int
	fds        int
	heap       uint64 // HeapInuse after a GC
}

func (u usage) String() string {
	return fmt.Sprintf("goroutines=%d fds=%d heap=%.1fMiB", u.goroutines, u.fds, float64(u.heap)/(1<<20))
}

// measure takes a snapshot; it runs the garbage collector first.
func measure() usage {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{goroutines: runtime.NumGoroutine(), fds: openFDs(), heap: ms.HeapInuse}
}

// openFDs counts the process's open file descriptors (-1 if unknown).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// peakMeter samples goroutines and descriptors (cheap; no GC) while an
// attack runs, keeping the highest values; heap is sampled on demand.
type peakMeter struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak usage
}

func startPeakMeter() *peakMeter {
	p := &peakMeter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			p.sample(false)
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// sample records the current goroutines and descriptors, and the heap in
// use (without a GC) when withHeap.
func (p *peakMeter) sample(withHeap bool) {
	g, f := runtime.NumGoroutine(), openFDs()
	var h uint64
	if withHeap {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h = ms.HeapInuse
	}
	p.mu.Lock()
	p.peak.goroutines = max(p.peak.goroutines, g)
	p.peak.fds = max(p.peak.fds, f)
	p.peak.heap = max(p.peak.heap, h)
	p.mu.Unlock()
}

// end stops sampling and returns the peak.
func (p *peakMeter) end() usage {
	if !isClosed(p.stop) {
		close(p.stop)
	}
	<-p.done
	p.sample(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// slack is how far above the baseline a figure may stay after an attack.
type slack struct {
	goroutines int
	fds        int
	heap       uint64
}

// defaultSlack: goroutines come and go while the canary chats (bubbletea
// runs each command on a goroutine; a keepalive may be in flight; the
// hub's store writer wakes up), a descriptor or two may be between accept
// and close, and the heap holds bounded caches that fill as the test runs
// (the room's ring of 500 recent messages, the limiter and gate tables, the
// emulators' scrollback, the log buffer).
//
// A leaked session is about ten goroutines, a descriptor and a megabyte or
// more: the slack is below that.
var defaultSlack = slack{goroutines: 5, fds: 2, heap: 8 << 20}

// settle waits until the process is back within slack of base, and returns
// the figures it settled at. On timeout it fails the test (and goes on),
// with the goroutines' stacks grouped.
func settle(t *testing.T, what string, base usage, s slack, timeout time.Duration) usage {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		u := measure()
		if u.goroutines <= base.goroutines+s.goroutines && u.fds <= base.fds+s.fds && u.heap <= base.heap+s.heap {
			t.Logf("back to baseline after %v", time.Since(start).Round(time.Millisecond))
			return u
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 4<<20)
			n := runtime.Stack(buf, true)
			t.Errorf("%s: after %v the process has not returned to its baseline:\n  baseline %v\n  now      %v\n  slack    goroutines +%d, fds +%d, heap +%dMiB\ngoroutines:\n%s",
				what, timeout, base, u, s.goroutines, s.fds, s.heap>>20, summariseStacks(buf[:n]))
			return u
		}
		<-tick.C
	}
}

// summariseStacks groups a goroutine dump by the first frame that is not
// the runtime's, with a count, so that a leak of hundreds reads in a page.
func summariseStacks(dump []byte) string {
	counts := map[string]int{}
	var order []string
	for _, g := range strings.Split(string(dump), "\n\n") {
		lines := strings.Split(g, "\n")
		key := ""
		for i := 1; i+1 < len(lines); i += 2 {
			fn := lines[i]
			if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "sync.") || strings.HasPrefix(fn, "internal/") {
				continue
			}
			if j := strings.LastIndex(fn, "("); j > 0 {
				fn = fn[:j]
			}
			loc := strings.TrimSpace(lines[i+1])
			if j := strings.LastIndex(loc, " +0x"); j > 0 {
				loc = loc[:j]
			}
			key = fn + " @ " + loc
			break
		}
		if key == "" && len(lines) > 1 {
			key = lines[1]
		}
		if counts[key] == 0 {
			order = append(order, key)
		}
		counts[key]++
	}
	slices.SortFunc(order, func(a, b string) int { return counts[b] - counts[a] })
	var b strings.Builder
	for _, k := range order {
		fmt.Fprintf(&b, "%5d  %s\n", counts[k], k)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// The report

// abuseRow is one attack's line in the summary table (TestAbuseSummary).
type abuseRow struct {
	attack, does   string
	idle, during   latency
	baseline, peak usage
	after          usage
}

var abuseReport struct {
	mu   sync.Mutex
	rows []abuseRow
}

// report logs an attack's figures and keeps them for the summary.
func report(t *testing.T, r abuseRow) {
	t.Helper()
	t.Logf("canary latency before the attack: %v; during it: %v", r.idle, r.during)
	t.Logf("resources: baseline %v; peak %v; after %v", r.baseline, r.peak, r.after)
	abuseReport.mu.Lock()
	abuseReport.rows = append(abuseReport.rows, r)
	abuseReport.mu.Unlock()
}

// ---------------------------------------------------------------------------
// Connections from a chosen source

// loopback returns the i-th address of 127.0.0.0/8 under prefix a.b (for
// example 127.10.x.y): the kernel routes all of it to lo, so tests can
// connect from many sources, as the gate counts them.
func loopback(b byte, i int) string {
	return fmt.Sprintf("127.%d.%d.%d", b, (i/250)%250, i%250+1)
}

// dialFrom opens a TCP connection to the server from source address src.
func (ts *testServer) dialFrom(src string, timeout time.Duration) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", ts.addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// sshFrom connects and authenticates from source address src.
func (ts *testServer) sshFrom(src string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	nc, err := ts.dialFrom(src, waitTimeout)
	if err != nil {
		return nil, err
	}
	return ts.handshake(nc, cfg)
}

// terminal opens a session with a pty and a shell on conn and shows it on
// an emulator of w x h, as the harness's connect does, after prep (which
// may send requests before the pty, such as env) has run. The client owns
// conn from then on. Cleanup closes it.
func terminal(t testing.TB, name string, conn *ssh.Client, w, h int, prep func(*ssh.Session) error) (*client, error) {
	t.Helper()
	s, err := testkit.Open(t, conn, testkit.TermOptions{Name: name, W: w, H: h, Prep: prep})
	if err != nil {
		return nil, err
	}
	return newClient(s), nil
}

// terminalOn is terminal on a session already open, with terminal type
// term; afterPty, when not nil, runs between the pty request and the shell.
func terminalOn(t testing.TB, name string, conn *ssh.Client, sess *ssh.Session, term string, w, h int, prep, afterPty func(*ssh.Session) error) (*client, error) {
	t.Helper()
	s, err := testkit.OpenOn(t, conn, sess, testkit.TermOptions{Name: name, Term: term, W: w, H: h, Prep: prep, AfterPty: afterPty})
	if err != nil {
		return nil, err
	}
	return newClient(s), nil
}

// connectFrom is the harness's connect from source address src.
func (ts *testServer) connectFrom(t testing.TB, u *user, src string, w, h int) (*client, error) {
	t.Helper()
	conn, err := ts.sshFrom(src, ts.clientConfig(u.name, u.auth(), nil))
	if err != nil {
		return nil, err
	}
	return terminal(t, u.name, conn, w, h, nil)
}

// ---------------------------------------------------------------------------
// A room observer

// observer is a session in the lobby, straight on the hub, that records
// every message the hub delivers to it: what the room really broadcast,
// whatever the screens show.
type observer struct {
	rs   *room.Session
	mu   sync.Mutex
	msgs []room.Message
	done chan struct{}
}

func (ts *testServer) observe(t *testing.T, name string) *observer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rs, err := ts.hub().Connect(ctx, room.Identity{ID: "test:" + name, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	o := &observer{rs: rs, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for m := range rs.Events() {
			o.mu.Lock()
			o.msgs = append(o.msgs, m)
			o.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		rs.Close(room.ReasonQuit)
		<-o.done
	})
	return o
}

// poster is a session straight on the hub that posts, and reads everything
// it is sent without keeping it (like a client that keeps up), noting the
// text of the last chat message it was given so that postBulk can wait for
// it to catch up. Cleanup closes it.
type poster struct {
	*room.Session
	last atomic.Pointer[string] // the text of the last chat message received
}

// newPoster connects a poster for identity id on hub h.
func newPoster(t *testing.T, h *room.Hub, id room.Identity) *poster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rs, err := h.Connect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	p := &poster{Session: rs}
	go func() {
		for m := range rs.Events() {
			if m.Kind == room.KindChat {
				p.last.Store(&m.Text)
			}
		}
	}()
	t.Cleanup(func() { rs.Close(room.ReasonQuit) })
	return p
}

// seen reports whether the last chat message p was given contains tag.
func (p *poster) seen(tag string) bool {
	last := p.last.Load()
	return last != nil && strings.Contains(*last, tag)
}

// poster is a poster in the lobby named name, with an identity of its own.
func (ts *testServer) poster(t *testing.T, name string) *poster {
	t.Helper()
	return newPoster(t, ts.hub(), room.Identity{ID: "test:" + name, Name: name})
}

// count returns how many recorded messages satisfy f.
func (o *observer) count(f func(room.Message) bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.msgs {
		if f(m) {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// Room metrics

// roomCounts is a room.Observer that counts refusals and dropped sessions
// by reason, so that a test can tell when the hub has dealt with every
// message of a flood.
type roomCounts struct {
	mu      sync.Mutex
	refused map[string]int
	dropped map[string]int
	stored  atomic.Int64
}

func newRoomCounts() *roomCounts {
	return &roomCounts{refused: map[string]int{}, dropped: map[string]int{}}
}

func (r *roomCounts) MessageStored(_ room.Kind, n int) { r.stored.Add(int64(n)) }
func (r *roomCounts) MessageRefused(reason string) {
	r.mu.Lock()
	r.refused[reason]++
	r.mu.Unlock()
}
func (r *roomCounts) SessionDropped(reason string) {
	r.mu.Lock()
	r.dropped[reason]++
	r.mu.Unlock()
}
func (r *roomCounts) StoreLatency(time.Duration, int, error) {}
func (r *roomCounts) CommandRun(string)                      {}

func (r *roomCounts) refusals(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused[reason]
}

func (r *roomCounts) drops(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped[reason]
}

var _ room.Observer = (*roomCounts)(nil)

// ---------------------------------------------------------------------------
// Misc

// countLogs counts the server log lines that contain every one of parts.
func (ts *testServer) countLogs(parts ...string) int {
	n := 0
	for _, l := range strings.Split(ts.logs.String(), "\n") {
		all := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				all = false
				break
			}
		}
		if all && l != "" {
			n++
		}
	}
	return n
}

// isEOFLike reports whether err says the peer closed or reset the
// connection.
func isEOFLike(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") || strings.Contains(s, "EOF")
}
