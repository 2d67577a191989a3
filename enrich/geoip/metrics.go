package geoip

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the enricher's metrics, read from its Stats at scrape
// time: reloads and failed reloads of the databases, lookup errors, cache
// use; and, for each database in use, when it was built (from its
// metadata) and whether its last reload failed.
func (e *Enricher) Collector() prometheus.Collector {
	st := e.Stats
	return metricset.Set{
		metricset.Counter("riskgate_geoip_reloads_total", "GeoIP databases reloaded after their file was replaced.", func() float64 { return float64(st().Reloads) }),
		metricset.Counter("riskgate_geoip_reload_failures_total", "GeoIP database reloads that failed; the previous database stays in use.", func() float64 { return float64(st().ReloadFailures) }),
		metricset.Counter("riskgate_geoip_lookup_errors_total", "GeoIP lookups that failed.", func() float64 { return float64(st().LookupErrors) }),
		metricset.Counter("riskgate_geoip_cache_hits_total", "GeoIP lookups answered from the cache.", func() float64 { return float64(st().CacheHits) }),
		metricset.Counter("riskgate_geoip_cache_misses_total", "GeoIP lookups that read the databases.", func() float64 { return float64(st().CacheMisses) }),
		metricset.Gauge("riskgate_geoip_cache_entries", "Addresses in the GeoIP cache.", func() float64 { return float64(st().CacheEntries) }),
		databases{e},
	}
}

// buildTimesDesc is riskgate_geoip_database_build_timestamp_seconds. A
// database's age is what its alert watches: a node whose updater stopped
// keeps answering from a database that grows older by the week, and the
// log says so only when a database is loaded.
var buildTimesDesc = prometheus.NewDesc("riskgate_geoip_database_build_timestamp_seconds",
	"When each GeoIP database in use was built, as its metadata says (build_epoch), by role (city, ASN, anonymous-IP) and file; none for a database that gives no build time.",
	[]string{"role", "path"}, nil)

// reloadSuccessDesc is riskgate_geoip_last_reload_success: a reload that
// failed and was retried with success (a download caught half copied) is
// no trouble, one that keeps failing is.
var reloadSuccessDesc = prometheus.NewDesc("riskgate_geoip_last_reload_success",
	"1 while each GeoIP database file is in use as last read (at start, or its last reload succeeded), 0 while its last reload failed (the file deleted too) and none succeeded since: the database loaded before answers. By role and file.",
	[]string{"role", "path"}, nil)

type databases struct{ e *Enricher }

func (b databases) Describe(ch chan<- *prometheus.Desc) {
	ch <- buildTimesDesc
	ch <- reloadSuccessDesc
}

func (b databases) Collect(ch chan<- prometheus.Metric) {
	type slot struct {
		role Role
		path string
	}
	seen := map[slot]bool{} // a file given twice for a role is one series
	for _, d := range b.e.Databases() {
		if seen[slot{d.Role, d.Path}] {
			continue
		}
		seen[slot{d.Role, d.Path}] = true
		ch <- prometheus.MustNewConstMetric(reloadSuccessDesc, prometheus.GaugeValue, metricset.ReloadSuccess(d.ReloadFailing), d.Role.String(), d.Path)
		if d.Built.Unix() > 0 {
			ch <- prometheus.MustNewConstMetric(buildTimesDesc, prometheus.GaugeValue, float64(d.Built.Unix()), d.Role.String(), d.Path)
		}
	}
}
