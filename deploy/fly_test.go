package deploy_test

import (
	"strings"
	"testing"
	"time"
)

// tables returns a table or array of tables as a list.
func tables(v any) []map[string]any {
	switch t := v.(type) {
	case map[string]any:
		return []map[string]any{t}
	case []map[string]any:
		return t
	}
	return nil
}

// seconds reads a Fly duration: an integer (seconds) or a Go duration.
func seconds(v any) (time.Duration, bool) {
	switch d := v.(type) {
	case int64:
		return time.Duration(d) * time.Second, true
	case string:
		p, err := time.ParseDuration(d)
		return p, err == nil
	}
	return 0, false
}

// shutdownBudget is how long parley itself takes at most to stop after
// SIGTERM (main.go's shutdownTimeout); the platform must wait longer.
const shutdownBudget = 10 * time.Second

func TestFlyToml(t *testing.T) {
	doc, err := parseTOML(read(t, "fly.toml"))
	if err != nil {
		t.Fatalf("fly.toml: %v", err)
	}
	for _, k := range []string{"app", "primary_region"} {
		if s, _ := doc[k].(string); s == "" {
			t.Errorf("%s missing", k)
		}
	}
	if doc["app"] != "parley-chat" {
		t.Errorf("app = %v, want the placeholder the deploy guide uses (parley-chat)", doc["app"])
	}
	if doc["kill_signal"] != "SIGTERM" {
		t.Errorf("kill_signal = %v, want SIGTERM", doc["kill_signal"])
	}
	if d, ok := seconds(doc["kill_timeout"]); !ok || d <= shutdownBudget || d > 300*time.Second {
		t.Errorf("kill_timeout = %v: want more than parley's %v shutdown and at most 300s", doc["kill_timeout"], shutdownBudget)
	}
	if b, _ := doc["build"].(map[string]any); b == nil || b["dockerfile"] != "Dockerfile" {
		t.Errorf("[build] = %v, want dockerfile = \"Dockerfile\"", doc["build"])
	}
	env, _ := doc["env"].(map[string]any)
	if env["PARLEY_LOG_FORMAT"] != "json" {
		t.Errorf("[env] PARLEY_LOG_FORMAT = %v, want json", env["PARLEY_LOG_FORMAT"])
	}
	if s, _ := env["PARLEY_PROXY_PROTOCOL"].(string); s == "" {
		t.Error("[env] PARLEY_PROXY_PROTOCOL unset: the proxy_proto handler's headers would not be read")
	}
	for k := range env {
		if secretish.MatchString(k) {
			t.Errorf("[env] %s: secrets go in fly secrets, not fly.toml", k)
		}
	}
	if _, ok := doc["http_service"]; ok {
		t.Error("[http_service]: SSH is raw TCP; use [[services]]")
	}

	mounts := tables(doc["mounts"])
	if len(mounts) != 1 || mounts[0]["destination"] != "/data" || mounts[0]["source"] == nil {
		t.Errorf("[mounts] = %v, want one volume at /data", doc["mounts"])
	}

	services := tables(doc["services"])
	var ssh, web map[string]any
	for _, s := range services {
		if s["internal_port"] == int64(8080) {
			web = s
		}
		if s["internal_port"] == int64(9091) {
			t.Error("a service exposes the ops port 9091 through the proxy")
		}
		if s["internal_port"] == int64(2222) {
			ssh = s
		}
	}
	if ssh == nil {
		t.Fatalf("no [[services]] with internal_port = 2222: %v", services)
	}
	if ssh["protocol"] != "tcp" {
		t.Errorf("services.protocol = %v, want tcp", ssh["protocol"])
	}
	if ssh["auto_stop_machines"] != "off" {
		t.Errorf("auto_stop_machines = %v, want \"off\": autostop cuts live sessions", ssh["auto_stop_machines"])
	}
	ports := tables(ssh["ports"])
	if len(ports) == 0 {
		t.Error("no [[services.ports]]")
	}
	for _, p := range ports {
		if _, ok := p["port"].(int64); !ok {
			t.Errorf("services.ports: port = %v", p["port"])
		}
		// Only proxy_proto: the bytes pass through untouched after a PROXY
		// header naming the client (issue 18 item 8); tls or http would
		// break SSH.
		if h, _ := p["handlers"].([]any); len(h) != 1 || h[0] != "proxy_proto" {
			t.Errorf("services.ports %v: handlers %v, want [\"proxy_proto\"]: without it every client is the proxy's address", p["port"], p["handlers"])
		}
	}
	if len(tables(ssh["tcp_checks"])) == 0 {
		t.Error("no [[services.tcp_checks]] on the SSH service")
	}
	if len(tables(ssh["http_checks"])) > 0 {
		t.Error("[[services.http_checks]] would speak HTTP to the SSH port")
	}

	checkWebService(t, web, env)

	var readyz bool
	checks, _ := doc["checks"].(map[string]any)
	for name, c := range checks {
		c, _ := c.(map[string]any)
		if c["type"] == "http" && c["port"] == int64(9091) && c["path"] == "/readyz" {
			readyz = true
			if _, ok := seconds(c["timeout"]); !ok {
				t.Errorf("checks.%s: timeout %v", name, c["timeout"])
			}
		}
	}
	if !readyz {
		t.Errorf("[checks] = %v: want an http check of /readyz on port 9091", doc["checks"])
	}
	if m, _ := doc["metrics"].(map[string]any); m != nil && (m["port"] != int64(9091) || m["path"] != "/metrics") {
		t.Errorf("[metrics] = %v, want port 9091 path /metrics", m)
	}

	// The guide and fly.toml must agree on names.
	guide := read(t, "deploy/README.md")
	for _, want := range []string{
		"fly launch --no-deploy",
		"fly volumes create " + mounts[0]["source"].(string) + " ",
		"fly ips allocate-v4",
		"dedicated IPv4",
		`fly secrets set PARLEY_ADMIN_KEYS="ssh-ed25519 AAAA... alice"`,
		`fly secrets set PARLEY_HOST_KEY="$(cat host_ed25519)"`,
		"fly deploy",
		"ssh -p 2222 " + doc["app"].(string) + ".fly.dev",
		"parley.service",
		"proxy_proto",
		"PARLEY_PROXY_PROTOCOL",
		"--stop-timeout",
		"stop_grace_period",
	} {
		if !strings.Contains(guide, want) {
			t.Errorf("deploy/README.md does not say %q", want)
		}
	}
}

// checkWebService checks fly.toml's web page service (issue 17): HTTPS on
// 443 to the image's PARLEY_WEB port, port 80 forced to HTTPS, never
// stopped under open WebSockets, and the https public URL in [env].
func checkWebService(t *testing.T, web, env map[string]any) {
	t.Helper()
	if web == nil {
		t.Error("no [[services]] with internal_port = 8080 (the image's PARLEY_WEB): the web page is unreachable")
		return
	}
	if web["protocol"] != "tcp" || web["auto_stop_machines"] != "off" {
		t.Errorf("web service: protocol %v auto_stop_machines %v, want tcp and \"off\" (WebSockets are long-lived)", web["protocol"], web["auto_stop_machines"])
	}
	var https, redirect bool
	for _, p := range tables(web["ports"]) {
		h, _ := p["handlers"].([]any)
		switch p["port"] {
		case int64(443):
			https = len(h) == 2 && h[0] == "tls" && h[1] == "http"
		case int64(80):
			redirect = p["force_https"] == true && len(h) == 1 && h[0] == "http"
		}
	}
	if !https {
		t.Errorf("web service ports %v: want 443 with handlers [\"tls\", \"http\"]", web["ports"])
	}
	if !redirect {
		t.Errorf("web service ports %v: want 80 with handlers [\"http\"] and force_https = true", web["ports"])
	}
	if u, _ := env["PARLEY_WEB_URL"].(string); !strings.HasPrefix(u, "https://") {
		t.Errorf("[env] PARLEY_WEB_URL = %q: want the https address (links, Secure cookies)", u)
	}
	if v, ok := env["PARLEY_WEB_TRUSTED_PROXY"].(string); ok && (strings.Contains(v, "0.0.0.0/0") || strings.Contains(v, "::/0")) {
		t.Errorf("[env] PARLEY_WEB_TRUSTED_PROXY = %q: trusting every peer believes a client's own X-Forwarded-For", v)
	}
}
