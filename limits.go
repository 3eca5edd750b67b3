package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"parley/guard"
	"parley/server"
)

// connectionFlags adds the connection limits, the failed-login penalty and
// the PROXY protocol to fs, each with its PARLEY_* variable (also allowed in
// parley.conf: see fileSettings).
func connectionFlags(fs *flag.FlagSet, getenv func(string) string, c *server.Config) error {
	g := guard.DefaultGateConfig()
	ints := []struct {
		dst       *int
		flag, env string
		def       int
		usage     string
	}{
		{&c.Defences.Gate.MaxUnauth, "max-unauth", "PARLEY_MAX_UNAUTH", g.MaxUnauth, "connections not yet logged in, in all"},
		{&c.Defences.Gate.MaxUnauthPerSource, "max-unauth-per-source", "PARLEY_MAX_UNAUTH_PER_SOURCE", g.MaxUnauthPerSource, "connections not yet logged in, per address (an IPv4 address or an IPv6 /64)"},
		{&c.Defences.SessionsPerKey, "max-sessions-per-key", "PARLEY_MAX_SESSIONS_PER_KEY", guard.DefaultMaxSessionsPerKey, "sessions one key may have open"},
		{&c.Defences.SessionsPerSource, "max-sessions-per-source", "PARLEY_MAX_SESSIONS_PER_SOURCE", guard.DefaultMaxSessionsPerSource, "logged-in sessions per address (a classroom behind one NAT is one address)"},
		{&c.Defences.ConnsPerKey, "max-conns-per-key", "PARLEY_MAX_CONNS_PER_KEY", guard.DefaultMaxConnsPerKey, "logged-in connections one key may hold, with or without sessions"},
		{&c.Defences.ChannelsPerConn, "max-channels-per-conn", "PARLEY_MAX_CHANNELS_PER_CONN", server.DefaultChannelsPerConn, "sessions on one connection"},
		{&c.Defences.Gate.FailuresBeforePenalty, "penalty-failures", "PARLEY_PENALTY_FAILURES", g.FailuresBeforePenalty, "failed logins from one address within a minute before it is slowed down"},
	}
	for _, f := range ints {
		v, err := envInt(getenv, f.env, f.def)
		if err != nil {
			return err
		}
		fs.IntVar(f.dst, f.flag, v, fmt.Sprintf("%s (env %s)", f.usage, f.env))
	}
	durs := []struct {
		dst       *time.Duration
		flag, env string
		def       time.Duration
		usage     string
	}{
		{&c.Defences.Gate.PenaltyBase, "penalty", "PARLEY_PENALTY", g.PenaltyBase, "how long a penalized address is slowed down; doubles on each failure while it lasts"},
		{&c.Defences.Gate.PenaltyMax, "penalty-max", "PARLEY_PENALTY_MAX", g.PenaltyMax, "the longest penalty"},
		{&c.Defences.Gate.PenaltyTrickle, "penalty-trickle", "PARLEY_PENALTY_TRICKLE", g.PenaltyTrickle, "while penalized, an address gets one connection per this (the first at once), so a valid key behind it still gets in"},
	}
	for _, f := range durs {
		v, err := envDuration(getenv, f.env, f.def)
		if err != nil {
			return err
		}
		fs.DurationVar(f.dst, f.flag, v, fmt.Sprintf("%s (env %s)", f.usage, f.env))
	}
	fs.Func("proxy-protocol", "trust PROXY protocol headers (v1, v2) from these proxies: IP addresses or CIDR ranges, comma-separated; their connections must carry one, anyone else's is refused; empty parses none (env PARLEY_PROXY_PROTOCOL)", func(v string) error {
		c.ProxyProtocol = splitList(v)
		return nil
	})
	c.ProxyProtocol = splitList(getenv("PARLEY_PROXY_PROTOCOL"))
	return nil
}

// checkLimits refuses limits that make no sense, after flags are parsed.
func checkLimits(c *server.Config) error {
	d := c.Defences
	for name, v := range map[string]int{
		"--max-unauth": d.Gate.MaxUnauth, "--max-unauth-per-source": d.Gate.MaxUnauthPerSource,
		"--max-sessions-per-key": d.SessionsPerKey, "--max-sessions-per-source": d.SessionsPerSource,
		"--max-conns-per-key": d.ConnsPerKey, "--max-channels-per-conn": d.ChannelsPerConn,
		"--penalty-failures": d.Gate.FailuresBeforePenalty,
	} {
		if v < 1 {
			return fmt.Errorf("%s must be at least 1", name)
		}
	}
	for name, v := range map[string]time.Duration{
		"--penalty": d.Gate.PenaltyBase, "--penalty-max": d.Gate.PenaltyMax, "--penalty-trickle": d.Gate.PenaltyTrickle,
	} {
		if v <= 0 {
			return fmt.Errorf("%s must be a positive duration, like 10s", name)
		}
	}
	return nil
}

func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}

// envValue reads the environment variable name with parse; unset (or
// empty) is def. A value that does not parse is an error that names the
// variable, the value and what it should look like (want).
func envValue[T any](getenv func(string) string, name string, def T, parse func(string) (T, error), want string) (T, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	x, err := parse(v)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s=%q: use %s", name, v, want)
	}
	return x, nil
}

func envInt(getenv func(string) string, name string, def int) (int, error) {
	return envValue(getenv, name, def, strconv.Atoi, "a whole number")
}

func envDuration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	return envValue(getenv, name, def, time.ParseDuration, "a duration like 10s or 5m")
}

// opsPortTries is how many ports after the default listenOps tries.
const opsPortTries = 10

// listenOps listens on the ops address. When that address is the default
// (neither --ops nor PARLEY_OPS was given) and is taken, as by a second
// parley on the same host, it takes the next free port of the following
// opsPortTries; an address given explicitly is used or fails, with a clear
// message.
func listenOps(addr string, explicit bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("ops listener on %s: %w", addr, err)
	}
	if explicit {
		return nil, fmt.Errorf("ops listener on %s: the address is in use (another parley on this host?): choose another with --ops or PARLEY_OPS, or turn it off with --ops ''", addr)
	}
	host, port, perr := net.SplitHostPort(addr)
	p, aerr := strconv.Atoi(port)
	if perr != nil || aerr != nil {
		return nil, fmt.Errorf("ops listener on %s: %w", addr, err)
	}
	for i := 1; i <= opsPortTries; i++ {
		if ln, lerr := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p+i))); lerr == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("ops listener: %s and the next %d ports are in use: choose an address with --ops or PARLEY_OPS, or turn it off with --ops ''", addr, opsPortTries)
}
