package geoip

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the enricher's metrics, read from its Stats at scrape
// time: reloads and failed reloads of the databases, lookup errors, cache
// use.
func (e *Enricher) Collector() prometheus.Collector {
	st := e.Stats
	return metricset.Set{
		metricset.Counter("riskgate_geoip_reloads_total", "GeoIP databases reloaded after their file was replaced.", func() float64 { return float64(st().Reloads) }),
		metricset.Counter("riskgate_geoip_reload_failures_total", "GeoIP database reloads that failed; the previous database stays in use.", func() float64 { return float64(st().ReloadFailures) }),
		metricset.Counter("riskgate_geoip_lookup_errors_total", "GeoIP lookups that failed.", func() float64 { return float64(st().LookupErrors) }),
		metricset.Counter("riskgate_geoip_cache_hits_total", "GeoIP lookups answered from the cache.", func() float64 { return float64(st().CacheHits) }),
		metricset.Counter("riskgate_geoip_cache_misses_total", "GeoIP lookups that read the databases.", func() float64 { return float64(st().CacheMisses) }),
		metricset.Gauge("riskgate_geoip_cache_entries", "Addresses in the GeoIP cache.", func() float64 { return float64(st().CacheEntries) }),
	}
}
