package breached

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the set's metrics, read from its Stats at scrape time:
// reloads and failed reloads of its files, entries in use, lookups that hit
// a memory fault; when each filter in use was built; and whether each
// file's last reload failed.
func (s *Set) Collector() prometheus.Collector {
	st := s.Stats
	return metricset.Set{
		metricset.Counter("riskgate_breached_reloads_total", "Breached-password filter reloads after its file was replaced.", func() float64 { return float64(st().Reloads) }),
		metricset.Counter("riskgate_breached_reload_failures_total", "Breached-password filter reloads that failed; the previous filter stays in use.", func() float64 { return float64(st().ReloadFailures) }),
		metricset.Gauge("riskgate_breached_entries", "Entries in the breached-password filters in use (the bundled list and --breached): of a Bloom filter, distinct hashes, approximately (a new hash whose bits were all set already, at most the false-positive rate of them, is not counted); of a fuse filter, hashes inserted, a hash given twice counted twice.", func() float64 { return float64(st().Entries) }),
		metricset.Counter("riskgate_breached_lookup_faults_total", "Breached-password lookups that hit a memory fault and answered not found.", func() float64 { return float64(st().Faults) }),
		filters{s},
	}
}

// buildTimesDesc is riskgate_breached_filter_build_timestamp_seconds: a
// filter built long ago misses the passwords breached since (Have I Been
// Pwned adds corpora several times a year). kind tells the bundled list
// from a file, which may be named anything, "builtin" too.
var buildTimesDesc = prometheus.NewDesc("riskgate_breached_filter_build_timestamp_seconds",
	"When each breached-password filter in use was built (riskgate breached build): kind bundled, the list of common passwords built into riskgate (filter builtin), or file (--breached, filter its path).",
	[]string{"kind", "filter"}, nil)

// reloadSuccessDesc is riskgate_breached_last_reload_success: a filter
// caught half copied and loaded at the retry is no trouble, one that
// keeps failing is.
var reloadSuccessDesc = prometheus.NewDesc("riskgate_breached_last_reload_success",
	"1 while each breached-password filter file (--breached) is in use as last read (at start, or its last reload succeeded), 0 while its last reload failed (the file deleted too) and none succeeded since: the filter loaded before answers.",
	[]string{"filter"}, nil)

type filters struct{ s *Set }

func (b filters) Describe(ch chan<- *prometheus.Desc) {
	ch <- buildTimesDesc
	ch <- reloadSuccessDesc
}

func (b filters) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{} // a file given twice is one series
	for i, m := range b.s.Members() {
		kind := "file"
		if i == 0 && b.s.builtin != nil { // Members lists it first
			kind = "bundled"
		}
		if seen[kind+"\x00"+m.Name] || m.Info.Built.Unix() <= 0 {
			continue
		}
		seen[kind+"\x00"+m.Name] = true
		ch <- prometheus.MustNewConstMetric(buildTimesDesc, prometheus.GaugeValue, float64(m.Info.Built.Unix()), kind, m.Name)
	}
	seen = map[string]bool{}
	for _, l := range b.s.files {
		if seen[l.Path()] {
			continue
		}
		seen[l.Path()] = true
		ch <- prometheus.MustNewConstMetric(reloadSuccessDesc, prometheus.GaugeValue, metricset.ReloadSuccess(l.ReloadFailing()), l.Path())
	}
}
