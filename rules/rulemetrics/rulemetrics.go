// Package rulemetrics exports a rules.Manager's loads to Prometheus: the
// ruleset in force, whether the rule files load, when they last loaded,
// loads by trigger and result, and the tenants whose overlays were
// rejected.
//
// It is a package of its own so that package rules does not import the
// Prometheus client (see rules.LoadStats): the values are read from the
// Manager at scrape time.
package rulemetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/rules"
)

// Source is what the collector reads: a *rules.Manager.
type Source interface {
	LoadStats() rules.LoadStats
}

var (
	versionDesc = prometheus.NewDesc("riskgate_rules_version_info",
		"The ruleset in force: 1 for its version label.", []string{"version"}, nil)
	successDesc = prometheus.NewDesc("riskgate_rules_last_reload_success",
		"1 while the rule files load: 0 while the last load of the shared rules, the tenants folder or a tenant's overlay was rejected, or while a file or folder given to --rules is deleted (what was in force stays). A put through the API that is rejected is refused to its caller and changes nothing here.", nil, nil)
	timestampDesc = prometheus.NewDesc("riskgate_rules_last_reload_timestamp_seconds",
		"Unix time of the last load or reload of the rules (from their files, or a put through the API put in force), successful or not.", nil, nil)
	countDesc = prometheus.NewDesc("riskgate_rules",
		"Rules in the ruleset in force.", nil, nil)
	reloadsDesc = prometheus.NewDesc("riskgate_rules_reloads_total",
		"Rules loads and reloads, by trigger (startup, file, signal, api) and result: success, unchanged, failure (rule files that did not load: the files are not what is in force), or, for api only, rejected (a put whose rules did not compile, refused to its caller; nothing changed).", []string{"trigger", "result"}, nil)
	staleDesc = prometheus.NewDesc("riskgate_rules_tenant_overlay_stale",
		"Tenants whose overlay files (or the whole tenants folder) the last reload rejected, by tenant: each keeps its last good overlay (or, without one, the shared rules) until its files load. No series while every overlay loads; past 100 tenants, the rest are counted under tenant=\"other\".", []string{"tenant"}, nil)
)

// Collector exports a Manager's LoadStats.
type Collector struct{ src Source }

// New returns the collector of src's loads.
func New(src Source) *Collector { return &Collector{src: src} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{versionDesc, successDesc, timestampDesc, countDesc, reloadsDesc, staleDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.LoadStats()
	if s.Version != "" {
		ch <- prometheus.MustNewConstMetric(versionDesc, prometheus.GaugeValue, 1, s.Version)
	}
	ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, boolValue(s.Healthy))
	var at float64
	if !s.LastLoad.IsZero() {
		at = float64(s.LastLoad.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(timestampDesc, prometheus.GaugeValue, at)
	ch <- prometheus.MustNewConstMetric(countDesc, prometheus.GaugeValue, float64(s.Rules))
	// The registry sorts what it gathers: maps' order does not show.
	for k, n := range s.Loads {
		ch <- prometheus.MustNewConstMetric(reloadsDesc, prometheus.CounterValue, float64(n), k.Trigger, k.Result)
	}
	for t, n := range s.Stale {
		ch <- prometheus.MustNewConstMetric(staleDesc, prometheus.GaugeValue, float64(n), t)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
