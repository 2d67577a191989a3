package iplist

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the enricher's metrics, read from its Stats at scrape
// time: reloads and failed reloads of the lists, prefixes in them.
func (e *Enricher) Collector() prometheus.Collector {
	st := e.Stats
	return metricset.Set{
		metricset.Counter("riskgate_iplist_reloads_total", "IP lists, Tor exit lists and hosting-ASN lists reloaded after a change.", func() float64 { return float64(st().Reloads) }),
		metricset.Counter("riskgate_iplist_reload_failures_total", "IP list reloads that failed; the previous list stays in use.", func() float64 { return float64(st().ReloadFailures) }),
		metricset.Gauge("riskgate_iplist_prefixes", "Prefixes in all IP lists.", func() float64 { return float64(st().Prefixes) }),
	}
}
