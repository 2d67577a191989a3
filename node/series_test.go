package node

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// seriesValues gathers the series of the metric name from reg, keyed by
// the values of labels joined by " ", each with its gauge's or counter's
// value.
func seriesValues(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := make([]string, len(labels))
			for _, l := range m.GetLabel() {
				for i, want := range labels {
					if l.GetName() == want {
						key[i] = l.GetValue()
					}
				}
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			got[strings.Join(key, " ")] = v
		}
	}
	return got
}
