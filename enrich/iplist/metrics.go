package iplist

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the enricher's metrics, read from its Stats at scrape
// time: reloads and failed reloads of the lists, prefixes in them; and,
// for each configured file, its entries, when the version in use was
// read, and whether its last reload failed.
func (e *Enricher) Collector() prometheus.Collector {
	st := e.Stats
	return metricset.Set{
		metricset.Counter("riskgate_iplist_reloads_total", "IP lists, Tor exit lists and hosting-ASN lists reloaded after a change.", func() float64 { return float64(st().Reloads) }),
		metricset.Counter("riskgate_iplist_reload_failures_total", "IP list reloads that failed; the previous list stays in use.", func() float64 { return float64(st().ReloadFailures) }),
		metricset.Gauge("riskgate_iplist_prefixes", "Prefixes in all IP lists.", func() float64 { return float64(st().Prefixes) }),
		listsCollector{e},
	}
}

// The lists' own series. A file's modification time is what an
// updater's health shows in: the Tor Project's exit list changes by the
// hour, and an updater (a cron job, a sidecar) that stopped leaves the
// node matching exits that are gone and missing new ones, with nothing
// failing. The time is the file's, as read, not the read's: a SIGHUP or
// a restart reads every file again and would otherwise hide a stopped
// updater. kind tells the Tor exit list and the hosting-ASN file from an
// --ip-list of the same name.
var (
	listEntriesDesc = prometheus.NewDesc("riskgate_iplist_entries",
		"Entries in each IP list file in use: prefixes, or AS numbers for the hosting-ASN file; kind is list (--ip-list), tor (--tor-exits) or hosting-asns (--hosting-asns).",
		[]string{"kind", "list", "path"}, nil)
	listModifiedDesc = prometheus.NewDesc("riskgate_iplist_file_modified_timestamp_seconds",
		"The modification time of each IP list file whose version is in use, as it was when read: an updater that rewrites the file moves it, a SIGHUP or a restart does not.",
		[]string{"kind", "list", "path"}, nil)
	listSuccessDesc = prometheus.NewDesc("riskgate_iplist_last_reload_success",
		"1 while each IP list file is in use as last read (at start, or its last reload succeeded), 0 while its last reload failed (the file deleted too) and none succeeded since: the version loaded before is matched.",
		[]string{"kind", "list", "path"}, nil)
)

type listsCollector struct{ e *Enricher }

func (c listsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- listEntriesDesc
	ch <- listModifiedDesc
	ch <- listSuccessDesc
}

func (c listsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.e.Stats().Lists {
		ch <- prometheus.MustNewConstMetric(listEntriesDesc, prometheus.GaugeValue, float64(l.Entries), l.Kind, l.Name, l.Path)
		ch <- prometheus.MustNewConstMetric(listModifiedDesc, prometheus.GaugeValue, float64(l.Modified.UnixNano())/1e9, l.Kind, l.Name, l.Path)
		ch <- prometheus.MustNewConstMetric(listSuccessDesc, prometheus.GaugeValue, metricset.ReloadSuccess(l.ReloadFailing), l.Kind, l.Name, l.Path)
	}
}
