// Package metricset bundles a component's metrics into one
// prometheus.Collector, so that each package exports its metrics beside
// what they measure (geoip, iplist, breached, redisstore) and the
// assembly registers them on the registry it was given, without knowing
// what they are.
package metricset

import "github.com/prometheus/client_golang/prometheus"

// Set is several collectors collected as one.
type Set []prometheus.Collector

// Describe implements prometheus.Collector.
func (s Set) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (s Set) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s {
		c.Collect(ch)
	}
}

// Counter is a counter read at scrape time from a component's own count,
// so that nothing on its hot path changes for the metric's sake.
func Counter(name, help string, value func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, value)
}

// Gauge is a gauge read at scrape time.
func Gauge(name, help string, value func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value)
}

// ReloadSuccess is the value of a last_reload_success gauge: 0 while a
// file's last reload failed, none succeeding since, else 1.
func ReloadSuccess(failing bool) float64 {
	if failing {
		return 0
	}
	return 1
}
