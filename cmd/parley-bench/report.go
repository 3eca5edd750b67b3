package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// result is everything a run measured; -json prints it as is.
type result struct {
	Mode         string  `json:"mode"` // "inprocess" or "external"
	Addr         string  `json:"addr"`
	Sessions     int     `json:"sessions"`
	Idle         int     `json:"idle"`
	Senders      int     `json:"senders"`
	Rate         float64 `json:"rate_per_sender"`
	DurationS    float64 `json:"duration_s"`
	Size         string  `json:"size"`
	Concurrency  int     `json:"concurrency"`
	Sources      int     `json:"source_addresses"`
	WebSessions  int     `json:"web_sessions,omitempty"`
	WebSenders   int     `json:"web_senders,omitempty"`
	WebSources   int     `json:"web_source_addresses,omitempty"`
	MinDelivered float64 `json:"min_delivered"`

	IdleConnect *connectStats  `json:"idle_connect,omitempty"`
	Connect     *connectStats  `json:"connect,omitempty"`
	Delivery    *deliveryStats `json:"delivery,omitempty"`
	Output      *outputStats   `json:"output,omitempty"`
	// The web sessions' figures, beside the SSH sessions' above (which
	// have the names they had before there were web sessions).
	WebConnect  *connectStats   `json:"web_connect,omitempty"`
	WebDelivery *deliveryStats  `json:"web_delivery,omitempty"`
	WebOutput   *webOutputStats `json:"web_output,omitempty"`
	Nodes       []nodeStats     `json:"nodes,omitempty"`
	JetStream   *jetStreamStats `json:"jetstream,omitempty"`
	Process     *procStats      `json:"process,omitempty"`
	Machine     machineStats    `json:"machine"`

	EndedEarly     int            `json:"sessions_ended_early"`
	EndReasons     []string       `json:"end_reasons,omitempty"` // last screen lines of sessions that ended early
	ServerWarnings map[string]int `json:"server_warnings,omitempty"`
	TimedOut       bool           `json:"timed_out"`
	Problems       []string       `json:"problems,omitempty"`
	Pass           bool           `json:"pass"`
}

// connectStats describe connecting one group of sessions.
type connectStats struct {
	Attempted   int      `json:"attempted"`
	Connected   int      `json:"connected"` // showed their first screen
	Failed      int      `json:"failed"`
	Errors      []string `json:"errors,omitempty"`
	WallS       float64  `json:"wall_s"`         // first dial to the last first screen
	RatePerS    float64  `json:"rate_per_s"`     // connected / wall
	Handshake   dist     `json:"handshake"`      // dial to shell started (key exchange, auth, pty, shell)
	FirstScreen dist     `json:"first_screen"`   // dial to "#lobby" on screen
	SettleS     float64  `json:"settle_after_s"` // then until no screen changed for -quiet
	// ReceivedKiB: what each connected session was sent (off the wire),
	// on average, from its dial until the screens were quiet: the first
	// screen or page, and the joins of everyone connecting after it.
	ReceivedKiB float64 `json:"received_kib_per_session,omitempty"`
}

// deliveryStats describe the sending phase: every token on every
// receiver's screen.
type deliveryStats struct {
	TokensSent int64   `json:"tokens_sent"`
	Receivers  int     `json:"receivers"` // every connected session, senders included
	Expected   int64   `json:"expected"`  // tokens_sent × receivers
	Seen       int64   `json:"seen"`
	Fraction   float64 `json:"delivered_fraction"`
	// MissedGap: not seen although a later token of the same sender was:
	// scrolled off between two frames (more new rows in one frame than the
	// screen has), or dropped. MissedTail: nothing later seen either.
	MissedGap              int64   `json:"missed_gap"`
	MissedTail             int64   `json:"missed_tail"`
	Latency                dist    `json:"latency"` // typed to on the receiver's screen
	DeliveriesPerS         float64 `json:"deliveries_per_s"`
	SendPhaseS             float64 `json:"send_phase_s"`
	LastDeliveryAfterSendS float64 `json:"last_delivery_after_send_s"`
	BenchCPUPercent        float64 `json:"bench_cpu_percent"` // this process over the sending phase, % of one core
}

// outputStats describe what receivers were sent while measuring.
type outputStats struct {
	KiBPerSessionPerS    float64 `json:"kib_per_session_per_s"`
	ReadsPerSessionPerS  float64 `json:"reads_per_session_per_s"`
	FramesPerSessionPerS float64 `json:"frames_per_session_per_s"` // frames end with ESC[?25h
	MaxFramesPerS        float64 `json:"max_frames_per_s"`         // the busiest receiver's average
	// BytesPerDelivery: every byte the receivers were sent while
	// measuring, over the tokens seen on their screens.
	BytesPerDelivery float64 `json:"bytes_per_delivery"`
	// WireBytesPerDelivery: the same, counted as they came off the TCP
	// connections (SSH packets: encryption, MACs and padding included).
	WireBytesPerDelivery float64 `json:"wire_bytes_per_delivery"`
	// MarginsOn: of Receivers, those whose server turned left/right
	// margins on (DECLRMM, ESC[?69h): the path for terminals that have
	// them; the rest took the path for terminals without.
	MarginsOn int `json:"margins_on"`
	Receivers int `json:"receivers"`
}

// webOutputStats describe what web receivers were sent while measuring.
type webOutputStats struct {
	KiBPerSessionPerS    float64 `json:"kib_per_session_per_s"`
	FramesPerSessionPerS float64 `json:"frames_per_session_per_s"` // WebSocket messages (JSON frames)
	// BytesPerDelivery: every frame's JSON the receivers were sent while
	// measuring (messages, member lists, ...), over the tokens they saw.
	BytesPerDelivery float64 `json:"bytes_per_delivery"`
	// WireBytesPerDelivery: the same counted off the TCP connections
	// (WebSocket frame headers included; no TLS in these runs).
	WireBytesPerDelivery float64 `json:"wire_bytes_per_delivery"`
	Receivers            int     `json:"receivers"`
	// ErrorFrames: "error" frames while measuring, what a web sender typed
	// being refused (flood control, "not sent" when NATS is down).
	ErrorFrames int64 `json:"error_frames"`
}

// procStats are the server process's resources (this process in-process).
type procStats struct {
	PID                  int     `json:"pid"`
	PIDs                 []int   `json:"pids,omitempty"` // several nodes' processes: the figures are their sums
	Scope                string  `json:"scope"`
	RSSBaseKiB           int64   `json:"rss_base_kib"`
	RSSIdleKiB           int64   `json:"rss_idle_connected_kib,omitempty"`
	RSSConnectedKiB      int64   `json:"rss_connected_kib"`
	RSSEndKiB            int64   `json:"rss_end_kib"`
	RSSPerIdleSessionKiB float64 `json:"rss_per_idle_session_kib,omitempty"`
	RSSPerSessionKiB     float64 `json:"rss_per_session_kib"`
	RSSWebConnectedKiB   int64   `json:"rss_web_connected_kib,omitempty"`   // after the web sessions connected too
	RSSPerWebSessionKiB  float64 `json:"rss_per_web_session_kib,omitempty"` // the growth while they did, per web session
	CPUConnectPercent    float64 `json:"cpu_connect_percent"`               // while the sessions connected, % of one core
	CPUIdlePercent       float64 `json:"cpu_idle_percent"`                  // everyone connected, nothing happening
	CPUSendPercent       float64 `json:"cpu_send_percent"`                  // over the sending phase, % of one core
}

// machineStats say how busy the machine was: figures taken while other
// work competes for the CPUs are not comparable.
type machineStats struct {
	CPUs           int     `json:"cpus"`
	LoadAvgStart   float64 `json:"loadavg_1m_start"`
	LoadAvgSendEnd float64 `json:"loadavg_1m_send_end,omitempty"`
	CPUSendPercent float64 `json:"cpu_send_percent,omitempty"` // all processes over the sending phase, % of one core
}

func writeJSON(w io.Writer, r *result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints r for people.
func writeTable(w io.Writer, r *result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...)) }
	fmt.Fprintf(tw, "parley-bench (%s, %s)\n", r.Mode, r.Addr)
	row("load", "%d sessions + %d idle, pty %s; %d senders × %.2f msg/s for %gs; %d handshakes in flight from %d source address(es)",
		r.Sessions, r.Idle, r.Size, r.Senders, r.Rate, r.DurationS, r.Concurrency, r.Sources)
	if r.WebSessions > 0 {
		row("web load", "%d web sessions (WebSocket), %d of them senders, from %d source address(es)", r.WebSessions, r.WebSenders, r.WebSources)
	}
	conn := func(title, open, first string, c *connectStats) {
		if c == nil {
			return
		}
		fmt.Fprintf(tw, "%s\n", title)
		row("connected", "%d of %d in %.2fs: %.1f sessions/s", c.Connected, c.Attempted, c.WallS, c.RatePerS)
		row(open, "p50 %.1f ms  p99 %.1f ms  max %.1f ms", c.Handshake.P50, c.Handshake.P99, c.Handshake.Max)
		row(first, "p50 %.1f ms  p99 %.1f ms  max %.1f ms", c.FirstScreen.P50, c.FirstScreen.P99, c.FirstScreen.Max)
		row("screens quiet after", "%.2fs more", c.SettleS)
		if c.ReceivedKiB > 0 {
			row("received while connecting", "%.1f KiB per session on the wire", c.ReceivedKiB)
		}
		for _, e := range c.Errors {
			row("error", "%s", e)
		}
	}
	conn("idle sessions", "handshake+shell", "time to first screen", r.IdleConnect)
	conn("sessions", "handshake+shell", "time to first screen", r.Connect)
	conn("web sessions", "sign-in+WebSocket", "time to first backlog", r.WebConnect)
	delivery := func(title string, d *deliveryStats) {
		if d == nil {
			return
		}
		fmt.Fprintf(tw, "%s\n", title)
		row("delivered", "%d of %d (%d tokens × %d receivers): %.4f", d.Seen, d.Expected, d.TokensSent, d.Receivers, d.Fraction)
		if d.MissedGap+d.MissedTail > 0 {
			row("missed", "%d with a later token seen (scrolled past or dropped), %d at the end", d.MissedGap, d.MissedTail)
		}
		row("latency", "p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms  (mean %.1f)", d.Latency.P50, d.Latency.P90, d.Latency.P99, d.Latency.Max, d.Latency.Mean)
		row("deliveries/s", "%.0f", d.DeliveriesPerS)
		note := ""
		if strings.HasPrefix(r.Mode, "inprocess") {
			note = " (server included: one process)"
		}
		row("load generator CPU", "%.0f%% of one core while sending%s", d.BenchCPUPercent, note)
	}
	title := "delivery"
	if r.WebDelivery != nil {
		title = "delivery to SSH sessions"
	}
	delivery(title, r.Delivery)
	if o := r.Output; o != nil {
		row("output per receiver", "%.1f KiB/s in %.1f reads/s; %.1f frames/s (busiest %.1f)", o.KiBPerSessionPerS, o.ReadsPerSessionPerS, o.FramesPerSessionPerS, o.MaxFramesPerS)
		row("bytes per delivery", "%.1f (all bytes receivers were sent while measuring / tokens seen); %.1f on the wire (SSH packets)", o.BytesPerDelivery, o.WireBytesPerDelivery)
		row("left/right margins", "turned on for %d of %d receivers (%s)", o.MarginsOn, o.Receivers, marginsPath(o))
	}
	delivery("delivery to web sessions", r.WebDelivery)
	if o := r.WebOutput; o != nil {
		row("output per receiver", "%.1f KiB/s in %.1f frames/s", o.KiBPerSessionPerS, o.FramesPerSessionPerS)
		row("bytes per delivery", "%.1f (all JSON frames receivers were sent while measuring / tokens seen); %.1f on the wire (WebSocket frames, no TLS)", o.BytesPerDelivery, o.WireBytesPerDelivery)
	}
	for i, n := range r.Nodes {
		fmt.Fprintf(tw, "node %d (%s)\n", i+1, n.Addr)
		row("receivers", "%d SSH, %d web", n.SSHReceivers, n.WebReceivers)
		row("delivered", "%d of %d: %.4f", n.Seen, n.Expected, n.Fraction)
		row("latency", "p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms", n.Latency.P50, n.Latency.P90, n.Latency.P99, n.Latency.Max)
		if n.PID > 0 {
			row("CPU while sending", "%.0f%% of one core (process %d)", n.CPUSendPercent, n.PID)
		}
	}
	if j := r.JetStream; j != nil {
		fmt.Fprintf(tw, "JetStream (%s)\n", j.Stream)
		row("acknowledged", "%d messages while sending (%d tokens sent): %.1f/s; %d by the end of the drain", j.AckedDuringSend, j.TokensSent, j.AckedPerS, j.AckedByEnd)
	}
	if p := r.Process; p != nil && len(p.PIDs) > 1 {
		fmt.Fprintf(tw, "processes %s (%s)\n", strings.Trim(strings.Join(strings.Fields(fmt.Sprint(p.PIDs)), ","), "[]"), p.Scope)
	} else if p != nil {
		fmt.Fprintf(tw, "process %d (%s)\n", p.PID, p.Scope)
		if r.IdleConnect != nil {
			row("RSS idle sessions", "%s → %s: %.1f KiB per idle session", kib(p.RSSBaseKiB), kib(p.RSSIdleKiB), p.RSSPerIdleSessionKiB)
		}
		if r.Connect != nil {
			// Per session is the growth while these sessions connected: after
			// the idle ones, when there are any.
			from, was := "base", p.RSSBaseKiB
			if r.IdleConnect != nil {
				from, was = "with the idle sessions", p.RSSIdleKiB
			}
			row("RSS after connect", "%s (%s %s): %.1f KiB per session", kib(p.RSSConnectedKiB), from, kib(was), p.RSSPerSessionKiB)
			row("CPU while connecting", "%.0f%% of one core", p.CPUConnectPercent)
		}
		if r.WebConnect != nil {
			row("RSS after web connect", "%s: %.1f KiB per web session (server and, in-process, client)", kib(p.RSSWebConnectedKiB), p.RSSPerWebSessionKiB)
		}
		row("CPU with everyone idle", "%.0f%% of one core", p.CPUIdlePercent)
		row("RSS at end", "%s", kib(p.RSSEndKiB))
		if r.Delivery != nil {
			row("CPU while sending", "%.0f%% of one core", p.CPUSendPercent)
		}
	}
	m := r.Machine
	fmt.Fprintf(tw, "machine\n")
	row("CPUs, load average", "%d; %.2f at start", m.CPUs, m.LoadAvgStart)
	if r.Delivery != nil {
		others := m.CPUSendPercent - r.Delivery.BenchCPUPercent
		if p := r.Process; p != nil && p.Scope == "server" {
			others -= p.CPUSendPercent
		}
		row("CPU while sending", "%.0f%% of one core, all processes (%.0f%% not this run's); load average %.2f at the end", m.CPUSendPercent, max(others, 0), m.LoadAvgSendEnd)
	}
	if len(r.ServerWarnings) > 0 {
		fmt.Fprintf(tw, "server warnings\n")
		keys := make([]string, 0, len(r.ServerWarnings))
		for k := range r.ServerWarnings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			row(fmt.Sprintf("%d×", r.ServerWarnings[k]), "%s", k)
		}
	}
	if r.EndedEarly > 0 {
		row("ended early", "%d sessions; last screens: %s", r.EndedEarly, strings.Join(r.EndReasons, " // "))
	}
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(tw, "result: %s (min delivered %.4f)\n", verdict, r.MinDelivered)
	for _, p := range r.Problems {
		row("problem", "%s", p)
	}
	return tw.Flush()
}

// marginsPath names the path the server took for the receivers' screens.
func marginsPath(o *outputStats) string {
	switch o.MarginsOn {
	case 0:
		return "no margins: full-width scrolls"
	case o.Receivers:
		return "margins: the log scrolls alone"
	}
	return "mixed"
}

func kib(n int64) string {
	if n >= 10<<10 {
		return fmt.Sprintf("%.1f MiB", float64(n)/1024)
	}
	return fmt.Sprintf("%d KiB", n)
}
