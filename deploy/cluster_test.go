package deploy

import (
	"os"
	"strings"
	"testing"
)

// The compose file of README "Running a cluster" keeps the layout the
// README and the fault tests use: three NATS servers with JetStream, each
// routed to all three, and parley nodes on all three with R3 streams, one
// host key and their own names. (A line-level check: the module has no
// YAML parser, and adding one for this is not worth it.)
func TestComposeCluster(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	routes := `"--routes", "nats://nats1:6222,nats://nats2:6222,nats://nats3:6222"`
	if n := strings.Count(s, routes); n != 3 {
		t.Errorf("%d NATS servers route to all three, want 3", n)
	}
	if n := strings.Count(s, `"--jetstream"`); n != 3 {
		t.Errorf("%d NATS servers run JetStream, want 3", n)
	}
	for _, want := range []string{
		"PARLEY_NATS_URL: nats://nats1:4222,nats://nats2:4222,nats://nats3:4222",
		`PARLEY_NATS_REPLICAS: "3"`,
		"PARLEY_HOST_KEY: ${PARLEY_HOST_KEY:?",
		"PARLEY_NODE: a", "PARLEY_NODE: b",
		"stop_grace_period: 20s",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	if strings.Contains(s, "\t") {
		t.Error("compose.yaml has a tab: YAML indents with spaces")
	}
}
