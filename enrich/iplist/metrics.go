package iplist

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the enricher's metrics, read from its Stats at scrape
// time: reloads and failed reloads of the lists, prefixes in them; and,
// for each configured file, its entries and when the version in use was
// read.
func (e *Enricher) Collector() prometheus.Collector {
	st := e.Stats
	return metricset.Set{
		metricset.Counter("riskgate_iplist_reloads_total", "IP lists, Tor exit lists and hosting-ASN lists reloaded after a change.", func() float64 { return float64(st().Reloads) }),
		metricset.Counter("riskgate_iplist_reload_failures_total", "IP list reloads that failed; the previous list stays in use.", func() float64 { return float64(st().ReloadFailures) }),
		metricset.Gauge("riskgate_iplist_prefixes", "Prefixes in all IP lists.", func() float64 { return float64(st().Prefixes) }),
		listsCollector{e},
	}
}

// The lists' own series. The last load's time is what an updater's
// health shows in: the Tor Project's exit list changes by the hour, and
// an updater (a cron job, a sidecar) that stopped leaves the node
// matching exits that are gone and missing new ones, with nothing failing.
// Every rewrite of a file (a new inode, size or modification time) is a
// load, so the time moves with each run of an updater, changed or not.
var (
	listEntriesDesc = prometheus.NewDesc("riskgate_iplist_entries",
		"Entries in each IP list file in use: prefixes, or AS numbers for the hosting-ASN file (list hosting-asns); the Tor exit list is list tor.",
		[]string{"list", "path"}, nil)
	listLoadedDesc = prometheus.NewDesc("riskgate_iplist_last_load_timestamp_seconds",
		"When the version in use of each IP list file was read: at start, or by the reload that took it (every rewrite of the file is one).",
		[]string{"list", "path"}, nil)
)

type listsCollector struct{ e *Enricher }

func (c listsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- listEntriesDesc
	ch <- listLoadedDesc
}

func (c listsCollector) Collect(ch chan<- prometheus.Metric) {
	type series struct{ list, path string }
	seen := map[series]bool{} // a list named like another of the same file is one series
	for _, l := range c.e.Stats().Lists {
		if seen[series{l.Name, l.Path}] {
			continue
		}
		seen[series{l.Name, l.Path}] = true
		ch <- prometheus.MustNewConstMetric(listEntriesDesc, prometheus.GaugeValue, float64(l.Entries), l.Name, l.Path)
		ch <- prometheus.MustNewConstMetric(listLoadedDesc, prometheus.GaugeValue, float64(l.Loaded.UnixNano())/1e9, l.Name, l.Path)
	}
}
