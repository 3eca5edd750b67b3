package ops

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// SetNode names this process in the metrics: parley_node_info{node="..."}
// is 1, so that a dashboard can join any series of this target with the
// node's name (a cluster's nodes share one binary and one job). Call it
// once, before the first scrape.
func (m *Metrics) SetNode(name string) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "parley_node_info",
		Help:        "Always 1; the node label is this node's name (--node, PARLEY_NODE, default the host name).",
		ConstLabels: prometheus.Labels{"node": name},
	})
	g.Set(1)
	if err := m.reg.Register(g); err != nil {
		return fmt.Errorf("metrics: node %q: %w", name, err)
	}
	return nil
}
