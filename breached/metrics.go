package breached

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the set's metrics, read from its Stats at scrape time:
// reloads and failed reloads of its files, entries in use, lookups that hit
// a memory fault.
func (s *Set) Collector() prometheus.Collector {
	st := s.Stats
	return metricset.Set{
		metricset.Counter("riskgate_breached_reloads_total", "Breached-password filter reloads after its file was replaced.", func() float64 { return float64(st().Reloads) }),
		metricset.Counter("riskgate_breached_reload_failures_total", "Breached-password filter reloads that failed; the previous filter stays in use.", func() float64 { return float64(st().ReloadFailures) }),
		metricset.Gauge("riskgate_breached_entries", "Entries in the breached-password filters in use (the bundled list and --breached).", func() float64 { return float64(st().Entries) }),
		metricset.Counter("riskgate_breached_lookup_faults_total", "Breached-password lookups that hit a memory fault and answered not found.", func() float64 { return float64(st().Faults) }),
	}
}
