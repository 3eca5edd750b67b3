package ops_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"parley/ops"
	"parley/room"
	"parley/screen"
)

// start serves an ops listener on 127.0.0.1:0 and returns its base URL.
func start(t *testing.T, m *ops.Metrics, ready func(context.Context) error, opts ops.Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := ops.NewServer(ln.Addr().String(), m, ready, opts)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape returns the samples of /metrics in the text format, keyed by
// name{labels} as exposed.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	return parse(t, body)
}

// parse reads samples in the Prometheus text format, keyed by name{labels}.
func parse(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsMove(t *testing.T) {
	var sessions atomic.Int64
	m := ops.NewMetrics("v1.2.3", func() float64 { return float64(sessions.Load()) })
	base := start(t, m, nil, ops.Options{})

	before := scrape(t, base)
	zero := []string{
		`parley_sessions_active`,
		`parley_connections_total`,
		`parley_auth_total{result="accepted"}`,
		`parley_auth_total{result="refused"}`,
		`parley_auth_total{result="failed"}`,
		`parley_messages_total{kind="chat"}`,
		`parley_messages_refused_total{reason="rate"}`,
		`parley_sessions_dropped_total{reason="slow"}`,
		`parley_store_append_errors_total`,
		`parley_store_append_seconds_count`,
		`parley_store_batch_size_count`,
	}
	for _, k := range zero {
		if v, ok := before[k]; !ok || v != 0 {
			t.Errorf("before: %s = %v, %v; want 0, present", k, v, ok)
		}
	}
	bi := `parley_build_info{goversion="` + runtimeVersion(t, before) + `",version="v1.2.3"}`
	if before[bi] != 1 {
		t.Errorf("%s = %v, want 1", bi, before[bi])
	}
	for _, k := range []string{"go_goroutines", "process_open_fds"} {
		if _, ok := before[k]; !ok {
			t.Errorf("%s missing: Go and process collectors not registered", k)
		}
	}

	sessions.Store(3)
	m.ConnectionOpened()
	m.ConnectionOpened()
	m.AuthResult(ops.AuthAccepted)
	m.AuthResult(ops.AuthRefused)
	m.AuthResult(ops.AuthRefused)
	m.AuthResult(ops.AuthFailed)
	m.MessageStored(room.KindChat, 2)
	m.MessageStored(room.KindEmote, 1)
	m.MessageStored(room.KindChat, 0)  // ignored
	m.MessageStored(room.KindChat, -1) // ignored, must not panic
	m.MessageRefused("rate")
	m.SessionDropped("slow")
	m.CommandRun("nick")
	m.CommandRun("nick")
	m.StoreLatency(3*time.Millisecond, 4, nil)
	m.StoreLatency(time.Second, 1, errors.New("disk full"))
	m.CommandRun("bad\xff") // invalid UTF-8: dropped, must not panic

	after := scrape(t, base)
	want := map[string]float64{
		`parley_sessions_active`:                         3,
		`parley_connections_total`:                       2,
		`parley_auth_total{result="accepted"}`:           1,
		`parley_auth_total{result="refused"}`:            2,
		`parley_auth_total{result="failed"}`:             1,
		`parley_messages_total{kind="chat"}`:             2,
		`parley_messages_total{kind="emote"}`:            1,
		`parley_messages_refused_total{reason="rate"}`:   1,
		`parley_sessions_dropped_total{reason="slow"}`:   1,
		`parley_commands_total{command="nick"}`:          2,
		`parley_store_append_errors_total`:               1,
		`parley_store_append_seconds_count`:              2,
		`parley_store_append_seconds_sum`:                1.003,
		`parley_store_append_seconds_bucket{le="0.004"}`: 1,
		`parley_store_batch_size_count`:                  2,
		`parley_store_batch_size_sum`:                    5,
	}
	for k, w := range want {
		if got, ok := after[k]; !ok || abs(got-w) > 1e-9 {
			t.Errorf("after: %s = %v (present %v), want %v", k, got, ok, w)
		}
	}
	for k := range after {
		if strings.Contains(k, "bad") {
			t.Errorf("invalid label value exposed: %s", k)
		}
	}
}

func runtimeVersion(t *testing.T, samples map[string]float64) string {
	t.Helper()
	for k := range samples {
		if rest, ok := strings.CutPrefix(k, `parley_build_info{goversion="`); ok {
			return rest[:strings.IndexByte(rest, '"')]
		}
	}
	t.Fatal("parley_build_info missing")
	return ""
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestMetricsRegistryIsPrivate(t *testing.T) {
	// Two instances in one process must not collide (no global registry).
	a := ops.NewMetrics("", nil)
	b := ops.NewMetrics("", nil)
	a.ConnectionOpened()
	if v := direct(t, a)["parley_connections_total"]; v != 1 {
		t.Errorf("a: connections = %v, want 1", v)
	}
	if v := direct(t, b)["parley_connections_total"]; v != 0 {
		t.Errorf("b: connections = %v, want 0", v)
	}
	if _, err := a.Gatherer().Gather(); err != nil {
		t.Errorf("Gather: %v", err)
	}
}

// direct scrapes m.Handler without a listener.
func direct(t *testing.T, m *ops.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return parse(t, rec.Body.String())
}

func TestHealthzReadyz(t *testing.T) {
	var failing atomic.Pointer[error]
	ready := func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline on the readiness context")
		}
		if e := failing.Load(); e != nil {
			return *e
		}
		return nil
	}
	base := start(t, ops.NewMetrics("", nil), ready, ops.Options{})

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("/readyz = %d %q, want 200 ok", code, body)
	}
	e := errors.New("store: database is locked\nsecond line")
	failing.Store(&e)
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "store: database is locked second line") {
		t.Errorf("/readyz while failing = %d %q, want 503 with the error on one line", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz must not depend on readiness: %d", code)
	}
	failing.Store(nil)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz after recovery = %d", code)
	}
	if code, _ := get(t, base+"/nope"); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
	resp, err := http.Post(base+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
	}
}

func TestReadyzTimesOut(t *testing.T) {
	ready := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	base := start(t, ops.NewMetrics("", nil), ready, ops.Options{})
	t0 := time.Now()
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "deadline") {
		t.Errorf("/readyz with a stuck check = %d %q", code, body)
	}
	if d := time.Since(t0); d > ops.ReadyTimeout+2*time.Second {
		t.Errorf("/readyz took %v", d)
	}
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	off := start(t, ops.NewMetrics("", nil), nil, ops.Options{})
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		if code, _ := get(t, off+p); code != http.StatusNotFound {
			t.Errorf("pprof disabled: %s = %d, want 404", p, code)
		}
	}
	on := start(t, ops.NewMetrics("", nil), nil, ops.Options{EnablePprof: true})
	if code, body := get(t, on+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof enabled: index = %d", code)
	}
	if code, _ := get(t, on+"/debug/pprof/goroutine?debug=1"); code != 200 {
		t.Errorf("pprof enabled: goroutine = %d", code)
	}
}

func TestHealthcheck(t *testing.T) {
	base := start(t, ops.NewMetrics("", nil), nil, ops.Options{})
	ctx := context.Background()
	if err := ops.Healthcheck(ctx, base+"/healthz"); err != nil {
		t.Errorf("live: %v", err)
	}
	if err := ops.Healthcheck(ctx, base+"/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404 answer: %v, want an error naming the status", err)
	}

	// A dead address: a port that was just listening and is now closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/healthz"
	ln.Close()
	if err := ops.Healthcheck(ctx, dead); err == nil {
		t.Error("dead address: want an error")
	}

	// A listener that accepts and never answers: bounded by ctx.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := ops.Healthcheck(short, "http://"+hang.Addr().String()+"/healthz"); err == nil {
		t.Error("silent server: want an error")
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("silent server: took %v", d)
	}
}

func TestHealthURL(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"127.0.0.1:9091", "http://127.0.0.1:9091/healthz"},
		{"0.0.0.0:9091", "http://127.0.0.1:9091/healthz"},
		{":9091", "http://127.0.0.1:9091/healthz"},
		{"[::]:9091", "http://[::1]:9091/healthz"},
		{"[fdaa::3]:9091", "http://[fdaa::3]:9091/healthz"},
		{"ops.internal:9091", "http://ops.internal:9091/healthz"},
	} {
		got, err := ops.HealthURL(c.addr)
		if err != nil || got != c.want {
			t.Errorf("HealthURL(%q) = %q, %v; want %q", c.addr, got, err, c.want)
		}
	}
	if _, err := ops.HealthURL(""); !errors.Is(err, ops.ErrDisabled) {
		t.Errorf("HealthURL(\"\") = %v, want ErrDisabled", err)
	}
	if _, err := ops.HealthURL("9091"); err == nil {
		t.Error("HealthURL(\"9091\"): want an error")
	}
}

func TestCloseBeforeServe(t *testing.T) {
	s := ops.NewServer("127.0.0.1:0", ops.NewMetrics("", nil), nil, ops.Options{})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := s.Serve(ln); err != nil {
		t.Errorf("Serve after Close = %v, want nil", err)
	}
}

// TestBytesWrittenIsExposed: the screens' byte counter is on /metrics.
func TestBytesWrittenIsExposed(t *testing.T) {
	m := ops.NewMetrics("v", nil)
	got := direct(t, m)
	v, ok := got["parley_ssh_bytes_written_total"]
	if want := float64(screen.BytesWritten()); !ok || v != want {
		t.Errorf("parley_ssh_bytes_written_total = %v (present %v), want %v", v, ok, want)
	}
}

// The node's name is on /healthz's second line and in parley_node_info,
// so that an operator can tell a cluster's nodes apart behind one address.
// Issue 15, "What an operator gets".
func TestNodeNamedInHealthzAndMetrics(t *testing.T) {
	m := ops.NewMetrics("", nil)
	if err := m.SetNode("fra-1"); err != nil {
		t.Fatal(err)
	}
	base := start(t, m, nil, ops.Options{Node: "fra-1"})
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\nnode fra-1\n" {
		t.Errorf("/healthz = %d %q, want the node's name on the second line", code, body)
	}
	_, body := get(t, base+"/metrics")
	if !strings.Contains(body, `parley_node_info{node="fra-1"} 1`) {
		t.Errorf("/metrics lacks parley_node_info for fra-1:\n%s", body)
	}
	// Without a node (the default before --node existed), "ok" alone.
	plain := start(t, ops.NewMetrics("", nil), nil, ops.Options{})
	if _, body := get(t, plain+"/healthz"); body != "ok\n" {
		t.Errorf("/healthz without a node = %q", body)
	}
}
