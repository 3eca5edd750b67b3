package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runJSON runs the tool with args and -json, and returns its result and
// exit code; it fails the test when the output is not the JSON result.
func runJSON(t *testing.T, args ...string) (result, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append(args, "-json"), &stdout, &stderr)
	t.Logf("progress:\n%s", stderr.String())
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("exit %d, output is not JSON: %v\n%s", code, err, stdout.String())
	}
	return res, code
}

// checkDelivery fails the test unless d saw every token sent on each of
// receivers receivers, with sensible latencies.
func checkDelivery(t *testing.T, kind string, d *deliveryStats, receivers int) {
	t.Helper()
	if d == nil {
		t.Fatalf("%s: no delivery figures", kind)
	}
	if d.TokensSent < 2 || d.Receivers != receivers || d.Expected != int64(receivers)*d.TokensSent ||
		d.Seen != d.Expected || d.Fraction != 1.0 || d.MissedGap+d.MissedTail != 0 {
		t.Errorf("%s delivery: %+v, want every one of the tokens on %d receivers", kind, d, receivers)
	}
	if l := d.Latency; l.N != int(d.Seen) || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
		t.Errorf("%s latency: %+v", kind, l)
	}
}

// TestWebAndSSHInProcess is the WebSocket mode against the real server
// and its real web page in this process: SSH and web sessions in one
// room, senders of both kinds, every token seen by every receiver of
// each kind, bytes per delivery counted for each.
func TestWebAndSSHInProcess(t *testing.T) {
	before := runtime.NumGoroutine()
	res, code := runJSON(t, "-inprocess", "-sessions", "4", "-senders", "1", "-web-sessions", "4", "-web-senders", "1",
		"-rate", "2", "-duration", "2s", "-quiet", "200ms", "-drain", "60s", "-timeout", "120s")
	if code != exitOK || !res.Pass {
		t.Fatalf("exit %d, pass %v, problems %q", code, res.Pass, res.Problems)
	}
	if c := res.WebConnect; c == nil || c.Connected != 4 || c.Failed != 0 || c.FirstScreen.P50 <= 0 {
		t.Errorf("web connect: %+v", c)
	}
	checkDelivery(t, "SSH", res.Delivery, 4)
	checkDelivery(t, "web", res.WebDelivery, 4)
	// Both senders' tokens reached both kinds: 2 senders, each at least
	// one token, counted once in each kind's total.
	if res.Delivery.TokensSent != res.WebDelivery.TokensSent {
		t.Errorf("SSH saw %d tokens sent, web %d", res.Delivery.TokensSent, res.WebDelivery.TokensSent)
	}
	// The payload is what the server wrote; the wire adds SSH's packets
	// (MACs, padding) or WebSocket's frame headers on top.
	if o := res.Output; o == nil || o.BytesPerDelivery <= 0 || o.WireBytesPerDelivery <= o.BytesPerDelivery {
		t.Errorf("SSH output: %+v", o)
	}
	if o := res.WebOutput; o == nil || o.Receivers != 4 || o.BytesPerDelivery <= 0 || o.WireBytesPerDelivery <= o.BytesPerDelivery {
		t.Errorf("web output: %+v", o)
	}
	if res.EndedEarly != 0 || len(res.Problems) != 0 || res.WebOutput.ErrorFrames != 0 {
		t.Errorf("ended early %d, problems %q, error frames %d", res.EndedEarly, res.Problems, res.WebOutput.ErrorFrames)
	}
	waitGoroutines(t, before)
}

// waitGoroutines fails the test unless the goroutines are back to before
// (every socket, HTTP connection and server goroutine gone) within a
// deadline: they exit asynchronously after their connection closed.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
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

// TestWebRefusalsReported: what the server refuses a web sender (here its
// flood control: 2 msg/s after a burst of 5, and the sender types 20 a
// second) comes back as error frames, which the report counts and names;
// the refused tokens are not delivered, so the run fails.
func TestWebRefusalsReported(t *testing.T) {
	res, code := runJSON(t, "-inprocess", "-sessions", "1", "-senders", "0", "-web-sessions", "1", "-web-senders", "1",
		"-rate", "20", "-duration", "1s", "-quiet", "200ms", "-drain", "2s", "-timeout", "60s")
	if code != exitFail || res.Pass {
		t.Fatalf("exit %d, pass %v: want a failure", code, res.Pass)
	}
	o, d := res.WebOutput, res.WebDelivery
	if o == nil || d == nil || o.ErrorFrames == 0 || d.Fraction >= 1 || d.Seen == 0 {
		t.Fatalf("web output %+v, delivery %+v: want error frames and some tokens missing", o, d)
	}
	if !strings.Contains(strings.Join(res.Problems, "\n"), "web senders were refused") {
		t.Errorf("problems %q do not name the refusals", res.Problems)
	}
}

// TestSignInRateLimitWaited: from one source address (-web-per-source 0)
// the sixth sign-in is over the page's burst of 5 and answered 429; the
// client waits as Retry-After says (the link is not used up by a 429) and
// signs in then.
func TestSignInRateLimitWaited(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the page's sign-in limit (10 s)")
	}
	res, code := runJSON(t, "-inprocess", "-sessions", "1", "-senders", "1", "-web-sessions", "6", "-web-per-source", "0",
		"-rate", "2", "-duration", "1s", "-quiet", "200ms", "-drain", "60s", "-timeout", "120s")
	if code != exitOK || !res.Pass {
		t.Fatalf("exit %d, pass %v, problems %q", code, res.Pass, res.Problems)
	}
	c := res.WebConnect
	if c == nil || c.Connected != 6 || res.WebSources != 1 || c.Handshake.Max < 5000 {
		t.Errorf("web connect %+v from %d sources: want all 6 from one, the last after waiting", c, res.WebSources)
	}
	checkDelivery(t, "web", res.WebDelivery, 6)
}

// TestWebOnlySenders: only web sessions type, and the SSH screens still
// show every token (what the page sends reaches the terminals).
func TestWebOnlySenders(t *testing.T) {
	res, code := runJSON(t, "-inprocess", "-sessions", "3", "-senders", "0", "-web-sessions", "2", "-web-senders", "2",
		"-rate", "2", "-duration", "2s", "-quiet", "200ms", "-drain", "60s", "-timeout", "120s")
	if code != exitOK || !res.Pass {
		t.Fatalf("exit %d, pass %v, problems %q", code, res.Pass, res.Problems)
	}
	checkDelivery(t, "SSH", res.Delivery, 3)
	checkDelivery(t, "web", res.WebDelivery, 2)
}

func TestLinkToken(t *testing.T) {
	out := "Open this link in your browser to sign in as bench0001 (it works once, for 10 minutes):\nhttp://127.0.0.1:8080/signin#abc_DEF-123\n"
	if tok, err := linkToken(out); err != nil || tok != "abc_DEF-123" {
		t.Errorf("linkToken: %q, %v", tok, err)
	}
	for _, bad := range []string{"", "parley: the web page is turned off on this server (--web)", "ftp://x/signin#abc", "http://x/signin#"} {
		if tok, err := linkToken(bad); err == nil {
			t.Errorf("linkToken(%q) = %q, want an error", bad, tok)
		}
	}
}

func TestTokenParse(t *testing.T) {
	ts := newTokenSet(42, 3, 5)
	if s, n, ok := ts.parse(ts.text(2, 4)); !ok || s != 2 || n != 4 {
		t.Errorf("parse(%q) = %d, %d, %v", ts.text(2, 4), s, n, ok)
	}
	other := newTokenSet(43, 3, 5) // another run's nonce
	for _, bad := range []string{"", "tok-", other.text(2, 4), ts.text(2, 4) + "0", ts.text(2, 4)[:len(ts.text(2, 4))-1], "x" + ts.text(1, 1)} {
		if s, n, ok := ts.parse(bad); ok {
			t.Errorf("parse(%q) = %d, %d: want no token", bad, s, n)
		}
	}
}

func TestWebSourceAddresses(t *testing.T) {
	b := &bench{cfg: config{webPerSource: 5, webSessions: 11}, webSpread: true}
	if got, want := b.webSourceAddr(0).IP.String(), "127.2.0.1"; got != want {
		t.Errorf("web session 0 from %s, want %s", got, want)
	}
	if got, want := b.webSourceAddr(4).IP.String(), "127.2.0.1"; got != want {
		t.Errorf("web session 4 from %s, want %s", got, want)
	}
	if got, want := b.webSourceAddr(5).IP.String(), "127.2.0.2"; got != want {
		t.Errorf("web session 5 from %s, want %s", got, want)
	}
	if b.webSources() != 3 {
		t.Errorf("%d sources for 11 sessions at 5 each, want 3", b.webSources())
	}
	b.webSpread = false
	if b.webSourceAddr(7) != nil || b.webSources() != 1 {
		t.Error("not spread: still a source address")
	}
}

func TestWebUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-web-sessions", "3"}, "-web http"},
		{[]string{"-web-sessions", "2", "-web-senders", "3", "-web", "http://127.0.0.1:8080"}, "-web-senders 3"},
		{[]string{"-inprocess", "-web", "http://127.0.0.1:8080"}, "-web does not apply"},
		{[]string{"-web", "ftp://x"}, "base URL"},
		{[]string{"-web", "http://x/path"}, "base URL"},
		{[]string{"-addrs", "a:1,b:2", "-web", "http://a:3"}, "1 URLs for 2"},
		{[]string{"-addrs", "a:1,a:1"}, "twice"},
		{[]string{"-addr", "a:1", "-addrs", "b:1"}, "one of them"},
		{[]string{"-addrs", "a:1,b:2", "-pid", "7"}, "1 PIDs for 2"},
		{[]string{"-nodes", "2"}, "-inprocess"},
		{[]string{"-inprocess", "-nodes", "0"}, "-nodes 0"},
		{[]string{"-inprocess", "-nats", "nats://x:1"}, "-nats does not apply"},
		{[]string{"-web-per-source", "-1"}, "-web-per-source"},
		{[]string{"-host-key", "MD5:x"}, "SHA256"},
	} {
		var out bytes.Buffer
		if code := run(t.Context(), c.args, &out, &out); code != exitUsage || !strings.Contains(out.String(), c.want) {
			t.Errorf("%q: exit %d (want %d), output %q (want %q in it)", c.args, code, exitUsage, out.String(), c.want)
		}
	}
}

// TestTableWebAndNodes: the table names each kind's delivery, each node
// and JetStream's figures.
func TestTableWebAndNodes(t *testing.T) {
	var out bytes.Buffer
	r := &result{Mode: "external, 2 nodes", Sessions: 2, WebSessions: 2, WebSenders: 1,
		Delivery:     &deliveryStats{Expected: 4, Seen: 4, Fraction: 1},
		WebDelivery:  &deliveryStats{Expected: 4, Seen: 3, Fraction: 0.75},
		WebOutput:    &webOutputStats{BytesPerDelivery: 213.5, WireBytesPerDelivery: 217.5, Receivers: 2},
		Nodes:        []nodeStats{{Addr: "a:1", SSHReceivers: 1, WebReceivers: 1, Expected: 4, Seen: 3, Fraction: 0.75, PID: 7, CPUSendPercent: 12}},
		JetStream:    &jetStreamStats{Stream: "PARLEY_ROOM_lobby", AckedDuringSend: 40, AckedPerS: 8, AckedByEnd: 41, TokensSent: 40},
		Process:      &procStats{PID: 7, PIDs: []int{7, 8}, Scope: "2 server processes, summed"},
		MinDelivered: 1}
	if err := writeTable(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"delivery to SSH sessions", "delivery to web sessions", "3 of 4", "213.5", "217.5 on the wire",
		"node 1 (a:1)", "1 SSH, 1 web", "12% of one core (process 7)", "40 messages while sending (40 tokens sent): 8.0/s; 41 by the end",
		"processes 7,8", "2 web sessions (WebSocket), 1 of them senders"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
