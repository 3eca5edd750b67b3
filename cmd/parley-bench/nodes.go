package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// maxNodes bounds -nodes and -addrs: a bench of a few nodes on one
// machine, not a fleet.
const maxNodes = 16

// node is one server the sessions connect to: its SSH address and, when
// it has one, its web page. Session i (of either kind) uses node i mod n.
type node struct {
	addr string   // SSH host:port
	web  *url.URL // the web page's base URL; nil when there is none
	pid  int      // its process, for RSS and CPU; 0 when unknown
}

// nodeOf is the node of the i-th session of a kind.
func (b *bench) nodeOf(i int) int { return i % len(b.nodes) }

// parseNodes reads -addr/-addrs, -pid, -host-key, -web, -nodes and -nats
// into c, and checks that they go together.
func (c *config) parseNodes(set map[string]bool, addrs, pids, hostKeys, webURLs string) error {
	if c.inprocess {
		for _, f := range []string{"addr", "addrs", "pid", "host-key", "web", "nats"} {
			if set[f] {
				return fmt.Errorf("-inprocess starts its own servers: -%s does not apply", f)
			}
		}
		if c.nodes < 1 || c.nodes > maxNodes {
			return fmt.Errorf("-nodes %d: between 1 and %d", c.nodes, maxNodes)
		}
		return nil
	}
	if set["nodes"] {
		return errors.New("-nodes goes with -inprocess; against external nodes use -addrs")
	}
	if set["addr"] && set["addrs"] {
		return errors.New("-addr and -addrs: give one of them")
	}
	c.addrs = []string{c.addr}
	if set["addrs"] {
		c.addrs = splitList(addrs)
	}
	if len(c.addrs) == 0 || len(c.addrs) > maxNodes {
		return fmt.Errorf("-addrs: between 1 and %d addresses", maxNodes)
	}
	for _, a := range c.addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("-addrs: %q is not host:port", a)
		}
	}
	if dup := firstDuplicate(c.addrs); dup != "" {
		return fmt.Errorf("-addrs: %s is given twice", dup)
	}
	for _, p := range splitList(pids) {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return fmt.Errorf("-pid %q: a positive process ID", p)
		}
		c.pids = append(c.pids, n)
	}
	if len(c.pids) > 0 && len(c.pids) != len(c.addrs) {
		return fmt.Errorf("-pid: %d PIDs for %d addresses; give one per node, in the order of -addrs", len(c.pids), len(c.addrs))
	}
	for _, k := range splitList(hostKeys) {
		if !strings.HasPrefix(k, "SHA256:") {
			return errors.New("-host-key: a SHA256:... fingerprint, as ssh-keygen -lf prints")
		}
		c.hostKeys = append(c.hostKeys, k)
	}
	for _, w := range splitList(webURLs) {
		u, err := url.Parse(strings.TrimSuffix(w, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return fmt.Errorf("-web %q: the page's base URL, http(s)://HOST:PORT", w)
		}
		c.webURLs = append(c.webURLs, u.String())
	}
	switch {
	case len(c.webURLs) > 0 && len(c.webURLs) != len(c.addrs):
		// A sign-in link works on the node that printed it only.
		return fmt.Errorf("-web: %d URLs for %d SSH addresses; give each node's page, in the order of -addrs", len(c.webURLs), len(c.addrs))
	case c.webSessions > 0 && len(c.webURLs) == 0:
		return errors.New("-web-sessions against an external server needs its page: -web http://HOST:PORT")
	}
	if c.natsURL != "" {
		if u, err := url.Parse(strings.Split(c.natsURL, ",")[0]); err != nil || u.Host == "" {
			return fmt.Errorf("-nats %q: a NATS URL, nats://HOST:PORT", c.natsURL)
		}
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func firstDuplicate(xs []string) string {
	for i, x := range xs {
		if slices.Contains(xs[:i], x) {
			return x
		}
	}
	return ""
}

// fingerprintsCallback accepts a host key whose fingerprint is one of want.
func fingerprintsCallback(want []string) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		got := ssh.FingerprintSHA256(key)
		if slices.Contains(want, got) {
			return nil
		}
		return fmt.Errorf("host key %s, want one of %s", got, strings.Join(want, ", "))
	}
}

// nodeStats are one node's share of a run over several nodes: its
// receivers' deliveries and latency (from a token's sending, on whichever
// node it was typed), and its process's CPU when -pid named it.
type nodeStats struct {
	Addr           string  `json:"addr"`
	Web            string  `json:"web,omitempty"`
	SSHReceivers   int     `json:"ssh_receivers"`
	WebReceivers   int     `json:"web_receivers"`
	Expected       int64   `json:"expected"`
	Seen           int64   `json:"seen"`
	Fraction       float64 `json:"delivered_fraction"`
	Latency        dist    `json:"latency"`
	PID            int     `json:"pid,omitempty"`
	CPUSendPercent float64 `json:"cpu_send_percent,omitempty"` // its process over the sending phase, % of one core
}

// nodeCPU reads each node's process CPU time (zero for those without).
func (b *bench) nodeCPU() []time.Duration {
	out := make([]time.Duration, len(b.nodes))
	for i, n := range b.nodes {
		if n.pid > 0 {
			d, err := readCPU(n.pid)
			if err != nil {
				b.problem("reading CPU time of %d: %v", n.pid, err)
			}
			out[i] = d
		}
	}
	return out
}

// nodeStats splits the deliveries by the receivers' nodes.
func (b *bench) nodeStats(ssh []*session, web []*webSession, sent int64, cpu0, cpu1 []time.Duration, wall time.Duration) []nodeStats {
	out := make([]nodeStats, len(b.nodes))
	lats := make([][]time.Duration, len(b.nodes))
	for i, n := range b.nodes {
		out[i] = nodeStats{Addr: n.addr, PID: n.pid}
		if n.web != nil {
			out[i].Web = n.web.String()
		}
		if n.pid > 0 {
			out[i].CPUSendPercent = percentOf(cpu1[i]-cpu0[i], wall)
		}
	}
	for _, s := range ssh {
		out[s.node].SSHReceivers++
		s.mu.Lock()
		lats[s.node] = append(lats[s.node], s.lat...)
		s.mu.Unlock()
	}
	for _, w := range web {
		out[w.node].WebReceivers++
		w.mu.Lock()
		lats[w.node] = append(lats[w.node], w.lat...)
		w.mu.Unlock()
	}
	for i := range out {
		out[i].Expected = sent * int64(out[i].SSHReceivers+out[i].WebReceivers)
		out[i].Seen = int64(len(lats[i]))
		if out[i].Expected > 0 {
			out[i].Fraction = float64(out[i].Seen) / float64(out[i].Expected)
		}
		out[i].Latency = summarize(lats[i])
	}
	return out
}
