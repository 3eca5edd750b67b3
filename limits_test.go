package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/guard"
)

// Issue 18 item 6, issue 13 item 2: every connection limit and the penalty
// are settings, layered like the others (flag over environment over
// parley.conf over the default), and --help lists them.
func TestConnectionLimitsAreSettings(t *testing.T) {
	o, err := parseOptions(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d, g := o.server.Defences, guard.DefaultGateConfig()
	if d.SessionsPerSource != guard.DefaultMaxSessionsPerSource || d.SessionsPerSource < 500 ||
		d.Gate.MaxUnauthPerSource != g.MaxUnauthPerSource || d.Gate.PenaltyTrickle != g.PenaltyTrickle ||
		d.ConnsPerKey != guard.DefaultMaxConnsPerKey || len(o.server.ProxyProtocol) != 0 {
		t.Fatalf("defaults: %+v, proxy %v", d, o.server.ProxyProtocol)
	}

	data := t.TempDir()
	conf := "PARLEY_MAX_SESSIONS_PER_SOURCE=300\nPARLEY_PENALTY_TRICKLE=5s\nPARLEY_MAX_UNAUTH=100\n"
	if err := os.WriteFile(filepath.Join(data, "parley.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PARLEY_DATA_DIR": data, "PARLEY_MAX_UNAUTH": "200", "PARLEY_PENALTY": "30s",
		"PARLEY_PROXY_PROTOCOL": "10.0.0.0/8, 192.0.2.1"}
	lookup, err := withConfigFile(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	o, err = parseOptions([]string{"--max-unauth-per-source", "4", "--max-conns-per-key", "9", "--penalty-failures", "3"}, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d = o.server.Defences
	if d.SessionsPerSource != 300 || d.Gate.PenaltyTrickle != 5*time.Second || // file
		d.Gate.MaxUnauth != 200 || d.Gate.PenaltyBase != 30*time.Second || // environment over file
		d.Gate.MaxUnauthPerSource != 4 || d.ConnsPerKey != 9 || d.Gate.FailuresBeforePenalty != 3 { // flags
		t.Fatalf("layered: %+v", d)
	}
	if got := strings.Join(o.server.ProxyProtocol, "|"); got != "10.0.0.0/8|192.0.2.1" {
		t.Fatalf("proxy protocol ranges: %q", got)
	}
	if o, err = parseOptions([]string{"--proxy-protocol", "127.0.0.1/32"}, lookup, io.Discard); err != nil || len(o.server.ProxyProtocol) != 1 {
		t.Fatalf("--proxy-protocol over the environment: %v %v", o.server.ProxyProtocol, err)
	}

	for _, bad := range [][]string{{"--max-unauth", "0"}, {"--penalty", "-1s"}, {"--max-sessions-per-source", "x"}} {
		if _, err := parseOptions(bad, noEnv, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	badEnv := func(k string) (string, bool) {
		if k == "PARLEY_MAX_CONNS_PER_KEY" {
			return "lots", true
		}
		return "", false
	}
	if _, err := parseOptions(nil, badEnv, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "PARLEY_MAX_CONNS_PER_KEY") {
		t.Errorf("a bad environment value: %v", err)
	}

	var help bytes.Buffer
	if _, err := parseOptions([]string{"--help"}, noEnv, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	for _, want := range []string{"parley.conf", "-max-unauth-per-source", "-max-sessions-per-source", "-max-conns-per-key",
		"-penalty-trickle", "-penalty-failures", "-proxy-protocol", "PARLEY_PENALTY_MAX"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
}

// Issue 13 item 18: a second parley on the same host found the default
// ops port taken and failed to start.
func TestBusyDefaultOpsPortMovesOnExplicitOneFailsClearly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	ln, err := listenOps(addr, false)
	if err != nil {
		t.Fatalf("the default address taken: %v", err)
	}
	defer ln.Close()
	if ln.Addr().String() == addr {
		t.Fatal("listened on a taken address")
	}
	_, err = listenOps(addr, true)
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "--ops") {
		t.Fatalf("an explicit address taken: %v", err)
	}
}
