package ops

import (
	"errors"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"parley/room"
	"parley/screen"
)

// Results of an authentication attempt, the values AuthResult accepts.
const (
	// AuthAccepted: an offered key was authorized.
	AuthAccepted = "accepted"
	// AuthRefused: an offered key is not authorized (unknown, expired, not
	// allowed from this address). A client that offers several keys counts
	// once per key.
	AuthRefused = "refused"
	// AuthFailed: a connection ended before authentication completed
	// (handshake error, no acceptable key, timeout, a guest that did not
	// join).
	AuthFailed = "failed"
	// AuthGuest: an unknown key let through, while an invite is open, to
	// run join CODE and nothing else. It stays unauthenticated until the
	// join succeeds.
	AuthGuest = "guest"
	// AuthJoined: a guest's join succeeded; its key is now authorized.
	AuthJoined = "joined"
)

// Bounded label values that are known in advance. They are created at zero
// so that rate() and absent() work before the first event.
var (
	authResults    = []string{AuthAccepted, AuthRefused, AuthFailed, AuthGuest, AuthJoined}
	connRefusals   = []string{"penalty", "source", "total", "dropped", "key", "proxy"}
	refusedReasons = []string{"store", "empty", "rate", "muted"}
	droppedReasons = []string{"slow", "kicked", "revoked"}
	storeBuckets   = prometheus.ExponentialBuckets(0.0005, 2, 13) // 0.5ms .. ~2s
	batchBuckets   = prometheus.ExponentialBuckets(1, 2, 10)      // 1 .. 512
)

// Metrics holds parley's Prometheus collectors in a private registry. It
// implements room.Observer; its methods are safe for concurrent use, never
// block and never panic, so the hub may call them with its lock held.
type Metrics struct {
	reg *prometheus.Registry

	connections    prometheus.Counter
	connsRefused   *prometheus.CounterVec
	auth           *prometheus.CounterVec
	messages       *prometheus.CounterVec
	refused        *prometheus.CounterVec
	delayed        prometheus.Counter
	dropped        *prometheus.CounterVec
	commands       *prometheus.CounterVec
	storeAppend    prometheus.Histogram
	storeErrors    prometheus.Counter
	storeBatchSize prometheus.Histogram
}

var _ room.Observer = (*Metrics)(nil)

// NewMetrics builds the collectors and registers them, with the Go runtime
// and process collectors, in a new private registry.
//
// sessions reports the number of connected sessions for
// parley_sessions_active; it is called at scrape time (never from the
// hub's hot path) and may be nil (always 0). version labels
// parley_build_info; "" means the module version from the build info.
func NewMetrics(version string, sessions func() float64) *Metrics {
	if version == "" {
		version = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	if sessions == nil {
		sessions = func() float64 { return 0 }
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_connections_total",
			Help: "TCP connections accepted by the SSH listener.",
		}),
		connsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_connections_refused_total",
			Help: "Connections refused before a session, by reason: penalty (a penalized address before its turn), source (unauthenticated connections per address), total (unauthenticated connections in all), dropped (early drop under load), key (connections per key), proxy (a missing, bad or untrusted PROXY header).",
		}, []string{"reason"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_auth_total",
			Help: "Authentication results: accepted and refused per offered key, guest per unknown key let through to run join while an invite is open, joined per guest whose join succeeded, failed per connection that closed without authenticating.",
		}, []string{"result"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_messages_total",
			Help: "Messages committed to a room, by kind.",
		}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_messages_refused_total",
			Help: "Messages not delivered, by reason.",
		}, []string{"reason"}),
		delayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_messages_delayed_total",
			Help: "Times the flood limit held back a message from a sender that waits and sends it again (ssh host say): delivered late, not refused.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_sessions_dropped_total",
			Help: "Sessions the server ended itself, by reason (slow: outgoing queue full).",
		}, []string{"reason"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_commands_total",
			Help: "Commands run, by registered command name.",
		}, []string{"command"}),
		storeAppend: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_store_append_seconds",
			Help:    "Time to append one batch of messages to the history store, failures included.",
			Buckets: storeBuckets,
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_store_append_errors_total",
			Help: "Batches the history store failed to append.",
		}),
		storeBatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_store_batch_size",
			Help:    "Messages per batch appended to the history store.",
			Buckets: batchBuckets,
		}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_sessions_active",
		Help: "SSH sessions connected to the rooms now.",
	}, sessions)
	written := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "parley_ssh_bytes_written_total",
		Help: "Bytes written to the sessions' terminals (frames and terminal restores, before SSH framing and encryption), all sessions together.",
	}, func() float64 { return float64(screen.BytesWritten()) })
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "parley_build_info",
		Help:        "Always 1; labels describe the running binary.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)

	m.reg.MustRegister(
		m.connections, m.connsRefused, m.auth, m.messages, m.refused, m.delayed, m.dropped, m.commands,
		m.storeAppend, m.storeErrors, m.storeBatchSize, active, written, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, r := range authResults {
		m.auth.WithLabelValues(r)
	}
	for _, r := range connRefusals {
		m.connsRefused.WithLabelValues(r)
	}
	for _, r := range refusedReasons {
		m.refused.WithLabelValues(r)
	}
	for _, r := range droppedReasons {
		m.dropped.WithLabelValues(r)
	}
	for k := room.Kind(1); k != 0; k++ { // every Kind value, 1..255
		if k.Stored() {
			m.messages.WithLabelValues(k.String())
		}
	}
	return m
}

// Register adds a collector to the private registry, for example
// collectors.NewDBStatsCollector for the store's *sql.DB.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Gatherer returns the private registry, for tests and custom exporters.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the private registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// ConnectionOpened counts a TCP connection accepted by the SSH listener,
// before the handshake.
func (m *Metrics) ConnectionOpened() { m.connections.Inc() }

// AuthResult counts an authentication result: AuthAccepted, AuthRefused,
// AuthFailed, AuthGuest or AuthJoined.
func (m *Metrics) AuthResult(result string) { inc(m.auth, result) }

// ConnectionRefused counts a connection refused before a session, by a
// fixed reason (see parley_connections_refused_total).
func (m *Metrics) ConnectionRefused(reason string) { inc(m.connsRefused, reason) }

// GateStats is what WatchGate reports: the gate's tables now.
type GateStats struct {
	Unauthenticated int // connections admitted and not yet authenticated
	Penalized       int // addresses under a failed-login penalty
}

// WatchGate exports the connection gate's tables as gauges, read at scrape
// time: parley_unauthenticated_connections and parley_penalized_sources.
func (m *Metrics) WatchGate(stats func() GateStats) error {
	return errors.Join(
		m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_unauthenticated_connections",
			Help: "Connections admitted that have not authenticated yet (guests included, until their join succeeds).",
		}, func() float64 { return float64(stats().Unauthenticated) })),
		m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_penalized_sources",
			Help: "Addresses slowed down after repeated failed logins.",
		}, func() float64 { return float64(stats().Penalized) })),
	)
}

// MessageStored counts n messages of kind committed to a room.
func (m *Metrics) MessageStored(kind room.Kind, n int) {
	if n <= 0 {
		return
	}
	if c, err := m.messages.GetMetricWithLabelValues(kind.String()); err == nil {
		c.Add(float64(n))
	}
}

// MessageRefused counts a message not delivered, by a fixed reason; the
// reason "delayed" (a message held back from a sender that sends it again)
// goes to parley_messages_delayed_total instead.
func (m *Metrics) MessageRefused(reason string) {
	if reason == "delayed" {
		m.delayed.Inc()
		return
	}
	inc(m.refused, reason)
}

// SessionDropped counts a session the hub ended itself, by a fixed reason.
func (m *Metrics) SessionDropped(reason string) { inc(m.dropped, reason) }

// StoreLatency observes one append of a batch of batch messages to the
// history store.
func (m *Metrics) StoreLatency(d time.Duration, batch int, err error) {
	m.storeAppend.Observe(d.Seconds())
	m.storeBatchSize.Observe(float64(batch))
	if err != nil {
		m.storeErrors.Inc()
	}
}

// CommandRun counts a command by its registered name. The caller passes only
// names from the command registry, so the label set stays bounded.
func (m *Metrics) CommandRun(name string) { inc(m.commands, name) }

// inc increments one child of v. An invalid label value is dropped rather
// than allowed to panic on a hot path.
func inc(v *prometheus.CounterVec, label string) {
	if c, err := v.GetMetricWithLabelValues(label); err == nil {
		c.Inc()
	}
}
