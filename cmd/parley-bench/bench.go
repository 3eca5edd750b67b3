package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Phases of a run, as the readers see them.
const (
	phaseConnect int32 = iota // emulate, watch for the first screen
	phaseMeasure              // also look for tokens on receivers' screens
	phaseDone                 // drop the output
)

// Bounds of the waits between phases.
const (
	settleMax     = 60 * time.Second // the longest wait for quiet screens
	quitWait      = 10 * time.Second // the longest wait for sessions to end after /quit
	serverStopMax = 10 * time.Second // the longest wait for the in-process server to stop
	idleWindow    = time.Second      // CPU use is sampled this long with everyone connected and quiet
)

// bench is one run against one server.
type bench struct {
	cfg       config
	nodes     []node // the servers; sessions go round robin (nodeOf)
	hostKey   ssh.HostKeyCallback
	spread    bool     // connect from several loopback addresses (see sourceAddr)
	webSpread bool     // web sessions too (see webSourceAddr)
	pids      []int    // whose RSS and CPU are reported (summed); none for none
	scope     string   // what pids are
	js        *jsProbe // the room stream's JetStream, when known
	epoch     time.Time
	hard      context.Context // at its end every connection is closed
	log       io.Writer       // progress

	tok        *tokenSet
	phase      atomic.Int32
	lastOutput atomic.Int64 // since epoch, of the last output of any session
	seen       atomic.Int64 // deliveries recorded
	target     atomic.Int64 // deliveries expected, once sending is over
	allSeen    chan struct{}
	allOnce    sync.Once
	phantom    atomic.Int64

	mu       sync.Mutex
	problems []string
}

func (b *bench) since() time.Duration { return time.Since(b.epoch) }

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "parley-bench: %6.1fs  %s\n", b.since().Seconds(), fmt.Sprintf(format, args...))
}

func (b *bench) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// delivered counts one delivery and notices the last expected one.
func (b *bench) delivered() {
	n := b.seen.Add(1)
	if t := b.target.Load(); t > 0 && n >= t {
		b.allOnce.Do(func() { close(b.allSeen) })
	}
}

// maxSources is how many loopback source addresses sourceAddr hands out.
const maxSources = 1 << 16

// sourceAddr is the local address of identity i's connection when the
// load is spread: identities 0..per-1 connect from 127.1.0.1, the next
// from 127.1.0.2, and so on. Every 127.0.0.0/8 address is loopback on
// Linux, and each counts as one source for the server's per-source caps.
func (b *bench) sourceAddr(i int) net.Addr {
	if !b.spread {
		return nil
	}
	ip := uint32(127)<<24 | uint32(1)<<16 + 1 + uint32(i/b.cfg.perSource)
	return &net.TCPAddr{IP: net.IPv4(byte(ip>>24), byte(ip>>16), byte(ip>>8), byte(ip))}
}

// sources is how many source addresses the run uses.
func (b *bench) sources() int {
	if !b.spread {
		return 1
	}
	return (b.cfg.sessions + b.cfg.idle + b.cfg.perSource - 1) / b.cfg.perSource
}

// newNonce returns the run's random nonce for token checks.
func newNonce() uint64 {
	var n [8]byte
	_, _ = rand.Read(n[:])
	return binary.LittleEndian.Uint64(n[:])
}

// run connects, measures and closes every session. The result is filled in
// as far as the run got; ctx ending cuts the phases short.
func (b *bench) run(ctx context.Context) *result {
	cfg := b.cfg
	var addrs []string
	for _, n := range b.nodes {
		addrs = append(addrs, n.addr)
	}
	res := &result{
		Mode: cfg.mode(), Addr: strings.Join(addrs, ","), Sessions: cfg.sessions, Idle: cfg.idle,
		Senders: cfg.senders, Rate: cfg.rate, DurationS: cfg.duration.Seconds(),
		Size: fmt.Sprintf("%dx%d", cfg.cols, cfg.rows), Concurrency: cfg.concurrency, Sources: b.sources(),
		WebSessions: cfg.webSessions, WebSenders: cfg.webSenders, WebSources: b.webSources(),
		MinDelivered: cfg.minDelivered,
		Machine:      machineStats{CPUs: runtime.NumCPU(), LoadAvgStart: loadAvg()},
	}
	per := int(math.Ceil(cfg.rate * cfg.duration.Seconds()))
	// Tokens of senders 0..senders-1 are typed over SSH, the rest in a page.
	b.tok = newTokenSet(newNonce(), cfg.allSenders(), max(per, 1))
	b.tok.anywhere = cfg.lineLayout
	b.allSeen = make(chan struct{})

	var proc *procStats
	if len(b.pids) > 0 {
		proc = &procStats{PID: b.pids[0], Scope: b.scope}
		if len(b.pids) > 1 {
			proc.PIDs = b.pids
		}
		res.Process = proc
	}
	rss := func() int64 {
		var sum int64
		for _, pid := range b.pids {
			kib, err := readRSS(pid)
			if err != nil {
				b.problem("reading RSS: %v", err)
			}
			sum += kib
		}
		return sum
	}
	cpu := func() time.Duration {
		var sum time.Duration
		for _, pid := range b.pids {
			d, err := readCPU(pid)
			if err != nil {
				b.problem("reading CPU time: %v", err)
			}
			sum += d
		}
		return sum
	}

	// Idle sessions take the identities after the active ones, so that the
	// active sessions are bench0001.. whatever -idle is.
	active := make([]*session, cfg.sessions)
	idle := make([]*session, cfg.idle)
	for i := range active {
		id, err := deriveIdentity(cfg.seed, i)
		if err != nil {
			b.problem("%v", err)
			return res
		}
		active[i] = newSession(id, false)
		active[i].node = b.nodeOf(i)
	}
	for i := range idle {
		id, err := deriveIdentity(cfg.seed, cfg.sessions+i)
		if err != nil {
			b.problem("%v", err)
			return res
		}
		idle[i] = newSession(id, true)
		idle[i].node = b.nodeOf(cfg.sessions + i)
	}
	// Web sessions take the identities after both.
	web := make([]*webSession, cfg.webSessions)
	for k := range web {
		id, err := deriveIdentity(cfg.seed, cfg.sessions+cfg.idle+k)
		if err != nil {
			b.problem("%v", err)
			return res
		}
		web[k] = newWebSession(id, b.nodeOf(k))
	}
	if cfg.trace != "" && len(active) > 0 {
		f, err := os.Create(cfg.trace)
		if err != nil {
			b.problem("trace: %v", err)
		} else {
			defer f.Close() // after shutdown: the reader has returned
			active[len(active)-1].trace = f
		}
	}
	defer b.shutdown(append(slices.Clone(idle), active...), web)

	if proc != nil {
		runtime.GC() // in-process: start from a collected heap
		proc.RSSBaseKiB = rss()
	}
	if len(idle) > 0 {
		b.progress("connecting %d idle sessions, %d in flight", len(idle), cfg.concurrency)
		st := b.connectGroup(ctx, idle)
		st.SettleS = b.settle(ctx).Seconds()
		if proc != nil {
			proc.CPUIdlePercent = b.idleCPU(ctx, cpu)
		}
		res.IdleConnect = &st
		b.progress("idle: %d connected, %d failed, %.0f/s; quiet after %.1fs more", st.Connected, st.Failed, st.RatePerS, st.SettleS)
		if proc != nil {
			proc.RSSIdleKiB = rss()
			if st.Connected > 0 {
				proc.RSSPerIdleSessionKiB = round1(float64(proc.RSSIdleKiB-proc.RSSBaseKiB) / float64(st.Connected))
			}
		}
	}
	if len(active) > 0 && ctx.Err() == nil {
		b.progress("connecting %d sessions, %d in flight", len(active), cfg.concurrency)
		before := rss()
		c0, t0 := cpu(), time.Now()
		st := b.connectGroup(ctx, active)
		if proc != nil {
			proc.CPUConnectPercent = percentOf(cpu()-c0, time.Since(t0))
		}
		st.SettleS = b.settle(ctx).Seconds()
		st.ReceivedKiB = receivedKiB(active, func(s *session) (bool, int64) { return s.readyAt > 0, s.wire.Load() })
		if proc != nil {
			proc.CPUIdlePercent = b.idleCPU(ctx, cpu)
		}
		res.Connect = &st
		b.progress("%d connected, %d failed, %.0f/s; quiet after %.1fs more", st.Connected, st.Failed, st.RatePerS, st.SettleS)
		if proc != nil {
			proc.RSSConnectedKiB = rss()
			if st.Connected > 0 {
				proc.RSSPerSessionKiB = round1(float64(proc.RSSConnectedKiB-before) / float64(st.Connected))
			}
		}
	}

	if len(web) > 0 && ctx.Err() == nil {
		b.progress("connecting %d web sessions (sign-in link, cookie, WebSocket), %d in flight", len(web), cfg.concurrency)
		before := rss()
		st := b.connectWebGroup(ctx, web)
		st.SettleS = b.settle(ctx).Seconds()
		st.ReceivedKiB = receivedKiB(web, func(w *webSession) (bool, int64) { return w.readyAt > 0, w.wire.Load() })
		res.WebConnect = &st
		if proc != nil {
			proc.RSSWebConnectedKiB = rss()
			if st.Connected > 0 {
				proc.RSSPerWebSessionKiB = round1(float64(proc.RSSWebConnectedKiB-before) / float64(st.Connected))
			}
		}
		b.progress("web: %d connected, %d failed, %.0f/s; quiet after %.1fs more", st.Connected, st.Failed, st.RatePerS, st.SettleS)
	}

	if cfg.allSenders() > 0 && ctx.Err() == nil {
		b.measure(ctx, res, active, web, proc, cpu)
	}
	if proc != nil {
		proc.RSSEndKiB = rss()
	}
	if cfg.memprofile != "" {
		if err := writeHeapProfile(cfg.memprofile); err != nil {
			b.problem("memprofile: %v", err)
		}
	}
	b.phase.Store(phaseDone)
	if ctx.Err() != nil {
		res.TimedOut = true
		b.problem("the run was cut short (%v) before it finished", context.Cause(ctx))
	}
	if n := b.phantom.Load(); n > 0 {
		b.problem("%d tokens were on a screen before they were typed (a scanning bug)", n)
	}
	for _, s := range append(slices.Clone(active), idle...) {
		select {
		case <-s.done:
			res.EndedEarly++
			if s.endText != "" && len(res.EndReasons) < 5 && !slices.Contains(res.EndReasons, s.endText) {
				res.EndReasons = append(res.EndReasons, s.endText)
			}
		default:
		}
	}
	for _, w := range web {
		select {
		case <-w.done:
			res.EndedEarly++
			if w.endText != "" && len(res.EndReasons) < 5 && !slices.Contains(res.EndReasons, "web: "+w.endText) {
				res.EndReasons = append(res.EndReasons, "web: "+w.endText)
			}
		default:
		}
	}
	if res.EndedEarly > 0 {
		b.problem("%d sessions ended before the run did", res.EndedEarly)
	}
	return res
}

// inParallel runs do(0) ... do(n-1) on at most workers goroutines and
// returns when they are done; once ctx ends, the indexes not started yet
// are not run.
func inParallel(ctx context.Context, n, workers int, do func(k int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for k := range jobs {
				do(k)
			}
		})
	}
feed:
	for k := range n {
		select {
		case jobs <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
}

// connectGroup connects every session of group, at most concurrency at a
// time, and waits for each connected one's first screen.
func (b *bench) connectGroup(ctx context.Context, group []*session) connectStats {
	start := b.since()
	inParallel(ctx, len(group), b.cfg.concurrency, func(k int) { group[k].err = b.connect(ctx, group[k]) })

	st := connectStats{Attempted: len(group)}
	errs := map[string]int{}
	var shell, first []time.Duration
	end := start
	for _, s := range group {
		if s.conn == nil {
			st.Failed++
			msg := "not attempted (the run was cut short)"
			if s.err != nil {
				msg = s.err.Error()
			}
			errs[msg]++
			continue
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
		}
		if s.readyAt == 0 {
			st.Failed++
			errs["connected, but the first screen never showed "+b.cfg.ready]++
			continue
		}
		st.Connected++
		shell = append(shell, s.shellAt-s.startAt)
		first = append(first, s.readyAt-s.startAt)
		end = max(end, s.readyAt)
	}
	st.Errors = countedErrors(errs)
	if st.Failed > 0 {
		b.problem("%d of %d sessions did not connect: %v", st.Failed, len(group), st.Errors)
	}
	st.WallS = round3((end - start).Seconds())
	if end > start {
		st.RatePerS = round1(float64(st.Connected) / (end - start).Seconds())
	}
	st.Handshake = summarize(shell)
	st.FirstScreen = summarize(first)
	return st
}

// receivedKiB is the average of what the connected sessions of group
// received so far, in KiB.
func receivedKiB[S any](group []S, read func(S) (connected bool, bytes int64)) float64 {
	var n, sum int64
	for _, s := range group {
		if ok, b := read(s); ok {
			n++
			sum += b
		}
	}
	if n == 0 {
		return 0
	}
	return round1(float64(sum) / 1024 / float64(n))
}

// countedErrors lists distinct errors, most frequent first, at most five.
func countedErrors(errs map[string]int) []string {
	type kv struct {
		msg string
		n   int
	}
	var all []kv
	for m, n := range errs {
		all = append(all, kv{m, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].msg < all[j].msg })
	var out []string
	for i, e := range all {
		if i == 5 {
			break
		}
		out = append(out, fmt.Sprintf("%d× %s", e.n, e.msg))
	}
	return out
}

// settle waits until no session has had output for cfg.quiet (joins and
// their notices have been drawn), and returns how long that took.
func (b *bench) settle(ctx context.Context) time.Duration {
	start := time.Now()
	t := time.NewTicker(max(b.cfg.quiet/5, time.Millisecond))
	defer t.Stop()
	for {
		if b.since()-time.Duration(b.lastOutput.Load()) >= b.cfg.quiet {
			return time.Since(start)
		}
		if time.Since(start) > settleMax {
			b.problem("the screens were still changing after %v; measuring anyway", settleMax)
			return time.Since(start)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return time.Since(start)
		}
	}
}

// idleCPU returns the CPU use over idleWindow with every session connected
// and nothing happening.
func (b *bench) idleCPU(ctx context.Context, cpu func() time.Duration) float64 {
	c0, t0 := cpu(), time.Now()
	t := time.NewTimer(idleWindow)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return percentOf(cpu()-c0, time.Since(t0))
}

// measure runs the sending phase and the drain, and summarises what the
// receivers of each kind saw (res.Delivery and res.Output for the SSH
// sessions, res.WebDelivery and res.WebOutput for the web sessions, per
// node in res.Nodes when there are several, JetStream in res.JetStream).
func (b *bench) measure(ctx context.Context, res *result, active []*session, web []*webSession, proc *procStats, cpu func() time.Duration) {
	cfg := b.cfg
	var receivers []*session
	for _, s := range active {
		if s.readyAt > 0 {
			s.receiver = true
			s.seen = newBitset(len(b.tok.sentAt))
			receivers = append(receivers, s)
		}
	}
	var webReceivers []*webSession
	for _, w := range web {
		if w.readyAt > 0 {
			w.receiver = true
			w.seen = newBitset(len(b.tok.sentAt))
			webReceivers = append(webReceivers, w)
		}
	}
	if len(receivers)+len(webReceivers) == 0 {
		b.problem("no session is connected: nothing to measure")
		return
	}
	for _, s := range receivers {
		s.wire0 = s.wire.Load()
	}
	for _, w := range webReceivers {
		w.wire0 = w.wire.Load()
	}
	// A sender: the sessions that type, in token order (SSH, then web).
	type sender struct {
		name  string
		ok    bool
		write func(ctx context.Context, tok string) error
		close func()
	}
	var senders []sender
	for _, s := range active[:min(cfg.senders, len(active))] {
		senders = append(senders, sender{s.id.name, s.readyAt > 0,
			func(_ context.Context, tok string) error { _, err := io.WriteString(s.stdin, tok+"\r"); return err },
			func() {
				if s.conn != nil {
					s.conn.Close()
				}
			}})
	}
	for _, w := range web[:min(cfg.webSenders, len(web))] {
		senders = append(senders, sender{w.id.name + " (web)", w.readyAt > 0, w.send,
			func() {
				if w.conn != nil {
					w.conn.CloseNow()
				}
			}})
	}
	b.phase.Store(phaseMeasure) // after the receiver fields are set

	b.progress("%d senders (%d SSH, %d web) typing %.2f msg/s each for %v to %d receivers (%d SSH, %d web)",
		len(senders), min(cfg.senders, len(active)), min(cfg.webSenders, len(web)), cfg.rate, cfg.duration,
		len(receivers)+len(webReceivers), len(receivers), len(webReceivers))
	var js0 uint64
	if b.js != nil {
		var err error
		if js0, err = b.js.lastSeq(ctx); err != nil {
			b.problem("JetStream: %v", err)
		}
	}
	sendStart := b.since()
	c0, self0 := cpu(), selfCPU()
	m0, merr := machineCPU()
	nodeCPU0 := b.nodeCPU()
	period := time.Duration(float64(time.Second) / cfg.rate)
	// A write to an overloaded server can block past ctx's end: the run
	// being cut short closes the senders' connections.
	stop := context.AfterFunc(ctx, func() {
		for _, s := range senders {
			s.close()
		}
	})
	defer stop()
	var wg sync.WaitGroup
	for si, s := range senders {
		if !s.ok {
			b.problem("sender %s is not connected and sends nothing", s.name)
			continue
		}
		// Senders start spread over one period, not in step.
		first := b.epoch.Add(sendStart + period*time.Duration(si)/time.Duration(len(senders)))
		wg.Go(func() { b.send(ctx, si, s.name, s.write, first, b.epoch.Add(sendStart+cfg.duration), period) })
	}
	wg.Wait()
	sendEnd := b.since()
	sendWall := sendEnd - sendStart
	if proc != nil {
		proc.CPUSendPercent = percentOf(cpu()-c0, sendWall)
	}
	nodeCPU1 := b.nodeCPU()
	benchCPU := percentOf(selfCPU()-self0, sendWall)
	if m1, err := machineCPU(); err == nil && merr == nil {
		res.Machine.CPUSendPercent = percentOf(m1-m0, sendWall)
	}
	res.Machine.LoadAvgSendEnd = loadAvg()
	var js1 uint64
	if b.js != nil {
		var err error
		if js1, err = b.js.lastSeq(ctx); err != nil {
			b.problem("JetStream: %v", err)
		}
	}

	var sent int64
	for i := range b.tok.senders {
		sent += int64(b.tok.sentN[i].Load())
	}
	expected := sent * int64(len(receivers)+len(webReceivers))
	b.progress("sent %d tokens; waiting up to %v for %d deliveries (%d so far)", sent, cfg.drain, expected, b.seen.Load())
	if expected > 0 {
		b.target.Store(expected)
		if b.seen.Load() >= expected {
			b.allOnce.Do(func() { close(b.allSeen) })
		}
		t := time.NewTimer(cfg.drain)
		select {
		case <-b.allSeen:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	measureWall := b.since() - sendStart
	if b.js != nil {
		js2, err := b.js.lastSeq(ctx)
		if err != nil {
			b.problem("JetStream: %v", err)
		}
		res.JetStream = &jetStreamStats{Stream: b.js.stream, AckedDuringSend: int64(js1 - js0),
			AckedByEnd: int64(js2 - js0), TokensSent: sent}
		if js1 < js0 || js2 < js0 { // the stream was recreated: nothing to say
			res.JetStream.AckedDuringSend, res.JetStream.AckedByEnd = -1, -1
		} else if sendWall > 0 {
			res.JetStream.AckedPerS = round1(float64(js1-js0) / sendWall.Seconds())
		}
	}
	for _, s := range receivers {
		s.wire1 = s.wire.Load()
	}
	for _, w := range webReceivers {
		w.wire1 = w.wire.Load()
	}

	newDelivery := func(n int) *deliveryStats {
		return &deliveryStats{TokensSent: sent, Receivers: n, Expected: sent * int64(n),
			SendPhaseS: round3(sendWall.Seconds()), BenchCPUPercent: benchCPU}
	}
	if len(receivers) > 0 {
		d := newDelivery(len(receivers))
		var lat []time.Duration
		var lastSeen time.Duration
		var bytes, wire, reads, frames, maxFrames int64
		margins := 0
		for _, s := range receivers {
			if s.margins.on.Load() {
				margins++
			}
			s.mu.Lock()
			lat = append(lat, s.lat...)
			lastSeen = max(lastSeen, s.lastSeen)
			bytes += s.bytes
			wire += s.wire1 - s.wire0
			reads += s.reads
			frames += s.framesSeen
			maxFrames = max(maxFrames, s.framesSeen)
			d.MissedGap, d.MissedTail = b.missed(s.seen, d.MissedGap, d.MissedTail)
			s.mu.Unlock()
		}
		b.finishDelivery(d, lat, lastSeen, sendStart, sendEnd)
		out := &outputStats{
			KiBPerSessionPerS:    round1(float64(bytes) / 1024 / float64(len(receivers)) / measureWall.Seconds()),
			ReadsPerSessionPerS:  round1(float64(reads) / float64(len(receivers)) / measureWall.Seconds()),
			FramesPerSessionPerS: round1(float64(frames) / float64(len(receivers)) / measureWall.Seconds()),
			MaxFramesPerS:        round1(float64(maxFrames) / measureWall.Seconds()),
			MarginsOn:            margins,
			Receivers:            len(receivers),
		}
		if d.Seen > 0 {
			out.BytesPerDelivery = round1(float64(bytes) / float64(d.Seen))
			out.WireBytesPerDelivery = round1(float64(wire) / float64(d.Seen))
		}
		res.Delivery, res.Output = d, out
		b.progress("SSH: %d of %d deliveries seen", d.Seen, d.Expected)
	}
	if len(webReceivers) > 0 {
		d := newDelivery(len(webReceivers))
		var lat []time.Duration
		var lastSeen time.Duration
		var bytes, wire, frames, errFrames int64
		firstErr := ""
		for _, w := range webReceivers {
			w.mu.Lock()
			errFrames += w.errFrames
			if firstErr == "" {
				firstErr = w.firstErr
			}
			lat = append(lat, w.lat...)
			lastSeen = max(lastSeen, w.lastSeen)
			bytes += w.bytes
			wire += w.wire1 - w.wire0
			frames += w.frames
			d.MissedGap, d.MissedTail = b.missed(w.seen, d.MissedGap, d.MissedTail)
			w.mu.Unlock()
		}
		b.finishDelivery(d, lat, lastSeen, sendStart, sendEnd)
		out := &webOutputStats{
			KiBPerSessionPerS:    round1(float64(bytes) / 1024 / float64(len(webReceivers)) / measureWall.Seconds()),
			FramesPerSessionPerS: round1(float64(frames) / float64(len(webReceivers)) / measureWall.Seconds()),
			Receivers:            len(webReceivers),
			ErrorFrames:          errFrames,
		}
		if errFrames > 0 {
			b.problem("web senders were refused %d times, first: %q", errFrames, firstErr)
		}
		if d.Seen > 0 {
			out.BytesPerDelivery = round1(float64(bytes) / float64(d.Seen))
			out.WireBytesPerDelivery = round1(float64(wire) / float64(d.Seen))
		}
		res.WebDelivery, res.WebOutput = d, out
		b.progress("web: %d of %d deliveries seen", d.Seen, d.Expected)
	}
	if len(b.nodes) > 1 {
		res.Nodes = b.nodeStats(receivers, webReceivers, sent, nodeCPU0, nodeCPU1, sendWall)
	}
}

// missed adds to gap and tail the tokens a receiver did not see: gap when
// a later token of the same sender was seen, tail otherwise.
func (b *bench) missed(seen bitset, gap, tail int64) (int64, int64) {
	for si := range b.tok.senders {
		n := int(b.tok.sentN[si].Load())
		top := -1
		for k := n - 1; k >= 0; k-- {
			if seen.has(b.tok.index(si, k)) {
				top = k
				break
			}
		}
		for k := range n {
			if !seen.has(b.tok.index(si, k)) {
				if k < top {
					gap++
				} else {
					tail++
				}
			}
		}
	}
	return gap, tail
}

// finishDelivery fills in what follows from the latencies seen.
func (b *bench) finishDelivery(d *deliveryStats, lat []time.Duration, lastSeen, sendStart, sendEnd time.Duration) {
	d.Seen = int64(len(lat))
	if d.Expected > 0 {
		d.Fraction = float64(d.Seen) / float64(d.Expected)
	}
	d.Latency = summarize(lat)
	if lastSeen > sendStart {
		d.DeliveriesPerS = round1(float64(d.Seen) / (lastSeen - sendStart).Seconds())
		d.LastDeliveryAfterSendS = round3(max(lastSeen-sendEnd, 0).Seconds())
	}
}

// send is one sender: a token every period from first until end.
func (b *bench) send(ctx context.Context, si int, name string, write func(context.Context, string) error, first, end time.Time, period time.Duration) {
	t := time.NewTimer(time.Until(first))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for n := range b.tok.per {
		if n > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
		if !time.Now().Before(end) {
			return
		}
		b.tok.sentAt[b.tok.index(si, n)].Store(int64(b.since()))
		b.tok.sentN[si].Store(int32(n + 1))
		if err := write(ctx, b.tok.text(si, n)); err != nil {
			b.problem("sender %s stopped: %v", name, err)
			return
		}
	}
}

// shutdown ends every session: /quit, a bounded wait for the server to
// end them, then the connections are closed. It returns once every reader
// has returned. A write to an overloaded server can block (its TCP window
// is full), so the /quit writes run concurrently and closing the
// connections ends any that are stuck.
func (b *bench) shutdown(all []*session, web []*webSession) {
	b.phase.Store(phaseDone)
	b.shutdownWeb(web)
	var open []*session
	for _, s := range all {
		if s.conn != nil {
			open = append(open, s)
		}
	}
	if len(open) == 0 {
		return
	}
	b.progress("closing %d sessions", len(open))
	var writes sync.WaitGroup
	for _, s := range open {
		writes.Go(s.quit)
	}
	wait, cancel := context.WithTimeout(b.hard, quitWait)
	defer cancel()
	for _, s := range open {
		select {
		case <-s.done:
		case <-wait.Done():
		}
	}
	for _, s := range open {
		s.close()
	}
	writes.Wait()
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	// No runtime.GC first: on a saturated machine a forced collection of a
	// large heap takes minutes. The profile is as of the last collection.
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func percentOf(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return round1(100 * cpu.Seconds() / wall.Seconds())
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
