package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // delivery fell short, a session failed, the run timed out
	exitUsage = 2
)

// watchdogGrace is how long after -timeout the process exits whatever it
// is doing.
const watchdogGrace = 15 * time.Second

// serverStopGrace is how long after -timeout the in-process server may
// take to stop (well within watchdogGrace).
const serverStopGrace = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	keys int    // -keys: generate this many authorized_keys lines and exit
	out  string // where they go
	seed string

	addr      string
	addrs     []string // -addrs, or -addr alone: sessions go round robin
	inprocess bool
	nodes     int      // -nodes: in-process nodes (2 or more share rooms through an embedded NATS)
	pids      []int    // -pid: the external servers' processes
	hostKeys  []string // expected SHA256 fingerprints of the external servers

	webURLs      []string // -web: the external nodes' web pages, one per address
	webSessions  int      // -web-sessions: browser-protocol clients
	webSenders   int      // -web-senders: of them, those that send
	webPerSource int      // sign-ins per source address (the server allows a burst of 5)
	natsURL      string   // -nats: read JetStream's acknowledged messages from here

	sessions, idle, concurrency, senders int
	idleRoom                             string
	perSource                            int
	rate                                 float64
	duration, drain, timeout, quiet      time.Duration
	cols, rows                           int
	term                                 string
	lineLayout                           bool   // -layout line
	xvt                                  bool   // -emulator xvt
	vt10x                                bool   // -emulator vt10x
	declineMargins                       bool   // -margins decline
	ready                                string // -ready: the first screen shows this
	minDelivered                         float64
	json                                 bool
	cpuprofile, memprofile               string
	trace                                string
	breakdown                            string // -breakdown: analyse this trace and exit
	split                                int    // with -breakdown: the log's width
}

func (c config) mode() string {
	switch {
	case c.inprocess && c.nodes > 1:
		return fmt.Sprintf("inprocess, %d nodes on NATS", c.nodes)
	case c.inprocess:
		return "inprocess"
	case len(c.addrs) > 1:
		return fmt.Sprintf("external, %d nodes", len(c.addrs))
	}
	return "external"
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("parley-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.keys, "keys", 0, "generate the authorized_keys lines of `N` bench identities and exit")
	fs.StringVar(&c.out, "out", "", "with -keys: write the lines to this `file` (or DIR/authorized_keys) instead of stdout")
	fs.StringVar(&c.seed, "seed", defaultSeed, "the secret the bench keys are derived from (the same for -keys and a run)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:2222", "the server to load, `host:port`")
	fs.BoolVar(&c.inprocess, "inprocess", false, "start the server inside this process on 127.0.0.1:0 and load it")
	pids := fs.String("pid", "", "the external server's `PID`, to report its RSS and CPU from /proc; with -addrs\nthe PIDs of the nodes, comma-separated in the same order")
	hostKeys := fs.String("host-key", "", "the external server's host key `fingerprint` (SHA256:...; with -addrs a comma-separated\nlist, any of them accepted); default: accept any")
	addrs := fs.String("addrs", "", "several servers, `host:port,host:port...` (parley --nats nodes sharing rooms): sessions\nand web sessions are spread over them round robin; instead of -addr")
	fs.IntVar(&c.nodes, "nodes", 1, "with -inprocess: start this many nodes; 2 or more share rooms through an embedded\nNATS JetStream server, as parley --nats does, and sessions are spread over them")
	webURLs := fs.String("web", "", "the external server's web page `URL` (http://127.0.0.1:8080); with -addrs one per\nnode, comma-separated in the same order. -inprocess wires its own")
	fs.IntVar(&c.webSessions, "web-sessions", 0, "browser-protocol clients (sign-in link from `ssh host web`, cookie, CSRF,\nWebSocket) in the same room as the -sessions, on identities after theirs")
	fs.IntVar(&c.webSenders, "web-senders", 0, "of the -web-sessions, this many type tokens too (senders of both kinds: -senders\nSSH ones, -web-senders WebSocket ones)")
	fs.IntVar(&c.webPerSource, "web-per-source", 5, "against a loopback address, at most this many web sessions per source address\n(127.2.0.1, ...): the server allows a burst of 5 sign-ins per address; 0: one address")
	fs.StringVar(&c.natsURL, "nats", "", "a NATS `URL` of the nodes' JetStream: report the messages it acknowledged per\nsecond in the room (-inprocess -nodes 2 reads its own)")
	fs.IntVar(&c.sessions, "sessions", 100, "sessions that chat: they receive, and the first -senders of them send")
	fs.IntVar(&c.idle, "idle", 0, "extra sessions that connect first and sit idle (not measured as receivers)")
	fs.StringVar(&c.idleRoom, "idle-room", "", "idle sessions move to this `room` (without #) once connected, leaving\nthe lobby where the chat happens")
	fs.IntVar(&c.concurrency, "concurrency", 50, "at most this many handshakes in flight")
	fs.IntVar(&c.perSource, "per-source", 16, "against a loopback address, at most this many sessions per source address\n(127.1.0.1, 127.1.0.2, ...), under the server's per-source caps; 0: all from one address")
	fs.IntVar(&c.senders, "senders", 10, "sessions that type tokens (0: connect only)")
	fs.Float64Var(&c.rate, "rate", 0.8, "messages per second per sender")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long the senders type")
	fs.DurationVar(&c.drain, "drain", 5*time.Second, "after sending, the longest wait for the last deliveries")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "the whole run ends by then, whatever happens")
	fs.DurationVar(&c.quiet, "quiet", 500*time.Millisecond, "after connecting, wait until no screen changed for this long")
	size := fs.String("size", "100x30", "the pty size, `COLSxROWS`; the emulators have the same size")
	fs.StringVar(&c.term, "term", "xterm-256color", "the TERM the sessions claim")
	fs.StringVar(&c.ready, "ready", defaultReady, "a session's first screen is up when this `text` is on it")
	layout := fs.String("layout", "parley", "how received messages look: `parley` (\"HH:MM name text\" rows), or line: a token\nanywhere on a row but the cursor's, to load servers that print lines (ssh-chat) the same way")
	emulator := fs.String("emulator", "grid", "each session's terminal emulator: `grid` (the bench's own: text only, light),\nxvt (charmbracelet/x/vt: full cells, about three times the CPU) or vt10x\n(hinshun/vt10x: no left/right margins, does not answer DECRQM)")
	margins := fs.String("margins", "answer", "whether the emulators say they have left/right margins (DECLRMM, mode 69)\nwhen asked: `answer` (as xterm does) or decline (as tmux, xterm.js, VTE and vt10x do)")
	fs.Float64Var(&c.minDelivered, "min-delivered", 1.0, "exit 1 when the delivered fraction is below this")
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of this whole process to `file`")
	fs.StringVar(&c.trace, "trace", "", "write the raw output of the last session (a receiver) to `file`, to see what the server sends")
	fs.StringVar(&c.breakdown, "breakdown", "", "print where the bytes of a -trace `file` go (per frame that carries a token: the log,\nthe scroll, the member column, the header, the cursor, SGR) and exit; with -size and -split")
	fs.IntVar(&c.split, "split", 0, "with -breakdown: the log's width in `cells` (default: parley's layout at -size,\nthe width less a 23-cell member column from 80 columns on)")
	fs.StringVar(&c.memprofile, "memprofile", "", "write a heap profile of this whole process to `file` after the measurement")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage:
  parley-bench -keys N [-seed S] [-out FILE|DIR]   authorized_keys lines for N bench users
  parley-bench -addr HOST:PORT [-pid PID] [flags]  load a running server that has those lines
  parley-bench -inprocess [flags]                  load a server started inside this process

Exit status: 0 pass, 1 delivery below -min-delivered (or sessions failed, or timeout), 2 usage.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if c.keys < 0 {
		return c, errors.New("-keys must be positive")
	}
	if c.keys > 0 {
		for name := range set {
			if !slices.Contains([]string{"keys", "out", "seed"}, name) {
				return c, fmt.Errorf("-%s does not go with -keys (which only writes keys)", name)
			}
		}
		return c, nil
	}
	if set["out"] {
		return c, errors.New("-out goes with -keys")
	}
	cols, rows, ok := parseSize(*size)
	if !ok || cols < 20 || rows < 5 || cols > 400 || rows > 200 {
		return c, fmt.Errorf("-size %q: want COLSxROWS, at least 20x5 and at most 400x200", *size)
	}
	c.cols, c.rows = cols, rows
	if c.breakdown != "" || set["split"] {
		for name := range set {
			if !slices.Contains([]string{"breakdown", "size", "split"}, name) {
				return c, fmt.Errorf("-%s does not go with -breakdown (which only reads a trace)", name)
			}
		}
		if c.breakdown == "" {
			return c, errors.New("-split goes with -breakdown")
		}
		if !set["split"] {
			c.split = cols
			if cols >= 80 {
				c.split = cols - 23
			}
		}
		if c.split < 1 || c.split > cols {
			return c, fmt.Errorf("-split %d: between 1 and the width (%d)", c.split, cols)
		}
		return c, nil
	}
	switch *layout {
	case "parley":
	case "line":
		c.lineLayout = true
	default:
		return c, fmt.Errorf("-layout %q: want parley or line", *layout)
	}
	switch *emulator {
	case "grid":
	case "xvt":
		c.xvt = true
	case "vt10x":
		c.vt10x = true
	default:
		return c, fmt.Errorf("-emulator %q: want grid, xvt or vt10x", *emulator)
	}
	switch *margins {
	case "answer":
		if c.vt10x && set["margins"] {
			return c, errors.New("-emulator vt10x has no left/right margins: -margins answer does not apply")
		}
	case "decline":
		c.declineMargins = true
	default:
		return c, fmt.Errorf("-margins %q: want answer or decline", *margins)
	}
	if c.vt10x {
		c.declineMargins = true
	}
	if err := c.parseNodes(set, *addrs, *pids, *hostKeys, *webURLs); err != nil {
		return c, err
	}
	switch {
	case c.sessions < 0 || c.idle < 0 || c.webSessions < 0 || c.sessions+c.idle+c.webSessions == 0:
		return c, errors.New("-sessions, -idle and -web-sessions: at least one session")
	case c.senders < 0 || c.senders > c.sessions:
		return c, fmt.Errorf("-senders %d: between 0 and -sessions (%d)", c.senders, c.sessions)
	case c.webSenders < 0 || c.webSenders > c.webSessions:
		return c, fmt.Errorf("-web-senders %d: between 0 and -web-sessions (%d)", c.webSenders, c.webSessions)
	case c.allSenders() > 0 && (!(c.rate > 0) || c.rate > 1000):
		return c, errors.New("-rate: more than 0 and at most 1000 messages per second")
	case c.allSenders() > 0 && c.duration <= 0:
		return c, errors.New("-duration must be positive")
	case float64(c.allSenders())*math.Ceil(c.rate*c.duration.Seconds()) > 10e6:
		return c, errors.New("more than ten million tokens: lower -senders, -rate or -duration")
	case c.concurrency < 1:
		return c, errors.New("-concurrency must be at least 1")
	case c.perSource < 0:
		return c, errors.New("-per-source must be positive (or 0)")
	case c.perSource > 0 && (c.sessions+c.idle+c.perSource-1)/c.perSource > maxSources:
		return c, fmt.Errorf("-per-source %d: more than %d source addresses needed", c.perSource, maxSources)
	case c.drain < 0 || c.timeout <= 0 || c.quiet <= 0:
		return c, errors.New("-drain, -timeout and -quiet must be positive")
	case c.minDelivered < 0 || c.minDelivered > 1:
		return c, errors.New("-min-delivered is a fraction between 0 and 1")
	case c.webPerSource < 0:
		return c, errors.New("-web-per-source must be positive (or 0)")
	case c.webPerSource > 0 && (c.webSessions+c.webPerSource-1)/c.webPerSource > maxSources:
		return c, fmt.Errorf("-web-per-source %d: more than %d source addresses needed", c.webPerSource, maxSources)
	}
	return c, nil
}

// allSenders is how many sessions of both kinds type tokens.
func (c config) allSenders() int { return c.senders + c.webSenders }

func parseSize(s string) (cols, rows int, ok bool) {
	a, b, ok := strings.Cut(s, "x")
	if !ok {
		return 0, 0, false
	}
	cols, err1 := strconv.Atoi(a)
	rows, err2 := strconv.Atoi(b)
	return cols, rows, err1 == nil && err2 == nil
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "parley-bench: %v (see -help)\n", err)
		return exitUsage
	}
	if cfg.keys > 0 {
		if err := keygen(cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "parley-bench: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	if cfg.breakdown != "" {
		if err := runBreakdown(cfg.breakdown, cfg.cols, cfg.rows, cfg.split, stdout); err != nil {
			fmt.Fprintf(stderr, "parley-bench: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	watchdog := time.AfterFunc(cfg.timeout+watchdogGrace, func() {
		fmt.Fprintf(stderr, "parley-bench: still running %v after -timeout; exiting\n", watchdogGrace)
		pprof.StopCPUProfile() // flushes what was collected
		os.Exit(exitFail)
	})
	defer watchdog.Stop()
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "parley-bench: %v\n", err)
			return exitUsage
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fmt.Fprintf(stderr, "parley-bench: cpu profile: %v\n", err)
			return exitFail
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	res, err := benchmark(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "parley-bench: %v\n", err)
		return exitFail
	}
	if cfg.json {
		err = writeJSON(stdout, res)
	} else {
		err = writeTable(stdout, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "parley-bench: %v\n", err)
		return exitFail
	}
	if !res.Pass {
		return exitFail
	}
	return exitOK
}

// benchmark sets up the target, runs, and judges the result.
func benchmark(ctx context.Context, cfg config, log io.Writer) (*result, error) {
	start := time.Now()
	deadline := start.Add(cfg.timeout)
	hard, cancelHard := context.WithDeadline(context.Background(), deadline)
	defer cancelHard()
	// The phases stop early enough to leave time for a clean shutdown.
	reserve := min(quitWait+serverStopMax, cfg.timeout/4)
	soft, cancelSoft := context.WithDeadline(ctx, deadline.Add(-reserve))
	defer cancelSoft()

	b := &bench{cfg: cfg, epoch: start, hard: hard, log: log, spread: cfg.perSource > 0, webSpread: cfg.webPerSource > 0}
	var srv *inprocess
	natsURL := cfg.natsURL
	if cfg.inprocess {
		var err error
		if srv, err = startInProcess(cfg.seed, cfg.sessions+cfg.idle+cfg.webSessions, cfg.nodes); err != nil {
			return nil, fmt.Errorf("starting the server: %w", err)
		}
		var fps []string
		for _, nd := range srv.nodes {
			u, _ := url.Parse(nd.webURL)
			b.nodes = append(b.nodes, node{addr: nd.addr, web: u})
			fps = append(fps, nd.app.HostKeyFingerprint())
		}
		b.hostKey = fingerprintsCallback(fps)
		b.pids, b.scope = []int{os.Getpid()}, "this process: server and load generator"
		if srv.nats != nil {
			natsURL = srv.nats.url()
		}
	} else {
		for i, a := range cfg.addrs {
			if host, _, _ := net.SplitHostPort(a); !isLoopbackV4(host) {
				b.spread, b.webSpread = false, false
			}
			n := node{addr: a}
			if i < len(cfg.webURLs) {
				n.web, _ = url.Parse(cfg.webURLs[i])
				if !isLoopbackV4(n.web.Hostname()) {
					b.webSpread = false
				}
			}
			b.nodes = append(b.nodes, n)
		}
		b.hostKey = ssh.InsecureIgnoreHostKey() // a bench on loopback; -host-key checks it
		if len(cfg.hostKeys) > 0 {
			b.hostKey = fingerprintsCallback(cfg.hostKeys)
		}
		for i, pid := range cfg.pids {
			if _, err := readRSS(pid); err != nil {
				return nil, fmt.Errorf("-pid %d: %w", pid, err)
			}
			b.nodes[i].pid = pid
		}
		b.pids, b.scope = cfg.pids, "server"
		if len(b.pids) > 1 {
			b.scope = fmt.Sprintf("%d server processes, summed", len(b.pids))
		}
	}
	if natsURL != "" {
		p, err := newJSProbe(natsURL, defaultReady)
		if err != nil {
			if srv != nil {
				_ = srv.close(deadline.Add(serverStopGrace))
			}
			return nil, err
		}
		defer p.close()
		b.js = p
	}

	res := b.run(soft)

	if srv != nil {
		if err := srv.close(deadline.Add(serverStopGrace)); err != nil {
			b.problem("stopping the in-process server: %v", err)
		}
		res.ServerWarnings = srv.logs.snapshot()
	}
	b.mu.Lock()
	res.Problems = slices.Clone(b.problems)
	b.mu.Unlock()
	res.Pass = !res.TimedOut && res.EndedEarly == 0 && b.phantom.Load() == 0 &&
		(res.IdleConnect == nil || res.IdleConnect.Failed == 0) &&
		(res.Connect == nil || res.Connect.Failed == 0) &&
		(res.WebConnect == nil || res.WebConnect.Failed == 0) &&
		(res.Delivery == nil || res.Delivery.Fraction >= cfg.minDelivered) &&
		(res.WebDelivery == nil || res.WebDelivery.Fraction >= cfg.minDelivered)
	if cfg.allSenders() > 0 && (cfg.sessions > 0 && res.Delivery == nil || cfg.webSessions > 0 && res.WebDelivery == nil) {
		res.Pass = false
	}
	return res, nil
}

// isLoopbackV4 reports whether host is an IPv4 loopback address: only
// then can the load come from several (127.x.y.z) source addresses.
func isLoopbackV4(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() && ip.To4() != nil
}
