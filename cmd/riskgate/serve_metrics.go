package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/redisstore"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/iplist"
)

// The packages the server is wired from keep their own counters; these
// export them at scrape time, so nothing on their hot paths changes.

type funcMetric struct {
	name, help string
	counter    bool
	value      func() float64
}

func registerFuncs(reg prometheus.Registerer, ms []funcMetric) {
	for _, m := range ms {
		if m.counter {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, m.value))
		} else {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.name, Help: m.help}, m.value))
		}
	}
}

// registerEnricherMetrics exports the GeoIP databases' and IP lists'
// counters: reloads, failed reloads (the old data stays), cache use.
func registerEnricherMetrics(reg prometheus.Registerer, enrichers []engine.Enricher) {
	for _, e := range enrichers {
		switch e := e.(type) {
		case *geoip.Enricher:
			st := func() geoip.Stats { return e.Stats() }
			registerFuncs(reg, []funcMetric{
				{"riskgate_geoip_reloads_total", "GeoIP databases reloaded after their file was replaced.", true, func() float64 { return float64(st().Reloads) }},
				{"riskgate_geoip_reload_failures_total", "GeoIP database reloads that failed; the previous database stays in use.", true, func() float64 { return float64(st().ReloadFailures) }},
				{"riskgate_geoip_lookup_errors_total", "GeoIP lookups that failed.", true, func() float64 { return float64(st().LookupErrors) }},
				{"riskgate_geoip_cache_hits_total", "GeoIP lookups answered from the cache.", true, func() float64 { return float64(st().CacheHits) }},
				{"riskgate_geoip_cache_misses_total", "GeoIP lookups that read the databases.", true, func() float64 { return float64(st().CacheMisses) }},
				{"riskgate_geoip_cache_entries", "Addresses in the GeoIP cache.", false, func() float64 { return float64(st().CacheEntries) }},
			})
		case *iplist.Enricher:
			st := func() iplist.Stats { return e.Stats() }
			registerFuncs(reg, []funcMetric{
				{"riskgate_iplist_reloads_total", "IP lists, Tor exit lists and hosting-ASN lists reloaded after a change.", true, func() float64 { return float64(st().Reloads) }},
				{"riskgate_iplist_reload_failures_total", "IP list reloads that failed; the previous list stays in use.", true, func() float64 { return float64(st().ReloadFailures) }},
				{"riskgate_iplist_prefixes", "Prefixes in all IP lists.", false, func() float64 { return float64(st().Prefixes) }},
			})
		}
	}
}

// registerBreachedMetrics exports the breached-password filters' reloads
// (a filter file given with --breached is reloaded when replaced).
func registerBreachedMetrics(reg prometheus.Registerer, s *breached.Set) {
	if s == nil {
		return
	}
	registerFuncs(reg, []funcMetric{
		{"riskgate_breached_reloads_total", "Breached-password filter reloads after its file was replaced.", true, func() float64 { return float64(s.Stats().Reloads) }},
		{"riskgate_breached_reload_failures_total", "Breached-password filter reloads that failed; the previous filter stays in use.", true, func() float64 { return float64(s.Stats().ReloadFailures) }},
		{"riskgate_breached_entries", "Entries in the breached-password filters in use (the bundled list and --breached).", false, func() float64 { return float64(s.Stats().Entries) }},
		{"riskgate_breached_lookup_faults_total", "Breached-password lookups that hit a memory fault and answered not found.", true, func() float64 { return float64(s.Stats().Faults) }},
	})
}

// registerRedisMetrics exports the Redis store's write-behind counters.
func registerRedisMetrics(reg prometheus.Registerer, rs *redisstore.Store) {
	registerFuncs(reg, []funcMetric{
		{"riskgate_redis_flushes_total", "Redis store: write-behind flushes sent.", true, func() float64 { return float64(rs.Stats().Flushes) }},
		{"riskgate_redis_dropped_writes_total", "Redis store: buffered writes lost because their pipeline failed.", true, func() float64 { return float64(rs.Stats().Dropped) }},
		{"riskgate_redis_write_errors_total", "Redis store: buffered writes the server refused.", true, func() float64 { return float64(rs.Stats().WriteErrors) }},
		{"riskgate_redis_compactions_total", "Redis store: learned logins folded into profiles.", true, func() float64 { return float64(rs.Stats().Compactions) }},
	})
}
