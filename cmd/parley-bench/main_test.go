package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"-sessions", "0"},
		{"-sessions", "3", "-senders", "4"},
		{"-rate", "0"},
		{"-size", "100by30"},
		{"-size", "10x30"},
		{"-inprocess", "-pid", "1"},
		{"-inprocess", "-addr", "127.0.0.1:1"},
		{"-keys", "3", "-sessions", "5"},
		{"-out", "x"},
		{"-min-delivered", "1.5"},
		{"-concurrency", "0"},
		{"-no-such-flag"},
		{"-margins", "maybe"},
		{"-emulator", "vt10x", "-margins", "answer"},
		{"stray"},
	} {
		var out bytes.Buffer
		if code := run(t.Context(), args, &out, &out); code != exitUsage {
			t.Errorf("%q: exit %d, want %d; output:\n%s", args, code, exitUsage, out.String())
		}
	}
}

// TestSmokeInProcess is the whole tool against the real server in this
// process: a few sessions, two senders, everything delivered.
func TestSmokeInProcess(t *testing.T) {
	before := runtime.NumGoroutine()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{
		"-inprocess", "-sessions", "5", "-senders", "2", "-rate", "2", "-duration", "2s",
		// The drain ends as soon as everything is seen; it is long for a
		// loaded CI machine under -race.
		"-quiet", "200ms", "-drain", "60s", "-timeout", "120s", "-json",
	}, &stdout, &stderr)
	t.Logf("progress:\n%s", stderr.String())
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("exit %d, output is not JSON: %v\n%s", code, err, stdout.String())
	}
	if code != exitOK || !res.Pass {
		t.Fatalf("exit %d, pass %v:\n%s", code, res.Pass, stdout.String())
	}
	c, d := res.Connect, res.Delivery
	if c == nil || c.Connected != 5 || c.Failed != 0 || c.RatePerS <= 0 || c.FirstScreen.P50 <= 0 {
		t.Errorf("connect: %+v", c)
	}
	if d == nil {
		t.Fatalf("no delivery figures:\n%s", stdout.String())
	}
	// Up to 2 senders × 2 msg/s × 2 s (a late ticker skips ticks on a busy
	// machine), each seen by all 5 sessions.
	if d.TokensSent < 2 || d.TokensSent > 8 || d.Receivers != 5 || d.Expected != 5*d.TokensSent || d.Seen != d.Expected || d.Fraction != 1.0 {
		t.Errorf("delivery: %+v", d)
	}
	if l := d.Latency; l.N != int(d.Seen) || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
		t.Errorf("latency: %+v", l)
	}
	if p := res.Process; p == nil || p.RSSConnectedKiB <= 0 || p.RSSEndKiB <= 0 {
		t.Errorf("process: %+v", p)
	}
	if res.EndedEarly != 0 || len(res.Problems) != 0 {
		t.Errorf("ended early %d, problems %q", res.EndedEarly, res.Problems)
	}

	// Every session, connection and server goroutine is gone. Goroutines
	// exit asynchronously after their connection closed: wait, bounded.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for runtime.NumGoroutine() > before {
		select {
		case <-poll.C:
		case <-deadline.C:
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before the run, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestMarginsPath: whether the emulators say they have left/right margins
// decides the server's path, the report says which it took, and bytes per
// delivery are counted either way.
func TestMarginsPath(t *testing.T) {
	for _, c := range []struct {
		args []string
		on   int
	}{
		{[]string{"-emulator", "grid"}, 3},
		{[]string{"-emulator", "grid", "-margins", "decline"}, 0},
		{[]string{"-emulator", "xvt"}, 3},
		{[]string{"-emulator", "xvt", "-margins", "decline"}, 0},
		{[]string{"-emulator", "vt10x"}, 0},
	} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append([]string{
			"-inprocess", "-sessions", "3", "-senders", "1", "-rate", "4", "-duration", "1s",
			"-quiet", "200ms", "-drain", "60s", "-timeout", "120s", "-json",
		}, c.args...), &stdout, &stderr)
		var res result
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || code != exitOK {
			t.Fatalf("%q: exit %d, %v:\n%s\n%s", c.args, code, err, stdout.String(), stderr.String())
		}
		o := res.Output
		if o == nil || o.Receivers != 3 || o.MarginsOn != c.on || o.BytesPerDelivery <= 0 {
			t.Errorf("%q: output %+v, want margins on for %d of 3", c.args, o, c.on)
		}
	}
}

// TestMarginWatchAcrossChunks: the sequence that turns margins on is found
// when a read splits it.
func TestMarginWatchAcrossChunks(t *testing.T) {
	for cut := range len(setLRMM) + 1 {
		var m marginWatch
		out := "\x1b[2J" + setLRMM + "\x1b[H"
		m.scan([]byte(out[:4+cut]))
		m.scan([]byte(out[4+cut:]))
		if !m.on.Load() {
			t.Errorf("cut at %d: not seen", cut)
		}
	}
	var m marginWatch
	m.scan([]byte("\x1b[?69"))
	m.scan([]byte("l\x1b[?6h"))
	if m.on.Load() {
		t.Error("seen in output that resets it")
	}
}

// TestGridDeclinesMargins: with -margins decline the grid says mode 69 is
// not recognized and ignores it when set.
func TestGridDeclinesMargins(t *testing.T) {
	var got bytes.Buffer
	cfg := config{cols: 20, rows: 8, declineMargins: true}
	g := cfg.newTerminal(&got).(*term)
	_, _ = g.Write([]byte("\x1b[?69$p\x1b[?69h"))
	if want := "\x1b[?69;0$y"; got.String() != want || g.lrmm {
		t.Errorf("answer %q (want %q), margins on %v", got.String(), want, g.lrmm)
	}
}

func TestTableOutput(t *testing.T) {
	var out bytes.Buffer
	r := &result{Mode: "inprocess", Sessions: 2, Connect: &connectStats{Attempted: 2, Connected: 2},
		Delivery: &deliveryStats{Expected: 4, Seen: 3, Fraction: 0.75, MissedGap: 1}, Pass: false, MinDelivered: 1}
	if err := writeTable(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 of 4", "0.7500", "1 with a later token seen", "FAIL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
