package ops_test

import (
	"testing"

	"parley/ops"
)

// The connection gate's metrics (issue 18 item 2, issue 13 item 9): the
// refusals by reason, the results a guest produces, the delays of a waiting
// sender kept apart from refusals, and the gate's gauges at scrape time.
func TestGateAndDelayMetrics(t *testing.T) {
	m := ops.NewMetrics("v1", nil)
	stats := ops.GateStats{Unauthenticated: 7, Penalized: 2}
	if err := m.WatchGate(func() ops.GateStats { return stats }); err != nil {
		t.Fatal(err)
	}
	base := start(t, m, nil, ops.Options{})
	before := scrape(t, base)
	for _, k := range []string{
		`parley_connections_refused_total{reason="penalty"}`, `parley_connections_refused_total{reason="source"}`,
		`parley_connections_refused_total{reason="key"}`, `parley_connections_refused_total{reason="proxy"}`,
		`parley_auth_total{result="failed"}`, `parley_auth_total{result="guest"}`, `parley_auth_total{result="joined"}`,
		`parley_messages_delayed_total`,
	} {
		if v, ok := before[k]; !ok || v != 0 {
			t.Errorf("before: %s = %v, %v; want 0, present", k, v, ok)
		}
	}
	m.ConnectionRefused("penalty")
	m.ConnectionRefused("penalty")
	m.ConnectionRefused("source")
	m.AuthResult(ops.AuthGuest)
	m.AuthResult(ops.AuthFailed)
	m.MessageRefused("delayed")
	m.MessageRefused("delayed")
	m.MessageRefused("rate")
	m.ConnectionRefused("bad\xff") // dropped, must not panic
	after := scrape(t, base)
	for k, want := range map[string]float64{
		`parley_connections_refused_total{reason="penalty"}`: 2,
		`parley_connections_refused_total{reason="source"}`:  1,
		`parley_auth_total{result="guest"}`:                  1,
		`parley_auth_total{result="failed"}`:                 1,
		`parley_auth_total{result="refused"}`:                0,
		`parley_messages_delayed_total`:                      2,
		`parley_messages_refused_total{reason="rate"}`:       1,
		`parley_unauthenticated_connections`:                 7,
		`parley_penalized_sources`:                           2,
	} {
		if after[k] != want {
			t.Errorf("%s = %v, want %v", k, after[k], want)
		}
	}
}
