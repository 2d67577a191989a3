package breached

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the live filter's metrics, read at scrape time: its
// reloads after the file was replaced, failed reloads, entries in use.
func (l *Live) Collector() prometheus.Collector {
	return metricset.Set{
		metricset.Counter("riskgate_breached_reloads_total", "Breached-password filter reloads after its file was replaced.", func() float64 { ok, _ := l.Reloads(); return float64(ok) }),
		metricset.Counter("riskgate_breached_reload_failures_total", "Breached-password filter reloads that failed; the previous filter stays in use.", func() float64 { _, f := l.Reloads(); return float64(f) }),
		metricset.Gauge("riskgate_breached_entries", "Entries in the breached-password filter in use.", func() float64 { return float64(l.Info().Entries) }),
	}
}
