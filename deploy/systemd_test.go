package deploy_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// unit is a parsed systemd unit: section -> key -> values in order.
type unit map[string]map[string][]string

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func parseUnit(t *testing.T, src string) unit {
	t.Helper()
	u := unit{}
	section := ""
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("parley.service line %d: %q", n+1, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, read(t, "deploy/parley.service"))
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Fatalf("no [%s] section", s)
		}
	}
	if u.get("Service", "User") == "" && u.get("Service", "DynamicUser") != "yes" {
		t.Error("runs as root: set User= or DynamicUser=yes")
	}
	if u.get("Service", "User") == "root" {
		t.Error("User=root")
	}
	if exe := strings.Fields(u.get("Service", "ExecStart")); len(exe) == 0 || !strings.HasPrefix(exe[0], "/") {
		t.Errorf("ExecStart=%q: want an absolute path", u.get("Service", "ExecStart"))
	}
	env := map[string]string{}
	for _, e := range u["Service"]["Environment"] {
		for _, kv := range strings.Fields(e) {
			k, v, _ := strings.Cut(strings.Trim(kv, `"`), "=")
			env[k] = v
		}
	}
	if env["PARLEY_DATA_DIR"] != "/var/lib/parley" {
		t.Errorf("PARLEY_DATA_DIR=%q, want /var/lib/parley", env["PARLEY_DATA_DIR"])
	}
	if ops := env["PARLEY_OPS"]; ops != "" && !strings.HasPrefix(ops, "127.0.0.1:") && !strings.HasPrefix(ops, "[::1]:") {
		t.Errorf("PARLEY_OPS=%q: keep the ops listener on loopback on a VPS", ops)
	}
	for k := range env {
		if secretish.MatchString(k) {
			t.Errorf("Environment=%s in a world-readable unit: use EnvironmentFile", k)
		}
	}
	for key, want := range map[string]string{
		"StateDirectory":  "parley",
		"Restart":         "on-failure",
		"KillSignal":      "SIGTERM",
		"NoNewPrivileges": "yes",
		"ProtectSystem":   "strict",
		"PrivateTmp":      "yes",
		"ProtectHome":     "yes",
		"PrivateDevices":  "yes",
	} {
		if got := u.get("Service", key); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	stop, err := strconv.Atoi(u.get("Service", "TimeoutStopSec"))
	if err != nil || time.Duration(stop)*time.Second <= shutdownBudget {
		t.Errorf("TimeoutStopSec=%q: want more than parley's %v shutdown", u.get("Service", "TimeoutStopSec"), shutdownBudget)
	}
	if caps := u.get("Service", "CapabilityBoundingSet"); caps != "" {
		t.Errorf("CapabilityBoundingSet=%q: parley needs no capabilities on port 2222", caps)
	}
	if u.get("Install", "WantedBy") != "multi-user.target" {
		t.Errorf("WantedBy=%q", u.get("Install", "WantedBy"))
	}
}
